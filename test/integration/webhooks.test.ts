// Twilio's webhooks against the real stack: signature, exactly-once processing, keywords, consent, signals, statuses.
import request from 'supertest';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { inboundWebhookPath } from '../../common/config.js';
import { lockConversation } from '../../common/conversation.js';
import { phoneHash } from '../../common/opt-outs.js';
import { inboundReplySignal, optOutSignal } from '../../workflows/lead-follow-up.messages.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrolledLead, enrollmentStatus } from '../support/follow-ups.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { startTestStack, testAuthToken, type TestStack } from '../support/stack.js';
import { afterEachCall } from '../support/racing-db.js';
import { until } from '../support/wait.js';
import { inbound, messageSid, postWebhook, randomSenderNumber, statusCallback } from '../support/webhooks.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

async function tenantWithNumber(settings: Record<string, unknown> = {}) {
  const number = randomSenderNumber();
  const tenant = await createTenant(stack.db, {
    ...anytimeSettings,
    ...settings,
    senders: { create: { value: number } },
  });
  return { ...tenant, number };
}

describe('the signal relay failing once the inbound message is recorded (a database blip)', () => {
  it('the STOP is still confirmed in the TwiML, and its queued signals wait for the relay’s next round', async () => {
    const { tenant, auth, number } = await tenantWithNumber();
    const { phone: from, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 3600, template: 'one' },
    ]);
    const failingRelay = {
      ...stack.deps.signalRelay,
      deliver: () => Promise.reject(new Error('Connection terminated unexpectedly')),
    };
    const blipping = createApp({ ...stack.deps, signalRelay: failingRelay });
    const answered = await inbound(blipping, { From: from, To: number, Body: 'STOP' });
    expect(answered.status).toBe(200);
    expect(answered.text).toContain('you are unsubscribed');
    // The confirmation's row says accepted: it did go back to Twilio.
    expect(await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'outbound', toPhone: from } })).toBe(
      1,
    );
    await expect.poll(() => enrollmentStatus(stack.app, auth, enrollmentId), { timeout: 20_000 }).toBe('opted_out');
  });

  it.each([
    ['an opt-out through the API', 201, (phone: string) => ['post', '/v1/opt-outs', { phone }] as const],
    ['an erasure', 200, (_phone: string, leadId: string) => ['delete', `/v1/leads/${leadId}`, {}] as const],
  ])('%s answers its success, not 500, and the follow-up still ends', async (_what, status, requestOf) => {
    const { auth } = await tenantWithNumber();
    const { phone, leadId, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 3600, template: 'one' },
    ]);
    const failingRelay = {
      ...stack.deps.signalRelay,
      deliver: () => Promise.reject(new Error('Connection terminated unexpectedly')),
    };
    const blipping = createApp({ ...stack.deps, signalRelay: failingRelay });
    const [method, path, body] = requestOf(phone, leadId);
    expect((await request(blipping)[method](path).set(auth).send(body)).status).toBe(status);
    const closed = async () => (await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } })).status;
    await expect.poll(closed, { timeout: 20_000 }).toBe('opted_out');
  });
});

describe('a reply we send back in the TwiML', () => {
  it('is a message.sent event naming the inbound message it answers, like any text of ours', async () => {
    const { tenant, number } = await tenantWithNumber();
    const from = randomUkMobile().e164;
    const MessageSid = messageSid();
    const answered = await inbound(stack.app, { From: from, To: number, Body: 'HELP', MessageSid });
    expect(answered.text).toContain('<Message>');
    const [reply] = await stack.db.message.findMany({
      where: { tenantId: tenant.id, direction: 'outbound', toPhone: from },
    });
    const sent = await stack.db.event.findMany({ where: { tenantId: tenant.id, type: 'message.sent' } });
    expect(sent.map((event) => event.data)).toEqual([
      expect.objectContaining({ messageId: reply?.id, twilioSid: null, inReplyTo: MessageSid }),
    ]);
  });
});

