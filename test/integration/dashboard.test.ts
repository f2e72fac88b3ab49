// Issue 17: the dashboard in headless Chromium: sign in with the API key, see the numbers GET /v1/analytics/* gives
// and the funnel drawn, with every request the page makes staying on this machine.
import type { Page } from 'playwright-core';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { browserForFile, expectNoRequestLeftLocalhost, recordingPage } from '../support/browser.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound } from '../support/webhooks.js';

const stack = stackForFile();
const site = browserForFile(stack);

/** A tenant whose one sequence texted two leads, one of whom replied: real rows for the analytics to count. */
async function tenantWithActivity() {
  const tenant = await createTenant(stack.db, anytimeSettings);
  const api = () => request(stack.app);
  const sequence = await api()
    .post('/v1/sequences')
    .set(tenant.auth)
    .send({
      name: 'Welcome',
      steps: [
        {
          delaySeconds: 0,
          variants: [
            { template: 'Hi {{firstName}}, thanks for your enquiry. Reply to book.', weight: 300 },
            { template: 'Hello {{firstName}}, thanks for getting in touch. Reply to book.', weight: 100 },
          ],
        },
        { delaySeconds: 86_400, template: 'Still keen, {{firstName}}?' },
      ],
    });
  expect(sequence.status).toBe(201);
  const phones = [randomUkMobile().e164, randomUkMobile().e164];
  const enrollments: string[] = [];
  for (const phone of phones) {
    const lead = await api().post('/v1/leads').set(tenant.auth).send({ phone, firstName: 'Ada' });
    const enrollment = await api()
      .post('/v1/enrollments')
      .set(tenant.auth)
      .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
    expect(enrollment.status).toBe(202);
    enrollments.push(enrollment.body.id);
  }
  await until(() => phones.every((phone) => stack.fake.createCallsTo(phone) === 1), 'the first step sent to both');
  const replied = await inbound(stack.app, {
    From: phones[0] ?? '',
    To: testSenderNumber,
    Body: 'Yes, Tuesday please',
  });
  expect(replied.status).toBe(200);
  await until(
    async () => (await api().get(`/v1/enrollments/${enrollments[0]}`).set(tenant.auth)).body.status === 'replied',
    'the reply to end the first enrollment',
  );
  return { ...tenant, sequenceId: sequence.body.id as string };
}

async function signIn(page: Page, apiKey: string) {
  await page.goto(`${site.baseUrl}/dashboard`);
  expect(new URL(page.url()).pathname).toBe('/dashboard/login');
  await page.fill('#apiKey', apiKey);
  await Promise.all([page.waitForURL(`${site.baseUrl}/dashboard`), page.click('button[type=submit]')]);
  await page.waitForSelector('#dashboard[data-loaded="true"]');
}

const textOf = async (page: Page, testId: string) => (await page.getByTestId(testId).textContent())?.trim();

/** What the test reads of a <canvas> (the project's TypeScript has no DOM library). */
interface Canvas {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

/** Whether anything was drawn on the canvas: a blank one is transparent everywhere. */
const canvasHasPixels = (page: Page, testId: string) =>
  page.getByTestId(testId).evaluate((canvas: Canvas) => {
    const context = canvas.getContext('2d');
    if (!context || !canvas.width || !canvas.height) return false;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    return data.some((value, index) => index % 4 === 3 && value > 0);
  });

const funnelFields = ['enrolled', 'sent', 'delivered', 'failed', 'clicked', 'replied', 'booked', 'optedOut', 'expired'];

describe('the dashboard', () => {
  it('signs in with the API key and shows the funnel and the numbers the API gives, all from localhost', async () => {
    const { apiKey, auth, sequenceId } = await tenantWithActivity();
    const { page, requests, errors } = await recordingPage(site.browser);
    await signIn(page, apiKey);

    const overview = (await request(stack.app).get('/v1/analytics/overview').set(auth)).body;
    const sending = (await request(stack.app).get('/v1/sending').set(auth)).body;
    expect(overview.totals).toMatchObject({ enrolled: 2, sent: 2, replied: 1 });
    expect(await page.getByTestId('dashboard-error').isHidden()).toBe(true);
    for (const field of funnelFields) expect(await textOf(page, `total-${field}`)).toBe(String(overview.totals[field]));
    expect(await textOf(page, 'total-cost')).toBe(overview.totals.cost.total);
    expect(await textOf(page, 'period')).toContain(`${overview.from} to ${overview.to}`);
    expect(await textOf(page, `sequence-${sequenceId}-sent`)).toBe(String(overview.sequences[0].totals.sent));
    expect(await textOf(page, 'waiting-total')).toBe(String(sending.waiting.total));
    expect(await canvasHasPixels(page, 'funnel-chart')).toBe(true);
    expect(await canvasHasPixels(page, `sequence-funnel-${sequenceId}`)).toBe(true);
    expect(await canvasHasPixels(page, 'daily-chart')).toBe(true);
    // A/B weights are relative: 300 and 100 are three quarters and one (before: shown as 300% and 100%).
    const variantHeads = await page.locator('th').allTextContents();
    expect(variantHeads.filter((text) => /\(\d+%\)$/.test(text)).map((text) => text.replace(/^.* /, ''))).toEqual([
      '(75%)',
      '(25%)',
    ]);

    expect(errors).toEqual([]);
    expectNoRequestLeftLocalhost(requests);
    expect(requests.some((url) => url.endsWith('/dashboard/assets/chart.umd.min.js'))).toBe(true);
    expect(requests.filter((url) => url.includes(apiKey))).toEqual([]);
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'lf_dashboard', httpOnly: true, sameSite: 'Strict' });
    expect(cookie?.value).not.toContain(apiKey);
    await page.context().close();
  });

  it('says so on the page when the API cannot answer, instead of showing nothing', async () => {
    const { apiKey } = await createTenant(stack.db, anytimeSettings);
    const { page, requests } = await recordingPage(site.browser);
    await page.route('**/v1/analytics/overview*', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'internal', message: 'analytics are unavailable' } }),
      }),
    );
    await signIn(page, apiKey);
    const banner = page.getByTestId('dashboard-error');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain('/v1/analytics/overview answered 503: analytics are unavailable');
    expectNoRequestLeftLocalhost(requests);
    await page.context().close();
  });
});
