import { randomUUID } from 'node:crypto';
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { DateTime } from 'luxon';
import { describe, expect, it, vi } from 'vitest';
import type { RecordEnrollmentOutcomeInput } from '../../activities/enrollments.js';
import type { Activities } from '../../activities/index.js';
import type {
  AppointmentMessage,
  RecordAppointmentProgressInput,
  SendAppointmentMessageInput,
  SendAppointmentMessageResult,
} from '../../activities/reminders.js';
import { startAppointmentReminder } from '../../api/appointment-starter.js';
import { settleAfterDeadlineMs } from '../../workflows/activity-options.js';
import { appointmentReminder } from '../../workflows/appointment-reminder.js';
import {
  appointmentOptOutSignal,
  appointmentReminderWorkflowId,
  appointmentReplySignal,
  cancelUpdate,
  rescheduleUpdate,
  statusQuery,
  updateRefusals,
  type AppointmentReminderInput,
} from '../../workflows/appointment-reminder.messages.js';
import { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { statusQuery as followUpStatusQuery } from '../../workflows/lead-follow-up.messages.js';
import { useTimeSkippingEnv } from '../support/temporal-test-env.js';

const hour = 3600 * 1000;
const day = 24 * hour;
const suite = useTimeSkippingEnv();

type SentMessage = AppointmentMessage & { at: number; startsAt: string };

/**
 * Activities faked by type; each send is stamped with the server's (skipped) time it was scheduled at. While `down`
 * says so, sends and records fail as they would with the database and Twilio unreachable (Temporal retries them).
 */
function fakeActivities(
  reply: (input: SendAppointmentMessageInput) => SendAppointmentMessageResult = () => ({
    outcome: 'sent',
    messageId: randomUUID(),
    twilioSid: 'SM1',
  }),
  down: (at: number) => boolean = () => false,
) {
  const failDuringOutage = (at: number) => {
    if (down(at)) throw new Error('connection refused');
  };
  const attempts: number[] = [];
  const sends: SentMessage[] = [];
  const records: RecordAppointmentProgressInput[] = [];
  const outcomes: RecordEnrollmentOutcomeInput[] = [];
  const activities: Pick<
    Activities,
    | 'sendAppointmentMessage'
    | 'recordAppointmentStarted'
    | 'recordAppointmentProgress'
    | 'sendStepMessage'
    | 'recordEnrollmentStarted'
    | 'recordEnrollmentOutcome'
    | 'recordEnrollmentRun'
  > = {
    async sendAppointmentMessage(input) {
      const at = activityInfo().currentAttemptScheduledTimestampMs;
      attempts.push(at);
      failDuringOutage(at);
      sends.push({ ...input.message, at, startsAt: input.startsAt });
      return reply(input);
    },
    async recordAppointmentStarted() {
      return { followUpsToEnd: [] };
    },
    async recordAppointmentProgress(input) {
      failDuringOutage(activityInfo().currentAttemptScheduledTimestampMs);
      records.push(input);
    },
    // The follow-up a booking ends, in the "booked" test.
    async sendStepMessage() {
      return { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM2' };
    },
    async recordEnrollmentStarted() {
      return { haltedBy: null };
    },
    async recordEnrollmentRun() {},
    async recordEnrollmentOutcome(input) {
      outcomes.push(input);
    },
  };
  const reminderSends = () => sends.filter((send) => send.kind === 'reminder');
  return { activities, attempts, sends, records, outcomes, reminderSends };
}

const appointment = (
  startsAt: number,
  overrides: Partial<AppointmentReminderInput> = {},
): AppointmentReminderInput => ({
  tenantId: randomUUID(),
  leadId: randomUUID(),
  appointmentId: randomUUID(),
  startsAt: new Date(startsAt).toISOString(),
  // UTC unless a test is about DST: the suite's skipped clock may cross a change anywhere.
  timeZone: 'UTC',
  durationMinutes: 30,
  location: 'Surgery 2',
  notes: null,
  reminderOffsetsSeconds: [86_400, 3600],
  bookedFrom: null,
  ...overrides,
});

const start = (taskQueue: string, input: AppointmentReminderInput) =>
  suite.env.client.workflow.start(appointmentReminder, {
    taskQueue,
    workflowId: appointmentReminderWorkflowId(input.tenantId, input.appointmentId),
    args: [input],
  });

/** Each send's time relative to the start, in whole minutes (negative: before). */
const minutesBefore = (sends: SentMessage[], startsAt: number) =>
  sends.map((send) => Math.round((startsAt - send.at) / 60_000));

describe('appointmentReminder: the schedule', () => {
  it('confirms at once, reminds 24 h and 1 h before, and ends at the start', async () => {
    const fake = fakeActivities();
    const now = await suite.env.currentTimeMs();
    const startsAt = now + 3 * day;
    const state = await suite.withWorker(fake.activities, async (taskQueue) =>
      (await start(taskQueue, appointment(startsAt))).result(),
    );
    expect(state).toMatchObject({
      status: 'completed',
      confirmation: 'sent',
      reminders: [{ status: 'sent' }, { status: 'sent' }],
    });
    expect(fake.sends.map((send) => send.kind)).toEqual(['confirmation', 'reminder', 'reminder']);
    expect(minutesBefore(fake.sends, startsAt)).toEqual([3 * 24 * 60, 24 * 60, 60]);
    expect(await suite.env.currentTimeMs()).toBeGreaterThanOrEqual(startsAt);
    expect(fake.records.at(-1)).toMatchObject({ status: 'completed', closedReason: 'the appointment time came' });
  });

  it('booked less than an hour ahead: the confirmation only, both reminders already past', async () => {
    const fake = fakeActivities();
    const startsAt = (await suite.env.currentTimeMs()) + 40 * 60_000;
    const state = await suite.withWorker(fake.activities, async (taskQueue) =>
      (await start(taskQueue, appointment(startsAt))).result(),
    );
    expect(state).toMatchObject({ status: 'completed', reminders: [{ status: 'passed' }, { status: 'passed' }] });
    expect(fake.sends.map((send) => send.kind)).toEqual(['confirmation']);
  });

  /** The first change of UTC offset in `zone` after `fromMs`, as a local time on its day. */
  function nextOffsetChange(zone: string, fromMs: number): DateTime {
    let t = DateTime.fromMillis(fromMs, { zone }).startOf('hour');
    while (t.offset === t.plus({ hours: 1 }).offset) t = t.plus({ hours: 1 });
    return t.plus({ hours: 1 });
  }

  it.each(['Europe/London', 'America/New_York'])(
    'a DST change in %s between booking and appointment: "24 h before" is 10:00 local the day before',
    async (zone) => {
      const fake = fakeActivities();
      const now = await suite.env.currentTimeMs();
      // The appointment at 10:00 on the day the clocks change, its day-before reminder still ahead of now.
      let change = nextOffsetChange(zone, now);
      while (change.set({ hour: 10 }).minus({ days: 1 }).toMillis() < now + hour)
        change = nextOffsetChange(zone, change.toMillis());
      const startsAt = change.set({ hour: 10, minute: 0 });
      const state = await suite.withWorker(fake.activities, async (taskQueue) =>
        (await start(taskQueue, appointment(startsAt.toMillis(), { timeZone: zone }))).result(),
      );
      expect(state.status).toBe('completed');
      const [dayBefore, hourBefore] = fake.reminderSends().map((send) => DateTime.fromMillis(send.at, { zone }));
      expect(dayBefore?.toFormat('yyyy-MM-dd HH:mm')).toBe(startsAt.minus({ days: 1 }).toFormat('yyyy-MM-dd HH:mm'));
      expect(Math.abs(startsAt.toMillis() - (dayBefore?.toMillis() ?? 0))).not.toBe(day);
      expect(hourBefore?.toFormat('HH:mm')).toBe('09:00');
    },
  );
});

describe('appointmentReminder: reschedule and cancel', () => {
  it('moved later: the timers move, and the 24 h reminder already sent goes again for the new day', async () => {
    const fake = fakeActivities();
    const startsAt = (await suite.env.currentTimeMs()) + 2 * day;
    const movedTo = startsAt + 2 * day;
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await suite.env.sleep(1.5 * day);
      const moved = await handle.executeUpdate(rescheduleUpdate, {
        args: [{ startsAt: new Date(movedTo).toISOString() }],
      });
      expect(moved).toMatchObject({
        reschedules: 1,
        reminders: [{ status: 'scheduled', dueAt: new Date(movedTo - day).toISOString() }, { status: 'scheduled' }],
      });
      return handle.result();
    });
    expect(state.status).toBe('completed');
    expect(
      fake.reminderSends().map((send) => [send.startsAt, Math.round((Date.parse(send.startsAt) - send.at) / hour)]),
    ).toEqual([
      [new Date(startsAt).toISOString(), 24],
      [new Date(movedTo).toISOString(), 24],
      [new Date(movedTo).toISOString(), 1],
    ]);
    expect(fake.records.find((record) => record.startsAt === new Date(movedTo).toISOString())).toBeTruthy();
  });

  it.each([
    [true, ['confirmation', 'confirmation', 'reminder', 'reminder']],
    [false, ['confirmation', 'reminder', 'reminder']],
  ])(
    'moved with notify %s after the confirmation went: the lead is told the new start (or not)',
    async (notify, kinds) => {
      const fake = fakeActivities();
      const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
      const movedTo = new Date(startsAt + day).toISOString();
      await suite.withWorker(fake.activities, async (taskQueue) => {
        const handle = await start(taskQueue, appointment(startsAt));
        await suite.env.sleep(hour);
        await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: movedTo, notify }] });
        return handle.result();
      });
      expect(fake.sends.map((send) => send.kind)).toEqual(kinds);
      if (notify)
        expect(fake.sends[1]).toMatchObject({ kind: 'confirmation', afterMove: true, move: 1, startsAt: movedTo });
    },
  );

  it('moved earlier: a reminder already sent is not repeated; a move into the past is refused and changes nothing', async () => {
    const fake = fakeActivities();
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const { state, movedTo } = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await suite.env.sleep(2.2 * day);
      const now = await suite.env.currentTimeMs();
      const refused = await handle
        .executeUpdate(rescheduleUpdate, { args: [{ startsAt: new Date(now - 60_000).toISOString() }] })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(
        updateRefusals.invalidStart,
      );
      expect((await handle.query(statusQuery)).startsAt).toBe(new Date(startsAt).toISOString());
      const target = now + 2 * hour;
      const moved = await handle.executeUpdate(rescheduleUpdate, {
        args: [{ startsAt: new Date(target).toISOString() }],
      });
      expect(moved.reminders.map((reminder) => reminder.status)).toEqual(['sent', 'scheduled']);
      return { state: await handle.result(), movedTo: target };
    });
    expect(state.status).toBe('completed');
    expect(fake.reminderSends().map((send) => send.startsAt)).toEqual([
      new Date(startsAt).toISOString(),
      new Date(movedTo).toISOString(),
    ]);
    expect(minutesBefore(fake.reminderSends().slice(1), movedTo)).toEqual([60]);
  });

  it.each([
    [true, 'sent', ['confirmation', 'cancellation']],
    [false, 'off', ['confirmation']],
  ])(
    'cancel (notice %s): no more reminders, the notice as the tenant wants it, recorded as cancelled',
    async (notify, notice, kinds) => {
      const fake = fakeActivities();
      const startsAt = (await suite.env.currentTimeMs()) + 2 * day;
      const state = await suite.withWorker(fake.activities, async (taskQueue) => {
        const handle = await start(taskQueue, appointment(startsAt));
        await suite.env.sleep(hour);
        const cancelled = await handle.executeUpdate(cancelUpdate, { args: [{ notify, reason: 'patient called' }] });
        expect(cancelled).toMatchObject({
          status: 'cancelled',
          cancellationNotice: notice,
          closedReason: 'patient called',
        });
        await expect(handle.executeUpdate(cancelUpdate, { args: [{ notify, reason: null }] })).rejects.toThrow();
        return handle.result();
      });
      expect(state.status).toBe('cancelled');
      expect(fake.sends.map((send) => send.kind)).toEqual(kinds);
      expect(fake.records.at(-1)).toMatchObject({ status: 'cancelled' });
    },
  );
});

