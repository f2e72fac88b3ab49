// The last word before any Twilio call: one short transaction, under the conversation's lock, that sees every fact
// recorded so far (opt-outs, replies, bookings, cancels, erasures, the caps across enrollments, the appointment as it
// is now) and either claims the message for this attempt or says why not. Workflow state plans; PostgreSQL decides.
import type { Message, Prisma } from '../generated/prisma/client.js';
import { changePendingUntil } from '../common/appointment-changes.js';
import { haltReasonOf, lockConversationAt, type HaltReason } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import type { Pause } from '../common/capacity/facts.js';
import { leavesNoTime } from './send-deadline.js';
import { savedZoneOr } from '../common/phone.js';
import { leadWindow } from '../common/state-windows.js';
import {
  earliestSendTime,
  windowClosesAt,
  type SendingPolicy,
  type SendTimeDecision,
} from '../workflows/decisions/send-time.js';
import {
  readAppointmentFacts,
  readStepFacts,
  type AppointmentFacts,
  type MessageFacts,
  type MessageRef,
  type StepFacts,
} from './send-gate-facts.js';

/** What the message is: a sequence step checks its enrollment and the marketing caps, an appointment message its appointment. */
export type GateSubject =
  | { kind: 'step'; enrollmentId: string }
  | {
      kind: 'appointment';
      appointmentId: string;
      message: 'confirmation' | 'reminder' | 'cancellation';
      startsAt: string;
      /** A change asked of the run (the row's stamp, still unanswered) holds it until the run has taken the change. */
      waitsForChanges: boolean;
    };

/** Final refusals: the message will never go out. */
export type GateStop =
  | 'opted_out'
  | 'number_blocked'
  | HaltReason
  | 'enrollment_closed'
  | 'skipped_by_api'
  | 'appointment_moved'
  | 'appointment_closed'
  | 'appointment_confirmed';
/** Holds: the message may go out later, at `until`. */
export type GateHoldReason = 'cap_gap' | 'cap_daily' | 'window';

export type GateDecision =
  /**
   * `windowClosesAt`: a step's, where the lead's window ends as judged now (its run planned with what it last had);
   * none for a window that never closes.
   */
  | { kind: 'claimed'; claimedAt: Date; windowClosesAt?: Date }
  | { kind: 'stop'; reason: GateStop }
  /** `policy`: the lead's window and caps as judged now (their zone and the tenant's settings may have changed). */
  | { kind: 'hold'; reason: GateHoldReason; until: Date; policy: SendingPolicy }
  /** Another attempt claimed the message first: it may be calling Twilio right now. Look again in `lookAgainInMs`. */
  | { kind: 'claimed_elsewhere'; attempt: number | null; claimedAt: Date; lookAgainInMs: number }
  /** The appointment is being moved or cancelled: look again once the change is written (by `until` at the latest). */
  | { kind: 'change_pending'; until: Date }
  /** The message's hard deadline has passed by PostgreSQL's clock. */
  | { kind: 'too_late' }
  /** The kill switch, turned on since the attempt took its capacity. */
  | { kind: 'paused'; pause: Pause };

/**
 * The attempt number the claim settler takes a row with (Temporal numbers attempts from 1): no attempt claims over it,
 * as the settler may be asking Twilio about the row (worker/claim-settler.ts).
 */
export const settlerAttempt = 0;

/** How long a claim keeps every other attempt off Twilio: the claimer calls Twilio within it or not at all. */
export const claimLeaseMs = 30_000;

/** A claim older than this cannot belong to an attempt still about to call Twilio (lease plus Twilio's own timeout). */
export const claimExpiredAfterMs = claimLeaseMs + 30_000;

/**
 * Whether another attempt may be calling Twilio for this message right now: it claimed it, has not let go (an
 * attempt lets go when Twilio refused its call unprocessed) and its claim is not yet expired (a crashed or stalled
 * attempt). Whatever its attempt number: an attempt claims once, at the end, so a claim it reads is never its own, and
 * numbers repeat (each activity a held send schedules anew, each continued run, starts again at 1).
 */
