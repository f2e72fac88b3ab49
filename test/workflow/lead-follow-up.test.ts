import { randomUUID } from 'node:crypto';
import { ApplicationFailure, activityInfo } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { RecordEnrollmentOutcomeInput } from '../../activities/enrollments.js';
import type { Activities } from '../../activities/index.js';
import type { SendStepMessageInput, SendStepMessageResult } from '../../activities/send-step-message.types.js';
import { earliestSendTime } from '../../workflows/decisions/send-time.js';
import { leadFollowUp } from '../../workflows/lead-follow-up.js';
import {
  appointmentBookedSignal,
  inboundReplySignal,
  undeliverableSignal,
  optOutSignal,
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  updateRefusals,
  statusQuery,
  type LeadFollowUpInput,
  type SendingPolicy,
  type SequenceStep,
} from '../../workflows/lead-follow-up.messages.js';
import { useTimeSkippingEnv } from '../support/temporal-test-env.js';

const minute = 60;
const hour = 3600;
const day = 24 * hour;
const suite = useTimeSkippingEnv();

const sent = (input: SendStepMessageInput): SendStepMessageResult => ({
  outcome: 'sent',
  messageId: `m${input.step}`,
  twilioSid: `SM${input.step}`,
});

/** Activities faked by type; each send is stamped with the server's (skipped) time it was scheduled at. */
function fakeActivities(
  send: (input: SendStepMessageInput) => Promise<SendStepMessageResult> | SendStepMessageResult = sent,
) {
  const sends: { step: number; at: number; template: string }[] = [];
  const outcomes: RecordEnrollmentOutcomeInput[] = [];
  const runs: string[] = [];
  const activities: Pick<
    Activities,
    'sendStepMessage' | 'recordEnrollmentStarted' | 'recordEnrollmentRun' | 'recordEnrollmentOutcome'
  > = {
    async sendStepMessage(input) {
      sends.push({ step: input.step, at: activityInfo().currentAttemptScheduledTimestampMs, template: input.template });
      return send(input);
    },
    async recordEnrollmentStarted() {
      return { haltedBy: null };
    },
    async recordEnrollmentRun({ runId }) {
      runs.push(runId);
    },
    async recordEnrollmentOutcome(input) {
      outcomes.push(input);
    },
  };
  return { activities, sends, outcomes, runs };
}

/** A send that stays in flight until the test releases it, then answers `answer`. */
function blockingSend(answer: (input: SendStepMessageInput) => SendStepMessageResult = sent) {
  let release = () => {};
  let markStarted = () => {};
  const sendStarted = new Promise<void>((resolve) => (markStarted = resolve));
  const fake = fakeActivities(async (step) => {
    markStarted();
    await new Promise<void>((resolve) => (release = resolve));
    return answer(step);
  });
  return { fake, sendStarted, releaseSend: () => release() };
}

/** A run of steps(0, 60) to its end, `change` made while its first send is in flight (the send answers after it). */
function whileSendInFlight(
  { sendStarted, releaseSend }: ReturnType<typeof blockingSend>,
  activities: ReturnType<typeof fakeActivities>['activities'],
  change: (handle: Handle) => Promise<void>,
) {
  return suite.withWorker(activities, async (taskQueue) => {
    const handle = await start(taskQueue, input(steps(0, 60)));
    await sendStarted;
    await change(handle);
    releaseSend();
    return handle.result();
  });
}

/** The fake's activities, noting the (skipped) time the run recorded its outcome at. */
function notingCloseTime(fake: ReturnType<typeof fakeActivities>) {
  const closed = { at: 0 };
  const activities = {
    ...fake.activities,
    async recordEnrollmentOutcome(outcome: RecordEnrollmentOutcomeInput) {
      closed.at = activityInfo().currentAttemptScheduledTimestampMs;
      return fake.activities.recordEnrollmentOutcome(outcome);
    },
  };
  return { activities, closed };
}

