// The claim settler: a message an attempt claimed and left at Twilio, whose enrollment closed with no retry to settle
// it (it expired while the retries ran), is recorded as Twilio has it. The real send activity, PostgreSQL and twilio
// client against the fake.
import { phoneHash } from '../../common/opt-outs.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import type { SmsSender } from '../../activities/sms-sender.js';
import type { SendAppointmentMessageInput } from '../../activities/reminders.js';
import type { SendStepMessageInput } from '../../activities/send-step-message.types.js';
import { createSendGate, settlerAttempt } from '../../activities/send-gate.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { createClaimSettler, settleClaimsAfterMs } from '../../worker/claim-settler.js';
import { withGlobalSwitch } from '../support/capacity.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { sendCoreForFile } from '../support/send-core.js';

// Rounds see the whole suite's database, whatever another file left there: assertions are about this file's rows.
const core = sendCoreForFile({ twilioTimeoutMs: 1000 });
const settler = (sender = core.sender) =>
  createClaimSettler({ db: core.db, sender, logger: pino({ level: 'silent' }) });

/** A lead's running enrollment and the input of its first step's send. */
async function enrolledLead() {
  const { tenant } = await createTenant(core.db, anytimeSettings);
  const phone = randomUkMobile().e164;
  const lead = await core.db.lead.create({
    data: { tenantId: tenant.id, phone, firstName: 'Ada', timeZone: 'Europe/London' },
  });
  const sequence = await core.db.sequenceDefinition.create({
    data: { tenantId: tenant.id, name: 's', version: 1, steps: [] },
  });
  const enrollment = await core.db.enrollment.create({
    data: { tenantId: tenant.id, leadId: lead.id, sequenceId: sequence.id, workflowId: `followup:${lead.id}` },
  });
  const input: SendStepMessageInput = {
    tenantId: tenant.id,
    leadId: lead.id,
    enrollmentId: enrollment.id,
    step: 0,
    template: 'Hi {{firstName}}, still keen?',
    notAfter: new Date(Date.now() + 3_600_000).toISOString(),
    holdAsResult: true,
  };
  return { tenantId: tenant.id, phone, enrollmentId: enrollment.id, input };
}

/**
 * The first attempt claims the row and dies at Twilio (`fault`), as a crash or a timeout leaves it; the claim is then
 * backdated by `claimedAgoMs`, the time a settler round would find it at.
 */
async function leftAtTwilio(fault: 'timeout' | 'sentThenTimeout', claimedAgoMs = settleClaimsAfterMs + 1000) {
  const lead = await enrolledLead();
  core.fake.inject({ kind: fault }, { to: lead.phone });
  const environment = new MockActivityEnvironment({ attempt: 1, scheduleToCloseTimeoutMs: 3_600_000 });
  await expect(environment.run(core.sendStepMessage, lead.input)).rejects.toThrow();
  const row = await core.db.message.findFirstOrThrow({ where: { enrollmentId: lead.enrollmentId } });
  expect(row).toMatchObject({ status: 'pending', claimedAt: expect.any(Date) });
  const claimedAt = new Date(Date.now() - claimedAgoMs);
  // As it lies after that long untouched: a row anything wrote to since is left for a later round.
  await core.db.message.update({ where: { id: row.id }, data: { claimedAt, updatedAt: claimedAt } });
  return { ...lead, messageId: row.id, claimedAt };
}

const closeEnrollment = (enrollmentId: string) =>
  core.db.enrollment.update({ where: { id: enrollmentId }, data: { status: 'expired', closedAt: new Date() } });
const eventsOf = (tenantId: string, type: string) => core.db.event.count({ where: { tenantId, type } });

