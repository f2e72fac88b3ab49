// A move or cancel the API asks an appointment's workflow for is stamped on the row first, under the conversation's
// lock, and the stamp cleared by the API once the workflow has answered every request stamped meanwhile (a refused
// change gives its own back; one whose request died on the way, or went unanswered, stays until it expires). The run
// writes the change it accepts itself, from its update handler, before it answers, whatever becomes of the request
// that asked (patch `change-written-on-acceptance`); for runs from before that patch the API writes it from the
// answer. The send gate keeps the appointment's reminders and its booking's confirmation waiting while the stamp is
// there: the workflow may have let go of the start already, a message in Twilio's retries, while the row still shows it.
import type { Prisma } from '../generated/prisma/client.js';
import type { AcceptedChange } from '../workflows/appointment-reminder.messages.js';
import { lockConversation } from './conversation.js';
import type { Db } from './db.js';

type Tx = Prisma.TransactionClient;

/** Runs `work` in a transaction holding the conversation's lock of the appointment's lead, as the send gate does. */
export function underLeadConversationLock<T>(
  db: Db,
  { tenantId, leadId }: { tenantId: string; leadId: string },
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  return db.$transaction(async (tx) => {
    const { phone } = await tx.lead.findUniqueOrThrow({ where: { id: leadId }, select: { phone: true } });
    await lockConversation(tx, tenantId, phone);
    return work(tx);
  });
}

/**
 * Writes a change the run accepted to the scheduled appointment's row, so the send gate refuses a message for the start
 * it left, or any reminder of a cancelled appointment; call it under the conversation's lock. Its run records the rest
 * (reminders, events, messages it closes) when its loop applies the change.
 */
export async function writeAcceptedChange(
  tx: Tx,
  { id, tenantId }: { id: string; tenantId: string },
  change: AcceptedChange,
): Promise<void> {
  if (change.kind === 'move')
    await tx.appointment.updateMany({
      where: { id, tenantId, status: 'scheduled', startsAt: new Date(change.from) },
      data: { startsAt: new Date(change.to), movedAt: change.at === null ? null : new Date(change.at) },
    });
  else
    await tx.appointment.updateMany({
      where: { id, tenantId, status: 'scheduled' },
      data: { status: 'cancelled', closedReason: change.reason, closedAt: new Date(change.at) },
    });
}

/** How long a stamp holds messages back: the API's deadline on the workflow's answer (15 s), and its write. */
export const changePendingMs = 20_000;

/**
 * Stamps the scheduled appointment's row, and counts the request among those holding the stamp (a stamp past its time
 * starts the count again); call it under the conversation's lock. By PostgreSQL's clock, which the send gate judges
 * the stamp by. Null when it is no longer scheduled.
 */
export async function stampChangeRequested(tx: Tx, appointmentId: string): Promise<Date | null> {
  const [stamped] = await tx.$queryRaw<{ stamp: Date }[]>`
    UPDATE appointments SET change_requested_at = clock_timestamp(),
      change_requests_pending = CASE
        WHEN change_requested_at > clock_timestamp() - ${changePendingMs} * interval '1 millisecond'
        THEN change_requests_pending + 1 ELSE 1 END
    WHERE id = ${appointmentId}::uuid AND status = 'scheduled'
    RETURNING change_requested_at AS stamp`;
  return stamped?.stamp ?? null;
}

/**
 * This request has its answer: the stamp is cleared once no other request stamped since it was clear is waiting for
 * one (before, a second request's answer cleared the stamp the first, still unanswered, relied on). A request whose
 * stamp has expired counts for nothing any more: the count it was in may have started again.
 */
export async function clearChangeRequested(tx: Tx, appointmentId: string, stamp: Date): Promise<void> {
  await tx.$executeRaw`
    UPDATE appointments SET change_requests_pending = change_requests_pending - 1,
      change_requested_at = CASE WHEN change_requests_pending <= 1 THEN NULL ELSE change_requested_at END
    WHERE id = ${appointmentId}::uuid AND change_requests_pending > 0 AND change_requested_at >= ${stamp}
      AND ${stamp}::timestamptz > clock_timestamp() - ${changePendingMs} * interval '1 millisecond'`;
}

/** Until when a stamp keeps messages waiting, or null when there is none (or it is too old to belong to a live request). */
export function changePendingUntil(changeRequestedAt: Date | null, now: Date): Date | null {
  if (!changeRequestedAt) return null;
  const until = new Date(changeRequestedAt.getTime() + changePendingMs);
  return until > now ? until : null;
}