/** Steps after these delays (in seconds), with the templates 'a', 'b', 'c'… in order. */
const steps = (...delaysSeconds: number[]): SequenceStep[] =>
  delaysSeconds.map((delaySeconds, index) => ({ delaySeconds, template: String.fromCharCode(97 + index) }));

/** By default: any hour of the day, no caps to speak of, so only the behaviour under test shapes the timing. */
function input(
  steps: SequenceStep[],
  policy: Partial<SendingPolicy> = {},
  expiresAfterSeconds = 30 * day,
): Omit<LeadFollowUpInput, 'enrolledAt'> {
  return {
    tenantId: randomUUID(),
    leadId: randomUUID(),
    enrollmentId: randomUUID(),
    sequence: { id: randomUUID(), name: 'test', version: 1, steps },
    policy: { timeZone: 'UTC', window: { start: '00:00', end: '24:00' }, minGapSeconds: 0, maxPerDay: 100, ...policy },
    expiresAfterSeconds,
  };
}

/** Enrolled "now" on the test server's (skipped) clock. */
const start = async (taskQueue: string, args: Omit<LeadFollowUpInput, 'enrolledAt'>) =>
  suite.env.client.workflow.start(leadFollowUp, {
    taskQueue,
    workflowId: randomUUID(),
    args: [{ ...args, enrolledAt: new Date(await suite.env.currentTimeMs()).toISOString() }],
  });
type Handle = Awaited<ReturnType<typeof start>>;

/** A run with these activities from its start to its end: its final state. */
const runToEnd = (activities: Partial<Activities>, args: Omit<LeadFollowUpInput, 'enrolledAt'>) =>
  suite.withWorker(activities, async (taskQueue) => (await start(taskQueue, args)).result());

describe('leadFollowUp: the sequence', () => {
  it('sends every step after its delay, days apart, then completes', async () => {
    const fake = fakeActivities();
    const startedAt = await suite.env.currentTimeMs();
    const state = await runToEnd(fake.activities, input(steps(0, 2 * day, 3 * day)));
    expect(state).toMatchObject({ status: 'completed', messagesSent: 3, step: 3 });
    expect(fake.sends.map((send) => send.step)).toEqual([0, 1, 2]);
    expect(fake.sends.map((send) => Math.round((send.at - startedAt) / (day * 1000)))).toEqual([0, 2, 5]);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'completed' })]);
  });

  it('expires 30 days after enrollment in the middle of the sequence, with nothing more sent', async () => {
    const fake = fakeActivities();
    const startedAt = await suite.env.currentTimeMs();
    const state = await runToEnd(fake.activities, input(steps(0, 20 * day, 20 * day)));
    expect(state).toMatchObject({
      status: 'expired',
      messagesSent: 2,
      step: 2,
      closedReason: 'no outcome within 30 days',
    });
    expect(Date.parse(state.expiresAt) - startedAt).toBeGreaterThanOrEqual(30 * day * 1000 - 1000);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'expired' })]);
  });

  it('keeps the template snapshot it started with', async () => {
    const fake = fakeActivities();
    await runToEnd(fake.activities, input([{ delaySeconds: 60, template: 'version 1' }]));
    expect(fake.sends.map((send) => send.template)).toEqual(['version 1']);
  });

  it('ends as failed with the Twilio code when the number is invalid (21211)', async () => {
    const fake = fakeActivities((step) => ({
      outcome: 'failed',
      messageId: `m${step.step}`,
      kind: 'undeliverable',
      errorCode: 21211,
    }));
    const state = await runToEnd(fake.activities, input(steps(0, 60)));
    expect(state).toMatchObject({ status: 'failed', closedReason: 'undeliverable (Twilio 21211)' });
    expect(fake.sends).toHaveLength(1);
  });
});

/** The next daylight-saving change in `zone` after `fromMs`, as the local calendar day it happens on. */
function nextDstChangeDay(zone: string, fromMs: number): DateTime {
  let dayStart = DateTime.fromMillis(fromMs, { zone }).startOf('day').plus({ days: 1 });
  while (dayStart.offset === dayStart.endOf('day').offset) dayStart = dayStart.plus({ days: 1 });
  return dayStart;
}