describe('a claimed message whose enrollment closed with no retry to come', () => {
  it.each([
    ['Twilio took it', 'sentThenTimeout', 'queued', null, 'message.sent'],
    ['Twilio never had it', 'timeout', 'skipped', 'expired', 'message.skipped'],
  ] as const)(
    '%s (fault %s): the row ends %s, with one event, and no second create call',
    (_case, fault, status, skipReason, event) =>
      withGlobalSwitch(core.db, async () => {
        const left = await leftAtTwilio(fault);
        await closeEnrollment(left.enrollmentId);
        await settler().round();
        const row = await core.db.message.findUniqueOrThrow({ where: { id: left.messageId } });
        expect(row).toMatchObject({ status, skipReason });
        expect(row.twilioSid === null).toBe(status === 'skipped');
        // The lead's caps count the message from its claim: settling it does not move that.
        expect(row.claimedAt).toEqual(left.claimedAt);
        expect(await eventsOf(left.tenantId, event)).toBe(1);
        expect(core.fake.createCallsTo(left.phone)).toBe(1);
        await settler().round();
        expect(await eventsOf(left.tenantId, event)).toBe(1);
      }),
  );

  it('Twilio has it failed 21610 (the recipient had unsubscribed), its callbacks lost: the row takes the code, and the opt-out is recorded', () =>
    withGlobalSwitch(core.db, async () => {
      const left = await leftAtTwilio('sentThenTimeout');
      const atTwilio = core.fake.messages.find((message) => message.to === left.phone);
      core.fake.updateMessage(atTwilio?.sid ?? '', { status: 'failed', error_code: 21610 });
      await closeEnrollment(left.enrollmentId);
      await settler().round();
      // Before: failed with no error code, and the lead was not recorded opted out.
      expect(await core.db.message.findUniqueOrThrow({ where: { id: left.messageId } })).toMatchObject({
        status: 'failed',
        errorCode: 21610,
      });
      expect(await core.db.optOut.count({ where: { tenantId: left.tenantId, phoneHash: phoneHash(left.phone) } })).toBe(
        1,
      );
    }));

  it('two worker processes settling at once: one settles it, one event', () =>
    withGlobalSwitch(core.db, async () => {
      const left = await leftAtTwilio('sentThenTimeout');
      await closeEnrollment(left.enrollmentId);
      // Each process reads the row, then asks Twilio slowly: both rounds are past their read before either records.
      let lookups = 0;
      const slowLookup: SmsSender = {
        ...core.sender,
        async findSent(...args) {
          // Rounds take any row the suite's database holds that is due: only this test's is slow, and counted.
          if (args[0].to === left.phone) {
            lookups += 1;
            await sleep(300);
          }
          return core.sender.findSent(...args);
        },
      };
      await Promise.all([settler(slowLookup).round(), settler(slowLookup).round()]);
      expect(lookups).toBe(1);
      expect(await core.db.message.findUniqueOrThrow({ where: { id: left.messageId } })).toMatchObject({
        status: 'queued',
      });
      expect(await eventsOf(left.tenantId, 'message.sent')).toBe(1);
    }));

  it('a take by a settler whose clock runs fifteen minutes behind: a settler on a right clock leaves it alone', () =>
    withGlobalSwitch(core.db, async () => {
      const left = await leftAtTwilio('sentThenTimeout', 30 * 60_000);
      await closeEnrollment(left.enrollmentId);
      let lookups = 0;
      const counted: SmsSender = {
        ...core.sender,
        async findSent(...args) {
          if (args[0].to === left.phone) lookups += 1;
          return core.sender.findSent(...args);
        },
      };
      // The behind settler has taken the row and is about to ask Twilio when the other comes round.
      const behind: SmsSender = {
        ...counted,
        async findSent(...args) {
          if (args[0].to === left.phone && lookups === 0) {
            vi.useRealTimers();
            await settler(counted).round();
          }
          return counted.findSent(...args);
        },
      };
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 15 * 60_000 });
      try {
        await settler(behind).round();
      } finally {
        vi.useRealTimers();
      }
      expect(lookups).toBe(1);
      expect(await eventsOf(left.tenantId, 'message.sent')).toBe(1);
    }));

  it('closes a row no attempt claimed that a terminated run left held: skipped as the owner closed, the CRM told', () =>
    withGlobalSwitch(core.db, async () => {
      const { tenantId, enrollmentId } = await enrolledLead();
      const longAgo = new Date(Date.now() - settleClaimsAfterMs - 1000);
      const held = await core.db.message.create({
        data: {
          tenantId,
          enrollmentId,
          direction: 'outbound',
          toPhone: randomUkMobile().e164,
          body: 'Hi',
          status: 'pending',
          heldReason: 'window',
          idempotencyKey: `${enrollmentId}:0`,
          updatedAt: longAgo,
        },
      });
      // The operator terminated the run and closed its enrollment with SQL (enrollment:close closes held rows itself).
      await core.db.enrollment.update({
        where: { id: enrollmentId },
        data: { status: 'cancelled', closedAt: new Date() },
      });
      await settler().round();
      // Before: it stayed pending and held for good, counted as waiting, and the CRM never heard of it.
      expect(await core.db.message.findUniqueOrThrow({ where: { id: held.id } })).toMatchObject({
        status: 'skipped',
        skipReason: 'cancelled',
        heldReason: null,
      });
      const [skipped] = await core.db.event.findMany({ where: { tenantId, type: 'message.skipped' } });
      expect(skipped?.data).toMatchObject({ reason: 'cancelled', heldBy: 'window' });
    }));

  it('leaves a row alone while its enrollment runs (its retry settles it) or its claim is recent', () =>
    withGlobalSwitch(core.db, async () => {
      const running = await leftAtTwilio('timeout');
      const recent = await leftAtTwilio('timeout', 60_000);
      await closeEnrollment(recent.enrollmentId);
      await settler().round();
      for (const left of [running, recent])
        expect(await core.db.message.findUniqueOrThrow({ where: { id: left.messageId } })).toMatchObject({
          status: 'pending',
        });
    }));

  it('leaves a recent claim alone on a worker whose clock runs fifteen minutes ahead', () =>
    withGlobalSwitch(core.db, async () => {
      const recent = await leftAtTwilio('timeout', 60_000);
      await closeEnrollment(recent.enrollmentId);
      // By this worker's clock the claim is sixteen minutes old; by PostgreSQL's, which wrote it, one.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 15 * 60_000 });
      try {
        await settler().round();
      } finally {
        vi.useRealTimers();
      }
      expect(await core.db.message.findUniqueOrThrow({ where: { id: recent.messageId } })).toMatchObject({
        status: 'pending',
        claimedAttempt: 1,
      });
    }));
});

