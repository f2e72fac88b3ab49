import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { lockConversation } from '../../common/conversation.js';
import { isUniqueViolation } from '../../common/db-errors.js';
import { twilio21610Source } from '../../common/opt-outs.js';
import type { WebhookMetrics } from '../../common/metrics.js';
import { deliverOrLeaveQueued, type SignalRelay } from '../signal-relay.js';
import {
  applyStatus,
  lockStatusCallbacksOf,
  needsConversationLock,
  type StatusParams,
} from '../../common/status-callbacks.js';

export type { StatusParams } from '../../common/status-callbacks.js';

/** `unknown_message`: no row has the SID yet, so the callback is parked for the row that records it. */
export type StatusResult =
  | { kind: 'duplicate' | 'unknown_message' }
  | { kind: 'processed'; moved: boolean; signalIds: string[]; optedOut: boolean };

/**
 * A status callback, processed once per (MessageSid, status). Its message row found by the SID: applied
 * (applyStatus). None has the SID yet (a callback that beats the record of the create call's answer, or of a
 * timed-out call's message found at Twilio later): parked, since Twilio does not send a callback answered 200 again;
 * the row that records the SID applies it (activities/twilio-handover.ts).
 */
export async function processStatus(db: Db, logger: Logger, params: StatusParams): Promise<StatusResult> {
  try {
    return await db.$transaction(async (tx) => {
      await tx.processedWebhook.create({
        data: { key: `status:${params.MessageSid}:${params.MessageStatus}`, kind: 'status' },
      });
      await lockStatusCallbacksOf(tx, params.MessageSid);
      const message = await tx.message.findUnique({ where: { twilioSid: params.MessageSid } });
      if (!message) {
        await tx.earlyStatusCallback.createMany({
          data: { messageSid: params.MessageSid, status: params.MessageStatus, errorCode: params.ErrorCode ?? null },
          skipDuplicates: true,
        });
        return { kind: 'unknown_message' as const };
      }
      if (needsConversationLock(params)) await lockConversation(tx, message.tenantId, message.toPhone);
      return { kind: 'processed' as const, ...(await applyStatus(tx, logger, message, params)) };
    });
  } catch (error) {
    if (isUniqueViolation(error)) return { kind: 'duplicate' };
    throw error;
  }
}

export interface StatusCallbackDeps {
  db: Db;
  signalRelay: SignalRelay;
  metrics: Pick<WebhookMetrics, 'twilioError' | 'optOutRecorded'>;
}

/** A status callback processed now, by the webhook or late from the spool: counted, and its signals delivered. */
export async function recordStatusCallback(
  { db, signalRelay, metrics }: StatusCallbackDeps,
  logger: Logger,
  params: StatusParams,
): Promise<StatusResult> {
  const result = await processStatus(db, logger, params);
  if (result.kind !== 'processed') return result;
  if (params.ErrorCode) {
    metrics.twilioError(params.ErrorCode, 'status_callback');
    // Only an opt-out this callback recorded: a 21610 for a phone opted out already, or back in since, is none.
    if (result.optedOut) metrics.optOutRecorded(twilio21610Source);
  }
  await deliverOrLeaveQueued(signalRelay, logger, result.signalIds);
  return result;
}