describe('leadFollowUp: a send retried near the expiry', () => {
  it('ends expired when Temporal gives up because the next retry would come after the expiry', async () => {
    // Twilio's 503 three minutes before the expiry, the next look five minutes on: Temporal fails the send at once.
    const fake = fakeActivities(() => {
      throw ApplicationFailure.create({ message: 'Twilio answered 503', nextRetryDelay: '5 minutes' });
    });
    const state = await runToEnd(fake.activities, input(steps(0), {}, 3 * minute));
    // Before: failed, "Twilio answered 503", for a follow-up that ran out of time.
    expect(state).toMatchObject({ status: 'expired', closedReason: 'expired while a send was being retried' });
    expect(fake.sends).toHaveLength(1);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'expired' })]);
  });
});

describe('leadFollowUp: sending window (08:00-21:00 local) across daylight-saving changes', () => {
  it.each(['America/New_York', 'Europe/London'])(
    'a step due at 22:00 the evening before a DST change in %s goes at 08:00 local the next morning',
    async (zone) => {
      const fake = fakeActivities();
      const now = await suite.env.currentTimeMs();
      const changeDay = nextDstChangeDay(zone, now);
      const dueAt = changeDay.minus({ days: 1 }).set({ hour: 22 });
      const expected = changeDay.set({ hour: 8 });
      expect(expected.offset).not.toBe(dueAt.offset);
      const policy = { timeZone: zone, window: { start: '08:00', end: '21:00' } };
      const delaySeconds = Math.round((dueAt.toMillis() - now) / 1000);
      const state = await suite.withWorker(fake.activities, async (taskQueue) => {
        const handle = await start(taskQueue, input([{ delaySeconds, template: 'a' }], policy, 400 * day));
        await suite.env.sleep((delaySeconds + 30 * minute) * 1000);
        expect(await handle.query(statusQuery)).toMatchObject({
          waitingFor: 'window',
          nextSendAt: expected.toUTC().toISO(),
        });
        return handle.result();
      });
      expect(state.status).toBe('completed');
      expect(fake.sends).toHaveLength(1);
      expect(Math.abs((fake.sends[0]?.at ?? 0) - expected.toMillis())).toBeLessThan(2000);
    },
  );
});

describe('leadFollowUp: per-lead caps', () => {
  it('keeps the minimum gap between two messages', async () => {
    const fake = fakeActivities();
    await runToEnd(fake.activities, input(steps(0, 10), { minGapSeconds: 5 * minute }));
    const [first, second] = fake.sends;
    expect(Math.round(((second?.at ?? 0) - (first?.at ?? 0)) / 1000)).toBe(5 * minute);
  });

  it('holds the message over the daily cap until the next local day, never dropping it', async () => {
    const fake = fakeActivities();
    const zone = 'America/New_York';
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, 0, 0), { timeZone: zone, maxPerDay: 2 }));
      await expect
        .poll(async () => (await handle.query(statusQuery)).waitingFor, { timeout: 10_000 })
        .toBe('cap_daily');
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'completed', messagesSent: 3 });
    const days = fake.sends.map((send) => DateTime.fromMillis(send.at, { zone }).toISODate());
    expect(days[0]).toBe(days[1]);
    expect(DateTime.fromISO(days[2] ?? '').diff(DateTime.fromISO(days[1] ?? ''), 'days').days).toBe(1);
  });
});