/** The first call of the activity `around` wraps waits until the test opens the gate; `entered` once it is there. */
function gate() {
  let enter = () => {};
  const entered = new Promise<void>((resolve) => (enter = resolve));
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  let calls = 0;
  const around =
    <Input, Output>(activity: (input: Input) => Promise<Output>) =>
    async (input: Input) => {
      if ((calls += 1) === 1) {
        enter();
        await opened;
      }
      return activity(input);
    };
  return { entered, open, around };
}

/** A send answered `held` by the send gate until `forMs` after the attempt (as the server's skipped clock counts). */
const heldFor = (forMs: number): SendAppointmentMessageResult => {
  const at = activityInfo().currentAttemptScheduledTimestampMs;
  return {
    outcome: 'held',
    messageId: randomUUID(),
    reason: 'kill_switch',
    until: new Date(at + forMs).toISOString(),
    retryAt: new Date(at + forMs).toISOString(),
    detail: 'test',
  };
};

/** Sends that all go, but the first of `kind` (the first confirmation unless told), which is held for `forMs`. */
function firstConfirmationHeldFor(forMs: number, kind: AppointmentMessage['kind'] = 'confirmation') {
  let held = 0;
  return (input: SendAppointmentMessageInput): SendAppointmentMessageResult =>
    input.message.kind === kind && (held += 1) === 1
      ? heldFor(forMs)
      : { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM1' };
}

describe('appointmentReminder: a change accepted while the run is busy comes before any send', () => {
  it.each([
    ['moved', 'the confirmation names the new time, once', ['confirmation', 'reminder', 'reminder']],
    ['cancelled', 'no confirmation of the cancelled booking', []],
  ])('%s while the booking is being recorded: %s', async (change, _, kinds) => {
    const fake = fakeActivities();
    const booking = gate();
    const activities = {
      ...fake.activities,
      recordAppointmentStarted: booking.around(fake.activities.recordAppointmentStarted),
    };
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const movedTo = new Date(startsAt + day).toISOString();
    const state = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await booking.entered;
      const update =
        change === 'moved'
          ? await handle.startUpdate(rescheduleUpdate, {
              args: [{ startsAt: movedTo }],
              waitForStage: WorkflowUpdateStage.ACCEPTED,
            })
          : await handle.startUpdate(cancelUpdate, {
              args: [{ notify: false, reason: null }],
              waitForStage: WorkflowUpdateStage.ACCEPTED,
            });
      booking.open();
      await update.result();
      return handle.result();
    });
    expect(fake.sends.map((send) => send.kind)).toEqual(kinds);
    expect(fake.sends.filter((send) => send.startsAt !== movedTo)).toEqual([]);
    if (change === 'moved') {
      expect(fake.sends[0]).toMatchObject({ kind: 'confirmation', afterMove: true });
      expect(state).toMatchObject({ status: 'completed', confirmation: 'sent', reschedules: 1 });
      // The row showed the new start before the confirmation was sent (the send gate refuses any other).
      expect(fake.records[0]?.startsAt).toBe(movedTo);
    } else expect(state).toMatchObject({ status: 'cancelled', confirmation: 'skipped', cancellationNotice: 'off' });
  });

  it('moved while the row is being written with a reminder due: no reminder for the old time', async () => {
    // The confirmation is held past the 24 h reminder's time, so that reminder is due once the row is written.
    const fake = fakeActivities(firstConfirmationHeldFor(2 * hour));
    const writing = gate();
    const activities = {
      ...fake.activities,
      recordAppointmentProgress: writing.around(fake.activities.recordAppointmentProgress),
    };
    const startsAt = (await suite.env.currentTimeMs()) + 25 * hour;
    const movedTo = new Date(startsAt + 2 * day).toISOString();
    const state = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt, { reminderOffsetsSeconds: [86_400] }));
      // Time passes only while a result is awaited: the held confirmation's timer runs out, and the first write waits.
      const result = handle.result();
      await writing.entered;
      const update = await handle.startUpdate(rescheduleUpdate, {
        args: [{ startsAt: movedTo }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      writing.open();
      await update.result();
      return result;
    });
    expect(state).toMatchObject({ status: 'completed', reminders: [{ status: 'sent' }] });
    expect(fake.reminderSends().map((send) => send.startsAt)).toEqual([movedTo]);
  });

  it('moved to the start it already has while a reminder is held (a retry of a move that landed): the reminder still goes', async () => {
    const fake = fakeActivities(firstConfirmationHeldFor(30 * 60_000, 'reminder'));
    const reminderAttempt = gate();
    const activities = {
      ...fake.activities,
      sendAppointmentMessage: (input: SendAppointmentMessageInput) =>
        input.message.kind === 'reminder'
          ? reminderAttempt.around(fake.activities.sendAppointmentMessage)(input)
          : fake.activities.sendAppointmentMessage(input),
    };
    const startsAt = (await suite.env.currentTimeMs()) + 2 * hour;
    const input = appointment(startsAt, { reminderOffsetsSeconds: [3600] });
    const state = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, input);
      const result = handle.result();
      await reminderAttempt.entered;
      const update = await handle.startUpdate(rescheduleUpdate, {
        args: [{ startsAt: input.startsAt }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      reminderAttempt.open();
      await update.result();
      return result;
    });
    // Before: the move interrupted the held reminder and planned it again, an hour past its time: `passed`, never sent.
    expect(state).toMatchObject({ status: 'completed', reschedules: 0, reminders: [{ status: 'sent' }] });
    expect(fake.reminderSends().map((send) => send.startsAt)).toEqual([input.startsAt, input.startsAt]);
  });

  it('a confirmation held, then the appointment moved: it goes for the new time once the move is recorded', async () => {
    const fake = fakeActivities(firstConfirmationHeldFor(hour));
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const movedTo = new Date(startsAt + day).toISOString();
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await vi.waitUntil(() => fake.sends.length === 1, { timeout: 10_000 });
      await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: movedTo }] });
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'completed', confirmation: 'sent', reschedules: 1 });
    const confirmationsSent = fake.sends.filter((send) => send.kind === 'confirmation');
    expect(confirmationsSent).toMatchObject([
      { startsAt: new Date(startsAt).toISOString() },
      { startsAt: movedTo, afterMove: true },
    ]);
  });
});

