// What the capacity gate decides on besides the counts themselves, read in one statement: the kill switch for the
// tenant (the global pause first), the sending number's first send (its warm-up day) and the tenant's budgets. One
// round trip instead of three, in the peek and again inside the reserving transaction (docs/benchmarks.md).
import { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { globalScope } from './pauses.js';

export interface CapacityFacts {
  /** The pause that holds the tenant's sends, the global one first; null while sending may go on. */
  pause: { scope: string; pausedBy: string } | null;
  /** Null before the number's first send. */
  numberFirstSentAt: Date | null;
  dailyBudget: Prisma.Decimal | null;
  monthlyBudget: Prisma.Decimal | null;
  defaultTimeZone: string;
  remindersBypassBudget: boolean;
}

interface FactsRow {
  pausedScope: string | null;
  pausedBy: string | null;
  numberFirstSentAt: Date | null;
  dailyBudget: Prisma.Decimal | string | null;
  monthlyBudget: Prisma.Decimal | string | null;
  defaultTimeZone: string;
  remindersBypassBudget: boolean;
}

/** The pause that holds the tenant's sends, the global one first (scope, paused_by). */
export const pauseOf = (tenantId: string) => Prisma.sql`
  SELECT scope, paused_by FROM sending_pauses WHERE scope IN (${globalScope}, ${tenantId})
  ORDER BY scope = ${globalScope} DESC LIMIT 1`;

export type Pause = NonNullable<CapacityFacts['pause']>;

const decimalOrNull = (value: Prisma.Decimal | string | null) => (value === null ? null : new Prisma.Decimal(value));

export async function readCapacityFacts(
  reader: Db | Prisma.TransactionClient,
  { tenantId, sender }: { tenantId: string; sender: string },
): Promise<CapacityFacts> {
  const [row] = await reader.$queryRaw<FactsRow[]>`
    SELECT p.scope AS "pausedScope", p.paused_by AS "pausedBy",
      (SELECT n.first_sent_at FROM sending_numbers n WHERE n.value = ${sender}) AS "numberFirstSentAt",
      t.daily_budget AS "dailyBudget", t.monthly_budget AS "monthlyBudget",
      t.default_time_zone AS "defaultTimeZone", t.reminders_bypass_budget AS "remindersBypassBudget"
    FROM tenants t
    LEFT JOIN LATERAL (${pauseOf(tenantId)}) p ON true
    WHERE t.id = ${tenantId}::uuid`;
  if (!row) throw new Error(`tenant ${tenantId} not found`);
  return {
    pause:
      row.pausedScope !== null && row.pausedBy !== null ? { scope: row.pausedScope, pausedBy: row.pausedBy } : null,
    numberFirstSentAt: row.numberFirstSentAt,
    dailyBudget: decimalOrNull(row.dailyBudget),
    monthlyBudget: decimalOrNull(row.monthlyBudget),
    defaultTimeZone: row.defaultTimeZone,
    remindersBypassBudget: row.remindersBypassBudget,
  };
}