describe("leadFollowUp: the lead's window as the send gate sees it now", () => {
  it('a lead moved to a zone whose window never overlaps the old one gets the step in the new window, not an expiry', async () => {
    // Enrolled in London, 09:00-17:00; the lead is now in Los Angeles, where 09:00 is London's 17:00.
    const now: SendingPolicy = {
      timeZone: 'America/Los_Angeles',
      window: { start: '09:00', end: '17:00' },
      minGapSeconds: 0,
      maxPerDay: 100,
    };
    const fake = fakeActivities((step) => {
      const at = new Date(activityInfo().currentAttemptScheduledTimestampMs);
      const gate = earliestSendTime(at, now, []);
      if (gate.at <= at) return sent(step);
      const until = gate.at.toISOString();
      return {
        outcome: 'held',
        messageId: 'm0',
        reason: 'window',
        until,
        retryAt: until,
        detail: 'window',
        policy: now,
      };
    });
    const state = await runToEnd(
      fake.activities,
      input(steps(0), { timeZone: 'Europe/London', window: { start: '09:00', end: '17:00' } }, 5 * day),
    );
    expect(state).toMatchObject({ status: 'completed', messagesSent: 1 });
    // Held once at most (till Los Angeles opens), then sent there within its window.
    expect(fake.sends.length).toBeLessThanOrEqual(2);
    const sentAt = DateTime.fromMillis(fake.sends.at(-1)?.at ?? 0, { zone: now.timeZone });
    expect(sentAt.hour).toBeGreaterThanOrEqual(9);
    expect(sentAt.hour).toBeLessThan(17);
  });
});

describe('leadFollowUp: a send held for hours', () => {
  it('a hold that lasts past the expiry ends at the expiry: the run closes expired then, nothing sent', async () => {
    const enrolledAt = await suite.env.currentTimeMs();
    const fake = fakeActivities((step) => {
      // The lead's window (or a cap) says two days from now, the enrollment expires in one.
      const until = new Date(activityInfo().currentAttemptScheduledTimestampMs + 2 * day * 1000).toISOString();
      return step.step === 0
        ? { outcome: 'held', messageId: 'm0', reason: 'window', until, retryAt: until, detail: 'window' }
        : sent(step);
    });
    const { activities, closed } = notingCloseTime(fake);
    const state = await runToEnd(activities, input(steps(0), {}, day));
    expect(state).toMatchObject({ status: 'expired', messagesSent: 0 });
    expect(fake.sends).toHaveLength(1);
    // It closed at the expiry, a day in, not when the hold would have ended.
    expect(Math.round((closed.at - enrolledAt) / (hour * 1000))).toBe(24);
  });

  it('goes on in a new run before its history grows too long, then sends the step once and the rest after it', async () => {
    const heldForMs = 4 * hour * 1000;
    let holdEndsAt = Infinity;
    const starts: string[] = [];
    const fake = fakeActivities((step) => {
      const at = activityInfo().currentAttemptScheduledTimestampMs;
      if (step.step === 1 && holdEndsAt === Infinity) holdEndsAt = at + heldForMs;
      // The kill switch, say: looked at again every minute, a dozen history events each time.
      if (step.step !== 1 || at >= holdEndsAt) return sent(step);
      const retryAt = new Date(at + 60_000).toISOString();
      return { outcome: 'held', messageId: 'm1', reason: 'kill_switch', until: retryAt, retryAt, detail: 'paused' };
    });
    const activities = {
      ...fake.activities,
      async recordEnrollmentStarted(started: { runId: string }) {
        starts.push(started.runId);
        return { haltedBy: null };
      },
    };
    const { state, firstRun, firstRunId } = await suite.withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, hour, hour)));
      const firstRun = suite.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      return { state: await handle.result(), firstRun, firstRunId: handle.firstExecutionRunId };
    });
    expect(state).toMatchObject({ status: 'completed', step: 3, messagesSent: 3 });
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
    expect(starts).toHaveLength(1);
    // Each run it continued in names itself on the enrollment's row.
    expect(fake.runs.length).toBeGreaterThanOrEqual(1);
    expect(fake.runs).not.toContain(firstRunId);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'completed' })]);
    const [step0, ...rest] = fake.sends;
    const step1 = rest.filter((send) => send.step === 1);
    const step2 = rest.filter((send) => send.step === 2);
    expect(step0?.step).toBe(0);
    expect(step1.length).toBeGreaterThan(200);
    expect(step2).toHaveLength(1);
    // The last step's delay counts from the held step's send, across the runs.
    expect(Math.round(((step2[0]?.at ?? 0) - (step1.at(-1)?.at ?? 0)) / 1000)).toBe(hour);
  });
});

