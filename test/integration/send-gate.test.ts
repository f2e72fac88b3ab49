// The send gate's last word before Twilio, activity by activity against real PostgreSQL and the twilio client aimed at
// the loopback fake: a STOP racing sends, overlapping attempts, the daily cap across enrollments, reconciliation first.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { Prisma } from '../../generated/prisma/client.js';
import { describe, expect, it, vi } from 'vitest';
import {
  appointmentMessageKey,
  type AppointmentMessage,
  type SendAppointmentMessageInput,
} from '../../activities/reminders.js';
import type { SendStepMessageInput, SendStepMessageResult } from '../../activities/send-step-message.types.js';
import { claimExpiredAfterMs, createSendGate } from '../../activities/send-gate.js';
import { createSendStepMessage } from '../../activities/send-step-message.js';
import { handOver } from '../../activities/twilio-handover.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { noMetrics } from '../../common/metrics.js';
import { lockConversation } from '../../common/conversation.js';
import { findOptOut, recordOptOut } from '../../common/opt-outs.js';
import { sendCoreForFile } from '../support/send-core.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { withGlobalSwitch } from '../support/capacity.js';
import { until } from '../support/wait.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { zoneAtHour } from '../support/zones.js';

const core = sendCoreForFile({ twilioTimeoutMs: 5000 });

/** A lead with `count` running enrollments (rows only: the activity is what is under test). */
async function leadWithEnrollments(count: number, timeZone = 'Europe/London', phone = randomUkMobile().e164) {
  const { tenant } = await createTenant(core.db, anytimeSettings);
  const lead = await core.db.lead.create({ data: { tenantId: tenant.id, phone, firstName: 'Ada', timeZone } });
  const sequence = await core.db.sequenceDefinition.create({
    data: { tenantId: tenant.id, name: 's', version: 1, steps: [] },
  });
  const inputs: SendStepMessageInput[] = [];
  for (let i = 0; i < count; i += 1) {
    const row = await core.db.enrollment.create({
      data: {
        tenantId: tenant.id,
        leadId: lead.id,
        sequenceId: sequence.id,
        workflowId: `followup:${tenant.id}:${lead.id}:${i}`,
      },
    });
    inputs.push({
      tenantId: tenant.id,
      leadId: lead.id,
      enrollmentId: row.id,
      step: 0,
      template: `Hi {{firstName}} (${i})`,
      notAfter: new Date(Date.now() + 3_600_000).toISOString(),
      holdAsResult: true,
    });
  }
  return { tenant, lead, phone, inputs };
}

/** One enrollment's first step, its row already written under `claim` (an earlier attempt's), and its lead's phone. */
async function stepClaimedEarlier(claim: { claimedAttempt: number; claimedAt: Date }) {
  const { tenant, phone, inputs } = await leadWithEnrollments(1);
  const [input] = inputs as [SendStepMessageInput];
  const row = await core.db.message.create({
    data: {
      tenantId: tenant.id,
      enrollmentId: input.enrollmentId,
      direction: 'outbound',
      toPhone: phone,
      body: 'Hi Ada (0)',
      status: 'pending',
      idempotencyKey: `${input.enrollmentId}:0`,
      ...claim,
    },
  });
  return { tenant, phone, input, row };
}

/** Runs `work` with the tenant's kill switch on. */
async function whilePaused<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
  await pauseSending(core.db, { scope: tenantId, actor: 'test' });
  try {
    return await work();
  } finally {
    await resumeSending(core.db, { scope: tenantId, actor: 'test' });
  }
}

/** Another enrollment's step to the lead, claimed and handed to Twilio (its row written at `createdAt`, default now). */
async function claimedByAnother(
  lead: { id: string; tenantId: string; phone: string },
  other: SendStepMessageInput,
  times: { claimedAt: Date; sentAt: Date; createdAt?: Date },
) {
  await core.db.message.create({
    data: {
      tenantId: lead.tenantId,
      leadId: lead.id,
      enrollmentId: other.enrollmentId,
      direction: 'outbound',
      toPhone: lead.phone,
      body: 'other',
      status: 'queued',
      twilioSid: `SM${crypto.randomUUID().replaceAll('-', '')}`,
      claimedAttempt: 1,
      ...times,
    },
  });
}

/** As Temporal would run it: the workflow sets schedule-to-close to the step's deadline, an hour here. */
/**
 * Other test files turn the global kill switch on for a moment, which would hold these sends: each test here runs
 * under the suite-wide lock those files take for it (test/support/capacity.ts), so no global pause overlaps it.
 */
const withoutGlobalPause = (body: () => Promise<void>) => () => withGlobalSwitch(core.db, body);

const activityEnvironment = (number: number) =>
  new MockActivityEnvironment({
    attempt: number,
    scheduleToCloseTimeoutMs: 3_600_000,
    scheduledTimestampMs: Date.now(),
  });

const attempt = (number: number, input: SendStepMessageInput) =>
  activityEnvironment(number).run(core.sendStepMessage, input);

const appointmentAttempt = (number: number, input: SendAppointmentMessageInput) =>
  activityEnvironment(number).run(core.sendAppointmentMessage, input);

/** A step's send whose gate or capacity a test wraps, to land a write between two of the send's lines. */
const sendWith = ({
  gate = createSendGate({ db: core.db }),
  capacity = createCapacityGate({ db: core.db, settings: roomyCapacity }),
}: {
  gate?: ReturnType<typeof createSendGate>;
  capacity?: ReturnType<typeof createCapacityGate>;
}) => createSendStepMessage({ db: core.db, sender: core.sender, capacity, gate });

/** A reminder of an appointment two hours ahead that is worthless after `notAfter`. */
async function reminderDueBefore(
  notAfter: Date,
  timeZone = 'Europe/London',
): Promise<{ phone: string; input: SendAppointmentMessageInput }> {
  const { tenant, lead, phone } = await leadWithEnrollments(0, timeZone);
  const startsAt = new Date(Date.now() + 7_200_000);
  const appointment = await core.db.appointment.create({
    data: {
      id: crypto.randomUUID(),
      tenantId: tenant.id,
      leadId: lead.id,
      startsAt,
      timeZone: 'Europe/London',
      durationMinutes: 30,
      reminderOffsetsSeconds: [3600],
      workflowId: `appointment:${tenant.id}:${crypto.randomUUID()}`,
    },
  });
  return {
    phone,
    input: {
      tenantId: tenant.id,
      leadId: lead.id,
      appointmentId: appointment.id,
      message: { kind: 'reminder', offsetSeconds: 3600 },
      startsAt: startsAt.toISOString(),
      location: null,
      notAfter: notAfter.toISOString(),
      holdAsResult: true,
    },
  };
}