describe('appointmentReminder: a cancellation names the start the lead knows', () => {
  it('moved, the notice of the move held, then cancelled: the cancellation names the start the lead was told', async () => {
    // The notice of the move (a confirmation after it) is held; everything else goes.
    const fake = fakeActivities((input) =>
      input.message.kind === 'confirmation' && input.message.afterMove
        ? heldFor(day)
        : { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM1' },
    );
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const told = new Date(startsAt).toISOString();
    const movedTo = new Date(startsAt + day).toISOString();
    await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await suite.env.sleep(hour);
      await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: movedTo, notify: true }] });
      await vi.waitUntil(() => fake.sends.length === 2, { timeout: 10_000 });
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: 'patient called' }] });
      return handle.result();
    });
    expect(fake.sends.map((send) => [send.kind, send.startsAt])).toEqual([
      ['confirmation', told],
      ['confirmation', movedTo],
      ['cancellation', told],
    ]);
  });
});

describe('appointmentReminder: a message held for hours', () => {
  /** Sends of `kind` held (a minute at a time) for `forMs` from their first attempt; everything else goes. */
  function heldForHours(kind: AppointmentMessage['kind'], forMs: number) {
    let holdEndsAt = Infinity;
    return (input: SendAppointmentMessageInput): SendAppointmentMessageResult => {
      const at = activityInfo().currentAttemptScheduledTimestampMs;
      if (input.message.kind !== kind) return { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM1' };
      if (holdEndsAt === Infinity) holdEndsAt = at + forMs;
      return at < holdEndsAt ? heldFor(60_000) : { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM1' };
    };
  }

  it.each([
    ['confirmation', false, { confirmation: 'sent', status: 'completed' }],
    ['cancellation', true, { cancellationNotice: 'sent', status: 'cancelled' }],
  ] as const)('a %s held for 4 h goes on in a new run, then goes once', async (kind, cancelFirst, outcome) => {
    const fake = fakeActivities(heldForHours(kind, 4 * hour));
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const { state, firstRun } = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      if (cancelFirst) {
        // Cancelled once the confirmation went: its notice is what the kill switch holds.
        await vi.waitUntil(() => fake.sends.length === 1, { timeout: 10_000 });
        await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: null }] });
      }
      const firstRun = suite.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      return { state: await handle.result(), firstRun };
    });
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
    expect(state).toMatchObject(outcome);
    const held = fake.sends.filter((send) => send.kind === kind);
    expect(held.length).toBeGreaterThan(200);
    // One message, looked at again and again: every attempt for the one start, the last one sent.
    expect(new Set(held.map((send) => send.startsAt))).toEqual(new Set([new Date(startsAt).toISOString()]));
    expect(fake.sends.filter((send) => send.kind === 'confirmation').length).toBe(
      kind === 'confirmation' ? held.length : 1,
    );
    expect(fake.records.at(-1)).toMatchObject({ status: outcome.status });
  });
});

