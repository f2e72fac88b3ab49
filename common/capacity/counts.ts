// The counts one send must fit in: its number's warm-up day and, unless bypassed, the tenant's daily and monthly
// budgets, each with the wait a full count means.
import { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import type { CapacityFacts } from './facts.js';
import { budgetPeriods, warmupAllowance, warmupDay } from './periods.js';
import type { CapacitySettings } from './settings.js';
import { changesNetOfEarlier, type ReservedCapacity, type UsageChange } from './usage.js';
import type { CapacityWait } from './waits.js';

export interface CountedSend {
  tenantId: string;
  /** The number or Messaging Service the message goes out from. */
  sender: string;
  cost: string;
  /** Appointment messages pass a spent budget when the tenant says so (they are counted either way). */
  appointment: boolean;
}

/** The changes one send makes, each with its limit, from the facts read for it. */
export function countsNeeded(
  facts: CapacityFacts,
  settings: CapacitySettings,
  send: CountedSend,
  now: Date,
): UsageChange[] {
  const { day, period } = warmupDay(facts.numberFirstSentAt ?? now, now);
  const allowance = warmupAllowance(day, settings.warmup);
  const changes: UsageChange[] = [
    {
      scope: `warmup:${send.sender}`,
      period: period.key,
      amount: new Prisma.Decimal(1),
      limit: {
        max: new Prisma.Decimal(allowance),
        waitWhenFull: {
          reason: 'warmup',
          until: period.endsAt.toISOString(),
          detail: `${send.sender} is on warm-up day ${day}: ${allowance} messages allowed`,
        },
      },
    },
  ];
  const periods = budgetPeriods(now, facts.defaultTimeZone);
  const bypass = send.appointment && facts.remindersBypassBudget;
  for (const budget of ['daily', 'monthly'] as const) {
    const max = budget === 'daily' ? facts.dailyBudget : facts.monthlyBudget;
    if (max === null) continue;
    const waitWhenFull: CapacityWait = {
      reason: `budget_${budget}`,
      until: periods[budget].endsAt.toISOString(),
      detail: `the ${budget} budget of ${max.toString()} is spent`,
    };
    // A bypassing message is still counted, so what is shown as spent is what was spent.
    const limit = bypass ? { max: new Prisma.Decimal('1e12'), waitWhenFull } : { max, waitWhenFull };
    changes.push({
      scope: `budget_${budget}:${send.tenantId}`,
      period: periods[budget].key,
      amount: new Prisma.Decimal(send.cost),
      limit: { ...limit, alert: { tenantId: send.tenantId, budget, budgetLimit: max } },
    });
  }
  return changes;
}

/** Without reserving anything: the wait for the first count this send clearly does not fit in (most end here). */
export async function peekCountWait(
  db: Db,
  settings: CapacitySettings,
  send: CountedSend & { previous: ReservedCapacity[] },
  facts: CapacityFacts,
  now: Date,
): Promise<CapacityWait | null> {
  const limited = changesNetOfEarlier(send.previous, countsNeeded(facts, settings, send, now)).flatMap((change) =>
    change.limit ? [{ ...change, limit: change.limit }] : [],
  );
  const usage = await db.capacityUsage.findMany({
    where: { OR: limited.map(({ scope, period }) => ({ scope, period })) },
  });
  for (const change of limited) {
    const used =
      usage.find((row) => row.scope === change.scope && row.period === change.period)?.used ?? new Prisma.Decimal(0);
    if (used.plus(change.amount).greaterThan(change.limit.max)) return change.limit.waitWhenFull;
  }
  return null;
}
