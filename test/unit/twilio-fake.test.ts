// Drives the REAL twilio-node client (via createTwilioClient) against the
// loopback fake, so fake + client wiring are both proven before other tests
// rely on them.
import twilio from 'twilio';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../activities/twilio-client.js';
import { startTwilioFake, type TwilioFake } from '../support/twilio-fake.js';

const ACCOUNT_SID = 'AC' + '0'.repeat(32);
const AUTH_TOKEN = 'test-auth-token';
const FROM = '+15005550006';
const TO = '+15558675310';
const TIMEOUT_MS = 300;

let fake: TwilioFake;
let client: twilio.Twilio;

beforeAll(async () => {
  fake = await startTwilioFake({ authToken: AUTH_TOKEN });
  client = createTwilioClient({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiBaseUrl: fake.url,
    timeoutMs: TIMEOUT_MS,
  });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

describe('twilio fake + createTwilioClient', () => {
  it('creates a message and records the call', async () => {
    const msg = await client.messages.create({
      to: TO,
      from: FROM,
      body: 'Hi Ann, thanks for reaching out!',
      statusCallback: 'https://example.test/cb',
    });

    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe('queued');
    expect(msg.to).toBe(TO);
    expect(msg.from).toBe(FROM);
    expect(msg.accountSid).toBe(ACCOUNT_SID);
    expect(msg.numSegments).toBe('1');
    expect(msg.errorCode).toBeNull();
    expect(msg.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(msg.dateCreated.getTime())).toBe(false);

    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({
      to: TO,
      from: FROM,
      outcome: 'created',
      sid: msg.sid,
      body: 'Hi Ann, thanks for reaching out!',
    });
    expect(fake.calls[0]?.params.StatusCallback).toBe('https://example.test/cb');
    expect(fake.messages.map((m) => m.sid)).toEqual([msg.sid]);
    expect(fake.createCallsTo(TO)).toBe(1);
  });

  it('surfaces an injected 21610 as RestException (code 21610, status 400)', async () => {
    fake.inject({ kind: 'twilioError', code: 21610 });

    const err: unknown = await client.messages.create({ to: TO, from: FROM, body: 'x' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ code: 21610, status: 400, moreInfo: 'https://www.twilio.com/docs/errors/21610' });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ outcome: 'error', errorCode: 21610, status: 400 });
    expect(fake.messages).toHaveLength(0);

    // Fault consumed (times defaults to 1): next send succeeds.
    await expect(client.messages.create({ to: TO, from: FROM, body: 'x' })).resolves.toMatchObject({
      status: 'queued',
    });
  });

  it('surfaces 429 with status 429 and does not auto-retry', async () => {
    fake.inject({ kind: 'http', status: 429 });

    const err: unknown = await client.messages.create({ to: TO, from: FROM, body: 'x' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 429, code: 20429 });
    // Give a (wrongly enabled) retry interceptor time to fire before counting.
    await new Promise((r) => setTimeout(r, 250));
    expect(fake.calls).toHaveLength(1);
  });

  it('rejects within the configured timeout when the API never answers', async () => {
    fake.inject({ kind: 'timeout' });

    const started = Date.now();
    const err: unknown = await client.messages.create({ to: TO, from: FROM, body: 'x' }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;

    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ code: 'ECONNABORTED' }); // AxiosError from twilio's RequestClient
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1500);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.outcome).toBe('timeout');
    expect(fake.messages).toHaveLength(0);
  });

  it('sentThenTimeout: client times out but the message exists and can be reconciled', async () => {
    fake.inject({ kind: 'sentThenTimeout' }, { to: TO });

    await expect(client.messages.create({ to: TO, from: FROM, body: 'maybe sent' })).rejects.toMatchObject({
      code: 'ECONNABORTED',
    });

    expect(fake.calls[0]).toMatchObject({ outcome: 'sentThenTimeout' });
    const listed = await client.messages.list({ to: TO, dateSent: new Date(), limit: 20 });
    expect(listed.map((m) => m.sid)).toEqual([fake.calls[0]?.sid]);
    expect(listed[0]?.body).toBe('maybe sent');
  });

  it('fetches a message by sid, and 404s Twilio-style for unknown sids', async () => {
    const created = await client.messages.create({ to: TO, from: FROM, body: 'fetch me' });
    fake.updateMessage(created.sid, { status: 'undelivered', error_code: 30007 });

    const fetched = await client.messages(created.sid).fetch();
    expect(fetched).toMatchObject({
      sid: created.sid,
      to: TO,
      body: 'fetch me',
      status: 'undelivered',
      errorCode: 30007,
    });

    const missing: unknown = await client
      .messages('SM' + 'f'.repeat(32))
      .fetch()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(twilio.RestException);
    expect(missing).toMatchObject({ status: 404, code: 20404 });
  });

  it('lists with To filter and paginates through next_page_uri', async () => {
    for (let i = 0; i < 3; i++) await client.messages.create({ to: TO, from: FROM, body: `m${i}` });
    await client.messages.create({ to: '+15550001111', from: FROM, body: 'other' });

    const listed = await client.messages.list({ to: TO, pageSize: 2 });
    expect(listed.map((m) => m.body)).toEqual(['m2', 'm1', 'm0']); // newest first, across 2 pages
  });

  it('rejects a wrong auth token with 401 / 20003 and records the attempt', async () => {
    const bad = createTwilioClient({
      accountSid: ACCOUNT_SID,
      authToken: 'wrong',
      apiBaseUrl: fake.url,
      timeoutMs: TIMEOUT_MS,
    });
    await expect(bad.messages.create({ to: TO, from: FROM, body: 'x' })).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    expect(fake.calls[0]).toMatchObject({ outcome: 'error', status: 401 });
  });

  it('applies `to`-filtered faults only to that recipient', async () => {
    fake.inject({ kind: 'twilioError', code: 21211 }, { to: '+15550009999', times: 2 });

    await expect(client.messages.create({ to: TO, from: FROM, body: 'x' })).resolves.toBeDefined();
    await expect(client.messages.create({ to: '+15550009999', from: FROM, body: 'x' })).rejects.toMatchObject({
      code: 21211,
    });
    await expect(client.messages.create({ to: '+15550009999', from: FROM, body: 'x' })).rejects.toMatchObject({
      code: 21211,
    });
    await expect(client.messages.create({ to: '+15550009999', from: FROM, body: 'x' })).resolves.toBeDefined();
    expect(fake.createCallsTo('+15550009999')).toBe(3);
  });
});
