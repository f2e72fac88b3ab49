import { releaseUnclaimedCapacity } from './capacity/usage.js';
import { recordMessageEvent } from './event-writers.js';
import type { Prisma } from '../generated/prisma/client.js';

/** A skipped message's event names what held it, when something did. */
export const heldByDetail = (heldReason: string | null | undefined) => (heldReason ? { heldBy: heldReason } : {});

/**
 * Closing the messages that will never go out now that what they were for has ended (an enrollment closed, an
 * appointment moved or ended, a step skipped over): pending rows matching `where` that no attempt has claimed, so none of them can be at
 * Twilio. Begun before the close records any event, with the rows locked (lockUnclaimedMessagesOf): their capacity
 * goes back now, as the counts come before the event lock (common/lock-order.ts). `close` then skips them; only the
 * rows it closed get a `message.skipped` event, so a retried close finds none left.
 */
export async function beginClosingUnclaimed(
  tx: Prisma.TransactionClient,
  where: Prisma.MessageWhereInput,
  skipReason: string,
): Promise<{ close: () => Promise<number> }> {
  const rows = await releaseUnclaimedCapacity(tx, where);
  return { close: () => skipMessages(tx, rows, skipReason) };
}

async function skipMessages(
  tx: Prisma.TransactionClient,
  rows: { id: string; heldReason: string | null }[],
  skipReason: string,
) {
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
  // What held it until then (the window, a cap, a budget...): the close's reason alone would hide it.
  const heldBy = new Map(rows.map((row) => [row.id, row.heldReason]));
  for (const row of closed)
    await recordMessageEvent(tx, 'message.skipped', row, { reason: skipReason, ...heldByDetail(heldBy.get(row.id)) });
  return closed.length;
}