/** The appointment run's end as a STOP left it, naming the start the message was for. */
const recordOptedOutEnding = ({ appointmentId, tenantId, startsAt }: SendAppointmentMessageInput) =>
  core.recordAppointmentProgress({
    appointmentId,
    tenantId,
    startsAt,
    reminders: [],
    status: 'opted_out',
    closedReason: 'recipient opted out',
  });

describe('a STOP racing sends to the same phone', () => {
  it(
    'every create call that happened was claimed before the STOP committed, and nothing is claimed after it',
    withoutGlobalPause(async () => {
      const { tenant, phone, inputs } = await leadWithEnrollments(50);
      const sends = Promise.all(inputs.map((input) => attempt(1, input)));
      // The STOP lands once sends are going out, while the rest are still on their way to the gate.
      await until(() => core.fake.createCallsTo(phone) > 0 || null, 'the first create call', 10_000);
      // The 50 sends share this pool, each holding a connection while it waits for the conversation's lock: the STOP
      // may wait longer than Prisma's default 2 s for one of its own (the webhook's process has a pool of its own).
      await core.db.$transaction((tx) => recordOptOut(tx, { tenantId: tenant.id, phone, source: 'inbound_keyword' }), {
        maxWait: 30_000,
      });
      const optOut = await findOptOut(core.db, tenant.id, phone);
      const outcomes = (await sends) as SendStepMessageResult[];

      const created = core.fake.calls.filter((call) => call.to === phone && call.outcome === 'created');
      const rows = await core.db.message.findMany({ where: { toPhone: phone } });
      const sent = rows.filter((row) => row.twilioSid !== null);
      expect(sent).toHaveLength(created.length);
      // Both instants are kept to the millisecond: a claim made in the STOP's millisecond, before it, ties.
      for (const row of sent) expect(row.claimedAt?.getTime()).toBeLessThanOrEqual(optOut?.createdAt.getTime() ?? 0);
      // Nothing was claimed after the STOP: every send that did not go out before it was refused or is still held.
      expect(
        rows.filter(
          (row) =>
            row.twilioSid === null && row.claimedAt !== null && row.claimedAt > (optOut?.createdAt ?? new Date(0)),
        ),
      ).toEqual([]);
      expect(outcomes.filter((outcome) => outcome.outcome === 'sent')).toHaveLength(created.length);
      expect(created.length).toBeGreaterThan(0);
      const tally = outcomes.reduce<Record<string, number>>(
        (counts, outcome) => ({ ...counts, [outcome.outcome]: (counts[outcome.outcome] ?? 0) + 1 }),
        {},
      );
      process.stdout.write(
        `STOP racing 50 sends: ${created.length} claimed and sent before it; outcomes ${JSON.stringify(tally)}\n`,
      );
      // No gap and no daily cap to wait for: every send that did not go out is refused as opted out, none held.
      expect(tally).toEqual({
        sent: created.length,
        ...(created.length < 50 ? { opted_out: 50 - created.length } : {}),
      });
    }),
  );
});

describe('a step the API skipped past while its send was on its way', () => {
  it('is refused skipped_by_api, its row written skipped, and never reaches Twilio', async () => {
    const { phone, inputs } = await leadWithEnrollments(1);
    const [input] = inputs as [SendStepMessageInput];
    // The skip route records the step skipped to before the run hears of it; this send's row is not written yet.
    await core.db.enrollment.update({ where: { id: input.enrollmentId }, data: { skippedToStep: 1 } });
    // Before: the gate never looked at the step, and the skipped step went out.
    expect(await attempt(1, input)).toMatchObject({ outcome: 'skipped', reason: 'skipped_by_api' });
    expect(core.fake.createCallsTo(phone)).toBe(0);
    expect(await core.db.message.findFirstOrThrow({ where: { enrollmentId: input.enrollmentId } })).toMatchObject({
      idempotencyKey: `${input.enrollmentId}:0`,
      status: 'skipped',
      skipReason: 'skipped_by_api',
    });
    // The step skipped to goes.
    expect(await attempt(1, { ...input, step: 1 })).toMatchObject({ outcome: 'sent' });
  });
});