describe('appointmentReminder: never an opt-out, never late', () => {
  it('an opt-out between two reminders: the send reports it, and nothing more goes out', async () => {
    const fake = fakeActivities((input) =>
      input.message.kind === 'reminder' && input.message.offsetSeconds === 86_400
        ? { outcome: 'opted_out', messageId: randomUUID() }
        : { outcome: 'sent', messageId: randomUUID(), twilioSid: 'SM1' },
    );
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const state = await suite.withWorker(fake.activities, async (taskQueue) =>
      (await start(taskQueue, appointment(startsAt, { reminderOffsetsSeconds: [2 * 86_400, 86_400, 3600] }))).result(),
    );
    expect(state).toMatchObject({
      status: 'opted_out',
      reminders: [{ status: 'sent' }, { status: 'opted_out' }, { status: 'dropped' }],
    });
    expect(minutesBefore(fake.reminderSends(), startsAt)).toEqual([2 * 24 * 60, 24 * 60]);
    expect(fake.records.at(-1)).toMatchObject({ status: 'opted_out' });
  });

  it('an outage spanning the 1 h reminder and the start: missed, attempts end soon after the start, recorded once it is over', async () => {
    const now = await suite.env.currentTimeMs();
    const startsAt = now + 3 * hour;
    // Database and Twilio unreachable from half an hour before the 1 h reminder until half an hour after the start.
    const down = (at: number) => at > startsAt - 1.5 * hour && at < startsAt + hour / 2;
    const fake = fakeActivities(undefined, down);
    const state = await suite.withWorker(fake.activities, async (taskQueue) =>
      (await start(taskQueue, appointment(startsAt, { reminderOffsetsSeconds: [7200, 3600] }))).result(),
    );
    expect(state).toMatchObject({ status: 'completed', reminders: [{ status: 'sent' }, { status: 'missed' }] });
    expect(fake.reminderSends()).toHaveLength(1);
    expect(fake.attempts.length).toBeGreaterThan(10);
    // Past the start an attempt sends nothing (send-gate.test.ts); it may only settle one still at Twilio then.
    expect(fake.attempts.every((at) => at < startsAt + settleAfterDeadlineMs)).toBe(true);
    expect(fake.records.at(-1)).toMatchObject({
      status: 'completed',
      reminders: [{ status: 'sent' }, { status: 'missed' }],
    });
  });

  it('an attempt past the deadline settles a send another attempt had at Twilio then: the run says sent, not missed', async () => {
    const startsAt = (await suite.env.currentTimeMs()) + 3 * hour;
    const fake = fakeActivities();
    const reminderAttempts: number[] = [];
    const activities: typeof fake.activities = {
      ...fake.activities,
      // The reminder, due a minute before the start (its deadline), finds another attempt's claim on it (that attempt
      // at Twilio); the next look, once the claim has expired, is past the start and finds the message Twilio took.
      async sendAppointmentMessage(input) {
        if (input.message.kind !== 'reminder') return fake.activities.sendAppointmentMessage(input);
        reminderAttempts.push(await suite.env.currentTimeMs());
        if (reminderAttempts.length === 1)
          throw ApplicationFailure.create({
            type: 'SendClaimedElsewhere',
            message: 'attempt 0 claimed this message and may be calling Twilio',
            nextRetryDelay: 90_000,
          });
        return fake.activities.sendAppointmentMessage(input);
      },
    };
    const state = await suite.withWorker(activities, async (taskQueue) =>
      (await start(taskQueue, appointment(startsAt, { reminderOffsetsSeconds: [60] }))).result(),
    );
    expect(state).toMatchObject({ status: 'completed', reminders: [{ status: 'sent' }] });
    expect(reminderAttempts.map((at) => Math.round((at - startsAt) / 1000))).toEqual([-60, 30]);
  });
});

