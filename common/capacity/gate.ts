// Sending capacity shared by every worker process: the kill switch, throughput per number and per tenant, warm-up
// of new numbers and tenants' budgets. All of it lives in PostgreSQL, so it holds across processes and restarts.
import { RateLimiterPrisma, RateLimiterRes } from 'rate-limiter-flexible';
import { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { noMetrics, type MessageMetrics } from '../metrics.js';
import { countSegments } from './segments.js';
import { budgetPeriods, warmupAllowance, warmupDay } from './periods.js';
import type { CapacitySettings } from './settings.js';
import { activePause, globalScope } from './pauses.js';
import { recordEvent } from '../events.js';

type Tx = Prisma.TransactionClient;

export const capacityWaitReasons = [
  'kill_switch',
  'number_rate',
  'tenant_rate',
  'warmup',
  'budget_daily',
  'budget_monthly',
] as const;
export type CapacityWaitReason = (typeof capacityWaitReasons)[number];

/** The failure type of a send held back for capacity (details: one CapacityWait); Temporal retries it when it is due. */
export const capacityWaitType = 'CapacityWait';

/** Why a send waits and until when; carried by the activity's retry failure, shown by the API. */
export interface CapacityWait {
  reason: CapacityWaitReason;
  until: string;
  detail: string;
}

/** One count a send took (a warm-up message, a budget amount), kept on the message row so it can be given back. */
export interface ReservedCapacity {
  scope: string;
  period: string;
  amount: string;
}

export interface CapacityRequest {
  messageId: string;
  tenantId: string;
  /** The number or Messaging Service the message goes out from. */
  sender: string;
  cost: string;
  /** Appointment messages pass a spent budget when the tenant says so (they are counted either way). */
  appointment: boolean;
  /** What an earlier attempt of this message reserved: replaced, never counted twice. */
  previous: ReservedCapacity[];
}

export type CapacityDecision = { ok: true } | { ok: false; wait: CapacityWait };

/** Budgets alert once per period when spending reaches this share of the limit. */
export const budgetAlertShare = new Prisma.Decimal('0.8');

class CapacityRefused extends Error {
  constructor(readonly wait: CapacityWait) {
    super(wait.detail);
  }
}

interface Limit {
  max: Prisma.Decimal;
  /** What a send waits for when the count is full. */
  refusal: CapacityWait;
  /** Budgets alert their tenant when spending crosses the threshold. */
  alert?: { tenantId: string; budget: 'daily' | 'monthly'; budgetLimit: Prisma.Decimal };
}

interface Take {
  scope: string;
  period: string;
  amount: Prisma.Decimal;
  /** Null for a give-back, which is never refused. */
  limit: Limit | null;
}

/** Adds `amount` to a usage count unless that would pass `limit`; answers the count after, or null when refused. */
async function addUsage(tx: Tx, take: Take): Promise<Prisma.Decimal | null> {
  const amount = take.amount.toString();
  if (take.limit === null) {
    await tx.$executeRaw`UPDATE capacity_usage SET used = GREATEST(used + ${amount}::numeric, 0), updated_at = now() WHERE scope = ${take.scope} AND period = ${take.period}`;
    return null;
  }
  const limit = take.limit.max.toString();
  // One statement: concurrent sends queue on the row's lock and each re-checks the limit against the committed count.
  const rows = await tx.$queryRaw<{ used: Prisma.Decimal }[]>`
    INSERT INTO capacity_usage (scope, period, used, updated_at)
    SELECT ${take.scope}, ${take.period}, ${amount}::numeric, now() WHERE ${amount}::numeric <= ${limit}::numeric
    ON CONFLICT (scope, period) DO UPDATE SET used = capacity_usage.used + EXCLUDED.used, updated_at = now()
      WHERE capacity_usage.used + EXCLUDED.used <= ${limit}::numeric
    RETURNING used`;
  return rows[0] ? new Prisma.Decimal(rows[0].used) : null;
}

/** Give-backs of an earlier attempt and this attempt's takes, netted per count and applied in one lock order. */
function netted(previous: ReservedCapacity[], takes: Take[]): Take[] {
  const byKey = new Map<string, Take>();
  for (const take of takes) byKey.set(`${take.scope}\u0000${take.period}`, { ...take });
  for (const old of previous) {
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
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, take]) => take);
}

const rateWait = (rejection: unknown): number => {
  if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
  throw rejection;
};

