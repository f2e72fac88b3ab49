// The "maybe sent" lookup through the real twilio-node client against the loopback fake: a message Twilio stored
// with a body Smart Encoding rewrote is still found, so a retry adopts it instead of sending it again.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTwilioSender, type SmsSender } from '../../activities/sms-sender.js';
import { createTwilioClient } from '../../activities/twilio-client.js';
import { classifyTwilioError, twilioMayHaveTaken } from '../../activities/twilio-errors.js';
import { startTwilioFake, type TwilioFake } from '../support/twilio-fake.js';

const authToken = 'test-auth-token';
const to = '+15558675310';
const messagingServiceSid = `MG${'1'.repeat(32)}`;

let fake: TwilioFake;
let sender: SmsSender;
beforeAll(async () => {
  fake = await startTwilioFake({ authToken });
  const client = createTwilioClient({
    accountSid: `AC${'0'.repeat(32)}`,
    authToken,
    apiBaseUrl: fake.url,
    timeoutMs: 300,
  });
  sender = createTwilioSender(client, { messagingServiceSid });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('findSent after a create call that got no answer', () => {
  const body = 'Hi Ada \u2014 don\u2019t forget: \u201cSurgery 2\u201d at 10:30\u2026 Reply STOP to opt out';

  it('finds the message Twilio stored with its quotes, dashes and ellipsis smart-encoded', async () => {
    const since = new Date();
    fake.inject({ kind: 'sentThenTimeout' }, { to });
    await expect(sender.send({ to, body })).rejects.toThrow();
    const [stored] = fake.messages;
    expect(stored?.body).toBe('Hi Ada - don\'t forget: "Surgery 2" at 10:30... Reply STOP to opt out');
    expect(await sender.findSent({ to, body }, since, new Set())).toEqual({
      sid: stored?.sid,
      status: 'accepted',
      createdAt: expect.any(Date),
      errorCode: null,
    });
  });

  it('does not take another message, nor one already recorded, for it', async () => {
    const since = new Date();
    const other = await sender.send({ to, body: 'Hi Ada, see you at 11:30' });
    expect(await sender.findSent({ to, body }, since, new Set())).toBeNull();
    const same = await sender.send({ to, body });
    expect(await sender.findSent({ to, body }, since, new Set([same.sid ?? '']))).toBeNull();
    expect(other.sid).not.toBe(same.sid);
  });
});

describe("Twilio's answers", () => {
  it('an error body in RFC 9457 form is a refusal with its code, not a call left unanswered', async () => {
    fake.inject({ kind: 'twilioError', code: 21610, status: 400, problem: true }, { to });
    const refusal: unknown = await sender.send({ to, body: 'Hi' }).catch((error: unknown) => error);
    expect(twilioMayHaveTaken(refusal)).toBe(false);
    expect(classifyTwilioError(refusal)).toEqual({ kind: 'opted_out', code: 21610 });
  });

  it('a lookup asks for no page it will not read (a request left unawaited would, failing, end the process)', async () => {
    for (let index = 0; index < 60; index += 1) await sender.send({ to, body: `older ${index}` });
    const afterThemAll = new Date(Date.now() + 3_600_000);
    expect(await sender.findSent({ to, body: 'Hi' }, afterThemAll, new Set())).toBeNull();
    // A request fired and left behind reaches the fake on its own time: give it that time to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fake.listRequests()).toBe(1);
  });
});
