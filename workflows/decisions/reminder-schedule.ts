// Pure decisions about appointment reminders: when each is due, what a reschedule keeps, what happens next.
// Deterministic (no clock, no I/O), so the workflow can call them and the unit tests need no Temporal.
import { DateTime } from 'luxon';
import type { Reminder, ReminderStatus } from '../appointment-reminder.messages.js';

const daySeconds = 86_400;

/**
 * Whole days count on the calendar of the appointment's zone ("the day before" is the same wall-clock time even
 * across a DST change, 23 or 25 hours earlier); the remainder is elapsed time ("1 hour before" is 60 minutes).
 */
export function reminderDueAt(startsAt: Date, offsetSeconds: number, timeZone: string): Date {
  const days = Math.floor(offsetSeconds / daySeconds);
  return DateTime.fromJSDate(startsAt, { zone: timeZone })
    .minus({ days })
    .minus({ seconds: offsetSeconds - days * daySeconds })
    .toJSDate();
}

export interface PlanInput {
  startsAt: Date;
  timeZone: string;
  offsetsSeconds: readonly number[];
  now: Date;
  /** The plan for the previous start time, when the appointment moves. */
  previous?: readonly Reminder[];
}

/**
 * The reminders for a start time, earliest first. One whose time has already gone is never due (`passed`): an
 * appointment 3 h away gets no 24 h reminder. After a move, a reminder already sent is sent again only when its time
 * for the new start is still ahead; otherwise it stays `sent`.
 */
export function planReminders({ startsAt, timeZone, offsetsSeconds, now, previous = [] }: PlanInput): Reminder[] {
  return offsetsSeconds
    .map((offsetSeconds): Reminder => {
      const dueAt = reminderDueAt(startsAt, offsetSeconds, timeZone);
      const earlier = previous.find((reminder) => reminder.offsetSeconds === offsetSeconds);
      const status: ReminderStatus = dueAt > now ? 'scheduled' : earlier?.status === 'sent' ? 'sent' : 'passed';
      return {
        offsetSeconds,
        dueAt: dueAt.toISOString(),
        status,
        sentAt: status === 'sent' ? (earlier?.sentAt ?? null) : null,
      };
    })
    .sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt));
}

export type ReminderMove =
  | { kind: 'wait'; until: Date }
  | { kind: 'send'; offsetSeconds: number; notAfter: Date }
  | { kind: 'miss'; offsetSeconds: number }
  | { kind: 'end' };

/**
 * What the workflow does now. A reminder may go out from its due time until the next reminder is due (or the start):
 * one that can no longer go in time, after an outage say, is missed rather than sent late or next to a newer one.
 * After the last reminder the workflow waits for the start, so the appointment can still move until then.
 */
export function nextReminderMove(reminders: readonly Reminder[], startsAt: Date, now: Date): ReminderMove {
  const [next, following] = reminders.filter((reminder) => reminder.status === 'scheduled');
  if (!next) return now >= startsAt ? { kind: 'end' } : { kind: 'wait', until: startsAt };
  const dueAt = new Date(next.dueAt);
  if (now < dueAt) return { kind: 'wait', until: dueAt };
  const notAfter = following ? new Date(following.dueAt) : startsAt;
  return now < notAfter
    ? { kind: 'send', offsetSeconds: next.offsetSeconds, notAfter }
    : { kind: 'miss', offsetSeconds: next.offsetSeconds };
}

/** The plan with one reminder's outcome recorded. */
export function withOutcome(
  reminders: readonly Reminder[],
  offsetSeconds: number,
  status: ReminderStatus,
  at: Date,
): Reminder[] {
  return reminders.map((reminder) =>
    reminder.offsetSeconds === offsetSeconds
      ? { ...reminder, status, sentAt: status === 'sent' ? at.toISOString() : null }
      : reminder,
  );
}

/** The plan with every reminder still to come dropped: the reminders ended, or the lead confirmed and needs no more. */
export function withScheduledDropped(reminders: readonly Reminder[]): Reminder[] {
  return reminders.map((reminder) => (reminder.status === 'scheduled' ? { ...reminder, status: 'dropped' } : reminder));
}

export function nextReminderAt(reminders: readonly Reminder[]): Date | null {
  const next = reminders.find((reminder) => reminder.status === 'scheduled');
  return next ? new Date(next.dueAt) : null;
}

/**
 * The instant a start time names. With an offset (`…Z`, `…+01:00`) it is that instant; without one it is the wall-clock
 * time in `timeZone`, and null when that time does not exist there (skipped by a DST change) or cannot be read.
 */
export function startInstant(startsAt: string, timeZone: string): Date | null {
  const parsed = DateTime.fromISO(startsAt, { zone: timeZone });
  if (!parsed.isValid) return null;
  const hasOffset = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(startsAt);
  if (!hasOffset && parsed.toFormat("yyyy-MM-dd'T'HH:mm") !== startsAt.slice(0, 16)) return null;
  return parsed.toJSDate();
}
