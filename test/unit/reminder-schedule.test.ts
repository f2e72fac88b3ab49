import { describe, expect, it } from 'vitest';
import type { Reminder } from '../../workflows/appointment-reminder.messages.js';
import {
  nextReminderAt,
  nextReminderMove,
  planReminders,
  reminderDueAt,
  startInstant,
  withOutcome,
  withScheduledDropped,
} from '../../workflows/decisions/reminder-schedule.js';

const hour = 3600;
const day = 24 * hour;
const at = (iso: string) => new Date(iso);
const plan = (startsAt: string, now: string, previous: Reminder[] = [], offsetsSeconds = [day, hour]) =>
  planReminders({ startsAt: at(startsAt), timeZone: 'Europe/London', offsetsSeconds, now: at(now), previous });

describe('reminderDueAt: whole days on the appointment’s calendar, the rest in elapsed time', () => {
  it('"1 hour before" is 60 minutes before', () => {
    expect(reminderDueAt(at('2026-06-10T09:00:00Z'), hour, 'Europe/London').toISOString()).toBe(
      '2026-06-10T08:00:00.000Z',
    );
  });

  it('"1 day before" keeps 10:00 local across New York’s spring-forward (8 March 2026): 23 real hours', () => {
    // 10:00 EDT on 8 March = 14:00Z; 10:00 EST on 7 March = 15:00Z.
    expect(reminderDueAt(at('2026-03-08T14:00:00Z'), day, 'America/New_York').toISOString()).toBe(
      '2026-03-07T15:00:00.000Z',
    );
  });

  it('"1 day before" keeps 10:00 local across London’s fall-back (25 October 2026): 25 real hours', () => {
    // 10:00 GMT on 25 October = 10:00Z; 10:00 BST on 24 October = 09:00Z.
    expect(reminderDueAt(at('2026-10-25T10:00:00Z'), day, 'Europe/London').toISOString()).toBe(
      '2026-10-24T09:00:00.000Z',
    );
  });

  it('"36 hours before" is a calendar day, then 12 elapsed hours', () => {
    expect(reminderDueAt(at('2026-10-25T10:00:00Z'), day + 12 * hour, 'Europe/London').toISOString()).toBe(
      '2026-10-23T21:00:00.000Z',
    );
  });
});

describe('planReminders', () => {
  it('plans the default 24 h and 1 h reminders, earliest first', () => {
    expect(plan('2026-06-10T09:00:00Z', '2026-06-01T12:00:00Z', [], [hour, day])).toEqual([
      { offsetSeconds: day, dueAt: '2026-06-09T09:00:00.000Z', status: 'scheduled', sentAt: null },
      { offsetSeconds: hour, dueAt: '2026-06-10T08:00:00.000Z', status: 'scheduled', sentAt: null },
    ]);
  });

  it('skips offsets already past at booking: an appointment 3 h away gets no 24 h reminder', () => {
    expect(plan('2026-06-10T09:00:00Z', '2026-06-10T06:00:00Z').map((r) => r.status)).toEqual(['passed', 'scheduled']);
  });

  it('an appointment less than an hour away gets no reminder at all', () => {
    expect(plan('2026-06-10T09:00:00Z', '2026-06-10T08:30:00Z').map((r) => r.status)).toEqual(['passed', 'passed']);
  });

  const sent24h = withOutcome(
    plan('2026-06-10T09:00:00Z', '2026-06-08T12:00:00Z'),
    day,
    'sent',
    at('2026-06-09T09:00:01Z'),
  );

  it('moved later, a reminder already sent is sent again when its time is still ahead', () => {
    expect(plan('2026-06-12T09:00:00Z', '2026-06-09T10:00:00Z', sent24h)).toEqual([
      { offsetSeconds: day, dueAt: '2026-06-11T09:00:00.000Z', status: 'scheduled', sentAt: null },
      { offsetSeconds: hour, dueAt: '2026-06-12T08:00:00.000Z', status: 'scheduled', sentAt: null },
    ]);
  });

  it('moved earlier, a reminder already sent is not repeated, and one never sent whose time went is passed', () => {
    expect(plan('2026-06-10T07:00:00Z', '2026-06-10T06:30:00Z', sent24h)).toEqual([
      { offsetSeconds: day, dueAt: '2026-06-09T07:00:00.000Z', status: 'sent', sentAt: '2026-06-09T09:00:01.000Z' },
      { offsetSeconds: hour, dueAt: '2026-06-10T06:00:00.000Z', status: 'passed', sentAt: null },
    ]);
  });
});