describe('a claimed message of a closed appointment', () => {
  const longAgo = () => new Date(Date.now() - settleClaimsAfterMs - 60_000);

  /** A lead's appointment starting at `startsAt` (as its row has it), cancelled. */
  async function cancelledAppointment(startsAt: Date) {
    const { tenantId, phone, input } = await enrolledLead();
    const appointment = await core.db.appointment.create({
      data: {
        id: crypto.randomUUID(),
        tenantId,
        leadId: input.leadId,
        startsAt,
        timeZone: 'Europe/London',
        durationMinutes: 30,
        reminderOffsetsSeconds: [3600],
        workflowId: `reminder:${tenantId}:${crypto.randomUUID()}`,
        status: 'cancelled',
      },
    });
    return { tenantId, phone, leadId: input.leadId, appointment };
  }

  /** The appointment's reminder and cancellation notice, claimed 11 min ago; the notice to be sent by `noticeBy`. */
  async function cancelledWithClaims(startsAt: Date, noticeBy: Date | null = startsAt) {
    const { tenantId, leadId, appointment } = await cancelledAppointment(startsAt);
    const claimed = (key: string, sendBy: Date | null) =>
      core.db.message.create({
        data: {
          tenantId,
          leadId,
          appointmentId: appointment.id,
          idempotencyKey: `appointment:${appointment.id}:${key}`,
          direction: 'outbound',
          toPhone: randomUkMobile().e164,
          body: `About your appointment (${key})`,
          status: 'pending',
          claimedAttempt: 1,
          claimedAt: longAgo(),
          updatedAt: longAgo(),
          sendBy,
        },
      });
    return { reminder: await claimed('reminder:3600', startsAt), notice: await claimed('cancellation', noticeBy) };
  }
  const statusOf = async (id: string) => core.db.message.findUniqueOrThrow({ where: { id } });

  it('settles a reminder at once, and the cancellation notice, which the run still sends, only after its deadline', async () => {
    const ahead = await cancelledWithClaims(new Date(Date.now() + 86_400_000));
    const past = await cancelledWithClaims(longAgo());
    // Rows written before the deadline was: the appointment's start stands in for it.
    const pastWithoutDeadline = await cancelledWithClaims(longAgo(), null);
    await settler().round();
    expect(await statusOf(ahead.reminder.id)).toMatchObject({ status: 'skipped', skipReason: 'appointment_cancelled' });
    expect(await statusOf(ahead.notice.id)).toMatchObject({ status: 'pending', claimedAttempt: 1 });
    for (const { notice } of [past, pastWithoutDeadline])
      expect(await statusOf(notice.id)).toMatchObject({ status: 'skipped', skipReason: 'appointment_cancelled' });
  });

  it("waits for the notice's deadline as its run has it, not for the start as the row has it (a move's row write can be lost)", async () => {
    const lagging = await cancelledWithClaims(longAgo(), new Date(Date.now() + 3_600_000));
    await settler().round();
    expect(await statusOf(lagging.notice.id)).toMatchObject({ status: 'pending', claimedAttempt: 1 });
  });

  /**
   * A cancellation notice from before deadlines were written, its first attempt dead at Twilio (which never had it) and
   * its claim 11 min old, whose appointment row's start lags its run's: the settler takes it while the run's attempts
   * still come. `attempt(n)` is the run's attempt n.
   */
  async function legacyNoticeLeftAtTwilio() {
    const { tenantId, phone, leadId, appointment } = await cancelledAppointment(longAgo());
    const input: SendAppointmentMessageInput = {
      tenantId,
      leadId,
      appointmentId: appointment.id,
      message: { kind: 'cancellation' },
      startsAt: appointment.startsAt.toISOString(),
      location: null,
      notAfter: new Date(Date.now() + 3_600_000).toISOString(),
      holdAsResult: true,
    };
    const attempt = (number: number) =>
      new MockActivityEnvironment({ attempt: number, scheduleToCloseTimeoutMs: 3_600_000 }).run(
        core.sendAppointmentMessage,
        input,
      );
    core.fake.inject({ kind: 'timeout' }, { to: phone });
    await expect(attempt(1)).rejects.toThrow();
    const row = await core.db.message.findFirstOrThrow({ where: { appointmentId: appointment.id } });
    expect(row.sendBy).toEqual(new Date(input.notAfter));
    const left = await core.db.message.update({
      where: { id: row.id },
      data: { sendBy: null, claimedAt: longAgo(), updatedAt: longAgo() },
    });
    return { tenantId, phone, row: left, input, attempt };
  }

  /** A sender whose lookups for `phone` run `meanwhile` once Twilio has answered, before the settler goes on. */
  const afterLookup = (phone: string, meanwhile: () => Promise<unknown>): SmsSender => ({
    ...core.sender,
    async findSent(...args) {
      const found = await core.sender.findSent(...args);
      if (args[0].to === phone) await meanwhile();
      return found;
    },
  });

  it('an attempt coming while the settler asks Twilio stays off it, and the row closes once', () =>
    withGlobalSwitch(core.db, async () => {
      const { tenantId, phone, row, attempt } = await legacyNoticeLeftAtTwilio();
      // The settler has found nothing at Twilio when the run's next attempt comes, before the settler closes the row.
      let second: Promise<unknown> = Promise.resolve();
      let touched = false;
      await settler(
        afterLookup(phone, async () => {
          const before = await statusOf(row.id);
          second = attempt(2);
          await second.catch(() => undefined);
          // Not even its capacity: a write would keep the settler from taking the row again after a failure.
          touched = (await statusOf(row.id)).updatedAt.getTime() !== before.updatedAt.getTime();
        }),
      ).round();
      await expect(second).rejects.toThrow(/claim settler is asking Twilio/);
      expect(touched).toBe(false);
      expect(core.fake.createCallsTo(phone)).toBe(1);
      expect(await statusOf(row.id)).toMatchObject({ status: 'skipped', twilioSid: null });
      expect(await eventsOf(tenantId, 'message.skipped')).toBe(1);
      expect(await eventsOf(tenantId, 'message.sent')).toBe(0);
      // The run's next attempt answers what the row came to.
      await expect(attempt(3)).resolves.toMatchObject({ outcome: 'skipped' });
    }));

  it.each([
    ["the settler's take", { claimedAttempt: settlerAttempt }, { attempt: settlerAttempt, looksAgainAtOnce: false }],
    // A close the gate did not see: nothing to wait for, the attempt reads the closed row at once. (The claim is still
    // that of attempt 1, whose call went unanswered.)
    ['a close', { status: 'skipped', skipReason: 'expired' }, { attempt: 1, looksAgainAtOnce: true }],
    // Twilio's 429 processed nothing: the claim is let go with its time, and the attempt goes on at once.
    [
      'a claim let go after a 429',
      { claimedAt: null, claimedAttempt: null },
      { attempt: null, looksAgainAtOnce: true },
    ],
  ] as const)(
    "%s landing between the send gate's read and its claim: the gate claims nothing",
    async (_what, write, expected) => {
      const { row, input } = await legacyNoticeLeftAtTwilio();
      // The gate's transaction, with the write committed once the gate has read the message's facts.
      const writeAfterFactsRead = new Proxy(core.db, {
        get(db, property) {
          if (property !== '$transaction') return Reflect.get(db, property, db);
          return (work: (tx: Prisma.TransactionClient) => Promise<unknown>) =>
            db.$transaction((tx) =>
              work(
                new Proxy(tx, {
                  get(client, name) {
                    const value = Reflect.get(client, name, client) as unknown;
                    if (name !== '$queryRaw' || typeof value !== 'function') return value;
                    return async (sql: TemplateStringsArray, ...values: unknown[]) => {
                      const rows = await (value as (...args: unknown[]) => Promise<unknown>).call(
                        client,
                        sql,
                        ...values,
                      );
                      if (sql.join('?').includes('"claimedAttempt"'))
                        await core.db.message.update({ where: { id: row.id }, data: write });
                      return rows;
                    };
                  },
                }),
              ),
            );
        },
      });
      const subject = {
        kind: 'appointment',
        appointmentId: input.appointmentId,
        message: 'cancellation',
        startsAt: input.startsAt,
        waitsForChanges: false,
      } as const;
      const decision = await createSendGate({ db: writeAfterFactsRead }).claim(row, 2, subject);
      expect(decision).toMatchObject({ kind: 'claimed_elsewhere', attempt: expected.attempt });
      const lookAgainInMs = decision.kind === 'claimed_elsewhere' ? decision.lookAgainInMs : Infinity;
      expect(lookAgainInMs <= 0).toBe(expected.looksAgainAtOnce);
      expect(await statusOf(row.id)).toMatchObject(write);
    },
  );

  it('a claim written between its lookup and its close: the settler closes nothing', () =>
    withGlobalSwitch(core.db, async () => {
      const { tenantId, phone, row } = await legacyNoticeLeftAtTwilio();
      const claimedAt = new Date();
      await settler(
        afterLookup(phone, () =>
          core.db.message.update({ where: { id: row.id }, data: { claimedAttempt: 7, claimedAt } }),
        ),
      ).round();
      expect(await statusOf(row.id)).toMatchObject({ status: 'pending', claimedAttempt: 7, claimedAt });
      expect(await eventsOf(tenantId, 'message.skipped')).toBe(0);
    }));

  it('a lookup that fails lets the take go: the row is claimed by nobody, and asked about first by whoever comes', async () => {
    const { phone, row } = await legacyNoticeLeftAtTwilio();
    await settler(
      afterLookup(phone, () => Promise.reject(Object.assign(new Error('Twilio answered 503'), { status: 503 }))),
    ).round();
    expect(await statusOf(row.id)).toMatchObject({ status: 'pending', claimedAttempt: null, claimedAt: row.claimedAt });
  });
});
