// The exactly-once core every outbound SMS goes through: sequence steps and appointment messages alike.
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import type { Message } from '../generated/prisma/client.js';
import { databaseNow } from '../common/db.js';
import { MessageClosedError } from '../common/capacity/gate.js';
import { releaseCapacity, type ReservedCapacity } from '../common/capacity/usage.js';
import { maskPhone } from '../common/logger.js';
import { noMetrics } from '../common/metrics.js';
import { resultOfClosedRow, skippedResult } from './delivery-results.js';
import { writeFirstAttemptRow } from './first-attempt.js';
import type { ResolvedDeliveryDeps, DeliveryResult, MessageDeliveryDeps, OutboundMessage } from './outbound-message.js';
import { isTooLate, leavesNoTime, validityPeriodSeconds, type SendDeadline } from './send-deadline.js';
import {
  claimExpiredAfterMs,
  claimLeaseMs,
  isClaimLive,
  settlerAttempt,
  untilClaimExpires,
  type GateStop,
} from './send-gate.js';
import { closeAsRead, gateHold, hold, missDeadline, rowChangedSinceRead } from './send-hold.js';
import type { OutboundSms } from './sms-sender.js';
import { findEarlierHandover, handOver, recordSent } from './twilio-handover.js';

/** Another attempt holds a fresh claim: look again once it has surely called Twilio or given up. */
const claimedElsewhereType = 'SendClaimedElsewhere';

const claimedElsewhere = (claimedAt: Date, attempt: number | null, lookAgainInMs: number) =>
  ApplicationFailure.create({
    type: claimedElsewhereType,
    message:
      attempt === settlerAttempt
        ? 'the claim settler is asking Twilio about this message; its answer settles it'
        : `attempt ${attempt ?? '?'} claimed this message at ${claimedAt.toISOString()} and may be calling Twilio`,
    nextRetryDelay: Math.max(lookAgainInMs, 1000),
  });

/** How often an attempt looks again while its appointment's move or cancel is being written: it takes a moment. */
const changePendingLookMs = 1000;

const changePending = (until: Date) =>
  ApplicationFailure.create({
    type: 'AppointmentChangePending',
    message: `the appointment is being moved or cancelled; looking again (the change is written by ${until.toISOString()})`,
    nextRetryDelay: Math.min(Math.max(until.getTime() - Date.now(), 100), changePendingLookMs),
  });

/** The gate's final word: the row closes as skipped with the reason (and what held it before), and the workflow hears why. */
async function refuse({ db, metrics }: ResolvedDeliveryDeps, row: Message, reason: GateStop): Promise<DeliveryResult> {
  await closeAsRead(db, row, { status: 'skipped', skipReason: reason }, row.heldReason);
  metrics.messageRecorded('skipped');
  log.info('send refused by the send gate', { messageId: row.id, to: maskPhone(row.toPhone), reason });
  return skippedResult(row.id, reason);
}

/** Sending capacity for this attempt (a number's throughput, the tenant's warm-up and budgets), or how long to wait. */
const reserveCapacity = ({ capacity, sender }: ResolvedDeliveryDeps, row: Message, message: OutboundMessage) =>
  capacity.reserve({
    messageId: row.id,
    tenantId: message.tenantId,
    sender: row.fromPhone ?? sender.defaultFrom,
    cost: row.cost?.toString() ?? capacity.price(row.body).cost,
    appointment: message.subject.kind === 'appointment',
    previous: (row.reservation as unknown as ReservedCapacity[] | null) ?? [],
  });

/**
 * Sends one message at most once. The row keyed by the idempotency key is written before Twilio is called, and only
 * an attempt that claimed it through the send gate calls Twilio. An attempt that finds it claimed asks Twilio what
 * happened before anything else; while another attempt's claim is fresh it never calls create itself.
 */
