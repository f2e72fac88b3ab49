// Calendar dates in the tenant's zone: the range a request asks for, and the days of a range.
import { DateTime } from 'luxon';

export interface DateRange {
  /** YYYY-MM-DD, inclusive. */
  from: string;
  to: string;
}

/** The tenant an answer is for, with the zone its calendar dates are in. */
export interface ZonedTenant {
  id: string;
  defaultTimeZone: string;
}

/**
 * The earliest year a query may name. PostgreSQL has no year 0 (ISO 8601 and JavaScript take it), and nothing the
 * service keeps or counts is older than it.
 */
export const earliestQueryYear = 1970;

export const defaultRangeDays = 30;
export const maxRangeDays = 366;

export type RangeProblem = { field: 'from' | 'to'; message: string };

const isoDate = (value: string) => DateTime.fromISO(value, { zone: 'utc' });

/** The asked range, or the last 30 days ending today in `timeZone`; a problem names the field at fault. */
export function resolveRange(asked: Partial<DateRange>, timeZone: string, now = new Date()): DateRange | RangeProblem {
  const today = DateTime.fromJSDate(now, { zone: timeZone }).toISODate() ?? '';
  const to = asked.to ?? today;
  const from =
    asked.from ??
    isoDate(to)
      .minus({ days: defaultRangeDays - 1 })
      .toISODate() ??
    '';
  for (const [field, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!isoDate(value).isValid) return { field, message: `${value} is not a calendar date (YYYY-MM-DD)` };
    if (isoDate(value).year < earliestQueryYear) return { field, message: `${value} is before ${earliestQueryYear}` };
  }
  const days = isoDate(to).diff(isoDate(from), 'days').days + 1;
  if (days < 1) return { field: 'to', message: 'to is before from' };
  if (days > maxRangeDays) return { field: 'to', message: `a range covers at most ${maxRangeDays} days` };
  return { from, to };
}

const dayMs = 86_400_000;

/** Every date of the range, ascending. Calendar dates have no zone, so UTC midnights step through them exactly. */
export function datesOf({ from, to }: DateRange): string[] {
  const dates: string[] = [];
  const last = dateValue(to).getTime();
  for (let day = dateValue(from).getTime(); day <= last; day += dayMs) dates.push(dateKey(new Date(day)));
  return dates;
}

/** A `date` column's value (midnight UTC) as YYYY-MM-DD. */
export const dateKey = (day: Date) => day.toISOString().slice(0, 10);
export const dateValue = (date: string) => new Date(`${date}T00:00:00.000Z`);
