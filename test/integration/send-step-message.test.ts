// The send activity's exactly-once promise under faults, with real Postgres and the real twilio client.
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it, vi } from 'vitest';
import { chooseVariant } from '../../common/analytics/variants.js';
import { findOptOut, recordOptOut } from '../../common/opt-outs.js';
import { Prisma } from '../../generated/prisma/client.js';
import { claimExpiredAfterMs, createSendGate } from '../../activities/send-gate.js';
import { createSendStepMessage } from '../../activities/send-step-message.js';
import type { SmsSender } from '../../activities/sms-sender.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { lockConversation } from '../../common/conversation.js';
import { noMetrics } from '../../common/metrics.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { sendCoreForFile } from '../support/send-core.js';
import { until } from '../support/wait.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';

const core = sendCoreForFile({ twilioTimeoutMs: 300 });

async function enrollment(firstName: string | null = 'Ada', steps: Prisma.InputJsonArray = []) {
  // Open all day with no caps that bite: the send gate's window and caps are tested in send-gate.test.ts.
  const { tenant } = await createTenant(core.db, anytimeSettings);
  const phone = randomUkMobile().e164;
  const lead = await core.db.lead.create({
    data: { tenantId: tenant.id, phone, firstName, timeZone: 'Europe/London' },
  });
  const sequence = await core.db.sequenceDefinition.create({
    data: { tenantId: tenant.id, name: 's', version: 1, steps },
  });
  const row = await core.db.enrollment.create({
    data: {
      tenantId: tenant.id,
      leadId: lead.id,
      sequenceId: sequence.id,
      workflowId: `followup:${tenant.id}:${lead.id}`,
    },
  });
  return {
    tenantId: tenant.id,
    phone,
    input: {
      tenantId: tenant.id,
      leadId: lead.id,
      enrollmentId: row.id,
      step: 0,
      template: 'Hi {{firstName}}',
      notAfter: new Date(Date.now() + 3_600_000).toISOString(),
    },
  };
}

const callOutcomesTo = (phone: string) =>
  core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome);

/**
 * Runs the activity as Temporal would on the given attempt (of a send the workflow scheduled at `scheduledAt`); a throw
 * is what Temporal would retry.
 */
const attempt = (number: number, input: Parameters<typeof core.sendStepMessage>[0], scheduledAt = 1) =>
  new MockActivityEnvironment({ attempt: number, scheduledTimestampMs: scheduledAt }).run(core.sendStepMessage, input);

/**
 * Attempt 2 runs while another transaction, holding the row's lock, makes `change` and commits: attempt 2 finds the row
 * changed since it read it, and answers nothing.
 */
async function retryWhileRowChanges(
  input: Parameters<typeof core.sendStepMessage>[0],
  id: string,
  change: (tx: Prisma.TransactionClient) => Promise<unknown>,
) {
  const held = await heldTransaction(
    core.db,
    (tx) => tx.$executeRaw`SELECT 1 FROM messages WHERE id = ${id}::uuid FOR UPDATE`,
    change,
  );
  const retry = attempt(2, input);
  await untilWaitingBehind(core.db, held.pid, 1);
  held.release();
  await held.committed;
  await expect(retry).rejects.toMatchObject({ type: 'SendRowChangedSinceRead' });
}