export function isClaimLive(message: Pick<Message, 'claimedAt' | 'claimedAttempt'>, now = new Date()): boolean {
  if (!message.claimedAt || message.claimedAttempt === null) return false;
  return now.getTime() - message.claimedAt.getTime() < claimExpiredAfterMs;
}

/**
 * The tenant's caps as they are now, in the lead's zone (the window within its state's: common/state-windows.ts): a
 * change of settings applies to the next send. A zone that is no IANA name (saved before the API refused them, written
 * around the API, or dropped from the time zone database) would put every instant inside the window and under the
 * caps, or judge them on another country's clock: the tenant's zone decides instead.
 */
const policyOf = (facts: StepFacts): SendingPolicy => ({
  timeZone: savedZoneOr(facts.timeZone, facts.tenantTimeZone),
  window: { start: facts.windowStart, end: facts.windowEnd },
  minGapSeconds: facts.minGapSeconds,
  maxPerDay: facts.maxPerDay,
});

/**
 * A step claimed closer than this to its window's close waits for the next opening: its attempt may call Twilio
 * seconds after the claim, and Twilio keeps a step queued for a minute at least (send-deadline.ts), so it could reach
 * the lead after the window closed.
 */
const lastClaimBeforeCloseMs = 60_000;

/**
 * When the lead's window that `now` falls in closes, and when a step may go after it; null for a window that opens
 * again as it closes (midnight to midnight): it never closes.
 */
function windowClosing(now: Date, facts: StepFacts): { closes: Date; reopens: SendTimeDecision } | null {
  const policy = policyOf(facts);
  const closes = windowClosesAt(now, policy);
  const reopens = earliestSendTime(closes, policy, facts.recentSends);
  return reopens.at > closes ? { closes, reopens } : null;
}

/** A halt names why the enrollment stopped before its workflow heard; a step of any other closed enrollment stops too. */
function stepRefusal(facts: StepFacts, now: Date): GateDecision | null {
  if (facts.enrollmentStatus === null) return { kind: 'stop', reason: 'enrollment_closed' };
  if (facts.haltedAt) return { kind: 'stop', reason: haltReasonOf(facts.haltedBy) };
  if (facts.enrollmentStatus !== 'running') return { kind: 'stop', reason: 'enrollment_closed' };
  // A step the API skipped past while its send was on its way (its row not yet written, or not yet claimed).
  if (facts.step !== null && facts.skippedToStep !== null && facts.step < facts.skippedToStep)
    return { kind: 'stop', reason: 'skipped_by_api' };
  const policy = policyOf(facts);
  const plan = earliestSendTime(now, policy, facts.recentSends);
  if (plan.at > now && plan.heldBy) return { kind: 'hold', reason: plan.heldBy, until: plan.at, policy };
  const closing = windowClosing(now, facts);
  if (!closing || closing.closes.getTime() - now.getTime() >= lastClaimBeforeCloseMs) return null;
  const { reopens } = closing;
  return { kind: 'hold', reason: reopens.heldBy ?? 'window', until: reopens.at, policy };
}

function appointmentRefusal(
  facts: AppointmentFacts,
  subject: Extract<GateSubject, { kind: 'appointment' }>,
): Extract<GateDecision, { kind: 'stop' }> | null {
  const closed = { kind: 'stop', reason: 'appointment_closed' } as const;
  if (facts.appointmentStatus === null) return closed;
  if (subject.message === 'cancellation')
    return facts.appointmentStatus === 'scheduled' || facts.appointmentStatus === 'cancelled' ? null : closed;
  if (facts.appointmentStatus !== 'scheduled') return closed;
  // The lead confirmed by SMS and the tenant sends no reminders after that: one the workflow has not dropped yet stops here.
  if (subject.message === 'reminder' && facts.confirmedAt && facts.skipRemindersAfterConfirm)
    return { kind: 'stop', reason: 'appointment_confirmed' };
  return facts.startsAt?.getTime() === Date.parse(subject.startsAt)
    ? null
    : { kind: 'stop', reason: 'appointment_moved' };
}