describe('leadFollowUp: an enrollment halted before its run started', () => {
  it.each([
    ['cancelled', 'cancelled'],
    ['replied', 'replied'],
    ['opted_out', 'opted_out'],
  ] as const)(
    'halted %s: ends at once as %s, nothing sent, not at its first step a day away',
    async (haltedBy, status) => {
      const fake = fakeActivities();
      const activities = { ...fake.activities, recordEnrollmentStarted: async () => ({ haltedBy }) };
      const { state, took } = await suite.withWorker(activities, async (taskQueue) => {
        const handle = await start(taskQueue, input(steps(day, day)));
        const state = await handle.result();
        const { startTime, closeTime } = await handle.describe();
        return { state, took: (closeTime?.getTime() ?? Infinity) - startTime.getTime() };
      });
      expect(state).toMatchObject({ status, messagesSent: 0 });
      expect(took).toBeLessThan(60_000);
      expect(fake.sends).toEqual([]);
      expect(fake.outcomes).toEqual([expect.objectContaining({ status })]);
    },
  );
});

describe('leadFollowUp: signals end the automation', () => {
  it('STOP while sleeping ends it as opted_out with nothing more sent', async () => {
    const fake = fakeActivities();
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, 2 * day)));
      await suite.env.sleep(day * 1000);
      expect(await handle.query(statusQuery)).toMatchObject({
        status: 'running',
        waitingFor: 'delay',
        messagesSent: 1,
      });
      await handle.signal(optOutSignal, { source: 'inbound_keyword' });
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'opted_out', messagesSent: 1 });
    expect(fake.sends).toHaveLength(1);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'opted_out' })]);
  });

  it('STOP while a send is in flight lets that send finish and sends nothing after it', async () => {
    const blocking = blockingSend();
    const { fake } = blocking;
    const state = await whileSendInFlight(blocking, fake.activities, (handle) =>
      handle.signal(optOutSignal, { source: 'inbound_keyword' }),
    );
    expect(state).toMatchObject({ status: 'opted_out', messagesSent: 1 });
    expect(fake.sends.map((send) => send.step)).toEqual([0]);
  });

  it('a reply while a send is in flight that the gate then holds (the window, a day away) ends the run at once', async () => {
    const enrolledAt = await suite.env.currentTimeMs();
    const blocking = blockingSend((step) => {
      const until = new Date(activityInfo().currentAttemptScheduledTimestampMs + day * 1000).toISOString();
      return { outcome: 'held', messageId: `m${step.step}`, reason: 'window', until, retryAt: until, detail: 'window' };
    });
    const { fake } = blocking;
    const { activities, closed } = notingCloseTime(fake);
    const state = await whileSendInFlight(blocking, activities, (handle) =>
      handle.signal(inboundReplySignal, { messageSid: 'SMreply' }),
    );
    expect(state).toMatchObject({ status: 'replied', messagesSent: 0 });
    expect(fake.sends).toHaveLength(1);
    expect(closed.at - enrolledAt).toBeLessThan(hour * 1000);
  });

  it.each([
    ['an inbound reply', 'replied', (handle: Handle) => handle.signal(inboundReplySignal, { messageSid: 'SMreply' })],
    [
      'an appointment booked',
      'booked',
      (handle: Handle) => handle.signal(appointmentBookedSignal, { appointmentId: 'apt-1' }),
    ],
    [
      'a status callback saying the number cannot get messages',
      'failed',
      (handle: Handle) => handle.signal(undeliverableSignal, { errorCode: 30006, messageSid: 'SMundelivered' }),
    ],
  ])('%s ends it as %s', async (_what, status, signal) => {
    const fake = fakeActivities();
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, day)));
      await suite.env.sleep(hour * 1000);
      await signal(handle);
      return handle.result();
    });
    expect(state.status).toBe(status);
    expect(fake.sends).toHaveLength(1);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status })]);
  });
});

