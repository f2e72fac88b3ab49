import { recordMessageFact } from '../common/analytics/aggregate.js';
import { releaseCapacity } from '../common/capacity/usage.js';
import { lockConversation } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { recordMessageEvent } from '../common/event-writers.js';
import { recordOptOut } from '../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../common/pending-signals.js';
import { heldByDetail } from '../common/unclaimed-messages.js';
import type { Message, Prisma } from '../generated/prisma/client.js';

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
 * reaching Twilio: a closed unsent row holds no capacity. `closed`: this call closed it; `optedOut`: it recorded an
 * opt-out where none stood.
 */
export async function closeUnsent(
  db: Db,
  row: Message,
  closed: UnsentClose,
  { optOutSource, onlyUnder, heldBy }: { optOutSource?: string; onlyUnder?: HeldClaim; heldBy?: string | null } = {},
): Promise<{ closed: boolean; optedOut: boolean }> {
  return db.$transaction(async (tx) => {
    // A STOP from the lead holds it while it records its own event: taken after the event lock, the two deadlock.
    if (optOutSource) await lockConversation(tx, row.tenantId, row.toPhone);
    const found = onlyUnder && (await heldUnder(tx, row.id, onlyUnder));
    if (found && !found.held) {
      // Closed since without reaching Twilio: what an attempt that read it pending reserved onto it goes back.
      if (found.closedUnsent) await releaseCapacity(tx, row.id);
      return { closed: false, optedOut: false };
    }
    await releaseCapacity(tx, row.id);
    const { count } = await tx.message.updateMany({
      where: { id: row.id, status: 'pending' },
      data: { ...closed, heldReason: null, heldUntil: null },
    });
    if (count) {
      if (closed.status === 'skipped')
        await recordMessageEvent(tx, 'message.skipped', row, { reason: closed.skipReason, ...heldByDetail(heldBy) });
      else
        await recordMessageFact(tx, {
          type: 'message.failed',
          message: row,
          details: { errorCode: closed.errorCode, twilioSid: null },
          fact: 'failed',
        });
    }
    let optedOut = false;
    if (optOutSource) {
      optedOut = !(await recordOptOut(tx, { tenantId: row.tenantId, phone: row.toPhone, source: optOutSource }));
      // The phone's other runs (its appointments' reminders, a follow-up) hear of it now, as from a callback's 21610,
      // not at their next send's gate; the API's signal relay delivers them.
      await queueSignalsForPhone(tx, row.tenantId, row.toPhone, {
        signal: signalNames.optOut,
        payload: { source: optOutSource },
      });
    }
    return { closed: count > 0, optedOut };
  });
}
