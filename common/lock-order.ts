// The order a transaction takes the locks it needs, whichever of them it needs: a Twilio SID's status-callback lock
// (lockStatusCallbacksOf, common/status-callbacks.ts), the conversation's advisory lock (lockConversation),
// appointment rows, the lead's row, message rows, their short links' rows, the capacity counts' rows (common/capacity:
// sending_numbers, then capacity_usage in key order), the tenant's event lock (recordEvent, lockTenantEventsOf), then
// enrollment rows (haltEnrollments, an outcome's update). Two transactions taking two of them in opposite orders can
// each wait for the other; PostgreSQL then fails one of them with a deadlock, which is an activity retried or, for an
// API call or a webhook, a 500. The event lock is taken by recording any event and held to the commit, so whatever a
// transaction locks after its first event must come after the event lock in this order, and whatever comes before it
// must be locked first, explicitly (the helpers below; a message's reservation: lockReservation). So a send reserving
// or giving back capacity locks its message first, and a close gives back its messages' capacity before its events.
import { Prisma } from '../generated/prisma/client.js';

type Tx = Prisma.TransactionClient;

// Row locks as strong as the update that follows (NO KEY UPDATE): rows that only reference the locked row (an event, a
// message) are still written meanwhile.

/** Locks the lead's row to the end of the transaction, whatever its status (an erased lead's update locks nothing). */
export async function lockLead(tx: Tx, leadId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM leads WHERE id = ${leadId}::uuid FOR NO KEY UPDATE`;
}

/** Locks one appointment's row to the end of the transaction. */
export async function lockAppointment(tx: Tx, appointmentId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM appointments WHERE id = ${appointmentId}::uuid FOR NO KEY UPDATE`;
}

/** Locks the lead's appointments' rows to the end of the transaction. */
export async function lockAppointmentsOf(tx: Tx, leadId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM appointments WHERE lead_id = ${leadId}::uuid ORDER BY id FOR NO KEY UPDATE`;
}

/**
 * Locks, for deletion, every message to, from or about the lead in the tenant (what an erasure deletes): by direction,
 * as a phone may also be one of the tenant's own numbers (the other leads' texts to and from it are not the lead's).
 */
export async function lockMessagesOfLead(
  tx: Tx,
  { tenantId, leadId, phone }: { tenantId: string; leadId: string; phone: string },
): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM messages WHERE tenant_id = ${tenantId}::uuid
    AND (lead_id = ${leadId}::uuid OR (direction = 'outbound' AND to_phone = ${phone})
      OR (direction = 'inbound' AND from_phone = ${phone})) ORDER BY id FOR UPDATE`;
}

/** Locks the pending messages no attempt has claimed of an enrollment or an appointment (what its close closes). */
export async function lockUnclaimedMessagesOf(
  tx: Tx,
  of: { enrollmentId: string } | { appointmentId: string },
): Promise<void> {
  const owner =
    'enrollmentId' in of
      ? Prisma.sql`enrollment_id = ${of.enrollmentId}::uuid`
      : Prisma.sql`appointment_id = ${of.appointmentId}::uuid`;
  await tx.$executeRaw`SELECT 1 FROM messages WHERE ${owner} AND status = 'pending' AND claimed_at IS NULL
    ORDER BY id FOR NO KEY UPDATE`;
}
