// Every fact the service records becomes an event, in the transaction that records the fact: the CRM reads them from
// GET /v1/events and receives them at its webhook endpoints, in `sequence` order, with nothing lost.
import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.js';

export const eventTypes = [
  'lead.created',
  'lead.erased',
  'lead.opted_out',
  'lead.opted_in',
  'enrollment.started',
  'enrollment.closed',
  'message.sent',
  'message.delivered',
  'message.failed',
  'message.undelivered',
  'message.skipped',
  'message.clicked',
  'message.received',
  'appointment.scheduled',
  'appointment.confirmed',
  'appointment.reschedule_requested',
  'appointment.rescheduled',
  'appointment.cancelled',
  'appointment.reminder_sent',
  'appointment.reminder_missed',
  /** No more texts about it (the lead opted out, or the number cannot take messages): the appointment itself stands. */
  'appointment.reminders_stopped',
  'appointment.completed',
  'sending.budget_alert',
  'sending.paused',
  'sending.resumed',
  /** Monday morning in the tenant's zone: the week just ended against the week before (workflows/weekly-report.ts). */
  'report.weekly',
] as const;

export type EventType = (typeof eventTypes)[number];

export interface NewEvent {
  tenantId: string;
  type: EventType;
  /** The lead the event is about: an erasure scrubs personal data from its events. */
  leadId?: string | null;
  data: Prisma.InputJsonObject;
}

/**
 * Takes the tenant's event lock (the counter row recordEvent bumps) without changing it, for the transaction's
 * lifetime: `tenantOf` selects (tenant_id, 0). For a transaction that must order its other writes behind the lock.
 */
export const lockTenantEventsOf = (tenantOf: Prisma.Sql) =>
  Prisma.sql`INSERT INTO event_counters (tenant_id, last_sequence) ${tenantOf}
    ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = event_counters.last_sequence`;

/**
 * Appends an event with the tenant's next sequence number. Call it inside the transaction that records the fact: the
 * counter row stays locked until that transaction ends, so a tenant's events commit in sequence order and a reader
 * that saw sequence N never later finds a smaller one appear.
 */
export async function recordEvent(
  tx: Prisma.TransactionClient,
  event: NewEvent,
): Promise<{ id: string; sequence: bigint }> {
  // One statement: the counter's lock is held from here to the commit, and every round trip under it holds back the
  // tenant's other writers.
  const [recorded] = await tx.$queryRaw<{ id: string; sequence: bigint }[]>`
    WITH counter AS (
      INSERT INTO event_counters (tenant_id, last_sequence) VALUES (${event.tenantId}::uuid, 1)
      ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = event_counters.last_sequence + 1
      RETURNING last_sequence
    )
    INSERT INTO events (id, tenant_id, sequence, type, lead_id, data, created_at)
    SELECT ${randomUUID()}::uuid, ${event.tenantId}::uuid, last_sequence, ${event.type}, ${event.leadId ?? null}::uuid,
      ${JSON.stringify(event.data)}::jsonb, ${new Date()}
    FROM counter
    RETURNING id, sequence`;
  if (!recorded) throw new Error('event not recorded');
  return recorded;
}

/**
 * Appends one tenant's events in one statement, in the order given, with consecutive sequence numbers: the tenant's
 * event lock is taken by this statement and held only from here to the commit, however many there are (a batch's
 * `lead.created` events one by one held it for as long as 10,000 round trips, and every other writer of the tenant's
 * events, a status callback or an erasure among them, waited or timed out).
 */
export async function recordEvents(
  tx: Prisma.TransactionClient,
  tenantId: string,
  events: readonly Omit<NewEvent, 'tenantId'>[],
): Promise<void> {
  if (!events.length) return;
  const rows = events.map((event, index) => ({
    ord: index + 1,
    id: randomUUID(),
    type: event.type,
    lead_id: event.leadId ?? null,
    data: event.data,
  }));
  await tx.$executeRaw`
    WITH counter AS (
      INSERT INTO event_counters (tenant_id, last_sequence) VALUES (${tenantId}::uuid, ${events.length})
      ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = event_counters.last_sequence + ${events.length}
      RETURNING last_sequence
    )
    INSERT INTO events (id, tenant_id, sequence, type, lead_id, data, created_at)
    SELECT e.id, ${tenantId}::uuid, counter.last_sequence - ${events.length} + e.ord, e.type, e.lead_id, e.data,
      ${new Date()}
    FROM counter, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS e(ord int, id uuid, type text, lead_id uuid, data jsonb)`;
}
