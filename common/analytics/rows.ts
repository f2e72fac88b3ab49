// Reading analytics_daily: the rows of a tenant's date range, and the per-day series built from them.
import type { AnalyticsDaily } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { addCounters, emptyCounters, type Counters } from './funnel.js';
import { dateKey, datesOf, dateValue, type DateRange } from './range.js';

export type CounterRow = Pick<AnalyticsDaily, 'sequenceId' | 'step' | 'variant' | 'day'> & Counters;

export function loadRows(db: Db, tenantId: string, range: DateRange, sequenceIds?: string[]): Promise<CounterRow[]> {
  return db.analyticsDaily.findMany({
    where: {
      tenantId,
      day: { gte: dateValue(range.from), lte: dateValue(range.to) },
      ...(sequenceIds ? { sequenceId: { in: sequenceIds } } : {}),
    },
  });
}

export interface DaySummary {
  date: string;
  sent: number;
  delivered: number;
  clicked: number;
  replied: number;
  booked: number;
  optedOut: number;
}

/** One entry per date of the range, zeros included. */
export function daySeries(rows: CounterRow[], range: DateRange): DaySummary[] {
  const byDay = new Map<string, Counters>();
  for (const row of rows) {
    const key = dateKey(row.day);
    byDay.set(key, addCounters(byDay.get(key) ?? emptyCounters(), row));
  }
  return datesOf(range).map((date) => {
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
}
