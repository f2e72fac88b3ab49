// Issue 17: the dashboard's sign-in. The API key goes in a form once; the browser keeps an opaque session cookie that
// opens the page and its read-only /v1 routes, and nothing else.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anytimeSettings, createTenant } from '../support/fixtures.js';
import { createApp } from '../../api/app.js';
import { capturedLog } from '../support/captured-log.js';
import { stackForFile, testAppDeps } from '../support/stack.js';

const stack = stackForFile();
let server: Server;
let origin: string;
beforeAll(async () => {
  server = stack.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server?.close(resolve)));

const api = () => request(origin);
const signIn = (apiKey: string, headers: Record<string, string> = { Origin: origin }) =>
  api().post('/dashboard/login').set(headers).type('form').send({ apiKey });

/** The `name=value` part of the session cookie a sign-in set. */
function sessionCookieOf(response: request.Response): string {
  const header = ([] as string[])
    .concat(response.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('lf_dashboard='));
  expect(header).toBeDefined();
  return (header ?? '').split(';')[0] ?? '';
}

async function signedIn() {
  const tenant = await createTenant(stack.db, anytimeSettings);
  const response = await signIn(tenant.apiKey);
  expect(response.status).toBe(303);
  return { ...tenant, cookie: sessionCookieOf(response) };
}

describe('dashboard sign-in', () => {
  it('sends a browser without a session to the sign-in page, and refuses an unknown key there', async () => {
    const page = await api().get('/dashboard');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/dashboard/login');
    const form = await api().get('/dashboard/login');
    expect(form.text).toContain('<form method="post" action="/dashboard/login">');
    const refused = await signIn('lf_not-a-key');
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('That API key is unknown or revoked.');
    expect(refused.headers['set-cookie']).toBeUndefined();
  });

  it('keeps only a hash of an opaque token: the cookie is HttpOnly and SameSite=Strict, Secure behind https', async () => {
    const { apiKey, tenant } = await createTenant(stack.db, anytimeSettings);
    const response = await signIn(apiKey);
    expect(response.headers.location).toBe('/dashboard');
    const [header] = [response.headers['set-cookie']].flat();
    expect(header).toMatch(/^lf_dashboard=[\w-]{43}; Path=\/; Expires=.+; HttpOnly; SameSite=Strict$/);
    expect(header).not.toContain(apiKey);
    const token = sessionCookieOf(response).split('=')[1] ?? '';
    const sessions = await stack.db.dashboardSession.findMany({ where: { tenantId: tenant.id } });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(sessions[0]?.id).not.toBe(token);
    const behindProxy = await signIn(apiKey, { Origin: origin, 'X-Forwarded-Proto': 'https' });
    expect([behindProxy.headers['set-cookie']].flat()[0]).toMatch(/; Secure; SameSite=Strict$/);
  });

  it('refuses form posts from another origin or without one (CSRF)', async () => {
    const { apiKey } = await createTenant(stack.db, anytimeSettings);
    const attempts: Record<string, string>[] = [
      {},
      { Origin: 'https://evil.example' },
      { Origin: 'null' },
      { Origin: 'not a url' },
    ];
    for (const headers of attempts) {
      const response = await signIn(apiKey, headers);
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
      expect(response.headers['set-cookie']).toBeUndefined();
    }
  });

  it('keeps the session token out of the request log', async () => {
    const { logger, lines } = capturedLog('dashboard-log-test');
    const app = createApp(testAppDeps(stack.db, stack.client, stack.taskQueue, { logger }));
    const { apiKey } = await createTenant(stack.db, anytimeSettings);
    const response = await request(app)
      .post('/dashboard/login')
      .set('Host', 'lf.test')
      .set('Origin', 'http://lf.test')
      .type('form')
      .send({ apiKey });
    expect(response.status).toBe(303);
    const token = sessionCookieOf(response).split('=')[1] ?? '';
    const completed = lines.find((line) => line.includes('"url":"/dashboard/login"') && line.includes('"res"'));
    expect(completed).toContain('"set-cookie":"[redacted]"');
    expect(lines.join('')).not.toContain(token);
  });

  it('serves the page under a self-only policy with no inline script', async () => {
    const { cookie } = await signedIn();
    const page = await api().get('/dashboard').set('Cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Acme Dental');
    expect(page.text).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers['cache-control']).toBe('no-store');
    const chart = await api().get('/dashboard/assets/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(chart.text).toContain('Chart.js v4');
    // Before: 400 bad_request, "could not be read".
    const missing = await api().get('/dashboard/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it("opens the page's read-only /v1 routes with the session, and nothing else", async () => {
    const { cookie } = await signedIn();
    expect((await api().get('/v1/sending').set('Cookie', cookie)).status).toBe(200);
    expect((await api().get('/v1/leads').set('Cookie', cookie)).status).toBe(401);
    expect((await api().post('/v1/sending/pause').set('Cookie', cookie).set('Origin', origin)).status).toBe(401);
  });

  it('ends with sign-out, with its API key revoked, and when it expires', async () => {
    const signedOut = await signedIn();
    const out = await api().post('/dashboard/logout').set({ Cookie: signedOut.cookie, Origin: origin });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/dashboard/login');
    expect((await api().get('/v1/sending').set('Cookie', signedOut.cookie)).status).toBe(401);

    const revoked = await signedIn();
    await stack.db.apiKey.updateMany({ where: { tenantId: revoked.tenant.id }, data: { revokedAt: new Date() } });
    expect((await api().get('/dashboard').set('Cookie', revoked.cookie)).status).toBe(303);
    expect((await api().get('/v1/sending').set('Cookie', revoked.cookie)).status).toBe(401);

    const expired = await signedIn();
    await stack.db.dashboardSession.updateMany({
      where: { tenantId: expired.tenant.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await api().get('/v1/sending').set('Cookie', expired.cookie)).status).toBe(401);
  });
});

describe('messages waiting for capacity', () => {
  it('are counted by reason in GET /v1/sending; a lead-side wait (window, caps) is not capacity', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const held = (heldReason: string) => ({
      tenantId: tenant.id,
      direction: 'outbound' as const,
      toPhone: '+447700900001',
      body: 'Hello',
      status: 'pending' as const,
      heldReason,
      heldUntil: new Date(Date.now() + 60_000),
    });
    await stack.db.message.createMany({
      data: [held('budget_daily'), held('budget_daily'), held('warmup'), held('window')],
    });
    const status = await api().get('/v1/sending').set(auth);
    expect(status.body.waiting).toEqual({ total: 3, byReason: { budget_daily: 2, warmup: 1 } });
  });
});
