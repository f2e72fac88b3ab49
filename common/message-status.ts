import type { MessageStatus } from '../generated/prisma/enums.js';

/**
 * Twilio's status callbacks can arrive late or out of order; a status only ever replaces one ranked below it.
 * Final states share the top rank: once delivered, undelivered, failed, read or canceled, a message stays so.
 */
const rank: Record<MessageStatus, number> = {
  pending: 0,
  simulated: 0,
  skipped: 0,
  accepted: 1,
  scheduled: 1,
  queued: 2,
  sending: 3,
  sent: 4,
  delivered: 5,
  undelivered: 5,
  failed: 5,
  canceled: 5,
  received: 5,
  read: 6,
};

/** What Twilio says of a message we created, in the create call's answer or when asked later. */
export const createdStatuses = [
  'accepted',
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
] as const satisfies readonly MessageStatus[];
export type CreatedStatus = (typeof createdStatuses)[number];

/** What a status callback may say: a created message's statuses and the ones only callbacks bring. */
export const callbackStatuses = [...createdStatuses, 'read', 'canceled'] as const satisfies readonly MessageStatus[];

/**
 * Statuses Twilio documents that say nothing this service tracks of a text it sent (`partially_delivered` is of
 * messages in parts on other channels; `receiving` and `received` are of inbound ones): answered 200 and left alone,
 * as a 400 would be a refusal of Twilio's own webhook.
 */
export const untrackedCallbackStatuses = ['partially_delivered', 'receiving', 'received'] as const;

/** The statuses a message may be in for `next` to replace it. */
export function statusesBelow(next: MessageStatus): MessageStatus[] {
  return (Object.keys(rank) as MessageStatus[]).filter(
    (status) => rank[status] < rank[next] && status !== 'skipped' && status !== 'simulated',
  );
}