describe('signature (X-Twilio-Signature over the public URL, shared/docs/domain.md)', () => {
  it('accepts a request signed for the public URL, and refuses a wrong, a missing, or an internal-URL signature with 403 and nothing stored', async () => {
    const { tenant, number } = await tenantWithNumber();
    const from = randomUkMobile().e164;
    expect((await inbound(stack.app, { From: from, To: number, Body: 'hello' })).status).toBe(200);
    expect(
      (await inbound(stack.app, { From: from, To: number, Body: 'forged' }, { signature: 'bm90IGEgc2lnbmF0dXJl' }))
        .status,
    ).toBe(403);
    expect((await inbound(stack.app, { From: from, To: number, Body: 'unsigned' }, { signature: null })).status).toBe(
      403,
    );
    expect(
      (await inbound(stack.app, { From: from, To: number, Body: 'internal url' }, { baseUrl: 'http://127.0.0.1:3000' }))
        .status,
    ).toBe(403);
    const stored = await stack.db.message.findMany({ where: { tenantId: tenant.id, direction: 'inbound' } });
    expect(stored.map((message) => message.body)).toEqual(['hello']);
  });

  it('checks a URL configured with a query string as Twilio signed it, the query kept as written', async () => {
    const { tenant, number } = await tenantWithNumber();
    const path = `${inboundWebhookPath}?source=console&v=2&name=O'Brien`;
    const params = { MessageSid: messageSid(), From: randomUkMobile().e164, To: number, Body: 'with a query' };
    // Signed for the URL as it stands in the console, written out here rather than built by the code under test.
    const signature = twilio.getExpectedTwilioSignature(
      testAuthToken,
      `https://sms.example.com/webhooks/twilio/inbound?source=console&v=2&name=O'Brien`,
      params,
    );
    const answer = await request(stack.app).post(path).type('form').send(params).set('X-Twilio-Signature', signature);
    expect(answer.status).toBe(200);
    expect(await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'inbound' } })).toBe(1);
  });

  it('refuses a request whose Host header is no host (no PUBLIC_BASE_URL) with 403, not 500', async () => {
    const unproxied = createApp({ ...stack.deps, publicBaseUrl: undefined });
    const params = { MessageSid: messageSid(), From: randomUkMobile().e164, To: randomSenderNumber(), Body: 'x' };
    const answer = await request(unproxied)
      .post(inboundWebhookPath)
      .set('Host', 'a b')
      .set('X-Twilio-Signature', 'bm90IGEgc2lnbmF0dXJl')
      .type('form')
      .send(params);
    // Before: twilio's check threw on the URL built from it, a 500 and an error in the log.
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('forbidden');
  });

  it('checks against a proxied public URL with a path prefix', async () => {
    const { tenant, number } = await tenantWithNumber();
    const proxied = createApp({ ...stack.deps, publicBaseUrl: 'https://edge.example.com/sms' });
    const ok = await inbound(
      proxied,
      { From: randomUkMobile().e164, To: number, Body: 'via proxy' },
      { baseUrl: 'https://edge.example.com/sms' },
    );
    expect(ok.status).toBe(200);
    expect(await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'inbound' } })).toBe(1);
  });
});