describe('appointmentReminder: booked from a running follow-up', () => {
  /** The lead's follow-up, as the API starts it: one step per delay. */
  async function startFollowUp(taskQueue: string, stepDelays: number[]) {
    const tenantId = randomUUID();
    const leadId = randomUUID();
    const enrollmentId = randomUUID();
    const handle = await suite.env.client.workflow.start(leadFollowUp, {
      taskQueue,
      workflowId: `followup:${tenantId}:${leadId}`,
      args: [
        {
          tenantId,
          leadId,
          enrollmentId,
          enrolledAt: new Date(await suite.env.currentTimeMs()).toISOString(),
          sequence: {
            id: randomUUID(),
            name: 'new-lead',
            version: 1,
            steps: stepDelays.map((delaySeconds, step) => ({ delaySeconds, template: `step ${step}` })),
          },
          policy: { timeZone: 'UTC', window: { start: '00:00', end: '24:00' }, minGapSeconds: 0, maxPerDay: 100 },
          expiresAfterSeconds: 30 * 86_400,
        },
      ],
    });
    return { handle, tenantId, leadId, enrollmentId };
  }

  it('a repeated "booked" call starts one reminder workflow, which ends the follow-up as booked', async () => {
    const fake = fakeActivities();
    const now = await suite.env.currentTimeMs();
    await suite.withWorker(fake.activities, async (taskQueue) => {
      const { handle: followUp, tenantId, leadId, enrollmentId } = await startFollowUp(taskQueue, [0, 86_400]);
      await suite.env.sleep(hour);
      const booking = appointment(now + 2 * day, {
        tenantId,
        leadId,
        bookedFrom: { enrollmentId, workflowId: followUp.workflowId, runId: followUp.firstExecutionRunId },
      });
      const first = await startAppointmentReminder(suite.env.client, taskQueue, booking);
      const again = await startAppointmentReminder(suite.env.client, taskQueue, booking);
      expect(again).toEqual(first);
      expect(await followUp.result()).toMatchObject({
        status: 'booked',
        closedReason: `appointment booked (${booking.appointmentId})`,
      });
      await suite.env.client.workflow.getHandle(first.workflowId).result();
      const afterwards = await startAppointmentReminder(suite.env.client, taskQueue, booking);
      expect(afterwards).toEqual({ workflowId: first.workflowId, runId: null, sameBooking: true });
    });
    expect(fake.sends.map((send) => send.kind)).toEqual(['confirmation', 'reminder', 'reminder']);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'booked' })]);
  });

  it('ends the follow-up it names after that follow-up went on in a new run, not the run named at booking', async () => {
    const fake = fakeActivities();
    const activities: typeof fake.activities = {
      ...fake.activities,
      // The kill switch, say, holds the second step: looked at every minute until the run's history is long.
      async sendStepMessage(step) {
        if (step.step === 0) return fake.activities.sendStepMessage(step);
        const retryAt = new Date(activityInfo().currentAttemptScheduledTimestampMs + 60_000).toISOString();
        return { outcome: 'held', messageId: 'm1', reason: 'kill_switch', until: retryAt, retryAt, detail: 'paused' };
      },
    };
    const now = await suite.env.currentTimeMs();
    const { booked, followUpState } = await suite.withWorker(activities, async (taskQueue) => {
      const { handle: followUp, tenantId, leadId, enrollmentId } = await startFollowUp(taskQueue, [0, 0]);
      const firstRun = suite.env.client.workflow.getHandle(followUp.workflowId, followUp.firstExecutionRunId);
      await suite.env.sleep(5 * hour);
      expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
      const booking = appointment(now + 2 * day, {
        tenantId,
        leadId,
        bookedFrom: { enrollmentId, workflowId: followUp.workflowId, runId: followUp.firstExecutionRunId },
      });
      const reminders = await startAppointmentReminder(suite.env.client, taskQueue, booking);
      await suite.env.sleep(10 * 60_000);
      const current = suite.env.client.workflow.getHandle(followUp.workflowId);
      const followUpState = await current.query(followUpStatusQuery);
      // Left running, either run would hold the next test's skipped clock.
      await suite.env.client.workflow.getHandle(reminders.workflowId).terminate('test over');
      if (followUpState.status === 'running') await current.terminate('the booking missed it');
      return { booked: booking.appointmentId, followUpState };
    });
    expect(followUpState).toMatchObject({ status: 'booked', closedReason: `appointment booked (${booked})` });
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'booked' })]);
  });
});

