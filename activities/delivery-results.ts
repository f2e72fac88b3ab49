// What a message's row answers once it is closed, and how the reasons a message never went out map onto outcomes.
import { haltReasons } from '../common/conversation.js';
import type { Message } from '../generated/prisma/client.js';
import type { DeliveryResult } from './outbound-message.js';
import { missedSkipReason, type SendDeadline } from './send-deadline.js';
import type { HaltedBy, SmsFailureKind } from './send-step-message.types.js';
import { failureKindForCode } from './twilio-errors.js';

// An opt-out is an outcome of its own; every other halt, and a closed enrollment, answers `halted`.
const haltingReasons = new Set<string>([
  ...haltReasons.filter((reason) => reason !== 'opted_out'),
  'enrollment_closed',
] satisfies HaltedBy[]);
const isHaltReason = (reason: string): reason is HaltedBy => haltingReasons.has(reason);

/** A message skipped for `reason`: an opt-out, a fact that ended its enrollment, or a skip of its own. */
export function skippedResult(messageId: string, reason: string): DeliveryResult {
  // A number's block ends the run as the lead's own opt-out does; the row and its event say which it was.
  if (reason === 'opted_out' || reason === 'number_blocked') return { outcome: 'opted_out', messageId };
  if (isHaltReason(reason)) return { outcome: 'halted', messageId, reason };
  return { outcome: 'skipped', messageId, reason };
}

/** A create call Twilio refused for good: an unsubscribed recipient is an opt-out, anything else a failure. */
export const refusedByTwilioResult = (
  messageId: string,
  kind: SmsFailureKind,
  errorCode: number | null,
): DeliveryResult =>
  kind === 'opted_out' ? { outcome: 'opted_out', messageId } : { outcome: 'failed', messageId, kind, errorCode };

/** What a closed row says happened, on a retry that finds it so; a `pending` row is unfinished and never answers. */
export function resultOfClosedRow<Outcome>(row: Message, deadline: SendDeadline<Outcome>): DeliveryResult | Outcome {
  switch (row.status) {
    case 'pending':
      throw new Error(`message ${row.id} is still pending`);
    case 'skipped':
      if (row.skipReason === missedSkipReason) return deadline.outcomeWhenMissed;
      return skippedResult(row.id, row.skipReason ?? 'skipped');
    case 'failed':
    case 'undelivered':
      // A create call Twilio refused is final; a failed delivery reported later does not make the message unsent.
      if (row.twilioSid !== null) return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
      return refusedByTwilioResult(row.id, failureKindForCode(row.errorCode), row.errorCode);
    default:
      return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
  }
}