describe('inbound messages', () => {
  it('processes a retried delivery of the same MessageSid once, and answers it with the confirmation the first got', async () => {
    const { tenant, number } = await tenantWithNumber();
    const params = { From: randomUkMobile().e164, To: number, Body: 'STOP', MessageSid: messageSid() };
    const first = await inbound(stack.app, params);
    // Twilio resends a webhook (its fallback URL) only when the first answer did not reach it: the confirmation the
    // first recorded as sent goes with this one (before: none, and the lead was never told, nor on the next STOP).
    const again = await inbound(stack.app, params);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(first.text).toContain('unsubscribed');
    expect(again.text).toBe(first.text);
    expect(await stack.db.consentEvent.count({ where: { tenantId: tenant.id } })).toBe(1);
    expect(await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'outbound' } })).toBe(1);
  });

  it('finds the tenant by Messaging Service SID too', async () => {
    const service = `MG${messageSid().slice(2)}`;
    const { tenant } = await createTenant(stack.db, { ...anytimeSettings, senders: { create: { value: service } } });
    const response = await postWebhook(stack.app, '/webhooks/twilio/inbound', {
      MessageSid: messageSid(),
      From: randomUkMobile().e164,
      To: randomSenderNumber(),
      Body: 'STOP',
      MessagingServiceSid: service,
    });
    expect(response.text).toContain('unsubscribed');
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it('answers 200 and does nothing for a number no tenant owns', async () => {
    const before = await stack.db.message.count();
    const response = await inbound(stack.app, { From: randomUkMobile().e164, To: randomSenderNumber(), Body: 'STOP' });
    expect(response.status).toBe(200);
    expect(await stack.db.message.count()).toBe(before);
  });

  it('STOP records the opt-out in the consent log and confirms once; START clears it; HELP answers with the programme details', async () => {
    const { tenant, number } = await tenantWithNumber({ supportContact: 'help@acme.example' });
    const from = randomUkMobile().e164;
    const stop = await inbound(stack.app, { From: from, To: number, Body: ' Stop ' });
    expect(stop.text).toMatch(/<Message>Acme Dental: you are unsubscribed/);
    expect(
      await stack.db.optOut.findUnique({
        where: { tenantId_phoneHash: { tenantId: tenant.id, phoneHash: phoneHash(from) } },
      }),
    ).toMatchObject({ source: 'inbound_keyword', phone: from });
    const help = await inbound(stack.app, { From: from, To: number, Body: 'help' });
    expect(help.text).toContain('Msg &amp; data rates may apply');
    expect(help.text).toContain('Reply STOP to opt out');
    expect(help.text).toContain('help@acme.example');
    const start = await inbound(stack.app, { From: from, To: number, Body: 'START' });
    expect(start.text).toContain('subscribed again');
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(0);
    const kinds = await stack.db.consentEvent.findMany({
      where: { tenantId: tenant.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(kinds.map((event) => event.kind)).toEqual(['opt_out', 'opt_in']);
  });

  it('a START overtaken by the lead’s later STOP (the STOP’s transaction commits first) lifts neither opt-out nor block', async () => {
    const { tenant, number } = await tenantWithNumber();
    const from = randomUkMobile().e164;
    let stopped = false;
    // The START's recipients read, then the STOP sent a moment later is processed whole before the START goes on.
    const overtaken = afterEachCall(stack.db, 'tenantSender', 'findMany', async () => {
      if (stopped) return;
      stopped = true;
      expect((await inbound(stack.app, { From: from, To: number, Body: 'stop texting me' })).text).toMatch(
        /unsubscribed/,
      );
    });
    const start = await inbound(createApp({ ...stack.deps, db: overtaken }), { From: from, To: number, Body: 'START' });
    expect(start.status).toBe(200);
    expect(start.text).not.toContain('subscribed again');
    // Before: the START deleted the opt-out the later STOP had just recorded, and the lead was texted again.
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(from) } })).toBe(1);
    expect(await stack.db.senderOptOut.count({ where: { phoneHash: phoneHash(from) } })).toBe(1);
    const logged = await stack.db.consentEvent.findMany({
      where: { tenantId: tenant.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(logged.map(({ kind, note }) => [kind, note])).toEqual([
      ['opt_in', expect.stringMatching(/processed late/)],
      ['opt_out', null],
    ]);
  });

  it('a STOP carrying a character PostgreSQL cannot store (U+0000) still opts the phone out, its words kept as they can be', async () => {
    const { tenant, number } = await tenantWithNumber();
    const from = randomUkMobile().e164;
    // Before: every write of the words failed; kept on disk, then set aside for an operator, and nobody opted out.
    const stop = await inbound(stack.app, { From: from, To: number, Body: 'STOP\u0000' });
    expect(stop.text).toMatch(/you are unsubscribed/);
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(from) } })).toBe(1);
    expect(
      await stack.db.message.findFirst({
        where: { tenantId: tenant.id, direction: 'inbound' },
        select: { body: true },
      }),
    ).toEqual({ body: 'STOP\uFFFD' });
  });

  it('one confirmation per opt-out: none to a lead who asks again; one after they opted back in, and to a phone the CRM opted out', async () => {
    const { tenant, auth, number } = await tenantWithNumber();
    const confirmation = /<Message>Acme Dental: you are unsubscribed/;
    const from = randomUkMobile().e164;
    const say = (Body: string, From = from, To = number) =>
      inbound(stack.app, { From, To, Body }).then((answer) => answer.text);
    expect(await say('Please stop texting me')).toMatch(confirmation);
    expect(await say('STOP TEXTING ME')).not.toContain('<Message>');
    expect(await say('remove me from your list')).not.toContain('<Message>');
    expect(await say('START')).toContain('subscribed again');
    expect(await say('stop')).toMatch(confirmation);
    const logged = await stack.db.consentEvent.groupBy({
      by: ['kind'],
      where: { tenantId: tenant.id },
      _count: true,
      orderBy: { kind: 'asc' },
    });
    expect(logged.map((kind) => [kind.kind, kind._count])).toEqual([
      ['opt_out', 4],
      ['opt_in', 1],
    ]);

    const optedOutByCrm = randomUkMobile().e164;
    const recorded = await request(stack.app).post('/v1/opt-outs').set(auth).send({ phone: optedOutByCrm });
    expect(recorded.status).toBe(201);
    expect(await say('stop texting me', optedOutByCrm)).toMatch(confirmation);
  });

  it('with Twilio Advanced Opt-Out: no confirmation of its own for a keyword Twilio answered, one for a STOP in the lead’s words, the opt-out recorded either way', async () => {
    const { tenant, number } = await tenantWithNumber({ twilioAdvancedOptOut: true });
    const say = (Body: string, extra: Record<string, string> = {}) =>
      postWebhook(stack.app, inboundWebhookPath, {
        MessageSid: messageSid(),
        AccountSid: `AC${'1'.repeat(32)}`,
        From: randomUkMobile().e164,
        To: number,
        Body,
        ...extra,
      }).then((answer) => answer.text);
    expect(await say(' stop ')).not.toContain('<Message>');
    // Twilio's confirmation was the one: the same lead asking again in its words gets none of ours (found by review).
    const lead = randomUkMobile().e164;
    expect(await say('STOP', { From: lead })).not.toContain('<Message>');
    expect(await say('please stop texting me', { From: lead })).not.toContain('<Message>');
    expect(await say('Arrêt', { OptOutType: 'STOP' })).not.toContain('<Message>');
    // Twilio acts only on the bare keyword (shared/docs/domain.md): before, this lead was told nothing.
    expect(await say('opt out')).toMatch(/you are unsubscribed/);
    expect(await say('please stop texting me')).toMatch(/you are unsubscribed/);
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(5);
  });

  it('STOP while the follow-up sleeps ends it, and Twilio is not called again', async () => {
    const { auth, number } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 4, template: 'two' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(lead.phone), { timeout: 20_000 }).toBe(1);
    await inbound(stack.app, { From: lead.phone, To: number, Body: 'stop.' });
    await expect
      .poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(stack.fake.createCallsTo(lead.phone)).toBe(1);
  });

  it('STOP during an in-flight send: no Twilio create call after the STOP', async () => {
    const { auth, number } = await tenantWithNumber();
    const phone = randomUkMobile();
    stack.fake.inject({ kind: 'timeout' }, { to: phone.e164 });
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
    const sequence = await request(stack.app)
      .post('/v1/sequences')
      .set(auth)
      .send({
        name: 'inflight',
        steps: [
          { delaySeconds: 0, template: 'one' },
          { delaySeconds: 1, template: 'two' },
        ],
      });
    const enrollment = await request(stack.app)
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
    const callsToLead = () => stack.fake.calls.filter((call) => call.to === phone.e164);
    await expect.poll(() => callsToLead().length, { timeout: 20_000 }).toBe(1);
    const [inFlight] = callsToLead();
    await inbound(stack.app, { From: phone.e164, To: number, Body: 'STOP' });
    // The row closes once the send in flight has timed out and its retry has been refused (the send is not cancelled).
    // The unanswered call's claim keeps every retry off Twilio until it expires, a minute after it was taken.
    await expect
      .poll(() => enrollmentStatus(stack.app, auth, enrollment.body.id), { timeout: 100_000 })
      .toBe('opted_out');
    // Compared by identity, not by time: a call logged in the same millisecond as the STOP is not one after it.
    expect(callsToLead()).toEqual([inFlight]);
    expect(inFlight?.outcome).toBe('timeout');
  }, 120_000);

  it('a reaction from a phone set to another language, quoting our text, is a reply, not an opt-out', async () => {
    const { auth, number, tenant } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'Still looking for a new dentist? Reply STOP to opt out.' },
      { delaySeconds: 3600, template: 'two' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(lead.phone), { timeout: 20_000 }).toBe(1);
    const sent = await stack.db.message.findFirstOrThrow({ where: { leadId: lead.leadId, direction: 'outbound' } });
    await inbound(stack.app, { From: lead.phone, To: number, Body: `Le gustó “${sent.body}”` });
    await expect.poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 20_000 }).toBe('replied');
    // Before: the quoted "Reply STOP to opt out" opted the lead out, and they were sent an unsubscribe confirmation.
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(lead.phone) } })).toBe(0);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(1);
  });

  it('any other reply is stored and ends the follow-up as replied', async () => {
    const { auth, number } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 3600, template: 'two' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(lead.phone), { timeout: 20_000 }).toBe(1);
    await inbound(stack.app, { From: lead.phone, To: number, Body: 'Yes please, call me tomorrow' });
    await expect.poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 20_000 }).toBe('replied');
    const stored = await stack.db.message.findFirst({ where: { leadId: lead.leadId, direction: 'inbound' } });
    expect(stored?.body).toBe('Yes please, call me tomorrow');
  });

  /** A follow-up asleep after its first step, its row halted by a fact whose signal is still on its way. */
  async function haltedWhileAsleep(haltedBy: string, body: string) {
    const { auth, number } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 3600, template: 'two' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(lead.phone), { timeout: 20_000 }).toBe(1);
    const halted = { haltedAt: new Date(), haltedBy };
    const { workflowId } = await stack.db.enrollment.update({ where: { id: lead.enrollmentId }, data: halted });
    expect((await inbound(stack.app, { From: lead.phone, To: number, Body: body })).status).toBe(200);
    const status = () => enrollmentStatus(stack.app, auth, lead.enrollmentId);
    return { lead, workflowId, status };
  }

  it('a STOP from a lead whose follow-up a number-undeliverable callback halted, its signal still on its way: it closes opted_out', async () => {
    const { status } = await haltedWhileAsleep('undeliverable', 'STOP');
    await expect.poll(status, { timeout: 10_000 }).toBe('opted_out');
  });

  it('a reply from a lead whose STOP halted the follow-up, the STOP’s signal still on its way: it closes opted_out, not replied', async () => {
    const { lead, workflowId, status } = await haltedWhileAsleep('opted_out', 'who is this?');
    // The STOP's signal lands after the reply was recorded.
    await stack.client.workflow
      .getHandle(workflowId)
      .signal(optOutSignal, { source: 'sms', enrollmentId: lead.enrollmentId });
    await expect.poll(status, { timeout: 10_000 }).toBe('opted_out');
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
      closedReason: 'opted out (sms)',
    });
  });
});

