// Sends per second per number and per tenant: rate-limiter-flexible's PostgreSQL store over the Db's own pool, its
// windows rows of rate_limit_windows, so every worker process shares them. One statement per slot taken or looked at,
// sent through `pg` without Prisma's client: a send looks at both windows, then takes a slot of each.
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { sqlQueriesOf, type Db } from '../db.js';
import type { CapacitySettings } from './settings.js';
import type { CapacityWait } from './waits.js';

const msUntilNextWindow = (rejection: unknown): number => {
  if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
  throw rejection;
};

export function createThroughput({
  db,
  settings,
  later,
}: {
  db: Db;
  settings: CapacitySettings;
  /** The instant `ms` from now, as the gate's clock tells it. */
  later: (ms: number) => string;
}) {
  const limiter = (keyPrefix: string, points: number) =>
    new RateLimiterPostgres({
      storeClient: sqlQueriesOf(db),
      // What the store asks of a pool: query() with a named statement. The table is the migrations' (tableCreated).
      storeType: 'pool',
      tableName: 'rate_limit_windows',
      tableCreated: true,
      // One row per number and per tenant, reused by every window: nothing piles up for a sweep to clear.
      clearExpiredByTimeout: false,
      keyPrefix,
      points,
      duration: 1,
    });
  const numberLimiter = limiter('number', settings.numberMaxPerSecond);
  const tenantLimiter = limiter('tenant', settings.tenantMaxPerSecond);

  const numberWait = (sender: string, ms: number): CapacityWait => ({
    reason: 'number_rate',
    until: later(ms),
    detail: `${sender} sends at most ${settings.numberMaxPerSecond} per second`,
  });
  const tenantWait = (ms: number): CapacityWait => ({
    reason: 'tenant_rate',
    until: later(ms),
    detail: `the tenant sends at most ${settings.tenantMaxPerSecond} per second`,
  });

  return {
    /** Without taking a slot: the wait for a number or tenant whose current window is full (most rate waits end here). */
    async peekWait({ sender, tenantId }: { sender: string; tenantId: string }): Promise<CapacityWait | null> {
      const [numberWindow, tenantWindow] = await Promise.all([numberLimiter.get(sender), tenantLimiter.get(tenantId)]);
      if (numberWindow && numberWindow.remainingPoints <= 0) return numberWait(sender, numberWindow.msBeforeNext);
      if (tenantWindow && tenantWindow.remainingPoints <= 0) return tenantWait(tenantWindow.msBeforeNext);
      return null;
    },

    /**
     * Takes one slot from the number and one from the tenant, the last step before Twilio is called, so the calls keep
     * the spacing of their slots: null once both are taken, else the wait for the full one. Slots are never given back (a give-back after its window
     * closed would let the next window send one more): a refused send wastes at most the number's slot.
     */
    async takeSlotsOrWait({ sender, tenantId }: { sender: string; tenantId: string }): Promise<CapacityWait | null> {
      try {
        await numberLimiter.consume(sender);
      } catch (rejection) {
        return numberWait(sender, msUntilNextWindow(rejection));
      }
      try {
        await tenantLimiter.consume(tenantId);
      } catch (rejection) {
        return tenantWait(msUntilNextWindow(rejection));
      }
      return null;
    },
  };
}
