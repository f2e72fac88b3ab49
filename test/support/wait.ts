import { vi } from 'vitest';
import type { Db } from '../../common/db.js';

/**
 * Polls until `probe` gives a value (for conditions outside an expect, e.g. between steps of a scenario). vitest's
 * `waitUntil` does the polling: it stops at the first truthy value and fails at once if `probe` throws; the wrapper
 * only names what was awaited in the error.
 */
export async function until<T>(
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  try {
    return await vi.waitUntil(probe, { timeout: timeoutMs, interval: 100 });
  } catch (error) {
    throw new Error(`gave up waiting for ${what}`, { cause: error });
  }
}

/** Until one session of the database waits for a tenant's event lock (the counter row recordEvent bumps). */
export const untilOneWaitsForEventLock = (db: Db) =>
  until(
    async () =>
      (
        await db.$queryRaw<{ waiting: number }[]>`
          SELECT count(*)::int AS waiting FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND query LIKE '%event_counters%'`
      )[0]?.waiting === 1 || null,
    'a writer waiting for the event lock',
  );
