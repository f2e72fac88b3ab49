// Tracked short links (docs/links.md) through the real stack: a step's {{bookingLink}} and {{link:…}} go out as
// /l/<code> links, and the public route redirects people and link previews alike, counting only people.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { recordLinkClick } from '../../common/links/clicks.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';
import { segmentCount, type TwilioFault } from '../support/twilio-fake.js';
import { until } from '../support/wait.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';

const stack = stackForFile({ shortLinks: true });
const api = () => request(stack.app);

/** Longer than a segment on its own: the body sent is one segment only because its links were shortened. */
const bookingUrl = `https://book.example.com/acme?utm_source=sms&utm_campaign=${'spring-offer-'.repeat(12)}`;
const offerUrl = 'https://example.com/offer';
const template = 'Hi {{firstName}}, book: {{bookingLink}} or see {{link:https://example.com/offer}}';

const iPhone =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const iMessagePreview =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0';
const whatsApp = 'WhatsApp/2.23.20.0 A';

/** A lead enrolled in a one-step sequence whose message went out: its body as Twilio received it, and its codes. */
async function sentStep(settings: { linkExpiryDays?: number } = {}, fault?: TwilioFault) {
  const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, bookingUrl, ...settings });
  const phone = randomUkMobile().e164;
  if (fault) stack.fake.inject(fault, { to: phone });
  const lead = await api().post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
  const sequence = await api()
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `links-${randomUUID()}`, steps: [{ delaySeconds: 0, template }] });
  expect(sequence.status).toBe(201);
  const enrollment = await api()
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  const call = await until(
    () => stack.fake.calls.find((made) => made.to === phone && made.outcome === 'created'),
    'the step sent',
  );
  const body = call.body ?? '';
  const codes = [...body.matchAll(/https:\/\/sms\.example\.com\/l\/(\w+)/g)].map((match) => match[1] ?? '');
  const message = await stack.db.message.findFirstOrThrow({
    where: { tenantId: tenant.id, enrollmentId: enrollment.body.id },
  });
  const attempts = stack.fake.calls.filter((made) => made.to === phone).map((made) => made.body);
  return {
    attempts,
    tenantId: tenant.id,
    auth,
    leadId: lead.body.id as string,
    enrollmentId: enrollment.body.id,
    body,
    codes,
    message,
  };
}

const clickedEvents = (tenantId: string) =>
  stack.db.event.findMany({ where: { tenantId, type: 'message.clicked' }, orderBy: { sequence: 'asc' } });