describe('status callbacks', () => {
  async function sentMessage() {
    const { auth, tenant, number } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [{ delaySeconds: 0, template: 'one' }]);
    await expect
      .poll(
        async () =>
          (await stack.db.message.findFirst({ where: { leadId: lead.leadId, direction: 'outbound' } }))?.twilioSid,
        { timeout: 20_000 },
      )
      .toBeTruthy();
    const message = await stack.db.message.findFirstOrThrow({ where: { leadId: lead.leadId, direction: 'outbound' } });
    return { auth, tenant, number, lead, sid: message.twilioSid ?? '', id: message.id };
  }

  it('moves a message forward only: late and reordered callbacks never move it back', async () => {
    const { sid, id } = await sentMessage();
    for (const status of ['sending', 'delivered', 'sent', 'queued'])
      expect((await statusCallback(stack.app, { MessageSid: sid, MessageStatus: status })).status).toBe(200);
    expect((await stack.db.message.findUniqueOrThrow({ where: { id } })).status).toBe('delivered');
  });

  it('a status Twilio documents but this service does not track is answered 200 and moves nothing; an unknown one is 400', async () => {
    const { sid, id } = await sentMessage();
    const before = await stack.db.message.findUniqueOrThrow({ where: { id } });
    // Before: 400 for Twilio's own callback, which it does not send again.
    for (const status of ['partially_delivered', 'receiving', 'received'])
      expect((await statusCallback(stack.app, { MessageSid: sid, MessageStatus: status })).status).toBe(200);
    expect((await stack.db.message.findUniqueOrThrow({ where: { id } })).status).toBe(before.status);
    expect((await statusCallback(stack.app, { MessageSid: sid, MessageStatus: 'lost_in_space' })).status).toBe(400);
  });

  /**
   * A three-step follow-up whose first step is at Twilio, then (after `meanwhile`) Twilio's callback for it: undelivered
   * with `errorCode`.
   */
  /** A lead whose first step is at Twilio, two more an hour apart to come. */
  async function firstStepAtTwilio() {
    const { tenant, auth } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 3600, template: 'two' },
      { delaySeconds: 3600, template: 'three' },
    ]);
    const sent = await until(
      () => stack.db.message.findFirst({ where: { leadId: lead.leadId, twilioSid: { not: null } } }),
      'the first step at Twilio',
    );
    const report = (errorCode: number) =>
      statusCallback(stack.app, {
        MessageSid: sent.twilioSid ?? '',
        MessageStatus: 'undelivered',
        ErrorCode: String(errorCode),
      });
    return { tenant, auth, lead, report };
  }

  async function undeliveredFirstStep(
    errorCode: number,
    meanwhile: (enrollmentId: string) => Promise<unknown> = async () => {},
  ) {
    const { auth, lead, report } = await firstStepAtTwilio();
    await meanwhile(lead.enrollmentId);
    await report(errorCode);
    return { auth, lead };
  }

  it('a 30005 waits for the send gate deciding a text to the phone (its conversation lock): the gate never claims past a halt committed after it read the facts', async () => {
    const { tenant, lead, report } = await firstStepAtTwilio();
    const gate = await heldTransaction(stack.db, (tx) => lockConversation(tx, tenant.id, lead.phone));
    const reported = Promise.resolve(report(30005));
    // Before: the halt committed at once, between the gate's read of the facts and its claim.
    await untilWaitingBehind(stack.db, gate.pid, 1);
    expect((await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).haltedAt).toBeNull();
    gate.release();
    await gate.committed;
    expect((await reported).status).toBe(200);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
      haltedBy: 'undeliverable',
    });
  });

  // 21211 and 21614: the create call's refusals, reported by a callback when a Messaging Service accepted the call.
  it.each([30005, 30006, 30007, 21211, 21614])(
    'a %i (the number cannot get messages, or the carrier filters them) ends the lead’s follow-up at once: it closes failed, naming the code',
    async (errorCode) => {
      const { auth, lead } = await undeliveredFirstStep(errorCode);
      expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
        haltedBy: 'undeliverable',
      });
      // Its next step is an hour away: the run hears of the halt from the callback's signal, not from that step.
      await expect.poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 10_000 }).toBe('failed');
      expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
        closedReason: `Twilio reported messages to this number undeliverable or filtered (${errorCode})`,
      });
      expect(stack.fake.createCallsTo(lead.phone)).toBe(1);
    },
  );

  it('a 30007 for a lead whose reply halted the follow-up, the reply’s signal still on its way: it closes replied, not failed', async () => {
    const { auth, lead } = await undeliveredFirstStep(30007, (enrollmentId) =>
      stack.db.enrollment.update({ where: { id: enrollmentId }, data: { haltedAt: new Date(), haltedBy: 'replied' } }),
    );
    // The reply's signal lands after the callback's.
    const { workflowId } = await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } });
    await stack.client.workflow
      .getHandle(workflowId)
      .signal(inboundReplySignal, { messageSid: 'SMreply', enrollmentId: lead.enrollmentId });
    await expect.poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 10_000 }).toBe('replied');
  });

  it('a 30003 (handset unreachable for now) leaves the follow-up running', async () => {
    const { lead } = await undeliveredFirstStep(30003);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
      haltedAt: null,
      status: 'running',
    });
  });

  it('keeps the error code, counts carrier filtering (30007) for the tenant, and records an opt-out on 21610', async () => {
    const filtered = await sentMessage();
    await statusCallback(stack.app, { MessageSid: filtered.sid, MessageStatus: 'undelivered', ErrorCode: '30007' });
    expect(await stack.db.message.findUniqueOrThrow({ where: { id: filtered.id } })).toMatchObject({
      status: 'undelivered',
      errorCode: 30007,
    });
    const report = await request(stack.app).get('/v1/reports/messages').set(filtered.auth);
    expect(report.body).toMatchObject({ carrierFiltered: 1, byErrorCode: { '30007': 1 } });

    const blocked = await sentMessage();
    await statusCallback(stack.app, { MessageSid: blocked.sid, MessageStatus: 'failed', ErrorCode: '21610' });
    expect(
      await stack.db.optOut.count({ where: { tenantId: blocked.tenant.id, phoneHash: phoneHash(blocked.lead.phone) } }),
    ).toBe(1);
  });

  it('a 21610 about a text that went out before the lead texted START does not opt them out again', async () => {
    const blocked = await sentMessage();
    expect((await inbound(stack.app, { From: blocked.lead.phone, To: blocked.number, Body: 'START' })).status).toBe(
      200,
    );
    await statusCallback(stack.app, { MessageSid: blocked.sid, MessageStatus: 'failed', ErrorCode: '21610' });
    expect(await stack.db.message.findUniqueOrThrow({ where: { id: blocked.id } })).toMatchObject({
      status: 'failed',
      errorCode: 21610,
    });
    // Before: opted out again, lead.opted_out after the START, its appointments signalled to end.
    const optOuts = { tenantId: blocked.tenant.id, phoneHash: phoneHash(blocked.lead.phone) };
    expect(await stack.db.optOut.count({ where: optOuts })).toBe(0);
  });
});
