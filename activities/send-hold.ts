// A send that may not go yet: the capacity it needs is taken (common/capacity), or the lead's window or caps across
// enrollments say later (the send gate). The row records why and until when; the caller hears when to try again.
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import type { Message } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { capacityWaitType, type CapacityWait } from '../common/capacity/waits.js';
import type { ResolvedDeliveryDeps, DeliveryResult, OutboundMessage } from './outbound-message.js';
import { missedSkipReason, type SendDeadline } from './send-deadline.js';
import type { GateDecision, GateHoldReason } from './send-gate.js';
import type { SendingPolicy } from '../workflows/decisions/send-time.js';
import type { HoldReason } from './send-step-message.types.js';
import { claimOf, closeUnsent, type UnsentClose } from './unsent-messages.js';

export interface Hold {
  reason: HoldReason;
  until: string;
  detail: string;
  /** A hold of the lead's own window or caps: the policy the gate judged by. */
  policy?: SendingPolicy;
}

/** A wait never runs into the activity's own schedule-to-close timeout, which would fail the send instead. */
const retryMarginMs = 2000;
/**
 * A message with a hard deadline held for capacity looks a last time this long before it: time enough to claim it and
 * call Twilio (an attempt needs a second of the deadline left at least, send-deadline.ts).
 */
const lastLookBeforeDeadlineMs = 5000;

const gateHoldDetail: Record<GateHoldReason, string> = {
  cap_gap: "the lead's minimum gap between messages, across all their enrollments",
  cap_daily: "the lead's daily maximum in their local day, across all their enrollments",
  window: "the lead's sending window",
};

const isCapacityWait = (wait: Hold): wait is CapacityWait => !(wait.reason in gateHoldDetail);

/** The send gate's "later", in the words a hold records. */
export const gateHold = ({ reason, until, policy }: Extract<GateDecision, { kind: 'hold' }>): Hold => ({
  reason,
  until: until.toISOString(),
  detail: gateHoldDetail[reason],
  policy,
});

/**
 * Closes the row as this attempt read it, unclaimed or under the claim it saw. Another attempt may have claimed it
 * since (one that passed the gate before a STOP or the deadline, slow to get there) and be at Twilio with it, or
 * settled it: this attempt answers nothing, and the next finds the row as it is.
 */
export async function closeAsRead(db: Db, row: Message, closed: UnsentClose, heldBy?: string | null): Promise<void> {
  if ((await closeUnsent(db, row, closed, { onlyUnder: claimOf(row), heldBy })).closed) return;
  throw rowChangedSinceRead();
}

/** The attempt looks again a second later, and finds the row as it is. */
export const rowChangedSinceRead = () =>
  ApplicationFailure.create({
    type: 'SendRowChangedSinceRead',
    message: 'another attempt claimed or settled this message since this attempt read it; looking again',
    nextRetryDelay: 1000,
  });

/**
 * The hard deadline passed with the message unsent: its row closes as missed (its event naming what held it: this
 * attempt's hold, else the last one recorded), and the caller hears its outcome.
 */
export async function missDeadline<Outcome>(
  { db, metrics }: ResolvedDeliveryDeps,
  row: Message,
  deadline: SendDeadline<Outcome>,
  heldBy: string | null = row.heldReason,
): Promise<Outcome> {
  if (deadline.hard) {
    await closeAsRead(db, row, { status: 'skipped', skipReason: missedSkipReason }, heldBy);
    metrics.messageRecorded('skipped');
  }
  return deadline.outcomeWhenMissed;
}

/**
 * Not yet. A workflow that waits itself hears `held` and comes back at `retryAt` (sooner if it closes or moves); an
 * older one gets a retry of the activity then.
 */
export async function hold<Outcome>(
  deps: ResolvedDeliveryDeps,
  row: Message,
  wait: Hold,
  message: OutboundMessage,
  deadline: SendDeadline<Outcome>,
): Promise<DeliveryResult | Outcome> {
  const { db, capacity } = deps;
  const now = Date.now();
  const until = new Date(wait.until);
  // A queue for a number's throughput is looked at every second: those lines are debug, the longer waits info.
  const logWait = wait.reason === 'number_rate' || wait.reason === 'tenant_rate' ? log.debug : log.info;
  logWait('send held', { messageId: row.id, reason: wait.reason, until: wait.until, detail: wait.detail });
  const info = activityInfo();
  const activityDeadline =
    message.holdAsResult || info.scheduleToCloseTimeoutMs <= 0
      ? Infinity
      : info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - retryMarginMs;
  const latest = Math.min(deadline.at.getTime(), activityDeadline);
  // Capacity is looked at again after at most the recheck interval (a budget raised, a switch turned off); the
  // lead's own window and caps are due at `until`.
  const wanted = isCapacityWait(wait) ? capacity.askAgainAt(wait).getTime() : until.getTime();
  // A workflow that waits itself re-plans when it wakes (the window, a new day); only a message worthless by then
  // gives up now. Capacity may come back before its `until` (a budget raised, a switch turned off), so a message held
  // for it gives up only at its last look, just before the deadline. Older runs are retried no later than the
  // deadline, where they answer `outcomeWhenMissed`.
  const worthlessBy = isCapacityWait(wait) ? new Date(now + lastLookBeforeDeadlineMs) : until;
  const givesUp = message.holdAsResult
    ? deadline.hard && worthlessBy >= deadline.at
    : wanted >= latest && latest - now < 1000;
  // The row says why and until when, with the hold's words and its next look, for reads that do not ask Temporal. A
  // row closed meanwhile (a skip past its step, its enrollment's close) keeps what it says: the attempt looks again.
  const recordHold = async (retryAt: number) => {
    const { count } = await db.message.updateMany({
      where: { id: row.id, status: 'pending' },
      data: { heldReason: wait.reason, heldUntil: until, heldDetail: wait.detail, heldRetryAt: new Date(retryAt) },
    });
    if (!count) throw rowChangedSinceRead();
    // An earlier attempt's claim this one found expired, and Twilio without the message: nobody is sending it, so the
    // held row is unclaimed again, and a STOP, a skip or a move closes it as any held row (a claim kept, they left it
    // pending until the run ended). Unless another attempt has claimed it since.
    if (row.claimedAt)
      await db.message.updateMany({
        where: { id: row.id, status: 'pending', claimedAt: row.claimedAt, claimedAttempt: row.claimedAttempt },
        data: { claimedAt: null, claimedAttempt: null },
      });
  };
  if (givesUp) {
    if (!deadline.hard) await recordHold(latest);
    return missDeadline(deps, row, deadline, wait.reason);
  }
  if (message.holdAsResult) {
    // A message with a hard deadline looks one last time just before it, in case capacity came back sooner.
    const retryAt = deadline.hard ? Math.min(wanted, deadline.at.getTime() - lastLookBeforeDeadlineMs) : wanted;
    await recordHold(retryAt);
    return {
      outcome: 'held',
      messageId: row.id,
      reason: wait.reason,
      until: wait.until,
      retryAt: new Date(retryAt).toISOString(),
      detail: wait.detail,
      ...(wait.policy ? { policy: wait.policy } : {}),
    };
  }
  const nextRetryDelay = Math.max(Math.min(wanted, latest) - now, 50);
  await recordHold(now + nextRetryDelay);
  throw ApplicationFailure.create({
    type: capacityWaitType,
    message: `waiting for sending capacity: ${wait.detail}`,
    details: [wait],
    nextRetryDelay,
  });
}