describe('claims', () => {
  it(
    'two overlapping attempts of one send (the first stalled in its Twilio call past its timeout) make one create call',
    withoutGlobalPause(async () => {
      const { phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      core.fake.inject({ kind: 'slow', ms: 2500 }, { to: phone });
      const first = attempt(1, input);
      await new Promise((resolve) => setTimeout(resolve, 700));
      // Temporal started attempt 2 because attempt 1 timed out; attempt 1 is still waiting on Twilio.
      await expect(attempt(2, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
      expect(await first).toMatchObject({ outcome: 'sent' });
      expect(await attempt(3, input)).toMatchObject({ outcome: 'sent' });
      expect(core.fake.createCallsTo(phone)).toBe(1);
    }),
  );

  it(
    'a retry asks Twilio before it looks at the opt-out: a message Twilio did create counts as sent, not given back',
    withoutGlobalPause(async () => {
      const { tenant, phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      core.fake.inject({ kind: 'sentThenTimeout' }, { to: phone });
      await expect(attempt(1, input)).rejects.toThrow();
      await core.db.$transaction((tx) => recordOptOut(tx, { tenantId: tenant.id, phone, source: 'inbound_keyword' }));
      expect(await attempt(2, input)).toMatchObject({
        outcome: 'sent',
        twilioSid: core.fake.messages.find((message) => message.to === phone)?.sid,
      });
      expect(await core.db.message.findFirstOrThrow({ where: { toPhone: phone } })).toMatchObject({
        status: expect.not.stringMatching(/skipped|pending/),
        reservation: expect.anything(),
      });
      expect(core.fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual([
        'sentThenTimeout',
      ]);
    }),
  );

  it.each([
    ['', 0],
    // By its clock the first attempt's claim (written with PostgreSQL's) is long expired: it must not close the row.
    [' (the retry on a worker whose clock runs two minutes ahead)', 120_000],
  ])(
    "a retry past a reminder's deadline while another attempt is at Twilio waits for it%s: recorded sent, never missed",
    (_case, workerClockAheadMs) =>
      withoutGlobalPause(async () => {
        const notAfter = new Date(Date.now() + 2500);
        const { phone, input } = await reminderDueBefore(notAfter);
        core.fake.inject({ kind: 'slow', ms: 3500 }, { to: phone });
        const first = appointmentAttempt(1, input);
        await until(() => core.fake.createCallsTo(phone) > 0 || null, 'the first create call', 10_000);
        await new Promise((resolve) => setTimeout(resolve, notAfter.getTime() - Date.now() + 100));
        // Attempt 1 timed out in Temporal's eyes and is still waiting on Twilio, now past the reminder's deadline.
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + workerClockAheadMs });
        try {
          await expect(appointmentAttempt(2, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
        } finally {
          vi.useRealTimers();
        }
        expect(await first).toMatchObject({ outcome: 'sent' });
        expect(await appointmentAttempt(3, input)).toMatchObject({ outcome: 'sent' });

        const row = await core.db.message.findFirstOrThrow({ where: { toPhone: phone } });
        expect(row).toMatchObject({ status: 'queued', skipReason: null, reservation: expect.anything() });
        const events = await core.db.event.findMany({ where: { leadId: row.leadId }, orderBy: { sequence: 'asc' } });
        expect(events.map((event) => event.type)).toEqual(['message.sent']);
        expect(core.fake.createCallsTo(phone)).toBe(1);
      })(),
  );
});

describe('a reminder’s deadline, on a worker whose clock is two minutes off PostgreSQL’s', () => {
  it(
    'a minute past it, on a clock two minutes behind: missed, judged on PostgreSQL’s clock; nothing reaches Twilio',
    withoutGlobalPause(async () => {
      const { phone, input } = await reminderDueBefore(new Date(Date.now() - 60_000));
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 120_000 });
      try {
        // Before: a minute left by this worker's clock, so it was sent, with a minute's ValidityPeriod.
        expect(await appointmentAttempt(1, input)).toEqual({ outcome: 'missed' });
      } finally {
        vi.useRealTimers();
      }
      expect(core.fake.createCallsTo(phone)).toBe(0);
      expect(await core.db.message.findFirstOrThrow({ where: { toPhone: phone } })).toMatchObject({
        status: 'skipped',
        skipReason: 'missed',
        claimedAt: null,
        reservation: null,
      });
    }),
  );

  // Before: behind, 180 s (the minute left plus the two minutes this worker's clock is behind); ahead, a minute past by
  // this worker's clock, so it was missed a minute early.
  it.each([
    ['behind', -120_000],
    ['ahead', 120_000],
  ])(
    'a minute before it, on a clock two minutes %s: goes with a ValidityPeriod that ends at the deadline as PostgreSQL’s clock has it',
    (_side, offsetMs) =>
      withoutGlobalPause(async () => {
        const { phone, input } = await reminderDueBefore(new Date(Date.now() + 60_000));
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + offsetMs });
        try {
          expect(await appointmentAttempt(1, input)).toMatchObject({ outcome: 'sent' });
        } finally {
          vi.useRealTimers();
        }
        const [call] = core.fake.calls.filter((made) => made.to === phone);
        expect(Number(call?.params.ValidityPeriod)).toBeGreaterThan(50);
        expect(Number(call?.params.ValidityPeriod)).toBeLessThanOrEqual(60);
      })(),
  );
});

describe('a reminder held past its deadline', () => {
  it(
    'held by a spent daily budget that renews only after the deadline: held, not missed, and sent once the budget is raised',
    withoutGlobalPause(async () => {
      const { phone, input } = await reminderDueBefore(new Date(Date.now() + 7000));
      // The tenant's day (and its budget's) ends twelve hours from now, long after the reminder is worthless.
      await core.db.tenant.update({
        where: { id: input.tenantId },
        data: { defaultTimeZone: zoneAtHour(12), dailyBudget: new Prisma.Decimal('0.0001') },
      });
      // Before: missed at once, the row closed, though a budget raised before the deadline would have sent it.
      const held = await appointmentAttempt(1, input);
      expect(held).toMatchObject({ outcome: 'held', reason: 'budget_daily' });
      // Its last look leaves the attempt time to claim it and call Twilio.
      expect(Date.parse((held as { retryAt: string }).retryAt)).toBeLessThanOrEqual(Date.parse(input.notAfter) - 5000);
      expect(await core.db.message.findFirstOrThrow({ where: { toPhone: phone } })).toMatchObject({
        status: 'pending',
        heldReason: 'budget_daily',
      });
      await core.db.tenant.update({ where: { id: input.tenantId }, data: { dailyBudget: null } });
      // Raised in time for its last look, which still sends it.
      await new Promise((resolve) =>
        setTimeout(resolve, Date.parse((held as { retryAt: string }).retryAt) - Date.now()),
      );
      expect(await appointmentAttempt(2, input)).toMatchObject({ outcome: 'sent' });
      expect(core.fake.createCallsTo(phone)).toBe(1);
    }),
  );

  it(
    'closes missed, its event naming what held it (the tenant’s kill switch)',
    withoutGlobalPause(async () => {
      const { phone, input } = await reminderDueBefore(new Date(Date.now() + 6500));
      const tenantId = input.tenantId;
      await pauseSending(core.db, { scope: tenantId, actor: 'test' });
      try {
        // Held for the switch, with a last look just before the deadline; that look finds it still on.
        expect(await appointmentAttempt(1, input)).toMatchObject({ outcome: 'held', reason: 'kill_switch' });
        await new Promise((resolve) => setTimeout(resolve, 1600));
        expect(await appointmentAttempt(2, input)).toEqual({ outcome: 'missed' });
      } finally {
        await resumeSending(core.db, { scope: tenantId, actor: 'test' });
      }
      const skipped = await core.db.event.findMany({ where: { tenantId, type: 'message.skipped' } });
      expect(skipped.map((event) => event.data)).toEqual([
        expect.objectContaining({ reason: 'missed', heldBy: 'kill_switch' }),
      ]);
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );
});

describe('a step held by the kill switch, then refused by the gate', () => {
  it(
    'closes skipped with the refusal, its event naming what held it',
    withoutGlobalPause(async () => {
      const { tenant, phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const refused = await whilePaused(tenant.id, async () => {
        expect(await attempt(1, input)).toMatchObject({ outcome: 'held', reason: 'kill_switch' });
        // The lead replies while it waits: the next look refuses it.
        await core.db.enrollment.update({
          where: { id: input.enrollmentId },
          data: { haltedAt: new Date(), haltedBy: 'replied' },
        });
        return attempt(1, input);
      });
      expect(refused).toMatchObject({ outcome: 'halted', reason: 'replied' });
      const skipped = await core.db.event.findMany({ where: { tenantId: tenant.id, type: 'message.skipped' } });
      // Before: the event said replied only, and what had held the message was gone with the row's hold.
      expect(skipped.map((event) => event.data)).toEqual([
        expect.objectContaining({ reason: 'replied', heldBy: 'kill_switch' }),
      ]);
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );
});

/** The tenant's window narrowed to end about half an hour from now in the lead's zone (London). */
/** A lead in a zone where it is midday now, whose window closes half an hour from now there (the same day: near
 * midnight a window ending at 24:00 would have no close at all). */
async function leadWhoseWindowEndsInHalfAnHour() {
  const zone = zoneAtHour(12);
  const lead = await leadWithEnrollments(1, zone);
  const windowEnd = DateTime.now().setZone(zone).plus({ minutes: 30 }).toFormat('HH:mm');
  await core.db.tenant.update({ where: { id: lead.tenant.id }, data: { windowStart: '00:00', windowEnd } });
  return lead;
}

describe('the kill switch turned on while a send waits for its conversation', () => {
  it(
    'holds the send: the claim, under the lock, sees the pause its capacity check came too early for',
    withoutGlobalPause(async () => {
      const { tenant, phone, inputs } = await leadWithEnrollments(1);
      // A STOP's transaction, say, holds the conversation while the attempt has already taken its capacity.
      const conversation = await heldTransaction(core.db, (tx) => lockConversation(tx, tenant.id, phone));
      const sending = attempt(1, inputs[0]!);
      await untilWaitingBehind(core.db, conversation.pid, 1);
      await whilePaused(tenant.id, async () => {
        conversation.release();
        await conversation.committed;
        // Before: claimed and sent after the operator's pause had committed.
        expect(await sending).toMatchObject({ outcome: 'held', reason: 'kill_switch' });
      });
      expect(core.fake.createCallsTo(phone)).toBe(0);
      expect(
        await core.db.message.findFirstOrThrow({ where: { enrollmentId: inputs[0]!.enrollmentId } }),
      ).toMatchObject({ status: 'pending', claimedAt: null, heldReason: 'kill_switch', reservation: null });
    }),
  );
});

describe("a step's Twilio expiry", () => {
  it(
    'ends where the lead’s window ends now, not where the run planned it with the window it started with',
    withoutGlobalPause(async () => {
      // The run planned the step with the window it had (three hours left); the tenant has since narrowed it to end
      // about half an hour from now in the lead's zone.
      const { phone, inputs } = await leadWhoseWindowEndsInHalfAnHour();
      const [input] = inputs as [SendStepMessageInput];
      const planned = { ...input, notAfter: new Date(Date.now() + 3 * 3_600_000).toISOString() };
      expect(await attempt(1, planned)).toMatchObject({ outcome: 'sent' });
      const [call] = core.fake.calls.filter((made) => made.to === phone);
      expect(Number(call?.params.ValidityPeriod)).toBeLessThanOrEqual(30 * 60);
    }),
  );
});

describe("a step's Twilio expiry on a worker whose clock is behind the database's", () => {
  it(
    'still ends where the lead’s window ends, as the gate judged it on the database’s clock',
    withoutGlobalPause(async () => {
      const { phone, inputs } = await leadWhoseWindowEndsInHalfAnHour();
      const databaseNow = Date.now.bind(Date);
      const twoMinutesBehind = vi.spyOn(Date, 'now').mockImplementation(() => databaseNow() - 120_000);
      try {
        expect(await attempt(1, inputs[0]!)).toMatchObject({ outcome: 'sent' });
      } finally {
        twoMinutesBehind.mockRestore();
      }
      const [call] = core.fake.calls.filter((made) => made.to === phone);
      // Before: the close was measured from the worker's clock, two minutes more.
      expect(Number(call?.params.ValidityPeriod)).toBeLessThanOrEqual(30 * 60);
    }),
  );
});

describe("a step in its window's last minute", () => {
  it(
    'waits for the next opening: Twilio would get it after the claim and keep it queued past the close',
    withoutGlobalPause(async () => {
      // A zone where it is midday now, and a window closing at the next minute's start there: under a minute left.
      const zone = zoneAtHour(12);
      const { tenant, phone, inputs } = await leadWithEnrollments(1, zone);
      const local = DateTime.now().setZone(zone);
      const windowEnd = local.plus({ minutes: 1 }).toFormat('HH:mm');
      await core.db.tenant.update({ where: { id: tenant.id }, data: { windowStart: '00:00', windowEnd } });
      // Before: claimed and handed to Twilio seconds before the close, with a minute's validity.
      expect(await attempt(1, inputs[0]!)).toMatchObject({
        outcome: 'held',
        reason: 'window',
        until: local.plus({ days: 1 }).startOf('day').toJSDate().toISOString(),
      });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );
});

describe('a step to a number of a state that allows texts until 20:00 only', () => {
  /** A number of the area code, with a random exchange and line (the exchange's first digit is 2 to 9). */
  const numberIn = (areaCode: number) =>
    `+1${areaCode}${2 + Math.floor(Math.random() * 8)}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;

  it(
    'waits for the next morning after 20:00 in the lead’s zone, though the tenant’s window runs to 21:00',
    withoutGlobalPause(async () => {
      const zone = zoneAtHour(20);
      const local = DateTime.now().setZone(zone);
      const inFlorida = await leadWithEnrollments(1, zone, numberIn(305));
      const inNewYork = await leadWithEnrollments(1, zone, numberIn(212));
      await core.db.tenant.update({
        where: { id: inFlorida.tenant.id },
        data: { windowStart: '08:00', windowEnd: '21:00' },
      });
      // To 22:00: at 20:59 the last minute before 21:00 would hold the New York lead's step too.
      await core.db.tenant.update({
        where: { id: inNewYork.tenant.id },
        data: { windowStart: '08:00', windowEnd: '22:00' },
      });
      // Before: claimed and sent at 20:xx, an hour past what Florida law allows.
      expect(await attempt(1, inFlorida.inputs[0]!)).toMatchObject({
        outcome: 'held',
        reason: 'window',
        until: local.plus({ days: 1 }).set({ hour: 8, minute: 0, second: 0, millisecond: 0 }).toJSDate().toISOString(),
      });
      expect(core.fake.createCallsTo(inFlorida.phone)).toBe(0);
      expect(await attempt(1, inNewYork.inputs[0]!)).toMatchObject({ outcome: 'sent' });
    }),
  );
});

describe('a step late in the evening of a window from midnight to midnight', () => {
  it(
    'is told to Twilio with its enrollment’s deadline: the window never closes',
    withoutGlobalPause(async () => {
      const { phone, inputs } = await leadWithEnrollments(1, zoneAtHour(23));
      const tenHours = { ...inputs[0]!, notAfter: new Date(Date.now() + 10 * 3_600_000).toISOString() };
      expect(await attempt(1, tenHours)).toMatchObject({ outcome: 'sent' });
      const [call] = core.fake.calls.filter((made) => made.to === phone);
      // Before: midnight, under an hour away, ended it (a backed-up sender's queue then dropped a step counted sent).
      expect(Number(call?.params.ValidityPeriod)).toBeGreaterThan(9 * 3600);
    }),
  );
});

describe('a claim taken by an attempt of the same number (numbers start again at 1 for each activity scheduled)', () => {
  it(
    'is live all the same: the new activity calls Twilio no sooner than the claim expires',
    withoutGlobalPause(async () => {
      // Attempt 1 of an earlier activity (the send was held and scheduled again, or a stalled one woke) has just
      // claimed the row: its create call is at Twilio now.
      const { phone, input } = await stepClaimedEarlier({ claimedAttempt: 1, claimedAt: new Date() });
      // Before: the claim was taken for this attempt's own, and a second create call went out.
      await expect(attempt(1, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );
});

describe('a 429 to an attempt whose claim another took over while its call was at Twilio', () => {
  it("gives back only its own claim: the other attempt's, of the same number, stays", async () => {
    const ownClaimAt = new Date(Date.now() - claimExpiredAfterMs - 60_000);
    const { row } = await stepClaimedEarlier({ claimedAttempt: 1, claimedAt: ownClaimAt });
    const takenOverAt = new Date();
    const tooManyRequests = Object.assign(new Error('Too Many Requests'), { status: 429, code: 20429 });
    const sender = {
      ...core.sender,
      // The call hung past its claim's expiry: attempt 1 of a newer activity claimed the row meanwhile.
      send: async () => {
        await core.db.message.update({ where: { id: row.id }, data: { claimedAt: takenOverAt } });
        throw tooManyRequests;
      },
    };
    const deps = {
      db: core.db,
      sender,
      capacity: createCapacityGate({ db: core.db, settings: roomyCapacity }),
      gate: createSendGate({ db: core.db }),
      metrics: noMetrics,
    };
    await expect(
      handOver(deps, row, { to: row.toPhone, body: row.body }, { attempt: 1, claimedAt: ownClaimAt }),
    ).rejects.toBe(tooManyRequests);
    // Before: the release matched the attempt number alone and cleared the newer claim, so a third attempt would
    // have called create while the newer one's call was at Twilio.
    expect(await core.db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      claimedAttempt: 1,
      claimedAt: takenOverAt,
    });
  });
});

describe('a held row an earlier attempt had claimed (its call unanswered, its claim expired, Twilio without it)', () => {
  it(
    'is unclaimed once held, so a close of the unclaimed rows (a STOP, a skip, a move) reaches it',
    withoutGlobalPause(async () => {
      const expired = new Date(Date.now() - claimExpiredAfterMs - 60_000);
      const { tenant, phone, input, row } = await stepClaimedEarlier({ claimedAttempt: 2, claimedAt: expired });
      expect(await whilePaused(tenant.id, () => attempt(3, input))).toMatchObject({
        outcome: 'held',
        reason: 'kill_switch',
      });
      // Before: the expired claim stayed, and every close of the unclaimed rows passed the row by.
      expect(await core.db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
        status: 'pending',
        heldReason: 'kill_switch',
        claimedAt: null,
        claimedAttempt: null,
      });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );
});

describe('an attempt that read its row unclaimed, then stalled past its timeout', () => {
  it(
    'claims nothing over the claim of the attempt Temporal started meanwhile: the next looks first, and finds the message',
    withoutGlobalPause(async () => {
      const { lead, phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const body = 'Hi Ada (0)';
      const readUnclaimed = await core.db.message.create({
        data: {
          tenantId: lead.tenantId,
          leadId: lead.id,
          enrollmentId: input.enrollmentId,
          direction: 'outbound',
          toPhone: phone,
          body,
          status: 'pending',
          idempotencyKey: `${input.enrollmentId}:0`,
        },
      });
      // Attempt 2 claimed it and its call went unanswered a minute and more ago; Twilio had taken the message.
      await core.sender.send({ to: phone, body });
      const longAgo = new Date(Date.now() - claimExpiredAfterMs - 60_000);
      await core.db.message.update({
        where: { id: readUnclaimed.id },
        data: { claimedAttempt: 2, claimedAt: longAgo },
      });

      // Attempt 1 wakes and goes on from its read.
      const subject = { kind: 'step', enrollmentId: input.enrollmentId } as const;
      const verdict = await createSendGate({ db: core.db }).claim(readUnclaimed, 1, subject);
      expect(verdict).toMatchObject({ kind: 'claimed_elsewhere', attempt: 2 });
      expect(await core.db.message.findUniqueOrThrow({ where: { id: readUnclaimed.id } })).toMatchObject({
        claimedAttempt: 2,
        claimedAt: longAgo,
      });
      expect(await attempt(3, input)).toMatchObject({ outcome: 'sent' });
      expect(core.fake.createCallsTo(phone)).toBe(1);
    }),
  );

  it(
    'gives back none of the capacity on the row, which the claim taken meanwhile sends under',
    withoutGlobalPause(async () => {
      const { inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const gate = createSendGate({ db: core.db });
      // Between this attempt's reservation and its claim, attempt 2 claims the row (and calls Twilio).
      const claimedMeanwhile: typeof gate = {
        ...gate,
        claim: async (row, attempt, subject) => {
          await core.db.message.update({ where: { id: row.id }, data: { claimedAttempt: 2, claimedAt: new Date() } });
          return gate.claim(row, attempt, subject);
        },
      };
      const send = sendWith({ gate: claimedMeanwhile });
      await expect(activityEnvironment(1).run(send, input)).rejects.toMatchObject({ type: 'SendClaimedElsewhere' });
      const row = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
      expect(row).toMatchObject({ claimedAttempt: 2, reservation: expect.anything() });
    }),
  );

  it(
    'writes no hold onto a row a skip closed meanwhile: the attempt looks again and answers from the closed row',
    withoutGlobalPause(async () => {
      const { inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const gate = createSendGate({ db: core.db });
      // The skip closes the row as the gate finds the lead outside a window the tenant narrowed.
      const skippedMeanwhile: typeof gate = {
        ...gate,
        claim: async (row) => {
          await core.db.message.update({
            where: { id: row.id },
            data: { status: 'skipped', skipReason: 'skipped_by_api' },
          });
          return {
            kind: 'hold',
            reason: 'window',
            until: new Date(Date.now() + 3_600_000),
            policy: {
              timeZone: 'Europe/London',
              window: { start: '08:00', end: '09:00' },
              minGapSeconds: 0,
              maxPerDay: 5,
            },
          };
        },
      };
      const send = sendWith({ gate: skippedMeanwhile });
      await expect(activityEnvironment(1).run(send, input)).rejects.toMatchObject({ type: 'SendRowChangedSinceRead' });
      const row = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
      expect(row).toMatchObject({ status: 'skipped', heldReason: null, heldUntil: null });
      expect(await attempt(2, input)).toMatchObject({ outcome: 'skipped' });
    }),
  );

  it(
    'reserves nothing on a row the claim taken meanwhile has closed (Twilio refused it): nothing would give it back',
    withoutGlobalPause(async () => {
      const { inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const capacity = createCapacityGate({ db: core.db, settings: roomyCapacity });
      // After this attempt read the row, attempt 2 claimed it and Twilio refused it for good (21211): closed, its
      // claim kept.
      const closedMeanwhile: typeof capacity = {
        ...capacity,
        reserve: async (request) => {
          await core.db.message.update({
            where: { id: request.messageId },
            data: { status: 'failed', errorCode: 21211, claimedAttempt: 2, claimedAt: new Date() },
          });
          return capacity.reserve(request);
        },
      };
      const send = sendWith({ capacity: closedMeanwhile });
      await expect(activityEnvironment(1).run(send, input)).rejects.toMatchObject({ type: 'SendRowChangedSinceRead' });
      const row = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
      expect(row).toMatchObject({ status: 'failed', reservation: null });
      // The retry answers from the closed row.
      expect(await attempt(3, input)).toMatchObject({ outcome: 'failed' });
    }),
  );
});

describe('a claim left by an attempt that died at Twilio, the deadline passed since', () => {
  it.each([
    ['Twilio took the message', 'sent', 'sentThenTimeout', 'queued'],
    ['Twilio never had it', 'missed', 'timeout', 'skipped'],
  ] as const)(
    '%s: the next attempt (the workflow retries past the deadline to settle it) asks Twilio and answers %s',
    (_case, outcome, fault, status) =>
      withoutGlobalPause(async () => {
        const notAfter = new Date(Date.now() + 2500);
        const { phone, input } = await reminderDueBefore(notAfter);
        core.fake.inject({ kind: fault }, { to: phone });
        await expect(appointmentAttempt(1, input)).rejects.toThrow();
        // As a process killed in Twilio's create call leaves it: claimed by that attempt, long enough ago to be over.
        const { id } = await core.db.message.findFirstOrThrow({ where: { toPhone: phone } });
        await core.db.message.update({
          where: { id },
          data: { claimedAttempt: 1, claimedAt: new Date(Date.now() - claimExpiredAfterMs - 1000) },
        });
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, notAfter.getTime() - Date.now() + 100)));
        expect(await appointmentAttempt(2, input)).toMatchObject({ outcome });
        const row = await core.db.message.findUniqueOrThrow({ where: { id } });
        expect(row).toMatchObject({ status, skipReason: outcome === 'missed' ? 'missed' : null });
        expect(core.fake.createCallsTo(phone)).toBe(1);
      })(),
  );
});

/** An appointment an hour away whose confirmation (`message`) is held by the kill switch, unclaimed. */
async function heldConfirmation(message: AppointmentMessage) {
  const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
  const confirmation = await core.db.message.create({
    data: {
      tenantId: input.tenantId,
      leadId: input.leadId,
      appointmentId: input.appointmentId,
      idempotencyKey: appointmentMessageKey({ ...input, message }),
      direction: 'outbound',
      toPhone: '+447700900999',
      body: 'booked',
      status: 'pending',
      heldReason: 'kill_switch',
    },
  });
  return { input, confirmation };
}

describe('an appointment reminder that has waited into the lead’s night', () => {
  /** A reminder at 02:00 in the lead's zone, under a window of 08:00-21:00; its row written `writtenAgoMs` ago, held. */
  async function reminderAtTwo(notAfterInMs: number, writtenAgoMs: number | null) {
    const zone = zoneAtHour(2);
    const { phone, input } = await reminderDueBefore(new Date(Date.now() + notAfterInMs), zone);
    await core.db.tenant.update({ where: { id: input.tenantId }, data: { windowStart: '08:00', windowEnd: '21:00' } });
    if (writtenAgoMs !== null)
      await core.db.message.create({
        data: {
          tenantId: input.tenantId,
          leadId: input.leadId,
          appointmentId: input.appointmentId,
          idempotencyKey: appointmentMessageKey(input),
          direction: 'outbound',
          toPhone: phone,
          body: 'See you soon',
          status: 'pending',
          heldReason: 'budget_daily',
          createdAt: new Date(Date.now() - writtenAgoMs),
        },
      });
    return { phone, input, opens: DateTime.now().setZone(zone).set({ hour: 8, minute: 0, second: 0, millisecond: 0 }) };
  }

  it(
    'goes on time whatever the hour, but once it has waited only in the window, or not at all past its deadline',
    withoutGlobalPause(async () => {
      const onTime = await reminderAtTwo(12 * 3_600_000, null);
      expect(await appointmentAttempt(1, onTime.input)).toMatchObject({ outcome: 'sent' });
      // Held since 01:40 (a budget spent, reset at midnight; a kill switch lifted; Twilio back): before, sent at 02:00.
      const waited = await reminderAtTwo(12 * 3_600_000, 20 * 60_000);
      expect(await appointmentAttempt(1, waited.input)).toMatchObject({
        outcome: 'held',
        reason: 'window',
        until: waited.opens.toJSDate().toISOString(),
      });
      expect(core.fake.createCallsTo(waited.phone)).toBe(0);
      const worthlessBeforeMorning = await reminderAtTwo(3 * 3_600_000, 20 * 60_000);
      expect(await appointmentAttempt(1, worthlessBeforeMorning.input)).toEqual({ outcome: 'missed' });
      expect(core.fake.createCallsTo(worthlessBeforeMorning.phone)).toBe(0);
    }),
  );
});

describe('an appointment row written again', () => {
  it.each([
    ['the booking’s', { kind: 'confirmation' }],
    ['one held back by a move', { kind: 'confirmation', afterMove: true }],
    ['one telling of a move', { kind: 'confirmation', afterMove: true, move: 2 }],
  ] satisfies [string, AppointmentMessage][])(
    'keeps a held confirmation (%s) while the start is the same (a run that continued as new), and closes it on a move',
    async (_which, message) => {
      const { input, confirmation } = await heldConfirmation(message);
      const record = (startsAt: string) =>
        core.recordAppointmentProgress({
          appointmentId: input.appointmentId,
          tenantId: input.tenantId,
          startsAt,
          reminders: [],
          status: 'scheduled',
          closedReason: null,
        });
      await record(input.startsAt);
      expect(await core.db.message.findUniqueOrThrow({ where: { id: confirmation.id } })).toMatchObject({
        status: 'pending',
      });
      await record(new Date(Date.parse(input.startsAt) + 86_400_000).toISOString());
      expect(await core.db.message.findUniqueOrThrow({ where: { id: confirmation.id } })).toMatchObject({
        status: 'skipped',
        skipReason: 'appointment_moved',
      });
    },
  );
});

describe('an appointment cancelled with a reason, its lead erased before the run recorded the cancel', () => {
  it('the run’s record writes nothing: the reason stays the one the erasure put, and no event carries the words', async () => {
    const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
    const { tenantId, leadId, appointmentId } = input;
    const reason = 'Ada is in hospital after her fall';
    await core.recordAcceptedChange({
      tenantId,
      leadId,
      appointmentId,
      change: { kind: 'cancel', reason, at: new Date().toISOString() },
    });
    // What the erasure leaves: the lead erased, the cancelled row's reason in the service's words.
    await core.db.lead.update({ where: { id: leadId }, data: { status: 'erased', phone: `erased:${leadId}` } });
    await core.db.appointment.update({
      where: { id: appointmentId },
      data: { closedReason: 'cancelled through the API' },
    });
    await core.recordAppointmentProgress({
      appointmentId,
      tenantId,
      startsAt: input.startsAt,
      reminders: [],
      status: 'cancelled',
      closedReason: reason,
    });
    // Before: the row took the words back, and an appointment.cancelled event carried them after the erasure's scrub.
    expect(await core.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } })).toMatchObject({
      status: 'cancelled',
      closedReason: 'cancelled through the API',
    });
    expect(await core.db.event.count({ where: { tenantId, type: 'appointment.cancelled' } })).toBe(0);
  });
});

describe('an appointment whose cancel its run accepted, the run then ending opted_out (a send in flight came back with the STOP)', () => {
  it('stays cancelled, and the CRM hears appointment.cancelled, not that its reminders merely stopped', async () => {
    const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
    const acceptedAt = new Date(Date.now() - 5000).toISOString();
    const { tenantId, leadId, appointmentId } = input;
    await core.recordAcceptedChange({
      tenantId,
      leadId,
      appointmentId,
      change: { kind: 'cancel', reason: 'clinic closed', at: acceptedAt },
    });
    await recordOptedOutEnding(input);
    const row = await core.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } });
    expect(row).toMatchObject({ status: 'cancelled', closedReason: 'clinic closed' });
    // Ended when the cancel was accepted.
    expect(row.closedAt?.toISOString()).toBe(acceptedAt);
    const events = await core.db.event.findMany({ where: { tenantId, type: { startsWith: 'appointment.' } } });
    expect(events.map((event) => event.type)).toEqual(['appointment.cancelled']);
  });
});

describe('a progress write from before a change its run accepted, come after that change is on the row', () => {
  it('does not reopen a cancelled appointment: a record of the scheduled run, retried late, leaves it cancelled, its reminders recorded', async () => {
    const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
    const { tenantId, leadId, appointmentId } = input;
    const at = new Date().toISOString();
    await core.recordAcceptedChange({
      tenantId,
      leadId,
      appointmentId,
      change: { kind: 'cancel', reason: 'clinic closed', at },
    });
    // Its reminder sent meanwhile: still recorded, and told to the CRM.
    const sent = { offsetSeconds: 3600, dueAt: input.startsAt, status: 'sent' as const, sentAt: at };
    const scheduled = { appointmentId, tenantId, startsAt: input.startsAt, reminders: [sent], closedReason: null };
    await core.recordAppointmentProgress({ ...scheduled, status: 'scheduled' });
    const row = await core.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } });
    expect(row).toMatchObject({ status: 'cancelled', closedReason: 'clinic closed', reminders: [sent] });
    const events = await core.db.event.findMany({ where: { tenantId, type: { startsWith: 'appointment.' } } });
    expect(events.map((event) => event.type).sort()).toEqual(['appointment.cancelled', 'appointment.reminder_sent']);
    expect(row.closedAt?.toISOString()).toBe(at);
    // And a run that then ends otherwise (its loop at the start's time) leaves the cancel standing.
    await core.recordAppointmentProgress({
      ...scheduled,
      status: 'completed',
      closedReason: 'the appointment time came',
    });
    expect(await core.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } })).toMatchObject({
      status: 'cancelled',
      closedReason: 'clinic closed',
    });
  });

  it('an ending written before the run applied an accepted move (a STOP came first) keeps the new start', async () => {
    const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
    const { tenantId, leadId, appointmentId } = input;
    const movedTo = new Date(Date.parse(input.startsAt) + 86_400_000).toISOString();
    const at = new Date().toISOString();
    await core.recordAcceptedChange({
      tenantId,
      leadId,
      appointmentId,
      change: { kind: 'move', from: input.startsAt, to: movedTo, at },
    });
    // The run's end as a STOP left it, the move not applied: its record names the start before the move.
    await recordOptedOutEnding(input);
    const row = await core.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } });
    expect(row).toMatchObject({ status: 'opted_out', movedAt: new Date(at) });
    expect(row.startsAt.toISOString()).toBe(movedTo);
    const events = await core.db.event.findMany({ where: { tenantId, type: { startsWith: 'appointment.' } } });
    expect(events.map((event) => [event.type, (event.data as { startsAt?: string }).startsAt])).toEqual([
      ['appointment.reminders_stopped', movedTo],
    ]);
  });
});

describe('an appointment moved as its run accepted the move', () => {
  it('the booking’s held confirmation closes when the run records the move the row already shows', async () => {
    const { input, confirmation } = await heldConfirmation({ kind: 'confirmation' });
    const movedTo = new Date(Date.parse(input.startsAt) + 86_400_000).toISOString();
    const at = new Date().toISOString();
    const { tenantId, leadId, appointmentId } = input;
    await core.recordAcceptedChange({
      tenantId,
      leadId,
      appointmentId,
      change: { kind: 'move', from: input.startsAt, to: movedTo, at },
    });
    await core.recordAppointmentProgress({
      appointmentId,
      tenantId,
      startsAt: movedTo,
      reminders: [],
      status: 'scheduled',
      closedReason: null,
      movedAt: at,
    });
    // Before: kept pending for ever (the row showed the start recorded, as after a continue-as-new), its hold counted.
    expect(await core.db.message.findUniqueOrThrow({ where: { id: confirmation.id } })).toMatchObject({
      status: 'skipped',
      skipReason: 'appointment_moved',
    });
  });
});

describe('halts and caps across enrollments', () => {
  it(
    'a lead erased after its enrollment started (a batch racing the erasure) is refused at the gate, its enrollment still running',
    withoutGlobalPause(async () => {
      const { lead, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      const erasedPhone = `erased:${lead.id}`;
      await core.db.lead.update({ where: { id: lead.id }, data: { status: 'erased', phone: erasedPhone } });
      expect(await attempt(1, input)).toMatchObject({ outcome: 'halted', reason: 'erased' });
      expect(await core.db.message.findFirstOrThrow({ where: { enrollmentId: input.enrollmentId } })).toMatchObject({
        status: 'skipped',
        skipReason: 'erased',
        claimedAt: null,
      });
      expect(core.fake.calls.filter((call) => call.to === erasedPhone)).toEqual([]);
    }),
  );

  it(
    'an appointment reminder of a lead erased before its first attempt (a run the erasure did not reach) writes no text',
    withoutGlobalPause(async () => {
      const { input } = await reminderDueBefore(new Date(Date.now() + 3_600_000));
      const erased = { status: 'erased' as const, phone: `erased:${input.leadId}`, firstName: null };
      await core.db.lead.update({ where: { id: input.leadId }, data: erased });
      expect(await appointmentAttempt(1, { ...input, location: 'Room 4, 12 Harley Street' })).toMatchObject({
        outcome: 'halted',
        reason: 'erased',
      });
      // Before: the row kept the rendered reminder, location and all, where nothing could ever delete it.
      expect(await core.db.message.findFirstOrThrow({ where: { appointmentId: input.appointmentId } })).toMatchObject({
        status: 'skipped',
        skipReason: 'erased',
        body: '',
      });
    }),
  );

  it(
    "a lead whose zone this build does not know is held by the tenant's window in the tenant's zone, never sent at any hour",
    withoutGlobalPause(async () => {
      const { tenant, lead, phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      // Two hours the tenant's window, starting two hours from now in its zone: closed now.
      const opens = DateTime.now().setZone(tenant.defaultTimeZone).plus({ hours: 2 }).startOf('hour');
      const window =
        opens.hour <= 21 ? [opens, opens.plus({ hours: 2 })] : [opens.minus({ hours: 8 }), opens.minus({ hours: 6 })];
      await core.db.tenant.update({
        where: { id: tenant.id },
        data: { windowStart: window[0]!.toFormat('HH:mm'), windowEnd: window[1]!.toFormat('HH:mm') },
      });
      // Written around the API, which refuses unknown zones.
      await core.db.$executeRaw`UPDATE leads SET time_zone = 'Mars/Olympus' WHERE id = ${lead.id}::uuid`;
      expect(await attempt(1, input)).toMatchObject({ outcome: 'held', reason: 'window' });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );

  it(
    "a lead saved with an abbreviation before the API refused them is judged in the tenant's zone, not on the clock ICU reads it as",
    withoutGlobalPause(async () => {
      const { tenant, phone, inputs } = await leadWithEnrollments(1, 'BST');
      const [input] = inputs as [SendStepMessageInput];
      // ICU reads BST as Asia/Dhaka: the window is open there now, and closed where the tenant is, twelve hours away.
      const dhaka = DateTime.now().setZone('Asia/Dhaka').hour;
      await core.db.tenant.update({
        where: { id: tenant.id },
        data: {
          defaultTimeZone: zoneAtHour((dhaka + 12) % 24),
          windowStart: `${String(Math.max(0, dhaka - 1)).padStart(2, '0')}:00`,
          windowEnd: `${String(Math.min(24, dhaka + 2)).padStart(2, '0')}:00`,
        },
      });
      expect(await attempt(1, input)).toMatchObject({ outcome: 'held', reason: 'window' });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );

  it(
    'an enrollment halted by a reply is refused with the reason, and its row closes skipped',
    withoutGlobalPause(async () => {
      const { phone, inputs } = await leadWithEnrollments(1);
      const [input] = inputs as [SendStepMessageInput];
      await core.db.enrollment.update({
        where: { id: input.enrollmentId },
        data: { haltedAt: new Date(), haltedBy: 'replied' },
      });
      expect(await attempt(1, input)).toMatchObject({ outcome: 'halted', reason: 'replied' });
      expect(await core.db.message.findFirstOrThrow({ where: { toPhone: phone } })).toMatchObject({
        status: 'skipped',
        skipReason: 'replied',
      });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );

  it(
    'the gap counts from when a send was claimed: one whose Twilio answer was recorded after this gate read the clock holds nothing back',
    withoutGlobalPause(async () => {
      const { tenant, lead, inputs } = await leadWithEnrollments(3);
      const [other, input, third] = inputs as [SendStepMessageInput, SendStepMessageInput, SendStepMessageInput];
      // Claimed a moment ago by another enrollment, its Twilio answer recorded by a clock ahead of this gate's.
      const claimedAt = new Date(Date.now() - 1_000);
      await claimedByAnother(lead, other, { claimedAt, sentAt: new Date(Date.now() + 30_000) });
      expect(await attempt(1, input)).toMatchObject({ outcome: 'sent' });

      // With a gap, the next send waits from the latest claim.
      await core.db.tenant.update({ where: { id: tenant.id }, data: { minGapSeconds: 600 } });
      const latest = await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${input.enrollmentId}:0` } });
      expect(await attempt(1, third)).toMatchObject({
        outcome: 'held',
        reason: 'cap_gap',
        until: new Date((latest.claimedAt?.getTime() ?? 0) + 600_000).toISOString(),
      });
    }),
  );

  it(
    'a send counts from its claim however old its row: one held for days and sent a moment ago holds the next enrollment for the gap',
    withoutGlobalPause(async () => {
      const { tenant, lead, phone, inputs } = await leadWithEnrollments(2);
      const [other, input] = inputs as [SendStepMessageInput, SendStepMessageInput];
      await core.db.tenant.update({ where: { id: tenant.id }, data: { minGapSeconds: 600 } });
      // Another enrollment's step: written three days ago (held by a budget since), claimed and sent just now.
      const claimedAt = new Date(Date.now() - 5_000);
      await claimedByAnother(lead, other, {
        claimedAt,
        sentAt: new Date(claimedAt.getTime() + 1_000),
        createdAt: new Date(Date.now() - 3 * 86_400_000),
      });
      expect(await attempt(1, input)).toMatchObject({
        outcome: 'held',
        reason: 'cap_gap',
        until: new Date(claimedAt.getTime() + 600_000).toISOString(),
      });
      expect(core.fake.createCallsTo(phone)).toBe(0);
    }),
  );

  // 100 is the most PATCH /v1/settings accepts.
  it.each([5, 100])(
    'with a daily cap of %i, the next message of the lead’s local day waits for the next local day, whichever enrollment sends it',
    (maxPerDay) =>
      withoutGlobalPause(async () => {
        const zone = 'America/Los_Angeles';
        const { tenant, lead, phone, inputs } = await leadWithEnrollments(maxPerDay + 1, zone);
        await core.db.tenant.update({ where: { id: tenant.id }, data: { maxPerDay } });
        const now = DateTime.now().setZone(zone);
        // The day's allowance sent by other enrollments, all within the lead's day so far.
        for (const [i, input] of inputs.slice(0, maxPerDay).entries()) {
          const sentAt = DateTime.max(now.startOf('day'), now.minus({ seconds: 10 * (i + 1) })).toJSDate();
          await core.db.message.create({
            data: {
              tenantId: tenant.id,
              leadId: lead.id,
              enrollmentId: input.enrollmentId,
              direction: 'outbound',
              toPhone: phone,
              body: 'earlier',
              status: 'delivered',
              twilioSid: `SM${i}${crypto.randomUUID().replaceAll('-', '')}`,
              sentAt,
            },
          });
        }
        const over = inputs[maxPerDay] as SendStepMessageInput;
        expect(await attempt(1, over)).toMatchObject({
          outcome: 'held',
          reason: 'cap_daily',
          until: now.plus({ days: 1 }).startOf('day').toUTC().toISO(),
        });
        expect(
          await core.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${over.enrollmentId}:0` } }),
        ).toMatchObject({ status: 'pending', heldReason: 'cap_daily', claimedAt: null, reservation: null });
        // A run from before the gate's holds hears the same as a retry at that time.
        await expect(attempt(2, { ...over, holdAsResult: false })).rejects.toMatchObject({ type: 'CapacityWait' });
        expect(core.fake.createCallsTo(phone)).toBe(0);
      })(),
  );
});