describe('appointmentReminder: the lead answers by SMS', () => {
  it.each([
    [true, ['confirmation'], ['dropped', 'dropped']],
    [false, ['confirmation', 'reminder', 'reminder'], ['sent', 'sent']],
  ])(
    'confirmed a day in (skipRemindersAfterConfirm %s): recorded once, reminders as the tenant wants',
    async (skipReminders, kinds, statuses) => {
      const fake = fakeActivities();
      const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
      const { state, confirmedAt, droppedRecordedAt } = await suite.withWorker(fake.activities, async (taskQueue) => {
        const handle = await start(taskQueue, appointment(startsAt));
        await suite.env.sleep(day);
        const at = new Date(await suite.env.currentTimeMs()).toISOString();
        await handle.signal(appointmentReplySignal, { kind: 'confirmed', at, skipReminders });
        // A second confirmation (the relay redelivering, say) changes nothing.
        await handle.signal(appointmentReplySignal, {
          kind: 'confirmed',
          at: new Date(startsAt).toISOString(),
          skipReminders,
        });
        await handle.signal(appointmentReplySignal, { kind: 'reschedule_requested', at, skipReminders });
        await suite.env.sleep(hour);
        const recorded = fake.records.findIndex((record) =>
          record.reminders.every((reminder) => reminder.status === 'dropped'),
        );
        return { state: await handle.result(), confirmedAt: at, droppedRecordedAt: recorded };
      });
      expect(state).toMatchObject({
        status: 'completed',
        leadConfirmedAt: confirmedAt,
        rescheduleRequestedAt: confirmedAt,
      });
      expect(state.reminders.map((reminder) => reminder.status)).toEqual(statuses);
      expect(fake.sends.map((send) => send.kind)).toEqual(kinds);
      // The row hears of the dropped reminders while the run waits, not only when it ends.
      if (skipReminders) expect(droppedRecordedAt).toBeGreaterThanOrEqual(0);
    },
  );

  it('a confirmation that lands while the row is being written is recorded at once, not at the next reminder', async () => {
    const fake = fakeActivities();
    let writing = () => {};
    const firstWrite = new Promise<void>((resolve) => (writing = resolve));
    let finishWrite = () => {};
    const written = new Promise<void>((resolve) => (finishWrite = resolve));
    const recordAppointmentProgress = fake.activities.recordAppointmentProgress;
    const activities = {
      ...fake.activities,
      async recordAppointmentProgress(input: RecordAppointmentProgressInput) {
        if (fake.records.length === 0) {
          writing();
          await written;
        }
        return recordAppointmentProgress(input);
      },
    };
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const records = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await firstWrite;
      const at = new Date(await suite.env.currentTimeMs()).toISOString();
      await handle.signal(appointmentReplySignal, { kind: 'confirmed', at, skipReminders: true });
      finishWrite();
      // No time passes here (the server skips time only while a result is awaited): the run must not need its timer.
      await vi.waitUntil(() => fake.records.length >= 2, { timeout: 10_000 });
      const recordsBeforeTimePassed = fake.records.slice(0, 2);
      // Run to its end, not terminated: a run terminated with an activity in flight left the test server's time
      // skipping locked, and the next test's sleep hung until it timed out.
      await handle.result();
      return recordsBeforeTimePassed;
    });
    expect(records.map((record) => record.reminders.map((reminder) => reminder.status))).toEqual([
      ['scheduled', 'scheduled'],
      ['dropped', 'dropped'],
    ]);
  });
});

