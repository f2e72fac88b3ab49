// Worst interleavings of transactions, staged: one transaction held open between two of its steps while others queue
// behind it, then released.
import type { Db } from '../../common/db.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { until } from './wait.js';

/**
 * A transaction that runs `first`, then waits for `release` before `then`. Resolves once `first` is done, with the
 * transaction's backend pid (what the others' waits are traced to).
 */
export async function heldTransaction(
  db: Db,
  first: (tx: Prisma.TransactionClient) => Promise<unknown>,
  then: (tx: Prisma.TransactionClient) => Promise<unknown> = async () => {},
) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let signalHeld = (_pid: number) => {};
  const held = new Promise<number>((resolve) => (signalHeld = resolve));
  const committed = db.$transaction(
    async (tx) => {
      const [{ pid }] = await tx.$queryRaw<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;
      await first(tx);
      signalHeld(pid);
      await released;
      await then(tx);
    },
    { timeout: 30_000 },
  );
  const pid = await Promise.race([held, committed.then(() => 0)]);
  return { pid, release, committed };
}

/** Until `count` sessions wait for the holder's transaction, directly or behind another waiting session. */
export const untilWaitingBehind = (db: Db, holderPid: number, count: number) =>
  until(
    async () =>
      (
        await db.$queryRaw<{ waiting: number }[]>`
          WITH RECURSIVE behind(pid) AS (
            SELECT pid FROM pg_stat_activity WHERE ${holderPid}::int = ANY (pg_blocking_pids(pid))
            UNION
            SELECT activity.pid FROM pg_stat_activity activity JOIN behind ON behind.pid = ANY (pg_blocking_pids(activity.pid))
          )
          SELECT count(*)::int AS waiting FROM behind`
      )[0]?.waiting === count || null,
    `${count} sessions waiting behind ${holderPid}`,
  );
