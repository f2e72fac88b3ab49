// The counts a send reserves in PostgreSQL (warm-up messages per number, budget spent per tenant): one row per
// (scope, period) in capacity_usage, changed under its row lock so concurrent sends never pass a limit.
import { Prisma } from '../../generated/prisma/client.js';
import type { CapacityWait } from './waits.js';

type Tx = Prisma.TransactionClient;

/** One count a send took (a warm-up message, a budget amount), kept on the message row so it can be given back. */
export interface ReservedCapacity {
  scope: string;
  period: string;
  amount: string;
}

export interface UsageLimit {
  max: Prisma.Decimal;
  /** What a send waits for when the count is full. */
  waitWhenFull: CapacityWait;
  /** Budgets alert their tenant when spending crosses the threshold. */
  alert?: { tenantId: string; budget: 'daily' | 'monthly'; budgetLimit: Prisma.Decimal };
}

/** An amount to add to one count (negative to give back), and the limit it must stay within. */
export interface UsageChange {
  scope: string;
  period: string;
  amount: Prisma.Decimal;
  /** Null for a give-back, which is never refused. */
  limit: UsageLimit | null;
}

/** Adds the change's amount to its count unless that would pass its limit: the count after, or null when refused. */
export async function applyUsageChange(tx: Tx, change: UsageChange): Promise<Prisma.Decimal | null> {
  const amount = change.amount.toString();
  if (change.limit === null) {
    await tx.$executeRaw`UPDATE capacity_usage SET used = GREATEST(used + ${amount}::numeric, 0), updated_at = now() WHERE scope = ${change.scope} AND period = ${change.period}`;
    return null;
  }
  const limit = change.limit.max.toString();
  // One statement: concurrent sends queue on the row's lock and each re-checks the limit against the committed count.
  const rows = await tx.$queryRaw<{ used: Prisma.Decimal }[]>`
    INSERT INTO capacity_usage (scope, period, used, updated_at)
    SELECT ${change.scope}, ${change.period}, ${amount}::numeric, now() WHERE ${amount}::numeric <= ${limit}::numeric
    ON CONFLICT (scope, period) DO UPDATE SET used = capacity_usage.used + EXCLUDED.used, updated_at = now()
      WHERE capacity_usage.used + EXCLUDED.used <= ${limit}::numeric
    RETURNING used`;
  return rows[0] ? new Prisma.Decimal(rows[0].used) : null;
}

/**
 * What is left to change once an earlier attempt's reservation is given back against this attempt's needs: one change
 * per count, in one lock order (so concurrent sends never deadlock).
 */
export function changesNetOfEarlier(earlier: ReservedCapacity[], needed: UsageChange[]): UsageChange[] {
  const byKey = new Map<string, UsageChange>();
  for (const change of needed) byKey.set(`${change.scope}\u0000${change.period}`, { ...change });
  for (const old of earlier) {
    const key = `${old.scope}\u0000${old.period}`;
    const current = byKey.get(key);
    // Already counted in this period: only the difference is taken, and a count that shrank is never refused.
    if (current) {
      current.amount = current.amount.minus(old.amount);
      if (!current.amount.greaterThan(0)) current.limit = null;
    } else
      byKey.set(key, {
        scope: old.scope,
        period: old.period,
        amount: new Prisma.Decimal(old.amount).negated(),
        limit: null,
      });
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, change]) => change);
}

/**
 * What the message's attempts hold reserved now, its row locked to the end of the transaction: the message comes
 * before the counts in the lock order (common/lock-order.ts), and a close may have given back what an attempt read
 * earlier.
 */
export async function lockReservation(tx: Tx, messageId: string): Promise<ReservedCapacity[]> {
  return (await lockMessageForCapacity(tx, messageId)).reservation;
}

/** The message's reservation and whether it is still pending, its row locked to the end of the transaction. */
export async function lockMessageForCapacity(
  tx: Tx,
  messageId: string,
): Promise<{ reservation: ReservedCapacity[]; pending: boolean }> {
  const [row] = await tx.$queryRaw<{ reservation: ReservedCapacity[] | null; pending: boolean }[]>`
    SELECT reservation, status = 'pending' AS pending FROM messages WHERE id = ${messageId}::uuid FOR NO KEY UPDATE`;
  return { reservation: row?.reservation ?? [], pending: row?.pending ?? false };
}

/** Gives back what a message's attempts reserved (nothing when none did), in the transaction that closes it unsent. */
export async function releaseCapacity(tx: Tx, messageId: string): Promise<void> {
  await giveBack(tx, messageId, await lockReservation(tx, messageId));
}

/** Gives back `reservation`, read from the message's row under its lock, and clears it. */
async function giveBack(tx: Tx, messageId: string, reservation: ReservedCapacity[]): Promise<void> {
  if (reservation.length === 0) return;
  for (const change of changesNetOfEarlier(reservation, [])) await applyUsageChange(tx, change);
  await tx.message.update({ where: { id: messageId }, data: { reservation: Prisma.DbNull } });
}

/**
 * Gives back what the pending messages matching `where` that no attempt has claimed hold reserved: messages that will
 * never go out (a close skips them, an erasure deletes them). The caller has locked them, and takes no event lock
 * before this (common/lock-order.ts). The rows found, reserved or not.
 */
export async function releaseUnclaimedCapacity(
  tx: Tx,
  where: Prisma.MessageWhereInput,
): Promise<{ id: string; heldReason: string | null }[]> {
  const rows = await tx.message.findMany({
    where: { ...where, status: 'pending', claimedAt: null },
    select: { id: true, reservation: true, heldReason: true },
  });
  // Locked by the caller, so this read is what they hold: no second, locking read per row.
  for (const row of rows) await giveBack(tx, row.id, (row.reservation as unknown as ReservedCapacity[] | null) ?? []);
  return rows;
}
