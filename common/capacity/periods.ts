// Which capacity period an instant falls in: pure, so the boundaries are unit-tested without a database.
import { DateTime } from 'luxon';

export interface Period {
  /** Names the period in the usage table ("2026-11-21", "2026-11", "day-3"). */
  key: string;
  endsAt: Date;
}

/** A tenant's budget day and month, in its own time zone. */
export function budgetPeriods(now: Date, timeZone: string): { daily: Period; monthly: Period } {
  const local = DateTime.fromJSDate(now, { zone: timeZone });
  return {
    daily: { key: local.toFormat('yyyy-MM-dd'), endsAt: local.startOf('day').plus({ days: 1 }).toJSDate() },
    monthly: { key: local.toFormat('yyyy-MM'), endsAt: local.startOf('month').plus({ months: 1 }).toJSDate() },
  };
}

export interface WarmupSettings {
  firstDayLimit: number;
  dailyIncrease: number;
  /** Days the ramp lasts; after them, `warmedUpDailyLimit`. */
  days: number;
  warmedUpDailyLimit: number;
}

const dayMs = 86_400_000;

/** Warm-up day N is the N-th 24 hours since the number's first send (day 1 starts with it). */
export function warmupDay(firstSentAt: Date, now: Date): { day: number; period: Period } {
  const day = Math.max(0, Math.floor((now.getTime() - firstSentAt.getTime()) / dayMs)) + 1;
  return { day, period: { key: `day-${day}`, endsAt: new Date(firstSentAt.getTime() + day * dayMs) } };
}

/** Messages a number may send on warm-up day `day`: the first day's limit, raised each day of the ramp, then the full limit. */
export function warmupAllowance(day: number, settings: WarmupSettings): number {
  if (day > settings.days) return settings.warmedUpDailyLimit;
  return Math.min(settings.firstDayLimit + (day - 1) * settings.dailyIncrease, settings.warmedUpDailyLimit);
}