describe('appointmentReminder: a confirmation is of a start', () => {
  it('confirmed (the tenant skips reminders then), then moved: the confirmation is withdrawn, reminders for the new time go, and the lead can confirm again', async () => {
    const fake = fakeActivities();
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const movedTo = startsAt + 2 * day;
    const { state, moved, confirmedAgainAt } = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await vi.waitUntil(() => fake.sends.length === 1, { timeout: 10_000 });
      const confirmedAt = new Date(await suite.env.currentTimeMs()).toISOString();
      const confirm = (at: string) =>
        handle.signal(appointmentReplySignal, { kind: 'confirmed', at, skipReminders: true });
      await confirm(confirmedAt);
      await vi.waitUntil(async () => (await handle.query(statusQuery)).leadConfirmedAt === confirmedAt, {
        timeout: 10_000,
      });
      const moved = await handle.executeUpdate(rescheduleUpdate, {
        args: [{ startsAt: new Date(movedTo).toISOString() }],
      });
      // The relay delivering that first "C" again after the move: it was of the earlier start, and changes nothing.
      await confirm(confirmedAt);
      // Past the new time's 24 h reminder, the lead confirms the new time: the 1 h reminder is dropped.
      await suite.env.sleep(movedTo - day + hour - (await suite.env.currentTimeMs()));
      const confirmedAgainAt = new Date(await suite.env.currentTimeMs()).toISOString();
      await confirm(confirmedAgainAt);
      return { state: await handle.result(), moved, confirmedAgainAt };
    });
    expect(moved).toMatchObject({
      startsAt: new Date(movedTo).toISOString(),
      leadConfirmedAt: null,
      reminders: [{ status: 'scheduled' }, { status: 'scheduled' }],
    });
    expect(state).toMatchObject({
      status: 'completed',
      leadConfirmedAt: confirmedAgainAt,
      reminders: [{ status: 'sent' }, { status: 'dropped' }],
    });
    expect(fake.sends.map((send) => [send.kind, send.startsAt])).toEqual([
      ['confirmation', new Date(startsAt).toISOString()],
      ['reminder', new Date(movedTo).toISOString()],
    ]);
    // The row's write of the move clears the confirmation recorded before it (activities/reminders.ts).
    const moveRecorded = fake.records.find((record) => record.startsAt === new Date(movedTo).toISOString());
    expect(moveRecorded?.movedAt).toBe(moved.movedAt);
  });

  it('confirmed after the move was accepted: the confirmation stands, and the reminders for the new time stay dropped', async () => {
    const fake = fakeActivities();
    const writing = gate();
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const movedTo = new Date(startsAt + day).toISOString();
    const activities = {
      ...fake.activities,
      recordAppointmentProgress: writing.around(fake.activities.recordAppointmentProgress),
    };
    const state = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      // The first write of the row waits: the move is accepted, then the lead confirms, before the loop applies it.
      await writing.entered;
      const update = await handle.startUpdate(rescheduleUpdate, {
        args: [{ startsAt: movedTo }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      const at = new Date((await suite.env.currentTimeMs()) + 1000).toISOString();
      await handle.signal(appointmentReplySignal, { kind: 'confirmed', at, skipReminders: true });
      writing.open();
      await update.result();
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'completed', reminders: [{ status: 'dropped' }, { status: 'dropped' }] });
    expect(state.leadConfirmedAt).not.toBeNull();
    expect(fake.reminderSends()).toEqual([]);
  });
});

