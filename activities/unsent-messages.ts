import { countMessageFact } from '../common/analytics/aggregate.js';
import { releaseCapacity, type ReservedCapacity } from '../common/capacity/usage.js';
import type { Db } from '../common/db.js';
import { recordMessageEvent } from '../common/event-writers.js';
import type { Message, Prisma } from '../generated/prisma/client.js';

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

/** How a row that never reached Twilio closes: skipped by a decision, or failed because Twilio refused the create call. */
export type UnsentClose = { status: 'skipped'; skipReason: string } | { status: 'failed'; errorCode: number | null };

/**
 * Closes one row that will never go out, giving back whatever capacity an attempt reserved for it. A row something
 * else closed first (an enrollment's close) keeps its reason, and its one event. `also` runs in the same transaction.
 */
export async function closeUnsent(
  db: Db,
  row: Message,
  closed: UnsentClose,
  also?: (tx: Prisma.TransactionClient) => Promise<void>,
): Promise<void> {
  await db.$transaction(async (tx) => {
    await releaseReservation(tx, row.id);
    const { count } = await tx.message.updateMany({
      where: { id: row.id, status: 'pending' },
      data: { ...closed, heldReason: null, heldUntil: null },
    });
    if (count) {
      if (closed.status === 'skipped')
        await recordMessageEvent(tx, 'message.skipped', row, { reason: closed.skipReason });
      else {
        await recordMessageEvent(tx, 'message.failed', row, { errorCode: closed.errorCode, twilioSid: null });
        await countMessageFact(tx, row.id, 'failed');
      }
    }
    await also?.(tx);
  });
}

/** Gives back what the row's attempts reserved (nothing when none did). */
export async function releaseReservation(tx: Prisma.TransactionClient, rowId: string): Promise<void> {
  const { reservation } = await tx.message.findUniqueOrThrow({ where: { id: rowId }, select: { reservation: true } });
  if (reservation) await releaseCapacity(tx, rowId, reservation as unknown as ReservedCapacity[]);
}
