// A Twilio status callback applied to its message row, by the webhook (api/webhooks/status.ts) or, for callbacks that
// came before the row knew its SID and were parked, by the write of the SID (activities/twilio-handover.ts).
import { recordMessageFact } from './analytics/aggregate.js';
import { statusesBelow } from './message-status.js';
import { phoneHashes, recordOptOut, twilio21610Source } from './opt-outs.js';
import { queueSignalsForPhone, signalNames } from './pending-signals.js';
import type { Message, Prisma } from '../generated/prisma/client.js';
import type { MessageStatus } from '../generated/prisma/enums.js';

type Tx = Prisma.TransactionClient;

export interface StatusParams {
  MessageSid: string;
  MessageStatus: MessageStatus;
  ErrorCode?: number | undefined;
}

/** Where a status's warnings go: the request's logger, or the activity's. */
export interface StatusLogger {
  warn(facts: Record<string, unknown>, message: string): void;
}

/**
 * Unknown or inactive number (30005), landline or unreachable carrier (30006), carrier filtering (30007); and the
 * create call's own refusals, invalid number (21211) and not a mobile (21614), which a Messaging Service reports this
 * way, having accepted the call.
 */
const haltingCodes = new Set([30005, 30006, 30007, 21211, 21614]);

/** The statuses a CRM hears of; the ones on the way there (queued, sending, sent) are not events. */
const eventOfStatus = {
  delivered: 'message.delivered',
  failed: 'message.failed',
  undelivered: 'message.undelivered',
} as const;
export const isEventStatus = (status: MessageStatus): status is keyof typeof eventOfStatus => status in eventOfStatus;

/**
 * Takes the transaction-scoped lock of a Twilio SID's status callbacks: a callback's look for the row and the write of
 * the SID on the row (recordHandover) take it first, so a callback is either applied to the row or parked before the
 * SID's writer looks for parked ones, never neither. Nothing else takes it: it comes before every lock of
 * common/lock-order.ts.
 */
export async function lockStatusCallbacksOf(tx: Tx, sid: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`status-callbacks:${sid}`}, 0))`;
}

/**
 * The callbacks parked for a SID, in the order their statuses rank (common/message-status.ts), as they would have moved
 * the row had they come after it knew its SID. Call it under lockStatusCallbacksOf.
 */
export async function parkedStatusesOf(tx: Tx, sid: string): Promise<StatusParams[]> {
  const parked = await tx.earlyStatusCallback.findMany({ where: { messageSid: sid } });
  return parked
    .map((row) => ({ MessageSid: row.messageSid, MessageStatus: row.status, ErrorCode: row.errorCode ?? undefined }))
    .sort((a, b) => statusesBelow(a.MessageStatus).length - statusesBelow(b.MessageStatus).length);
}

/**
 * A 21610 records an opt-out, and a halting code halts the lead's follow-ups: facts the send gate reads under the
 * conversation's lock, so they take it too (first in common/lock-order.ts, before the row). Without it, a halt committed
 * between the gate's read and its claim let one more text go to a number Twilio had just called undeliverable.
 */
export const needsConversationLock = ({ ErrorCode: code }: StatusParams) =>
  code !== undefined && (code === 21610 || haltingCodes.has(code));

/**
 * Whether the lead opted back in (START, or the API with their consent) after the message went out: Twilio's 21610
 * about it, arriving late (parked until its SID was recorded, or found by a lookup), is older news than that opt-in.
 */
async function optedInSince(tx: Tx, message: Message): Promise<boolean> {
  const optIn = await tx.consentEvent.findFirst({
    where: {
      tenantId: message.tenantId,
      phoneHash: { in: phoneHashes(message.toPhone) },
      kind: 'opt_in',
      createdAt: { gt: message.sentAt ?? message.createdAt },
    },
    select: { id: true },
  });
  return optIn !== null;
}

/**
 * A status applied to the message row with its SID: the row moves forward only (and a move to delivered, failed or
 * undelivered is an event); 21610 records an opt-out (unless the lead opted back in since the message went out;
 * `optedOut`: none stood before);
 * 30005-30007, 21211 and 21614 halt the lead's running enrollments; 30007 is kept for the tenant's report. The caller
 * has taken the conversation's lock when needsConversationLock says so. Shared by the webhook and by the row that
 * records a SID whose callbacks were parked, or one a lookup found.
 */
export async function applyStatus(
  tx: Tx,
  logger: StatusLogger,
  message: Message,
  params: StatusParams,
): Promise<{ moved: boolean; signalIds: string[]; optedOut: boolean }> {
  const { count } = await tx.message.updateMany({
    where: { id: message.id, status: { in: statusesBelow(params.MessageStatus) } },
    data: { status: params.MessageStatus, ...(params.ErrorCode ? { errorCode: params.ErrorCode } : {}) },
  });
  // Only a move records an event: a late or repeated callback moves nothing.
  if (count && isEventStatus(params.MessageStatus))
    await recordMessageFact(tx, {
      type: eventOfStatus[params.MessageStatus],
      message,
      details: { twilioSid: params.MessageSid, errorCode: params.ErrorCode ?? null },
      fact: params.MessageStatus === 'delivered' ? 'delivered' : 'failed',
    });
  let signalIds: string[] = [];
  let optedOut = false;
  if (params.ErrorCode === 21610 && !(await optedInSince(tx, message))) {
    optedOut = !(await recordOptOut(tx, {
      tenantId: message.tenantId,
      phone: message.toPhone,
      source: twilio21610Source,
      messageSid: params.MessageSid,
    }));
    signalIds = await queueSignalsForPhone(tx, message.tenantId, message.toPhone, {
      signal: signalNames.optOut,
      payload: { source: twilio21610Source },
    });
  }
  // The number cannot get messages, or the carrier filters them as spam: the lead's next steps would fare no better.
  // The gate refuses them from now on (enrollment rows come last in common/lock-order.ts, after the events above),
  // and the runs hear of it now, not at their next step days away.
  if (params.ErrorCode !== undefined && haltingCodes.has(params.ErrorCode) && message.leadId)
    signalIds = await queueSignalsForPhone(tx, message.tenantId, message.toPhone, {
      signal: signalNames.undeliverable,
      payload: { errorCode: params.ErrorCode, messageSid: params.MessageSid },
    });
  if (params.ErrorCode === 30007)
    logger.warn(
      { tenantId: message.tenantId, messageId: message.id },
      'carrier filtering (30007): review content and sending rate',
    );
  return { moved: count > 0, signalIds, optedOut };
}
