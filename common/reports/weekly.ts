// The weekly report's calendar and arithmetic, pure: which week a report covers and how it changed on the one before.
import { DateTime } from 'luxon';

import type { DateRange } from '../analytics/range.js';

export type { DateRange };

export interface ReportWeeks {
  week: DateRange;
  previous: DateRange;
}

/** The Monday-to-Sunday week that ended before `at` in `timeZone`, and the week before it. */
export function weekJustEnded(at: Date, timeZone: string): ReportWeeks {
  const thisMonday = DateTime.fromJSDate(at, { zone: timeZone }).startOf('week');
  const range = (monday: DateTime): DateRange => ({
    from: monday.toISODate() ?? '',
    to: monday.plus({ days: 6 }).toISODate() ?? '',
  });
  return { week: range(thisMonday.minus({ weeks: 1 })), previous: range(thisMonday.minus({ weeks: 2 })) };
}

/** Start (inclusive) and end (exclusive) instants of a date range in `timeZone`. */
export function instantsOf({ from, to }: DateRange, timeZone: string): { start: Date; end: Date } {
  const start = DateTime.fromISO(from, { zone: timeZone }).startOf('day');
  const end = DateTime.fromISO(to, { zone: timeZone }).startOf('day').plus({ days: 1 });
  return { start: start.toJSDate(), end: end.toJSDate() };
}

/**
 * Relative change of every count in `totals` from `previous` (0.1 is 10 % more), rounded to 4 places; null where
 * the previous week had none. Fields that are not counts (rates, cost) are left out.
 */
export function relativeChange(
  totals: Record<string, unknown>,
  previous: Record<string, unknown>,
): Record<string, number | null> {
  const change: Record<string, number | null> = {};
  for (const [field, value] of Object.entries(totals)) {
    const before = previous[field];
    if (typeof value !== 'number' || typeof before !== 'number') continue;
    change[field] = before === 0 ? null : Math.round(((value - before) / before) * 10_000) / 10_000;
  }
  return change;
}