describe('nextReminderMove: never late', () => {
  const start = at('2026-06-10T09:00:00Z');
  const planned = plan('2026-06-10T09:00:00Z', '2026-06-01T00:00:00Z');

  it('waits for the first reminder', () => {
    expect(nextReminderMove(planned, start, at('2026-06-05T00:00:00Z'))).toEqual({
      kind: 'wait',
      until: at('2026-06-09T09:00:00Z'),
    });
  });

  it('sends a due reminder, no later than the next one is due', () => {
    expect(nextReminderMove(planned, start, at('2026-06-09T09:00:00Z'))).toEqual({
      kind: 'send',
      offsetSeconds: day,
      notAfter: at('2026-06-10T08:00:00Z'),
    });
  });

  it('misses a reminder overtaken by the next one (after an outage), then sends the next before the start', () => {
    expect(nextReminderMove(planned, start, at('2026-06-10T08:30:00Z'))).toEqual({ kind: 'miss', offsetSeconds: day });
    const afterMiss = withOutcome(planned, day, 'missed', at('2026-06-10T08:30:00Z'));
    expect(nextReminderMove(afterMiss, start, at('2026-06-10T08:30:00Z'))).toEqual({
      kind: 'send',
      offsetSeconds: hour,
      notAfter: start,
    });
  });

  it('misses the last reminder once the appointment has started', () => {
    const onlyLast = withOutcome(planned, day, 'sent', at('2026-06-09T09:00:00Z'));
    expect(nextReminderMove(onlyLast, start, at('2026-06-10T09:00:00Z'))).toEqual({
      kind: 'miss',
      offsetSeconds: hour,
    });
  });

  it('after the last reminder waits for the start, then ends', () => {
    const done = withOutcome(withOutcome(planned, day, 'sent', start), hour, 'sent', start);
    expect(nextReminderMove(done, start, at('2026-06-10T08:00:01Z'))).toEqual({ kind: 'wait', until: start });
    expect(nextReminderMove(done, start, start)).toEqual({ kind: 'end' });
    expect(nextReminderAt(done)).toBeNull();
    expect(nextReminderAt(planned)).toEqual(at('2026-06-09T09:00:00Z'));
  });
});

describe('withScheduledDropped: the reminders end (or the lead confirmed and needs no more)', () => {
  it('drops only the reminders still to come: one already sent stays sent, and the next move has nothing to send', () => {
    const planned = plan('2026-06-10T09:00:00Z', '2026-06-08T12:00:00Z');
    const dropped = withScheduledDropped(withOutcome(planned, day, 'sent', at('2026-06-09T09:00:00Z')));
    expect(dropped.map((reminder) => reminder.status)).toEqual(['sent', 'dropped']);
    expect(nextReminderAt(dropped)).toBeNull();
    expect(nextReminderMove(dropped, at('2026-06-10T09:00:00Z'), at('2026-06-10T08:00:00Z'))).toEqual({
      kind: 'wait',
      until: at('2026-06-10T09:00:00Z'),
    });
  });
});

describe('startInstant', () => {
  it('reads a local time in the given zone', () => {
    expect(startInstant('2026-06-10T10:00', 'Europe/London')?.toISOString()).toBe('2026-06-10T09:00:00.000Z');
    expect(startInstant('2026-06-10T10:00:00', 'America/New_York')?.toISOString()).toBe('2026-06-10T14:00:00.000Z');
  });

  it('takes a time with an offset as that instant', () => {
    expect(startInstant('2026-06-10T10:00:00Z', 'America/New_York')?.toISOString()).toBe('2026-06-10T10:00:00.000Z');
    expect(startInstant('2026-06-10T10:00:00+02:00', 'Europe/London')?.toISOString()).toBe('2026-06-10T08:00:00.000Z');
  });

  it('refuses a wall-clock time a DST change skips (01:30 on 29 March 2026 in London) and nonsense', () => {
    expect(startInstant('2026-03-29T01:30', 'Europe/London')).toBeNull();
    expect(startInstant('2026-02-30T10:00', 'Europe/London')).toBeNull();
  });
});
