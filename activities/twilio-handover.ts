// The message's way to Twilio and back: the one create call a claimed attempt makes, what it records when Twilio took
// the message or refused it, and the question a later attempt asks when an earlier one may have got through.
import { log } from '@temporalio/activity';
import type { Message } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import {
  applyStatus,
  isEventStatus,
  lockStatusCallbacksOf,
  needsConversationLock,
  parkedStatusesOf,
  type StatusLogger,
} from '../common/status-callbacks.js';
import { recordMessageFact } from '../common/analytics/aggregate.js';
import { lockConversation } from '../common/conversation.js';
import { maskPhone } from '../common/logger.js';
import { refusedByTwilioResult } from './delivery-results.js';
import type { ResolvedDeliveryDeps, DeliveryResult } from './outbound-message.js';
import type { OutboundSms, SentSms } from './sms-sender.js';
import { classifyTwilioError, twilioMayHaveTaken } from './twilio-errors.js';
import { closeUnsent } from './unsent-messages.js';

/** A status's warnings (carrier filtering) outside an activity, where none may be logged: the claim settler's record. */
const unlogged: StatusLogger = { warn: () => {} };

/**
 * The SID is written once: true for the call that wrote it, false when another got there first (it records no second
 * event). Outside any activity too: what the claim settler finds at Twilio is recorded the same way. The status
 * callbacks that came before the SID was written (api/webhooks/status.ts parks them) are applied in the same
 * transaction, in status order, as the webhook would have applied them, and deleted; the SID's lock, taken first,
 * orders this against a callback arriving meanwhile: it waits and then finds the row, or was parked before this looks.
 */
export async function recordHandover(
  db: Db,
  row: Message,
  sent: SentSms,
  logger: StatusLogger = unlogged,
): Promise<boolean> {
  // Found at Twilio later (a retry's or the settler's lookup): sent when Twilio created it, and counted on that day.
  const sentAt = sent.createdAt ?? new Date();
  return db.$transaction(async (tx) => {
    // Outbox mode has no SID, and no callbacks.
    if (sent.sid) await lockStatusCallbacksOf(tx, sent.sid);
    const parked = sent.sid ? await parkedStatusesOf(tx, sent.sid) : [];
    // Its error code with it: a message found failed 21610 or undelivered 30005 acts as that callback would.
    const answer = sent.sid
      ? { MessageSid: sent.sid, MessageStatus: sent.status, ErrorCode: sent.errorCode ?? undefined }
      : null;
    if ([...parked, ...(answer ? [answer] : [])].some(needsConversationLock))
      await lockConversation(tx, row.tenantId, row.toPhone);
    // Twilio's answer is a status like a callback's when it is one the CRM hears of (a message found at Twilio already
    // delivered or failed), or when callbacks are parked: applied after message.sent, with its event, last.
    const answerAsStatus = sent.sid !== null && (parked.length > 0 || isEventStatus(sent.status));
    const { count } = await tx.message.updateMany({
      where: { id: row.id, twilioSid: null },
      data: {
        ...(answerAsStatus ? {} : { status: sent.status }),
        twilioSid: sent.sid,
        sentAt,
        heldReason: null,
        heldUntil: null,
      },
    });
    if (!count) return false;
    await recordMessageFact(tx, {
      type: 'message.sent',
      message: row,
      details: { twilioSid: sent.sid, segments: row.segments, cost: row.cost?.toString() ?? null },
      fact: 'sent',
      at: sentAt,
    });
    if (answerAsStatus && answer) {
      const message = { ...row, twilioSid: answer.MessageSid, sentAt };
      for (const params of [...parked, answer]) await applyStatus(tx, logger, message, params);
      if (parked.length) await tx.earlyStatusCallback.deleteMany({ where: { messageSid: answer.MessageSid } });
    }
    return true;
  });
}

export async function recordSent(
  { db, metrics, sender }: ResolvedDeliveryDeps,
  row: Message,
  sent: SentSms,
): Promise<DeliveryResult> {
  const recordedNow = await recordHandover(db, row, sent, {
    warn: (facts, message) => log.warn(message, facts),
  });
  // Once per row: the claim settler may have recorded it first (it counts its own).
  if (recordedNow) metrics.messageRecorded(sent.status);
  log.info('SMS handed over', {
    messageId: row.id,
    to: maskPhone(row.toPhone),
    mode: sender.mode,
    twilioSid: sent.sid,
  });
  return { outcome: 'sent', messageId: row.id, twilioSid: sent.sid };
}

/**
 * An earlier attempt claimed the row, so Twilio may have the message: the one it has to this number since the row was
 * written, leaving out SIDs other rows already own (a lookup after a timeout must not adopt one of them). Those rows
 * are the ones written or sent since an hour before this one was written: a row written days ago and held until a
 * moment ago owns a message Twilio created a moment ago.
 */
export async function findEarlierHandover(
  { db, sender }: Pick<ResolvedDeliveryDeps, 'db' | 'sender'>,
  row: Message,
  sms: OutboundSms,
): Promise<SentSms | null> {
  const since = new Date(row.createdAt.getTime() - 3_600_000);
  const others = await db.message.findMany({
    where: {
      toPhone: row.toPhone,
      twilioSid: { not: null },
      OR: [{ createdAt: { gte: since } }, { sentAt: { gte: since } }],
    },
    select: { twilioSid: true },
  });
  return sender.findSent(sms, row.createdAt, new Set(others.map((other) => other.twilioSid ?? '')));
}

/**
 * The create call. Twilio took it: sent. Twilio refused it for good: the row closes as failed (an unsubscribed
 * recipient is recorded as an opt-out). Anything that may succeed later is thrown back to Temporal's retry policy.
 */
export async function handOver(
  deps: ResolvedDeliveryDeps,
  row: Message,
  sms: OutboundSms,
  claim: { attempt: number; claimedAt: Date },
): Promise<DeliveryResult> {
  const { db, sender, metrics } = deps;
  try {
    return await recordSent(deps, row, await sender.send(sms));
  } catch (error) {
    const classified = classifyTwilioError(error);
    metrics.twilioError(classified.code, 'send');
    if (classified.kind === 'retryable') {
      if (classified.setup)
        log.error('Twilio refused our account or sender setup; every send will fail until it is fixed', {
          code: classified.code,
        });
      // A 429 or a refusal of our own setup processed nothing: the claim goes back to what it was before this attempt
      // (an earlier attempt's unanswered call is still asked about), and the next attempt need not wait for it to
      // expire. With no answer (a timeout, a reset), or a 5xx, Twilio may have the message or still be creating it, and
      // a lookup now could miss it: the claim stays this attempt's until it expires, so no attempt calls create again
      // until Twilio is surely done, and then only after asking it.
      if (!twilioMayHaveTaken(error))
        await db.message.updateMany({
          where: { id: row.id, claimedAttempt: claim.attempt, claimedAt: claim.claimedAt },
          data: { claimedAt: row.claimedAt, claimedAttempt: null },
        });
      throw error;
    }
    const errorCode = classified.code ?? null;
    const optOutSource = classified.kind === 'opted_out' ? `twilio_error_${errorCode}` : undefined;
    const { optedOut } = await closeUnsent(db, row, { status: 'failed', errorCode }, { optOutSource });
    metrics.messageRecorded('failed');
    // Only an opt-out this refusal recorded: a STOP may have committed after the claim.
    if (optOutSource && optedOut) metrics.optOutRecorded(optOutSource);
    log.warn('Twilio refused the message', { messageId: row.id, kind: classified.kind, errorCode });
    return refusedByTwilioResult(row.id, classified.kind, errorCode);
  }
}