describe('appointmentReminder: a confirmation in Twilio retries when the appointment moves', () => {
  /**
   * The confirmation for the booked start fails as Twilio's 503s do (Temporal retries it) until `rowMoved()`, then is
   * refused by the send gate `appointment_moved`, as it is once the API has written the new start to the row.
   */
  function confirmationRetriedThenRefused(startsAt: string) {
    const fake = fakeActivities();
    let rowMoved = false;
    const refused: number[] = [];
    const activities: typeof fake.activities = {
      ...fake.activities,
      async sendAppointmentMessage(input) {
        if (input.message.kind !== 'confirmation' || input.startsAt !== startsAt)
          return fake.activities.sendAppointmentMessage(input);
        refused.push(await suite.env.currentTimeMs());
        if (!rowMoved) throw new Error('Twilio answered 503 Service Unavailable');
        return { outcome: 'skipped', messageId: randomUUID(), reason: 'appointment_moved' };
      },
    };
    return { fake, activities, refused, moveRow: () => (rowMoved = true) };
  }

  it('the update answers before the run could apply the move, the API writes it, the next retry is refused: the confirmation goes for the new time', async () => {
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const booked = new Date(startsAt).toISOString();
    const movedTo = new Date(startsAt + day).toISOString();
    const { fake, activities, refused, moveRow } = confirmationRetriedThenRefused(booked);
    const { state, answer } = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await vi.waitUntil(() => refused.length >= 1, { timeout: 10_000 });
      // The loop is in the send's retries: the update answers after its settle timeout, the move not yet applied.
      const answer = await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: movedTo }] });
      moveRow();
      return { state: await handle.result(), answer };
    });
    expect(state).toMatchObject({ status: 'completed', confirmation: 'sent', startsAt: movedTo, reschedules: 1 });
    expect(fake.sends.filter((send) => send.kind === 'confirmation')).toMatchObject([
      { startsAt: movedTo, afterMove: true },
    ]);
    expect(fake.reminderSends().map((send) => send.startsAt)).toEqual([movedTo, movedTo]);
    // The row showed the new start before the confirmation for it went.
    const firstSend = fake.sends[0]?.at ?? 0;
    expect(fake.records[0]?.startsAt).toBe(movedTo);
    expect(refused.at(-1)).toBeLessThanOrEqual(firstSend);
    // What the update answered: the start it holds, and the one it is going to (which the API writes to the row).
    expect(answer).toMatchObject({ startsAt: booked, movingTo: movedTo });
  });

  it.each([
    ['a cancel', 'cancelled'],
    ['a STOP', 'opted_out'],
  ])('%s landing during the move still wins: no confirmation for the new time', async (_change, status) => {
    const startsAt = (await suite.env.currentTimeMs()) + 3 * day;
    const booked = new Date(startsAt).toISOString();
    const movedTo = new Date(startsAt + day).toISOString();
    const { fake, activities, refused, moveRow } = confirmationRetriedThenRefused(booked);
    const state = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, appointment(startsAt));
      await vi.waitUntil(() => refused.length >= 1, { timeout: 10_000 });
      await handle.startUpdate(rescheduleUpdate, {
        args: [{ startsAt: movedTo }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      if (status === 'cancelled')
        await handle.startUpdate(cancelUpdate, {
          args: [{ notify: false, reason: null }],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        });
      else await handle.signal(appointmentOptOutSignal, { source: 'inbound_keyword' });
      moveRow();
      return handle.result();
    });
    expect(state).toMatchObject({ status, confirmation: 'skipped' });
    expect(fake.sends).toEqual([]);
  });
});
