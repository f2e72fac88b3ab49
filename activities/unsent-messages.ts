import { releaseCapacity, type ReservedCapacity } from '../common/capacity/usage.js';
import { recordMessageEvent } from '../common/event-writers.js';
import type { Prisma } from '../generated/prisma/client.js';

/**
 * Closes messages that will never go out now that what they were for has ended (an enrollment closed, an appointment
 * moved or ended): pending rows no attempt has claimed, so none of them can be at Twilio. Their capacity goes back.
 * Only the rows this call closed get a `message.skipped` event: a retried close finds none left.
 */
export async function closeUnclaimedMessages(
  tx: Prisma.TransactionClient,
  where: Prisma.MessageWhereInput,
  skipReason: string,
): Promise<number> {
  const rows = await tx.message.findMany({
    where: { ...where, status: 'pending', claimedAt: null },
    select: { id: true, reservation: true },
  });
  for (const row of rows)
    if (row.reservation) await releaseCapacity(tx, row.id, row.reservation as unknown as ReservedCapacity[]);
  if (rows.length === 0) return 0;
  const closed = await tx.message.updateManyAndReturn({
    where: { id: { in: rows.map((row) => row.id) }, status: 'pending', claimedAt: null },
    data: { status: 'skipped', skipReason, heldReason: null, heldUntil: null },
    select: {
      id: true,
      tenantId: true,
      leadId: true,
      enrollmentId: true,
      appointmentId: true,
      idempotencyKey: true,
      variant: true,
    },
  });
  for (const row of closed) await recordMessageEvent(tx, 'message.skipped', row, { reason: skipReason });
  return closed.length;
}