describe('tracked short links', () => {
  it('sends each link as a short link on the public URL and counts the segments of the body sent', async () => {
    const { body, codes, message, leadId, enrollmentId } = await sentStep();
    expect(codes).toHaveLength(2);
    for (const code of codes) expect(code).toMatch(/^[0-9A-Za-z]{10,}$/);
    expect(body).not.toContain('book.example.com');
    expect(body).not.toContain(offerUrl);
    expect(message.body).toBe(body);
    expect(message.segments).toBe(segmentCount(body));
    expect(message.segments).toBe(1);
    expect(segmentCount(body.replace(/https:\/\/sms\.example\.com\/l\/\w+/, bookingUrl))).toBeGreaterThan(1);
    const links = await stack.db.shortLink.findMany({ where: { messageId: message.id }, orderBy: { position: 'asc' } });
    expect(
      links.map(({ code, target, step, leadId: lead, enrollmentId: enrollment }) => [
        code,
        target,
        step,
        lead,
        enrollment,
      ]),
    ).toEqual([
      [codes[0], bookingUrl, 0, leadId, enrollmentId],
      [codes[1], offerUrl, 0, leadId, enrollmentId],
    ]);
    // The tenant's default: 90 days.
    expect(links[0]?.expiresAt.getTime()).toBe(message.createdAt.getTime() + 90 * 86_400_000);
  });

  it('sends a retried message with the same codes (Twilio 429: never processed, safe to retry)', async () => {
    const { attempts, body, message } = await sentStep({}, { kind: 'http', status: 429 });
    expect(attempts).toEqual([body, body]);
    expect(await stack.db.shortLink.count({ where: { messageId: message.id } })).toBe(2);
  });

  it('redirects previews and people alike, counting a message as clicked once, at its first human click', async () => {
    const { tenantId, codes, message } = await sentStep();
    const [bookingCode, offerCode] = codes;
    const previews = [
      await api().get(`/l/${bookingCode}`).set('User-Agent', iMessagePreview),
      await api().get(`/l/${bookingCode}`).set('User-Agent', whatsApp),
      await api().head(`/l/${bookingCode}`).set('User-Agent', iPhone),
    ];
    for (const preview of previews) {
      expect(preview.status).toBe(302);
      expect(preview.headers.location).toBe(bookingUrl);
    }
    expect(await clickedEvents(tenantId)).toEqual([]);

    const person = await api().get(`/l/${bookingCode}`).set('User-Agent', iPhone);
    expect(person.status).toBe(302);
    expect(person.headers.location).toBe(bookingUrl);
    expect(person.headers['cache-control']).toBe('no-store');
    // The same person again, on the message's other link: recorded, and the message stays clicked once.
    const again = await api().get(`/l/${offerCode}`).set('User-Agent', iPhone);
    expect(again.headers.location).toBe(offerUrl);

    const clicks = await stack.db.linkClick.findMany({ where: { messageId: message.id } });
    expect(clicks.map(({ agentClass, human, step }) => [agentClass, human, step]).sort()).toEqual([
      ['bot', false, 0],
      ['bot', false, 0],
      ['browser', true, 0],
      ['browser', true, 0],
      ['head', false, 0],
    ]);
    const firstHumanClick = Math.min(...clicks.filter((click) => click.human).map((click) => click.at.getTime()));
    const events = await clickedEvents(tenantId);
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({
      messageId: message.id,
      leadId: message.leadId,
      enrollmentId: message.enrollmentId,
      step: 0,
      url: bookingUrl,
    });
    const marks = await stack.db.shortLink.findMany({ where: { messageId: message.id } });
    expect(marks.map((link) => link.messageClickedAt?.getTime())).toEqual([firstHumanClick, firstHumanClick]);
  });

  it('counts two first human clicks at once (one on each link) once', async () => {
    const { tenantId, codes, message } = await sentStep();
    const answers = await Promise.all(codes.map((code) => api().get(`/l/${code}`).set('User-Agent', iPhone)));
    expect(answers.map((answer) => answer.status)).toEqual([302, 302]);
    expect(await stack.db.linkClick.count({ where: { messageId: message.id, human: true } })).toBe(2);
    expect((await clickedEvents(tenantId)).map((event) => (event.data as { messageId: string }).messageId)).toEqual([
      message.id,
    ]);
  });

  it('answers an unknown code and an expired one with the same plain 404, recording nothing', async () => {
    const { codes, message } = await sentStep();
    await stack.db.shortLink.updateMany({
      where: { code: codes[0] },
      data: { expiresAt: new Date(Date.now() - 86_400_000) },
    });
    const expired = await api().get(`/l/${codes[0]}`).set('User-Agent', iPhone);
    const unknown = await api().get('/l/AbCdEfGhIjKl').set('User-Agent', iPhone);
    const malformed = await api().get('/l/..%2Fv1').set('User-Agent', iPhone);
    for (const answer of [expired, unknown, malformed]) {
      expect(answer.status).toBe(404);
      expect(answer.headers['content-type']).toMatch(/^text\/plain/);
      expect(answer.text).toBe(expired.text);
    }
    expect(await stack.db.linkClick.count({ where: { messageId: message.id } })).toBe(0);
    // The other link of the message is still live.
    expect((await api().get(`/l/${codes[1]}`)).status).toBe(302);
  });

  it('counts a link’s days from when its message went out: one held for ten days keeps a 7-day link a week', async () => {
    const { codes, message } = await sentStep({ linkExpiryDays: 7 });
    // When it went out is written just after Twilio's answer, which the fake has already given.
    await expect
      .poll(async () => (await stack.db.message.findUniqueOrThrow({ where: { id: message.id } })).sentAt, {
        timeout: 10_000,
      })
      .not.toBeNull();
    // As a message written ten days before it went out (held by a budget, say) has it.
    const writtenAt = new Date(Date.now() - 10 * 86_400_000);
    await stack.db.message.update({ where: { id: message.id }, data: { createdAt: writtenAt } });
    await stack.db.shortLink.updateMany({
      where: { messageId: message.id },
      data: { expiresAt: new Date(writtenAt.getTime() + 7 * 86_400_000) },
    });
    // Before: 404, the link dead three days before the lead got it.
    expect((await api().get(`/l/${codes[0]}`).set('User-Agent', iPhone)).status).toBe(302);
  });

  it('refuses a client address opening one live link more than 120 times in a minute: each open writes a row', async () => {
    const { codes, message } = await sentStep();
    const proxied = createApp({ ...stack.deps, trustProxy: 1 });
    const open = () => request(proxied).get(`/l/${codes[0]}`).set('X-Forwarded-For', '203.0.113.44');
    const statuses = [];
    for (let i = 0; i < 121; i += 1) statuses.push((await open()).status);
    expect(statuses).toEqual([...Array(120).fill(302), 429]);
    expect(await stack.db.linkClick.count({ where: { messageId: message.id } })).toBe(120);
    // Another address, or another link from the same one (leads behind one proxy or carrier NAT), still opens.
    expect((await request(proxied).get(`/l/${codes[0]}`).set('X-Forwarded-For', '198.51.100.44')).status).toBe(302);
    expect((await request(proxied).get(`/l/${codes[1]}`).set('X-Forwarded-For', '203.0.113.44')).status).toBe(302);
  });

  it('refuses a client address past 60 unknown codes in a minute, counting the forwarded address only behind TRUST_PROXY', async () => {
    const missesFrom = async (app: ReturnType<typeof createApp>, forwardedFor: string) => {
      const statuses = [];
      for (let i = 0; i < 61; i += 1)
        statuses.push((await request(app).get('/l/AbCdEfGhIjKl').set('X-Forwarded-For', forwardedFor)).status);
      return statuses;
    };
    // Behind one proxy hop: each forwarded client has its own count.
    const proxied = createApp({ ...stack.deps, trustProxy: 1 });
    expect(await missesFrom(proxied, '203.0.113.7')).toEqual(Array(61).fill(404));
    const refused = await request(proxied).get('/l/AbCdEfGhIjKl').set('X-Forwarded-For', '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await request(proxied).get('/l/AbCdEfGhIjKl').set('X-Forwarded-For', '198.51.100.9')).status).toBe(404);
    // Without TRUST_PROXY a client cannot escape its count by naming another address.
    const direct = createApp(stack.deps);
    await missesFrom(direct, '203.0.113.7');
    expect((await request(direct).get('/l/AbCdEfGhIjKl').set('X-Forwarded-For', '198.51.100.9')).status).toBe(429);
  });

  it('takes its expiry from the tenant setting', async () => {
    const { auth } = await createTenant(stack.db);
    expect((await api().get('/v1/settings').set(auth)).body.linkExpiryDays).toBe(90);
    expect((await api().patch('/v1/settings').set(auth).send({ linkExpiryDays: 0 })).status).toBe(422);
    expect((await api().patch('/v1/settings').set(auth).send({ linkExpiryDays: 7 })).body.linkExpiryDays).toBe(7);
    const { message } = await sentStep({ linkExpiryDays: 7 });
    const link = await stack.db.shortLink.findFirstOrThrow({ where: { messageId: message.id } });
    expect(link.expiresAt.getTime()).toBe(message.createdAt.getTime() + 7 * 86_400_000);
  });

  it('refuses a sequence whose link placeholder is not an http(s) URL, naming it', async () => {
    const { auth } = await createTenant(stack.db);
    const refused = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'bad-link', steps: [{ delaySeconds: 0, template: 'See {{link:javascript:alert(1)}}' }] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields['steps.0.template'][0]).toContain('{{link:javascript:alert(1)}}');
  });

  it('keeps the counts and drops the lead when the lead is erased', async () => {
    const { tenantId, auth, leadId, codes, message } = await sentStep();
    expect((await api().get(`/l/${codes[0]}`).set('User-Agent', iPhone)).status).toBe(302);
    expect((await api().delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);

    expect(await stack.db.message.count({ where: { id: message.id } })).toBe(0);
    const links = await stack.db.shortLink.findMany({ where: { messageId: message.id } });
    expect(links.map((link) => link.leadId)).toEqual([null, null]);
    expect(await stack.db.linkClick.count({ where: { messageId: message.id, human: true } })).toBe(1);
    expect(await clickedEvents(tenantId)).toHaveLength(1);
    // An old text still opens its page; the click counts for the message, with no lead.
    expect((await api().get(`/l/${codes[1]}`).set('User-Agent', iPhone)).status).toBe(302);
    expect(await stack.db.linkClick.count({ where: { messageId: message.id, human: true } })).toBe(2);
  });

  it('counts a first click that comes after the erasure on the message’s step, as the event says', async () => {
    const { tenantId, auth, leadId, codes } = await sentStep();
    expect((await api().delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);
    expect((await api().get(`/l/${codes[0]}`).set('User-Agent', iPhone)).status).toBe(302);
    expect(await clickedEvents(tenantId)).toHaveLength(1);
    // Before: the count read the message, which the erasure had deleted, and counted nothing.
    const overview = await api().get('/v1/analytics/overview').set(auth);
    expect(overview.body.totals).toMatchObject({ sent: 1, clicked: 1 });
  });

  it('a first click and an erasure of its lead at once both commit: the click holding the links, the erasure waits for them before its events', async () => {
    const { tenantId, auth, leadId, message } = await sentStep();
    const link = await stack.db.shortLink.findFirstOrThrow({ where: { messageId: message.id } });
    // The click's transaction, held once it has marked the message's links clicked (their rows locked).
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let signalHeld = (_pid: number) => {};
    const held = new Promise<number>((resolve) => (signalHeld = resolve));
    const heldAfterMarking = new Proxy(stack.db, {
      get(db, property) {
        if (property !== '$transaction') return Reflect.get(db, property, db);
        return (work: (tx: Prisma.TransactionClient) => Promise<unknown>) =>
          db.$transaction(
            async (tx) => {
              const [{ pid }] = await tx.$queryRaw<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;
              const markThenHold = async (args: Prisma.ShortLinkUpdateManyArgs) => {
                const marked = await tx.shortLink.updateMany(args);
                signalHeld(pid);
                await released;
                return marked;
              };
              const shortLink = new Proxy(tx.shortLink, {
                get: (links, name) => (name === 'updateMany' ? markThenHold : Reflect.get(links, name, links)),
              });
              return work(
                new Proxy(tx, {
                  get: (client, name) => (name === 'shortLink' ? shortLink : Reflect.get(client, name, client)),
                }),
              );
            },
            { timeout: 30_000 },
          );
      },
    });
    const click = recordLinkClick(heldAfterMarking, link, 'browser', new Date());
    const clickPid = await held;
    const erasure = api()
      .delete(`/v1/leads/${leadId}`)
      .set(auth)
      .then((response) => response);
    // Others may queue behind the erasure (for an event lock it holds, on the code before its fix), so no exact count.
    await until(
      async () =>
        (
          await stack.db.$queryRaw<{ waiting: number }[]>`
            SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE ${clickPid}::int = ANY (pg_blocking_pids(pid))`
        )[0]?.waiting || null,
      'the erasure waiting for the click',
    );
    release();
    await click;
    expect((await erasure).status).toBe(200);
    expect(await clickedEvents(tenantId)).toHaveLength(1);
    expect((await stack.db.shortLink.findMany({ where: { messageId: message.id } })).map((row) => row.leadId)).toEqual([
      null,
      null,
    ]);
  });

  it('tracks the booking link in the answer to an appointment reschedule word', async () => {
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, bookingUrl });
    const sender = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: tenant.id, value: sender } });
    const phone = randomUkMobile().e164;
    const lead = await api().post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
    const startsAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const booked = await api().post('/v1/appointments').set(auth).send({ leadId: lead.body.id, startsAt });
    expect(booked.status).toBe(201);
    await until(() => stack.fake.createCallsTo(phone) === 1, 'the confirmation');

    const answer = await inbound(stack.app, { From: phone, To: sender, Body: 'R' });
    const code = /https:\/\/sms\.example\.com\/l\/(\w+)/.exec(answer.text)?.[1];
    expect(answer.text).not.toContain('book.example.com');
    const link = await stack.db.shortLink.findUniqueOrThrow({ where: { code: code ?? '' } });
    // Its clicks name the appointment the answer is about (before: null, though the answer's row names none).
    expect(link.appointmentId).toBe(booked.body.id);
    const reply = await stack.db.message.findUniqueOrThrow({ where: { id: link.messageId } });
    expect(reply).toMatchObject({ tenantId: tenant.id, leadId: lead.body.id, toPhone: phone });
    expect(answer.text).toContain(`<Message>${reply.body}</Message>`);
    expect((await api().get(`/l/${code}`).set('User-Agent', iPhone)).headers.location).toBe(bookingUrl);
    await stack.client.workflow.getHandle(booked.body.workflowId).terminate('test cleanup');
  });
});
