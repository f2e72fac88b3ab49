import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { recordMessageFact } from '../../common/analytics/aggregate.js';
import { lockConversation } from '../../common/conversation.js';
import { statusesBelow } from '../../common/message-status.js';
import { recordOptOut } from '../../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import type { MessageStatus } from '../../generated/prisma/enums.js';
import { isUniqueViolation } from '../../common/db-errors.js';

export interface StatusParams {
  MessageSid: string;
  MessageStatus: MessageStatus;
  ErrorCode?: number | undefined;
}

export type StatusResult =
  { kind: 'duplicate' | 'unknown_message' } | { kind: 'processed'; moved: boolean; signalIds: string[] };

/** The statuses a CRM hears of; the ones on the way there (queued, sending, sent) are not events. */
const eventOfStatus = {
  delivered: 'message.delivered',
  failed: 'message.failed',
  undelivered: 'message.undelivered',
} as const;
const isEventStatus = (status: MessageStatus): status is keyof typeof eventOfStatus => status in eventOfStatus;

/** Thrown inside the transaction so the processed-webhook key is not kept for a message we can't match yet. */
class UnknownMessage extends Error {}

/** A status callback: the row moves forward only (and a move to delivered, failed or undelivered is an event); 21610 records an opt-out; 30007 is kept for the tenant's report. */
export async function processStatus(db: Db, logger: Logger, params: StatusParams): Promise<StatusResult> {
  try {
    return await db.$transaction(async (tx) => {
      await tx.processedWebhook.create({
        data: { key: `status:${params.MessageSid}:${params.MessageStatus}`, kind: 'status' },
      });
      const message = await tx.message.findUnique({ where: { twilioSid: params.MessageSid } });
      // A callback can beat the send activity's write of the SID ("maybe sent", then reconciled): keeping no key lets
      // Twilio's retry of it be processed once the row knows its SID.
      if (!message) throw new UnknownMessage();
      // Its opt-out takes the conversation's lock, first in common/lock-order.ts: before the row and the event.
      if (params.ErrorCode === 21610) await lockConversation(tx, message.tenantId, message.toPhone);
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
      if (params.ErrorCode === 21610) {
        await recordOptOut(tx, {
          tenantId: message.tenantId,
          phone: message.toPhone,
          source: 'twilio_error_21610',
          messageSid: params.MessageSid,
        });
        signalIds = await queueSignalsForPhone(tx, message.tenantId, message.toPhone, {
          signal: signalNames.optOut,
          payload: { source: 'twilio_error_21610' },
        });
      }
      if (params.ErrorCode === 30007)
        logger.warn(
          { tenantId: message.tenantId, messageId: message.id },
          'carrier filtering (30007): review content and sending rate',
        );
      return { kind: 'processed' as const, moved: count > 0, signalIds };
    });
  } catch (error) {
    if (isUniqueViolation(error)) return { kind: 'duplicate' };
    if (error instanceof UnknownMessage) return { kind: 'unknown_message' };
    throw error;
  }
}