describe('sendStepMessage', () => {
  it('sends once and answers a repeat from the row, without calling Twilio again', async () => {
    const { phone, input } = await enrollment();
    const first = await attempt(1, input);
    const again = await attempt(2, input);
    expect(first).toMatchObject({ outcome: 'sent', twilioSid: expect.stringMatching(/^SM/) });
    expect(again).toEqual(first);
    expect(core.fake.createCallsTo(phone)).toBe(1);
  });

  it('after a timeout where Twilio did create the message ("maybe sent"), the retry adopts it instead of sending again', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'sentThenTimeout' }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    expect(
      (await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } })).status,
    ).toBe('pending');
    const retried = await attempt(2, input);
    expect(retried).toMatchObject({
      outcome: 'sent',
      twilioSid: core.fake.messages.find((message) => message.to === phone)?.sid,
    });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual([
      'sentThenTimeout',
    ]);
  });

  /** The step's row with its claim made older than any attempt could still be at Twilio with it. */
  const expireClaim = (input: { enrollmentId: string }) =>
    core.db.message.update({
      where: { idempotencyKey: `${input.enrollmentId}:0` },
      data: { claimedAt: new Date(Date.now() - claimExpiredAfterMs - 1000) },
    });
  const createdLate = (phone: string) =>
    until(() => core.fake.messages.find((message) => message.to === phone), 'Twilio to create the message late');

  it('after a timeout, Twilio creating the message only later: the next attempt stays off Twilio until the claim expires, then adopts it', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'createdLate', ms: 5000 }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    // At once, before Twilio has created it: a lookup finds nothing, and a create now would be a second message.
    await expect(attempt(2, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
    const late = await createdLate(phone);
    await expireClaim(input);
    expect(await attempt(3, input)).toMatchObject({ outcome: 'sent', twilioSid: late.sid });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual(['createdLate']);
  });

  it('a lookup asked while another attempt’s claim is fresh, answered after it expired: the retry stays off Twilio, and the next adopts the late message', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'createdLate', ms: 3000 }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    // The first attempt's claim expires in a second; Twilio creates its message at 3 s (shortened here: a real claim
    // outlasts any create Twilio still has in hand).
    await core.db.message.update({
      where: { idempotencyKey: `${input.enrollmentId}:0` },
      data: { claimedAt: new Date(Date.now() - claimExpiredAfterMs + 1000) },
    });
    // Twilio's answer to the lookup takes 1.5 s: it says what Twilio had when asked, and arrives after the claim expired.
    const slowLookup: SmsSender = {
      ...core.sender,
      async findSent(...args) {
        const found = await core.sender.findSent(...args);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return found;
      },
    };
    const send = createSendStepMessage({
      db: core.db,
      sender: slowLookup,
      capacity: createCapacityGate({ db: core.db, settings: roomyCapacity }),
      gate: createSendGate({ db: core.db }),
    });
    // Before: the claim, judged after the lookup, had expired, and the retry sent a second message.
    await expect(new MockActivityEnvironment({ attempt: 2 }).run(send, input)).rejects.toMatchObject({
      type: 'SendClaimedElsewhere',
    });
    const late = await createdLate(phone);
    expect(await attempt(3, input)).toMatchObject({ outcome: 'sent', twilioSid: late.sid });
    expect(core.fake.createCallsTo(phone)).toBe(1);
  });

  it('a retry on a worker whose clock runs two minutes ahead stays off Twilio while the first attempt’s claim is fresh', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'createdLate', ms: 5000 }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    // By this worker's clock the claim is two minutes old, long expired; by PostgreSQL's, which wrote it, a second.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      // It looks again once the claim has expired by that clock too, not every second.
      await expect(attempt(2, input)).rejects.toMatchObject({
        type: 'SendClaimedElsewhere',
        nextRetryDelay: expect.toSatisfy((delay: unknown) => typeof delay === 'number' && delay > 50_000),
      });
    } finally {
      vi.useRealTimers();
    }
    const late = await createdLate(phone);
    await expireClaim(input);
    expect(await attempt(3, input)).toMatchObject({ outcome: 'sent', twilioSid: late.sid });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual(['createdLate']);
  });

  it('after a timeout on a worker whose clock runs two minutes ahead, the retry still finds the message Twilio created', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'sentThenTimeout' }, { to: phone });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    } finally {
      vi.useRealTimers();
    }
    await expireClaim(input);
    // Before: the row was dated by that worker's clock, and the lookup for messages created since then (less a
    // minute for Twilio's clock) missed the one Twilio had made a minute before it: a second text.
    expect(await attempt(2, input)).toMatchObject({
      outcome: 'sent',
      twilioSid: core.fake.messages.find((message) => message.to === phone)?.sid,
    });
    expect(core.fake.createCallsTo(phone)).toBe(1);
  });

  it("Twilio's 21611 (the sender's queue is full) processed nothing: the row stays unclaimed and the next attempt sends", async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'twilioError', status: 400, code: 21611 }, { to: phone });
    // Before: the refusal was final, the row and the follow-up closed failed.
    await expect(attempt(1, input)).rejects.toMatchObject({ code: 21611 });
    expect(
      await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } }),
    ).toMatchObject({ status: 'pending', claimedAt: null });
    expect(await attempt(2, input)).toMatchObject({ outcome: 'sent' });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual([
      'error',
      'created',
    ]);
  });

  it('a 429 after an unanswered call keeps that call asked about: the message Twilio created late is adopted, not sent again', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'createdLate', ms: 5000 }, { to: phone });
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    await expireClaim(input);
    await expect(attempt(2, input)).rejects.toMatchObject({ status: 429 });
    const late = await createdLate(phone);
    expect(await attempt(3, input)).toMatchObject({ outcome: 'sent', twilioSid: late.sid });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual([
      'createdLate',
      'error',
    ]);
  });

  // The pause was taken by the workflow (and written to the row) while this send was in Twilio's retries.
  it('a retry for an enrollment paused since its send was scheduled answers deferred without calling Twilio', async () => {
    const { phone, input } = await enrollment();
    const scheduledAt = Date.now() - 5_000;
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input, scheduledAt)).rejects.toMatchObject({ status: 429 });
    const paused = { paused: true, pausedAt: new Date() };
    await core.db.enrollment.update({ where: { id: input.enrollmentId }, data: paused });
    expect(await attempt(2, input, scheduledAt)).toEqual({ outcome: 'deferred' });
    expect(callOutcomesTo(phone)).toEqual(['error']);
    expect(await core.db.message.findFirstOrThrow({ where: { enrollmentId: input.enrollmentId } })).toMatchObject({
      status: 'pending',
      reservation: null,
    });
    // The resumed run's send, scheduled well after the pause, the row's flag not written back (a lost write, a pause and
    // a resume racing): its first attempt and its retries go, so a stale flag never loops a send.
    const rescheduledAt = Date.now() + 61_000;
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input, rescheduledAt)).rejects.toMatchObject({ status: 429 });
    expect(await attempt(2, input, rescheduledAt)).toMatchObject({ outcome: 'sent' });
    expect(callOutcomesTo(phone)).toEqual(['error', 'error', 'created']);
  });

  it('a retry for an enrollment paused meanwhile by an API whose clock is behind Temporal’s answers deferred', async () => {
    const { phone, input } = await enrollment();
    const scheduledAt = Date.now();
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input, scheduledAt)).rejects.toMatchObject({ status: 429 });
    // Paused after the send was scheduled, stamped 2 s before it by the API's clock. Before: sent on the retry.
    const paused = { paused: true, pausedAt: new Date(scheduledAt - 2_000) };
    await core.db.enrollment.update({ where: { id: input.enrollmentId }, data: paused });
    expect(await attempt(2, input, scheduledAt)).toEqual({ outcome: 'deferred' });
    expect(callOutcomesTo(phone)).toEqual(['error']);
  });

  it('a retry for an enrollment paused meanwhile still adopts what its unanswered call sent', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'sentThenTimeout' }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    await core.db.enrollment.update({
      where: { id: input.enrollmentId },
      data: { paused: true, pausedAt: new Date() },
    });
    expect(await attempt(2, input)).toMatchObject({ outcome: 'sent' });
    expect(core.fake.createCallsTo(phone)).toBe(1);
  });

  it('a retry finds the message of an unanswered call behind more than a page of newer messages to the phone', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'sentThenTimeout' }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow(/timeout/i);
    const [taken] = core.fake.messages.filter((message) => message.to === phone);
    // Other messages to the phone since (one-time codes, another sender's): Twilio lists 50 to a page, newest first.
    for (let code = 0; code < 60; code += 1)
      await core.sender.send({ to: phone, body: `Your code is ${code}`, from: core.sender.defaultFrom });
    await expireClaim(input);
    expect(await attempt(2, input)).toMatchObject({ outcome: 'sent', twilioSid: taken?.sid });
    expect(core.fake.createCallsTo(phone)).toBe(61);
  });

  it('a retry after a 5xx does not take for its own a message with the same words another row sent a moment ago, written hours ago', async () => {
    const { tenantId, phone, input } = await enrollment();
    // Another enrollment's step with the same words, written two hours ago, held since, and sent just now.
    const earlier = await core.sender.send({ to: phone, body: 'Hi Ada', from: core.sender.defaultFrom });
    await core.db.message.create({
      data: {
        tenantId,
        direction: 'outbound',
        toPhone: phone,
        fromPhone: core.sender.defaultFrom,
        body: 'Hi Ada',
        status: 'queued',
        twilioSid: earlier.sid,
        createdAt: new Date(Date.now() - 2 * 3_600_000),
        sentAt: new Date(),
      },
    });
    core.fake.inject({ kind: 'http', status: 503 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 503 });
    await expireClaim(input);
    const retried = await attempt(2, input);
    expect(retried).toMatchObject({ outcome: 'sent', twilioSid: expect.not.stringMatching(earlier.sid ?? '') });
    expect(core.fake.messages.filter((message) => message.to === phone)).toHaveLength(2);
  });

  it('a retry that finds the lead opted out leaves alone a row another attempt claimed after this one read it', async () => {
    const { tenantId, phone, input } = await enrollment();
    // A 429 leaves the row written and unclaimed; then the lead opts out.
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 429 });
    await core.db.$transaction((tx) => recordOptOut(tx, { tenantId, phone, source: 'api' }));
    const { id } = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
    // Attempt 3, slow to get through (it passed the gate before the opt-out), claims the row while attempt 2, which
    // read it unclaimed, is closing it.
    const claimAt = new Date();
    await retryWhileRowChanges(input, id, (tx) =>
      tx.message.update({ where: { id }, data: { claimedAttempt: 3, claimedAt: claimAt } }),
    );
    expect(await core.db.message.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: 'pending',
      skipReason: null,
      claimedAttempt: 3,
    });
    expect(await core.db.event.count({ where: { tenantId, type: 'message.skipped' } })).toBe(0);
  });

  it.each([
    [600, 591, 600],
    // Claimed in the window's last seconds: a minute, as long past the close as the claim's lease already allows,
    // rather than a second, after which Twilio would drop a step the workflow counted sent.
    [1.5, 60, 60],
  ])(
    "tells Twilio to drop the step if its queue still holds it when the lead's window closes in %ss (ValidityPeriod %i-%i)",
    async (windowClosesIn, least, most) => {
      const { phone, input } = await enrollment();
      const notAfter = new Date(Date.now() + windowClosesIn * 1000).toISOString();
      expect(await attempt(1, { ...input, notAfter })).toMatchObject({ outcome: 'sent' });
      const [call] = core.fake.calls.filter((made) => made.to === phone);
      expect(Number(call?.params.ValidityPeriod)).toBeGreaterThanOrEqual(least);
      expect(Number(call?.params.ValidityPeriod)).toBeLessThanOrEqual(most);
    },
  );

  it('a retry that reserved capacity for a row the enrollment’s close skipped meanwhile gives it back', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 429 });
    const callsBefore = core.fake.createCallsTo(phone);
    const { id } = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
    // The enrollment closes, skipping its unclaimed row (what it reserved goes back), while attempt 2, which read the
    // row pending, waits to reserve capacity for it.
    await retryWhileRowChanges(input, id, async (tx) => {
      await tx.enrollment.update({ where: { id: input.enrollmentId }, data: { status: 'cancelled' } });
      await tx.message.update({
        where: { id },
        data: { status: 'skipped', skipReason: 'cancelled', reservation: Prisma.DbNull },
      });
    });
    expect(await core.db.message.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: 'skipped',
      skipReason: 'cancelled',
      reservation: null,
    });
    expect(await attempt(3, input)).toMatchObject({ outcome: 'halted', reason: 'cancelled' });
    expect(core.fake.createCallsTo(phone)).toBe(callsBefore);
  });

  it('retries 429 and 5xx through Temporal (throws) and sends once when Twilio recovers', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    core.fake.inject({ kind: 'http', status: 503 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 429 });
    // A 429 processed nothing: the next attempt goes at once.
    await expect(attempt(2, input)).rejects.toMatchObject({ status: 503 });
    // A 5xx may come after Twilio took the message: no attempt calls again until the claim has expired, and then asks.
    await expect(attempt(3, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
    await expireClaim(input);
    expect(await attempt(4, input)).toMatchObject({ outcome: 'sent' });
    expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual([
      'error',
      'error',
      'created',
    ]);
  });

  it("a 504 from Twilio's edge after its backend took the message: the retry waits for the claim, then finds it", async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'http', status: 504 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 504 });
    // Asked at once, Twilio does not list it yet: the retry calls nothing while the claim is fresh.
    await expect(attempt(2, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
    // What the edge did not say: the backend created it (the same words), a moment after the call.
    const taken = await core.sender.send({ to: phone, body: 'Hi Ada', from: core.sender.defaultFrom });
    await expireClaim(input);
    expect(await attempt(3, input)).toMatchObject({ outcome: 'sent', twilioSid: taken.sid });
    expect(core.fake.calls.filter((call) => call.to === phone && call.outcome === 'created')).toHaveLength(1);
  });

  it('records an opt-out on Twilio 21610, never retries, and tells the phone’s other runs at once', async () => {
    const { tenantId, phone, input } = await enrollment();
    const appointment = await core.db.appointment.create({
      data: {
        id: randomUUID(),
        tenantId,
        leadId: input.leadId,
        startsAt: new Date(Date.now() + 86_400_000),
        timeZone: 'Europe/London',
        durationMinutes: 30,
        workflowId: `appointment:${randomUUID()}`,
      },
    });
    core.fake.inject({ kind: 'twilioError', code: 21610 }, { to: phone });
    expect(await attempt(1, input)).toMatchObject({ outcome: 'opted_out' });
    expect(await findOptOut(core.db, tenantId, phone)).toMatchObject({ source: 'twilio_error_21610' });
    expect(
      await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } }),
    ).toMatchObject({ status: 'failed', errorCode: 21610 });
    // The appointment's reminders stop now, not at their next send's gate; the follow-up's row is halted with it.
    expect(await core.db.pendingSignal.findMany({ where: { workflowId: appointment.workflowId } })).toMatchObject([
      { signal: 'optOut', payload: { source: 'twilio_error_21610' } },
    ]);
    expect(await core.db.enrollment.findUniqueOrThrow({ where: { id: input.enrollmentId } })).toMatchObject({
      haltedBy: 'opted_out',
    });
  });

  it("Twilio's 21610 while the lead's STOP is being recorded (it holds the conversation's lock): both commit", async () => {
    const { tenantId, phone, input } = await enrollment();
    core.fake.inject({ kind: 'twilioError', code: 21610 }, { to: phone });
    // The STOP comes in while the create call is out: it takes the conversation's lock, then records its opt-out,
    // whose event needs the tenant's event lock.
    let stop: Awaited<ReturnType<typeof heldTransaction>> | undefined;
    const sender: SmsSender = {
      ...core.sender,
      async send(sms) {
        stop = await heldTransaction(
          core.db,
          (tx) => lockConversation(tx, tenantId, phone),
          (tx) => recordOptOut(tx, { tenantId, phone, source: 'inbound_keyword' }),
        );
        return core.sender.send(sms);
      },
    };
    const optOutsCounted: string[] = [];
    const send = createSendStepMessage({
      db: core.db,
      sender,
      capacity: createCapacityGate({ db: core.db, settings: roomyCapacity }),
      gate: createSendGate({ db: core.db }),
      metrics: { ...noMetrics, optOutRecorded: (source) => optOutsCounted.push(source) },
    });
    const answered = new MockActivityEnvironment({ attempt: 1 }).run(send, input);
    const held = await until(() => stop, 'the STOP holding the lock');
    await untilWaitingBehind(core.db, held.pid, 1);
    held.release();
    const [outcome] = await Promise.all([answered, held.committed]);
    expect(outcome).toMatchObject({ outcome: 'opted_out' });
    expect(await findOptOut(core.db, tenantId, phone)).toMatchObject({ source: 'inbound_keyword' });
    const consent = await core.db.consentEvent.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
    expect(consent.map((event) => event.source)).toEqual(['inbound_keyword', 'twilio_error_21610']);
    // The STOP's opt-out stood first: the refusal recorded none, and counts none (before: one more opt-out counted).
    expect(optOutsCounted).toEqual([]);
  });

  it('ends an invalid number (21211) as failed with the code', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'twilioError', code: 21211 }, { to: phone });
    expect(await attempt(1, input)).toMatchObject({ outcome: 'failed', kind: 'undeliverable', errorCode: 21211 });
  });

  it('re-checks the opt-out registry right before calling Twilio', async () => {
    const { tenantId, phone, input } = await enrollment();
    await core.db.$transaction((tx) => recordOptOut(tx, { tenantId, phone, source: 'inbound_keyword' }));
    expect(await attempt(1, input)).toMatchObject({ outcome: 'opted_out' });
    expect(core.fake.createCallsTo(phone)).toBe(0);
  });

  it('skips a message that would render with an empty value, naming it', async () => {
    const { phone, input } = await enrollment(null);
    expect(await attempt(1, input)).toMatchObject({ outcome: 'skipped', reason: 'missing value for firstName' });
    expect(core.fake.createCallsTo(phone)).toBe(0);
  });

  it('skips a message longer than Twilio takes once filled in, naming its length, rather than have Twilio refuse it', async () => {
    const { phone, input } = await enrollment();
    // A template saved before its length was checked: 1,590 characters and a name.
    const template = `${'x'.repeat(1590)} {{firstName}} {{link:https://example.com/offer}}`;
    // Before: sent, refused by Twilio for good (21617), and the enrollment failed with every later step.
    expect(await attempt(1, { ...input, template })).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringMatching(/^too long once filled in: 16\d\d characters, at most 1600$/),
    });
    expect(core.fake.createCallsTo(phone)).toBe(0);
  });

  it('a retry sends the body it rendered first, even if the lead changed meanwhile', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'http', status: 500 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 500 });
    await expireClaim(input);
    await core.db.lead.update({ where: { id: input.leadId }, data: { firstName: null } });
    expect(await attempt(2, input)).toMatchObject({ outcome: 'sent' });
    expect(
      core.fake.calls.filter((call) => call.outcome === 'created' && call.to === phone).map((call) => call.body),
    ).toEqual(['Hi Ada']);
  });

  it('answers deferred instead of sending after its deadline (window close or expiry)', async () => {
    const { phone, input } = await enrollment();
    expect(await attempt(3, { ...input, notAfter: new Date(Date.now() - 1000).toISOString() })).toEqual({
      outcome: 'deferred',
    });
    expect(core.fake.createCallsTo(phone)).toBe(0);
  });

  it('keeps waiting (retryable) when Twilio rejects our own credentials, instead of failing the enrollment', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'twilioError', code: 20003, status: 401 }, { to: phone });
    await expect(attempt(1, input)).rejects.toMatchObject({ status: 401 });
    expect(
      (await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } })).status,
    ).toBe('pending');
  });

  it('a timeout error carries no request config, so the auth token cannot reach a log', async () => {
    const { phone, input } = await enrollment();
    core.fake.inject({ kind: 'timeout' }, { to: phone });
    const error = await attempt(1, input).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'TwilioTransportError' });
    expect(JSON.stringify(error)).not.toContain('test-auth-token');
    expect(Object.keys(error as object)).not.toContain('config');
  });

  it('fails without retry when the lead is gone', async () => {
    const { input } = await enrollment();
    await expect(attempt(1, { ...input, leadId: randomUUID() })).rejects.toMatchObject({
      type: 'NotFoundError',
      nonRetryable: true,
    });
  });

  it("sends an A/B step's variant chosen from (enrollment, step), the same one on the retry after a failed attempt", async () => {
    const variants = [
      { template: 'Hi {{firstName}}, offer A', weight: 1 },
      { template: 'Hi {{firstName}}, offer B', weight: 1 },
    ];
    const { phone, input } = await enrollment('Ada', [
      { delaySeconds: 0, template: 'Hi {{firstName}}, offer A', variants },
    ]);
    const chosen = chooseVariant(input.enrollmentId, 0, variants);
    core.fake.inject({ kind: 'http', status: 429 }, { to: phone });
    await expect(attempt(1, input)).rejects.toThrow();
    expect(await attempt(2, input)).toMatchObject({ outcome: 'sent' });
    const row = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
    expect(row).toMatchObject({ variant: chosen.label, body: chosen.template.replace('{{firstName}}', 'Ada') });
    expect(core.fake.messages.filter((message) => message.to === phone).map((message) => message.body)).toEqual([
      row.body,
    ]);
  });
});
