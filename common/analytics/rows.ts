// Reading analytics_daily: PostgreSQL sums a tenant's rows of the range, by (sequence version, step, variant) and by
// day, so an answer carries tens of rows whatever the number of days and messages behind it.
import { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { emptyCounters, type Counters } from './funnel.js';
import { dateKey, datesOf, dateValue, type DateRange } from './range.js';

export interface CounterRow extends Counters {
  sequenceId: string;
  step: number;
  variant: string;
}

type SummedRow = Omit<Counters, 'cost'> & { cost: string };

const sums = Prisma.sql`
  sum(enrolled)::int AS enrolled, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(failed)::int AS failed,
  sum(clicked)::int AS clicked, sum(replied)::int AS replied, sum(booked)::int AS booked,
  sum(opted_out)::int AS "optedOut", sum(expired)::int AS expired, sum(completed)::int AS completed,
  sum(cost)::text AS cost`;

/** The tenant's rows of the range, of every version of one sequence name when it is given. */
const inRange = (tenantId: string, range: DateRange, sequenceName: string | null) => Prisma.sql`
  tenant_id = ${tenantId}::uuid AND day BETWEEN ${dateValue(range.from)}::date AND ${dateValue(range.to)}::date
  ${
    sequenceName === null
      ? Prisma.empty
      : Prisma.sql`AND sequence_id IN (
          SELECT id FROM sequence_definitions WHERE tenant_id = ${tenantId}::uuid AND name = ${sequenceName})`
  }`;

const withCost = <Row extends { cost: string }>(row: Row) => ({ ...row, cost: new Prisma.Decimal(row.cost) });

export interface DaySummary {
  date: string;
  sent: number;
  delivered: number;
  clicked: number;
  replied: number;
  booked: number;
  optedOut: number;
}

export interface RangeCounters {
  /** Per sequence version, step and variant. */
  byStep: CounterRow[];
  /** One entry per date of the range, zeros included. */
  days: DaySummary[];
}

type GroupedRow = SummedRow & {
  sequenceId: string | null;
  step: number | null;
  variant: string | null;
  day: Date | null;
};

/**
 * The range's counters per sequence version, step and variant, and per day (of every sequence when no name is
 * given): both groupings in one statement (GROUPING SETS), so an answer costs one round trip and one index scan.
 */
export async function rangeCounters(
  db: Db,
  tenantId: string,
  range: DateRange,
  sequenceName: string | null = null,
): Promise<RangeCounters> {
  const rows = await db.$queryRaw<GroupedRow[]>`
    SELECT sequence_id AS "sequenceId", step, variant, day, ${sums}
    FROM analytics_daily WHERE ${inRange(tenantId, range, sequenceName)}
    GROUP BY GROUPING SETS ((sequence_id, step, variant), (day))`;
  const byStep: CounterRow[] = [];
  const byDay = new Map<string, SummedRow>();
  for (const { sequenceId, step, variant, day, ...sum } of rows) {
    if (day) byDay.set(dateKey(day), sum);
    else if (sequenceId !== null && step !== null && variant !== null)
      byStep.push(withCost({ sequenceId, step, variant, ...sum }));
  }
  const days = datesOf(range).map((date) => {
    const day = byDay.get(date) ?? emptyCounters();
    return {
      date,
      sent: day.sent,
      delivered: day.delivered,
      clicked: day.clicked,
      replied: day.replied,
      booked: day.booked,
      optedOut: day.optedOut,
    };
  });
  return { byStep, days };
}