export function createCapacityGate({
  db,
  settings,
  metrics = noMetrics,
  clock = () => new Date(),
}: {
  db: Db;
  settings: CapacitySettings;
  metrics?: MessageMetrics | undefined;
  clock?: () => Date;
}) {
  // rate-limiter-flexible over our Prisma client: its windows are rows of rate_limits (model RateLimiterFlexible).
  const limiter = (keyPrefix: string, points: number) =>
    new RateLimiterPrisma({ storeClient: db, tableName: 'rateLimiterFlexible', keyPrefix, points, duration: 1 });
  const numberLimiter = limiter('number', settings.numberMaxPerSecond);
  const tenantLimiter = limiter('tenant', settings.tenantMaxPerSecond);
  const later = (ms: number) => new Date(clock().getTime() + Math.max(ms, 1)).toISOString();

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

  /** Without taking a slot: a number or tenant whose current window is full (most rate waits end here, cheaply). */
  async function fullWindow(request: CapacityRequest): Promise<CapacityWait | null> {
    const [numberWindow, tenantWindow] = await Promise.all([
      numberLimiter.get(request.sender),
      tenantLimiter.get(request.tenantId),
    ]);
    if (numberWindow && numberWindow.remainingPoints <= 0) return numberWait(request.sender, numberWindow.msBeforeNext);
    if (tenantWindow && tenantWindow.remainingPoints <= 0) return tenantWait(tenantWindow.msBeforeNext);
    return null;
  }

  /**
   * Takes one throughput slot from the number and one from the tenant, the last step before Twilio is called, so the
   * calls keep the spacing of their slots. Slots are never given back (a give-back after its window closed would let
   * the next window send one more): a refused send wastes at most the number's slot.
   */
  async function takeThroughput(request: CapacityRequest): Promise<CapacityWait | null> {
    try {
      await numberLimiter.consume(request.sender);
    } catch (rejection) {
      return numberWait(request.sender, rateWait(rejection));
    }
    try {
      await tenantLimiter.consume(request.tenantId);
    } catch (rejection) {
      return tenantWait(rateWait(rejection));
    }
    return null;
  }

  function pauseWait(pause: { scope: string; pausedBy: string }): CapacityWait {
    const whose = pause.scope === globalScope ? 'for every tenant' : 'for this tenant';
    return {
      reason: 'kill_switch',
      until: later(settings.killSwitchRecheckSeconds * 1000),
      detail: `sending is paused ${whose} (by ${pause.pausedBy})`,
    };
  }

  /** The counts this send must fit in: its number's warm-up day and, unless bypassed, the tenant's budgets. */
  async function takesFor(tx: Tx | Db, request: CapacityRequest, now: Date): Promise<Take[]> {
    const number = await tx.sendingNumber.findUnique({ where: { value: request.sender } });
    const { day, period } = warmupDay(number?.firstSentAt ?? now, now);
    const allowance = warmupAllowance(day, settings.warmup);
    const takes: Take[] = [
      {
        scope: `warmup:${request.sender}`,
        period: period.key,
        amount: new Prisma.Decimal(1),
        limit: {
          max: new Prisma.Decimal(allowance),
          refusal: {
            reason: 'warmup',
            until: period.endsAt.toISOString(),
            detail: `${request.sender} is on warm-up day ${day}: ${allowance} messages allowed`,
          },
        },
      },
    ];
    const tenant = await tx.tenant.findUniqueOrThrow({
      where: { id: request.tenantId },
      select: { dailyBudget: true, monthlyBudget: true, defaultTimeZone: true, remindersBypassBudget: true },
    });
    const periods = budgetPeriods(now, tenant.defaultTimeZone);
    const bypass = request.appointment && tenant.remindersBypassBudget;
    for (const budget of ['daily', 'monthly'] as const) {
      const max = budget === 'daily' ? tenant.dailyBudget : tenant.monthlyBudget;
      if (max === null) continue;
      const refusal: CapacityWait = {
        reason: `budget_${budget}`,
        until: periods[budget].endsAt.toISOString(),
        detail: `the ${budget} budget of ${max.toString()} is spent`,
      };
      // A bypassing message is still counted, so what is shown as spent is what was spent.
      const limit = bypass ? { max: new Prisma.Decimal('1e12'), refusal } : { max, refusal };
      takes.push({
        scope: `budget_${budget}:${request.tenantId}`,
        period: periods[budget].key,
        amount: new Prisma.Decimal(request.cost),
        limit: { ...limit, alert: { tenantId: request.tenantId, budget, budgetLimit: max } },
      });
    }
    return takes;
  }

  /** Records an alert the first time a budget's spending reaches its threshold in a period; true if this was it. */
  async function alertIfCrossed(tx: Tx, take: Take, usedAfter: Prisma.Decimal): Promise<boolean> {
    const alert = take.limit?.alert;
    if (!alert) return false;
    const max = alert.budgetLimit;
    const threshold = max.times(budgetAlertShare);
    if (usedAfter.lessThan(threshold) || usedAfter.minus(take.amount).greaterThanOrEqualTo(threshold)) return false;
    const { tenantId, budget } = alert;
    const created = await tx.budgetAlert.createMany({
      data: [{ tenantId, budget, period: take.period, spent: usedAfter, limit: max }],
      skipDuplicates: true,
    });
    if (created.count === 0) return false;
    const details = { budget, period: take.period, spent: usedAfter.toString(), limit: max.toString() };
    await tx.auditLog.create({
      data: { tenantId, actor: 'worker', action: 'budget.alert', subject: `${budget}:${take.period}`, data: details },
    });
    await recordEvent(tx, { tenantId, type: 'sending.budget_alert', data: details });
    return true;
  }

  /** Within one transaction: the kill switch once more, then every count; any refusal rolls all of it back. */
  async function reserveCounts(
    request: CapacityRequest,
  ): Promise<{ alerts: string[]; reservation: ReservedCapacity[] }> {
    return db.$transaction(async (tx) => {
      const pause = await activePause(tx, request.tenantId);
      if (pause) throw new CapacityRefused(pauseWait(pause));
      const now = clock();
      // The first send starts the number's warm-up. Recorded before the counts are read, so concurrent first sends
      // wait for one another here and all count days from the same instant; a refusal rolls it back.
      await tx.sendingNumber.createMany({ data: [{ value: request.sender, firstSentAt: now }], skipDuplicates: true });
      const takes = await takesFor(tx, request, now);
      const alerts: string[] = [];
      for (const take of netted(request.previous, takes)) {
        const usedAfter = await addUsage(tx, take);
        if (!take.limit) continue;
        if (usedAfter === null) throw new CapacityRefused(take.limit.refusal);
        if (take.limit.alert && (await alertIfCrossed(tx, take, usedAfter))) alerts.push(take.limit.alert.budget);
      }
      const reservation = takes.map((take) => ({
        scope: take.scope,
        period: take.period,
        amount: take.amount.toString(),
      }));
      await tx.message.update({ where: { id: request.messageId }, data: { reservation } });
      return { alerts, reservation };
    });
  }

  /** Without taking anything: the first count this send clearly does not fit in (most waits end here, cheaply). */
  async function exhaustedCount(request: CapacityRequest): Promise<CapacityWait | null> {
    const takes = await takesFor(db, request, clock());
    const needed = netted(request.previous, takes).flatMap((take) =>
      take.limit ? [{ ...take, limit: take.limit }] : [],
    );
    const usage = await db.capacityUsage.findMany({
      where: { OR: needed.map(({ scope, period }) => ({ scope, period })) },
    });
    for (const take of needed) {
      const used =
        usage.find((row) => row.scope === take.scope && row.period === take.period)?.used ?? new Prisma.Decimal(0);
      if (used.plus(take.amount).greaterThan(take.limit.max)) return take.limit.refusal;
    }
    return null;
  }

  return {
    /**
     * When a waiting send asks again: when the capacity is due, or sooner to notice a raised budget. Waits other than
     * throughput are spread by up to a tenth of their length, so thousands of held sends don't come back at once.
     */
    askAgainAt(wait: CapacityWait): Date {
      const now = Date.now();
      const until = Date.parse(wait.until);
      if (wait.reason === 'number_rate' || wait.reason === 'tenant_rate') return new Date(until);
      const waitMs = Math.min(until - now, settings.recheckSeconds * 1000);
      return new Date(now + waitMs * (0.9 + Math.random() * 0.1));
    },

    /** What a body costs: its segments (GSM-7 or UCS-2) at the configured price per segment. */
    price(body: string): { segments: number; cost: string } {
      const { segments } = countSegments(body);
      return { segments, cost: new Prisma.Decimal(settings.costPerSegment).times(segments).toString() };
    },

    /**
     * Takes what one send needs: the kill switch must be off, the number's and the tenant's throughput must have a
     * slot, and the warm-up and budget counts must have room, all of which are taken together or not at all. A
     * refusal says what is missing and until when; the caller waits and asks again.
     */
    async reserve(request: CapacityRequest): Promise<CapacityDecision> {
      const pause = await activePause(db, request.tenantId);
      let wait = pause ? pauseWait(pause) : ((await exhaustedCount(request)) ?? (await fullWindow(request)));
      if (!wait) {
        try {
          const { alerts, reservation } = await reserveCounts(request);
          wait = await takeThroughput(request);
          if (!wait) {
            for (const budget of alerts) metrics.budgetAlert(budget);
            return { ok: true };
          }
          // Another send took the slot first: the counts go back until this one has a slot of its own.
          await db.$transaction((tx) => releaseCapacity(tx, request.messageId, reservation));
        } catch (error) {
          if (!(error instanceof CapacityRefused)) throw error;
          wait = error.wait;
        }
      }
      metrics.capacityWait(wait.reason);
      return { ok: false, wait };
    },
  };
}

/** Gives back what a message's attempts reserved, in the transaction that closes it unsent. */
export async function releaseCapacity(tx: Tx, messageId: string, reservation: ReservedCapacity[]): Promise<void> {
  for (const take of netted(reservation, [])) await addUsage(tx, take);
  await tx.message.update({ where: { id: messageId }, data: { reservation: Prisma.DbNull } });
}

export type CapacityGate = ReturnType<typeof createCapacityGate>;
