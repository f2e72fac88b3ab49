// Shared by the writers of events (common/events.ts): the IDs every message event carries, so a CRM can file it
// without asking back (the lead, and the enrollment and step or the appointment), and the once-only check for facts
// that two writers may record.
import type { Lead, Message, Prisma } from '../generated/prisma/client.js';
import { recordEvent, type EventType, type NewEvent } from './events.js';

/** A new lead, as the API (one or a batch) created it. */
export const leadCreatedEvent = (lead: Lead): NewEvent => ({
  tenantId: lead.tenantId,
  type: 'lead.created',
  leadId: lead.id,
  data: {
    leadId: lead.id,
    phone: lead.phone,
    firstName: lead.firstName,
    lastName: lead.lastName,
    timeZone: lead.timeZone,
  },
});

export type MessageEventType = Extract<EventType, `message.${string}`>;
export type MessageRef = Pick<
  Message,
  'id' | 'tenantId' | 'leadId' | 'enrollmentId' | 'appointmentId' | 'idempotencyKey'
> &
  Partial<Pick<Message, 'variant'>>;

/** A sequence step's message is keyed `<enrollmentId>:<step>` (activities/send-step-message.ts); other keys carry no step. */
export function stepOfMessage({
  enrollmentId,
  idempotencyKey,
}: Pick<Message, 'enrollmentId' | 'idempotencyKey'>): number | null {
  const prefix = `${enrollmentId}:`;
  if (!enrollmentId || !idempotencyKey?.startsWith(prefix)) return null;
  const step = Number(idempotencyKey.slice(prefix.length));
  return Number.isInteger(step) ? step : null;
}

/** Call it in the transaction that moved the message, and only when it moved (a retry records nothing new). */
export function recordMessageEvent(
  tx: Prisma.TransactionClient,
  type: MessageEventType,
  message: MessageRef,
  details: Prisma.InputJsonObject = {},
) {
  return recordEvent(tx, {
    tenantId: message.tenantId,
    type,
    leadId: message.leadId,
    data: {
      messageId: message.id,
      leadId: message.leadId,
      enrollmentId: message.enrollmentId,
      step: stepOfMessage(message),
      ...(message.variant ? { variant: message.variant } : {}),
      appointmentId: message.appointmentId,
      ...details,
    },
  });
}

/**
 * Records a fact that two writers may record (the API and the workflow's own activity) unless its event is already
 * there, found by the fact's ID at `data[idKey]`: true when this call recorded it. Callers hold a lock on the fact's
 * row, so the second writer waits and then sees the first one's event.
 */
export async function recordEventOnce(
  tx: Prisma.TransactionClient,
  { idKey, ...event }: NewEvent & { leadId: string; idKey: string },
): Promise<boolean> {
  const { tenantId, leadId, type } = event;
  const id = event.data[idKey];
  if (typeof id !== 'string') throw new Error(`${type} event has no ${idKey}`);
  if (await tx.event.count({ where: { tenantId, leadId, type, data: { path: [idKey], equals: id } } })) return false;
  await recordEvent(tx, event);
  return true;
}