describe('leadFollowUp: a signal queued for another enrollment of the lead', () => {
  it('is ignored: a STOP, a reply, a booking or an undeliverable number naming an earlier enrollment leaves this one running; one naming it ends it', async () => {
    const fake = fakeActivities();
    const args = input(steps(0, day));
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, args);
      await suite.env.sleep(hour * 1000);
      const earlier = randomUUID();
      await handle.signal(optOutSignal, { source: 'inbound_keyword', enrollmentId: earlier });
      await handle.signal(inboundReplySignal, { messageSid: 'SMold', enrollmentId: earlier });
      await handle.signal(appointmentBookedSignal, { appointmentId: 'apt-old', enrollmentId: earlier });
      await handle.signal(undeliverableSignal, { errorCode: 30005, messageSid: 'SMold', enrollmentId: earlier });
      expect(await handle.query(statusQuery)).toMatchObject({ status: 'running' });
      await handle.signal(inboundReplySignal, { messageSid: 'SMnew', enrollmentId: args.enrollmentId });
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'replied', closedReason: 'lead replied (SMnew)' });
  });
});

describe('leadFollowUp: operator updates and cancellation', () => {
  it('pause holds the next send past its due time; resume lets it go; both return the new state', async () => {
    const fake = fakeActivities();
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(hour)));
      // Asked before the pause: once resumed, the run may send its one step and finish before a second update lands.
      await expect(handle.executeUpdate(resumeUpdate)).rejects.toMatchObject({
        cause: { type: updateRefusals.notPaused, message: 'the enrollment is not paused' },
      });
      expect(await handle.executeUpdate(pauseUpdate)).toMatchObject({ paused: true });
      await expect(handle.executeUpdate(pauseUpdate)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      await expect(handle.executeUpdate(pauseUpdate)).rejects.toMatchObject({
        cause: { type: updateRefusals.alreadyPaused, message: 'the enrollment is already paused' },
      });
      await suite.env.sleep(3 * hour * 1000);
      expect(await handle.query(statusQuery)).toMatchObject({ waitingFor: 'pause', nextSendAt: null });
      expect(fake.sends).toHaveLength(0);
      expect(await handle.executeUpdate(resumeUpdate)).toMatchObject({ paused: false });
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'completed', messagesSent: 1 });
  });

  it('skip jumps to a later step at once; a skip backwards or past the end is refused by type', async () => {
    const fake = fakeActivities();
    const state = await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, 5 * day, 5 * day)));
      await suite.env.sleep(hour * 1000);
      await expect(handle.executeUpdate(skipToStepUpdate, { args: [{ step: 0 }] })).rejects.toBeInstanceOf(
        WorkflowUpdateFailedError,
      );
      await expect(handle.executeUpdate(skipToStepUpdate, { args: [{ step: 3 }] })).rejects.toMatchObject({
        cause: { type: updateRefusals.invalidStep, message: 'step must be after the current step 1 and before 3' },
      });
      expect(await handle.executeUpdate(skipToStepUpdate, { args: [{ step: 2 }] })).toMatchObject({ step: 2 });
      return handle.result();
    });
    expect(state).toMatchObject({ status: 'completed', messagesSent: 2 });
    expect(fake.sends.map((send) => send.template)).toEqual(['a', 'c']);
  });

  it('a cancellation during a send stops the sequence there, even when the next step is due at once', async () => {
    const { fake, sendStarted, releaseSend } = blockingSend();
    await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, 0)));
      await sendStarted;
      await handle.cancel();
      releaseSend();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    expect(fake.sends.map((send) => send.template)).toEqual(['a']);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'cancelled' })]);
  });

  it('a cancellation records cancelled and shows the run as cancelled', async () => {
    const fake = fakeActivities();
    await suite.withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, input(steps(0, day)));
      await suite.env.sleep(hour * 1000);
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });
    expect(fake.sends).toHaveLength(1);
    expect(fake.outcomes).toEqual([
      expect.objectContaining({ status: 'cancelled', reason: 'cancelled through the API' }),
    ]);
  });
});
