// A move or cancel the API asks an appointment's workflow for is stamped on the row first, under the conversation's
// lock, and the stamp cleared by the write that records the change (a refused change's stays until it expires). The
// send gate keeps the appointment's reminders waiting while the stamp is there: the workflow may have
// let go of the start already, its reminder in Twilio's retries, while the row still shows it until the API writes
// the change.
import type { Prisma } from '../generated/prisma/client.js';

type Tx = Prisma.TransactionClient;

/** How long a stamp holds messages back: the API's deadline on the workflow's answer (15 s), and its write. */
export const changePendingMs = 20_000;

/** Stamps the scheduled appointment's row; call it under the conversation's lock. Null when it is no longer scheduled. */
export async function stampChangeRequested(tx: Tx, appointmentId: string): Promise<Date | null> {
  const stamp = new Date();
  const { count } = await tx.appointment.updateMany({
    where: { id: appointmentId, status: 'scheduled' },
    data: { changeRequestedAt: stamp },
  });
  return count ? stamp : null;
}

/** Clears this request's stamp only: a later request's stamp stays until that request clears it. */
export async function clearChangeRequested(tx: Tx, appointmentId: string, stamp: Date): Promise<void> {
  await tx.appointment.updateMany({
    where: { id: appointmentId, changeRequestedAt: stamp },
    data: { changeRequestedAt: null },
  });
}

/** Until when a stamp keeps messages waiting, or null when there is none (or it is too old to belong to a live request). */
export function changePendingUntil(changeRequestedAt: Date | null, now: Date): Date | null {
  if (!changeRequestedAt) return null;
  const until = new Date(changeRequestedAt.getTime() + changePendingMs);
  return until > now ? until : null;
}