export function createMessageDelivery({ metrics = noMetrics, ...given }: MessageDeliveryDeps) {
  const deps: ResolvedDeliveryDeps = { ...given, metrics };
  const { db, gate, sender } = deps;
  /** Past as PostgreSQL's clock has it: this process's, read first (for free), may run minutes ahead of it. */
  const tooLate = async (deadline: SendDeadline<unknown>) =>
    isTooLate(deadline) && leavesNoTime(deadline.at, deadline.hard, (await databaseNow(db)).getTime());

  return async function deliver<Outcome>(
    message: OutboundMessage,
    deadline: SendDeadline<Outcome>,
  ): Promise<DeliveryResult | Outcome> {
    const { attempt } = activityInfo();
    const existing = await db.message.findUnique({ where: { idempotencyKey: message.idempotencyKey } });
    if (!existing && (await tooLate(deadline))) return deadline.outcomeWhenMissed;
    // A retry sends the body it rendered the first time, whatever the lead looks like now.
    const { row, isRetry } = existing
      ? { row: existing, isRetry: true }
      : await writeFirstAttemptRow(deps, message, deadline.hard ? deadline.at : null);
    // Sent, skipped or failed already: an earlier attempt settled it, and this one answers what it came to.
    if (row.status !== 'pending') return resultOfClosedRow(row, deadline);
    // Left alone, its capacity too, while the settler asks Twilio: a write would keep it from taking the row again.
    if (row.claimedAttempt === settlerAttempt) throw claimedElsewhere(new Date(), settlerAttempt, claimExpiredAfterMs);

    const sms: OutboundSms = { to: row.toPhone, body: row.body, from: row.fromPhone ?? sender.defaultFrom };
    if (row.claimedAt) {
      // An attempt passed the gate, so Twilio may have the message: ask it before deciding anything else.
      const askedAt = await databaseNow(db);
      const found = await findEarlierHandover(deps, row, sms);
      if (found) return recordSent(deps, row, found);
      // Another attempt may have been at Twilio with it when the lookup was asked: only a lookup asked once that attempt
      // was surely done has seen all it can have sent. By the claim as it stood then, not now: a slow lookup answered
      // after the claim expired would otherwise let this attempt create a second message.
      if (isClaimLive(row, askedAt))
        throw claimedElsewhere(row.claimedAt, row.claimedAttempt, untilClaimExpires(row.claimedAt, askedAt));
    } else if (isRetry) {
      // Cheap refusals first, so a retry for a lead who replied or opted out meanwhile takes no capacity.
      const stop = await gate.precheck(row, message.subject);
      if (stop) return refuse(deps, row, stop.reason);
    }
    // Only a retry: a first attempt is the workflow's own plan, made with its pause as it was (the row's flag, written
    // once the workflow took the pause or the resume, may still say otherwise). What an earlier attempt reserved goes
    // back for the pause, unless its claim's call may have reached Twilio.
    if (attempt > 1 && (await message.pausedMeanwhile?.())) {
      if (!row.claimedAt) await db.$transaction((tx) => releaseCapacity(tx, row.id));
      log.info('send not retried: its enrollment was paused meanwhile', { messageId: row.id });
      return deadline.outcomeWhenMissed;
    }
    if (await tooLate(deadline)) return missDeadline(deps, row, deadline);

    const reserved = await reserveCapacity(deps, row, message).catch((error: unknown) => {
      throw error instanceof MessageClosedError ? rowChangedSinceRead() : error;
    });
    if (!reserved.ok) return hold(deps, row, reserved.wait, message, deadline);

    const askedAt = performance.now();
    const verdict = await gate.claim(row, attempt, message.subject, deadline.hard ? deadline.at : null);
    if (verdict.kind === 'stop') return refuse(deps, row, verdict.reason);
    if (verdict.kind !== 'claimed') {
      // Not this attempt's turn: what it reserved goes back before it waits, unless another attempt (or the settler)
      // holds a claim: the row's reservation is then that claim's, whose message may be at Twilio (a close gives it
      // back if it never went).
      const claimedByAnother = verdict.kind === 'claimed_elsewhere' && verdict.attempt !== null;
      if (!claimedByAnother) await db.$transaction((tx) => releaseCapacity(tx, row.id));
      if (verdict.kind === 'claimed_elsewhere')
        throw claimedElsewhere(verdict.claimedAt, verdict.attempt, verdict.lookAgainInMs);
      if (verdict.kind === 'change_pending') throw changePending(verdict.until);
      if (verdict.kind === 'too_late') return missDeadline(deps, row, deadline);
      if (verdict.kind === 'paused') return hold(deps, row, deps.capacity.pauseWait(verdict.pause), message, deadline);
      return hold(deps, row, gateHold(verdict), message, deadline);
    }
    // The claim keeps other attempts off Twilio only for its lease: past it (a stalled process), this one stays off too.
    // Timed on this process's steady clock from before the claim was written (its instant is PostgreSQL's).
    // Its own claim, made since `askedAt`, expires within a minute from now: the next attempt comes no sooner.
    if (performance.now() - askedAt > claimLeaseMs)
      throw claimedElsewhere(verdict.claimedAt, attempt, claimExpiredAfterMs);
    // The close the gate judged and the deadline, on PostgreSQL's clock, put on this process's: a clock behind the
    // database's would otherwise let Twilio keep the message past them. Timed from before the claim, so no later.
    const here = (instant: Date) =>
      new Date(Date.now() + instant.getTime() - verdict.claimedAt.getTime() - (performance.now() - askedAt));
    const closesHere = verdict.windowClosesAt && here(verdict.windowClosesAt);
    const validity = validityPeriodSeconds({ ...deadline, at: here(deadline.at) }, closesHere);
    return handOver(deps, row, { ...sms, validityPeriodSeconds: validity }, { attempt, claimedAt: verdict.claimedAt });
  };
}
