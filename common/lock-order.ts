// The order a transaction takes the locks it needs, whichever of them it needs: the conversation's advisory lock
// (lockConversation), appointment rows, the lead's row, the tenant's event lock (recordEvent, lockTenantEventsOf),
// then enrollment rows (haltEnrollments, an outcome's update). Two transactions taking two of them in opposite orders
// can each wait for the other; PostgreSQL then fails one of them with a deadlock, which is an activity retried or, for
// an API call or a webhook, a 500. The event lock is taken by recording any event and held to the commit, so whatever
// a transaction locks after its first event must come after the event lock in this order, and whatever comes before
// it must be locked first, explicitly.
import type { Prisma } from '../generated/prisma/client.js';

// The row locks below are the ones an update takes (NO KEY UPDATE): rows that only reference the locked row (an event,
// a message) are still written meanwhile.

/** Locks the lead's row to the end of the transaction, whatever its status (an erased lead's update locks nothing). */
export async function lockLead(tx: Prisma.TransactionClient, leadId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM leads WHERE id = ${leadId}::uuid FOR NO KEY UPDATE`;
}

/** Locks the lead's appointments' rows to the end of the transaction. */
export async function lockAppointmentsOf(tx: Prisma.TransactionClient, leadId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM appointments WHERE lead_id = ${leadId}::uuid ORDER BY id FOR NO KEY UPDATE`;
}