/** An appointment message first attempted longer ago than this has waited: for capacity, or through Twilio's retries. */
const appointmentWaitedAfterMs = 15 * 60_000;

/**
 * An appointment message on time is transactional, sent whatever the hour. One that has waited goes in the lead's
 * window only: a budget that resets at midnight, a kill switch lifted or Twilio back at night must not release a
 * reminder then; one whose window opens after its deadline is missed. A cancellation's notice is not held: its cancel's
 * answer waits for it.
 */
function waitedIntoTheNight(
  facts: AppointmentFacts,
  subject: Extract<GateSubject, { kind: 'appointment' }>,
  now: Date,
): GateDecision | null {
  if (subject.message === 'cancellation' || now.getTime() - facts.writtenAt.getTime() < appointmentWaitedAfterMs)
    return null;
  const policy: SendingPolicy = {
    timeZone: savedZoneOr(facts.timeZone ?? facts.tenantTimeZone, facts.tenantTimeZone),
    window: { start: facts.windowStart, end: facts.windowEnd },
    minGapSeconds: 0,
    maxPerDay: 1,
  };
  const opens = earliestSendTime(now, policy, []);
  return opens.at > now ? { kind: 'hold', reason: 'window', until: opens.at, policy } : null;
}

/** Whatever the message is about: an opted-out phone or an erased lead is never texted. */
function recipientStop(facts: MessageFacts): Extract<GateDecision, { kind: 'stop' }> | null {
  if (facts.optedOut) return { kind: 'stop', reason: 'opted_out' };
  if (facts.numberBlocked) return { kind: 'stop', reason: 'number_blocked' };
  return facts.leadErased ? { kind: 'stop', reason: 'erased' } : null;
}

/** The facts under the lock and what the message's own subject says of them. */
async function readVerdict(
  reader: Db | Prisma.TransactionClient,
  row: MessageRef,
  subject: GateSubject,
  now: Date,
): Promise<{ facts: MessageFacts; refusal: GateDecision | null; windowClosesAt?: Date }> {
  if (subject.kind === 'appointment') {
    const facts = await readAppointmentFacts(reader, row, subject.appointmentId);
    const pendingUntil = subject.waitsForChanges ? changePendingUntil(facts.changeRequestedAt, now) : null;
    const refusal =
      appointmentRefusal(facts, subject) ??
      (pendingUntil && { kind: 'change_pending', until: pendingUntil }) ??
      waitedIntoTheNight(facts, subject, now);
    return { facts, refusal };
  }
  const read = await readStepFacts(reader, row, subject.enrollmentId, now);
  const window = leadWindow({ start: read.windowStart, end: read.windowEnd }, row.toPhone);
  const facts = { ...read, windowStart: window.start, windowEnd: window.end };
  const closing = windowClosing(now, facts);
  return { facts, refusal: stepRefusal(facts, now), ...(closing ? { windowClosesAt: closing.closes } : {}) };
}

/** Until a claim made at `claimedAt` has expired, both instants by PostgreSQL's clock (a worker's may be off). */
export const untilClaimExpires = (claimedAt: Date, now: Date) =>
  claimedAt.getTime() + claimExpiredAfterMs - now.getTime();

const claimedBy = (attempt: number | null, claimedAt: Date, now: Date): GateDecision => ({
  kind: 'claimed_elsewhere',
  attempt,
  claimedAt,
  lookAgainInMs: untilClaimExpires(claimedAt, now),
});

/** The settler has the row: an attempt looks again once it could have settled it. */
const settling = (now: Date): GateDecision => claimedBy(settlerAttempt, now, now);

/**
 * What took the row between the gate's read and its claim: the settler's take, or a write that closed the row or let
 * go of a claim. The attempt looks again as that claim says, and finds the row as it is.
 */
async function claimedSince(tx: Prisma.TransactionClient, messageId: string, now: Date): Promise<GateDecision> {
  const current = await tx.message.findUniqueOrThrow({
    where: { id: messageId },
    select: { status: true, claimedAttempt: true, claimedAt: true },
  });
  // Closed, or a claim let go: nothing to wait for, so the attempt looks again at once (as after an expired claim).
  const lookAgainNow = new Date(now.getTime() - claimExpiredAfterMs);
  if (current.status !== 'pending' || current.claimedAttempt === null)
    return claimedBy(current.claimedAttempt, lookAgainNow, now);
  if (current.claimedAttempt === settlerAttempt) return settling(now);
  return claimedBy(current.claimedAttempt, current.claimedAt ?? now, now);
}

