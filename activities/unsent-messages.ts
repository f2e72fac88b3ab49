import { recordMessageFact } from '../common/analytics/aggregate.js';
import { releaseCapacity, releaseUnclaimedCapacity } from '../common/capacity/usage.js';
import { lockConversation } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { recordMessageEvent } from '../common/event-writers.js';
import { recordOptOut } from '../common/opt-outs.js';
import type { Message, Prisma } from '../generated/prisma/client.js';

/**
 * Closing the messages that will never go out now that what they were for has ended (an enrollment closed, an
 * appointment moved or ended): pending rows matching `where` that no attempt has claimed, so none of them can be at
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

async function skipMessages(tx: Prisma.TransactionClient, rows: { id: string }[], skipReason: string) {
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
 * The claim the row must still be pending under for a close to touch it: a settler's take (worker/claim-settler.ts), or
 * the claim, or none, an attempt read the row with (another attempt may have claimed it since, and be at Twilio).
 */
export interface HeldClaim {
  attempt: number | null;
  at: Date | null;
}

export const claimOf = (row: Pick<Message, 'claimedAttempt' | 'claimedAt'>): HeldClaim => ({
  attempt: row.claimedAttempt,
  at: row.claimedAt,
});

/** Whether the row is still pending under this claim; if not, whether it was closed without reaching Twilio. */
async function heldUnder(tx: Prisma.TransactionClient, id: string, claim: HeldClaim) {
  const [row] = await tx.$queryRaw<{ held: boolean; closedUnsent: boolean }[]>`
    SELECT status = 'pending' AND claimed_attempt IS NOT DISTINCT FROM ${claim.attempt}::int
        AND claimed_at IS NOT DISTINCT FROM ${claim.at}::timestamptz AS held,
      status IN ('skipped', 'failed') AND twilio_sid IS NULL AS "closedUnsent"
    FROM messages WHERE id = ${id}::uuid FOR NO KEY UPDATE`;
  return row ?? { held: false, closedUnsent: false };
}

/**
 * Closes one row that will never go out, giving back whatever capacity an attempt reserved for it. A row something
 * else closed first (an enrollment's close) keeps its reason, and its one event. With `optOutSource`, the recipient's
 * opt-out is recorded in the same transaction, which then takes the conversation's lock first (common/lock-order.ts).
 * With `onlyUnder`, a row that claim no longer holds is left as it is, reservation and all, unless it was closed without
 * reaching Twilio: a closed unsent row holds no capacity. True if this call closed it.
 */
export async function closeUnsent(
  db: Db,
  row: Message,
  closed: UnsentClose,
  { optOutSource, onlyUnder }: { optOutSource?: string; onlyUnder?: HeldClaim } = {},
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    // A STOP from the lead holds it while it records its own event: taken after the event lock, the two deadlock.
    if (optOutSource) await lockConversation(tx, row.tenantId, row.toPhone);
    const found = onlyUnder && (await heldUnder(tx, row.id, onlyUnder));
    if (found && !found.held) {
      // Closed since without reaching Twilio: what an attempt that read it pending reserved onto it goes back.
      if (found.closedUnsent) await releaseCapacity(tx, row.id);
      return false;
    }
    await releaseCapacity(tx, row.id);
    const { count } = await tx.message.updateMany({
      where: { id: row.id, status: 'pending' },
      data: { ...closed, heldReason: null, heldUntil: null },
    });
    if (count) {
      if (closed.status === 'skipped')
        await recordMessageEvent(tx, 'message.skipped', row, { reason: closed.skipReason });
      else
        await recordMessageFact(tx, {
          type: 'message.failed',
          message: row,
          details: { errorCode: closed.errorCode, twilioSid: null },
          fact: 'failed',
        });
    }
    if (optOutSource) await recordOptOut(tx, { tenantId: row.tenantId, phone: row.toPhone, source: optOutSource });
    return count > 0;
  });
}