/** A message row as its sending attempt read it: its claim then, if it had one. */
type ReadRow = MessageRef & Pick<Message, 'claimedAt' | 'claimedAttempt'>;

/** Real time throughout: claims and caps are compared with the instants rows were sent at. */
export function createSendGate({ db }: { db: Db }) {
  /**
   * Decides under the conversation's lock and, when the message may go, claims it for `attempt` in the same
   * transaction. Only a claimed message is ever handed to Twilio, and only by the attempt that claimed it. `row`
   * carries the claim the caller read, and asked Twilio about if there was one: only that claim is claimed over.
   * `sendBy`: a hard deadline, past which the message is worthless (a reminder's).
   */
  async function claim(
    row: ReadRow,
    attempt: number,
    subject: GateSubject,
    sendBy: Date | null = null,
  ): Promise<GateDecision> {
    return db.$transaction(async (tx) => {
      // PostgreSQL's clock: the claim it reads was written with it, maybe by a worker whose clock is a minute off.
      const now = await lockConversationAt(tx, row.tenantId, row.toPhone);
      // Read under the lock: another attempt may have claimed it, or a fact been recorded, since the caller looked.
      const { facts, refusal, windowClosesAt: closesAt } = await readVerdict(tx, row, subject, now);
      if (isClaimLive(facts, now)) return claimedBy(facts.claimedAttempt, facts.claimedAt ?? now, now);
      if (facts.claimedAttempt === settlerAttempt) return settling(now);
      const verdict = recipientStop(facts) ?? refusal;
      if (verdict) return verdict;
      // The caller judged the hard deadline on its own clock, which may run behind this one.
      if (sendBy && leavesNoTime(sendBy, true, now.getTime())) return { kind: 'too_late' };
      // The capacity count read the kill switch before this lock was had: a pause may have committed while it waited.
      if (facts.pausedScope !== null && facts.pausedBy !== null)
        return { kind: 'paused', pause: { scope: facts.pausedScope, pausedBy: facts.pausedBy } };
      // Only over the claim the caller read. The settler takes rows without the conversation's lock, so it may have
      // since; and an attempt that read the row unclaimed, then stalled past its timeout, finds here the claim of the
      // attempt Temporal started meanwhile, expired or let go after a call Twilio may have taken, and never asked
      // about: the caller looks again, and asks Twilio first.
      const { count } = await tx.message.updateMany({
        where: { id: row.id, status: 'pending', claimedAttempt: row.claimedAttempt, claimedAt: row.claimedAt },
        data: { claimedAttempt: attempt, claimedAt: now, heldReason: null, heldUntil: null },
      });
      if (!count) return claimedSince(tx, row.id, now);
      return { kind: 'claimed', claimedAt: now, ...(closesAt ? { windowClosesAt: closesAt } : {}) };
    });
  }

  /** The same facts without the lock or the claim: lets a retry give up before it takes any capacity. */
  async function precheck(
    message: MessageRef,
    subject: GateSubject,
  ): Promise<Extract<GateDecision, { kind: 'stop' }> | null> {
    if (subject.kind === 'appointment') {
      const facts = await readAppointmentFacts(db, message, subject.appointmentId);
      return recipientStop(facts) ?? appointmentRefusal(facts, subject);
    }
    const facts = await readStepFacts(db, message, subject.enrollmentId, new Date());
    const stop = recipientStop(facts);
    if (stop) return stop;
    if (facts.enrollmentStatus !== 'running') return { kind: 'stop', reason: 'enrollment_closed' };
    return facts.haltedAt ? { kind: 'stop', reason: haltReasonOf(facts.haltedBy) } : null;
  }

  return { claim, precheck };
}

export type SendGate = ReturnType<typeof createSendGate>;
