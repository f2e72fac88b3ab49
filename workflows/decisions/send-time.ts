// Pure decisions about when a message may go out: sending window and per-lead caps, in the lead's time zone.
// Deterministic (no clock, no I/O), so the workflow can call them and the unit tests need no Temporal.
import { DateTime } from 'luxon';

export interface SendingPolicy {
  /** IANA zone of the recipient: the window and the daily cap follow their local clock. */
  timeZone: string;
  /** Local "HH:mm", start inclusive, end exclusive; e.g. 08:00–21:00 ("24:00" is the end of the day). */
  window: { start: string; end: string };
  /** At least this long between two messages to the lead. */
  minGapSeconds: number;
  /** At most this many messages per local calendar day. */
  maxPerDay: number;
}

export type HoldReason = 'window' | 'cap_gap' | 'cap_daily';

export interface SendTimeDecision {
  /** The earliest instant at or after the due time when the message may go out. */
  at: Date;
  /** The first rule that held it past the due time: what it is waiting for (null when it may go at the due time). */
  heldBy: HoldReason | null;
}

const minutesOf = (hhmm: string) => {
  const [hours = 0, minutes = 0] = hhmm.split(':').map(Number);
  return hours * 60 + minutes;
};

function atLocalMinutes(day: DateTime, minutes: number): DateTime {
  return day.startOf('day').set({ hour: Math.floor(minutes / 60), minute: minutes % 60 });
}

/** Moves `t` into the sending window: later today if before it opens, tomorrow's opening if after it closes. */
function intoWindow(t: DateTime, policy: SendingPolicy): DateTime {
  const start = minutesOf(policy.window.start);
  const end = minutesOf(policy.window.end);
  const local = t.hour * 60 + t.minute;
  if (local < start) return atLocalMinutes(t, start);
  if (local >= end) return atLocalMinutes(t.plus({ days: 1 }), start);
  return t;
}

/**
 * The earliest time at or after `due` that respects the window and both caps, given the lead's recent send
 * instants (ISO strings; the last `maxPerDay` are enough). Capped and out-of-window sends wait; none is dropped.
 */
export function earliestSendTime(due: Date, policy: SendingPolicy, recentSends: readonly string[]): SendTimeDecision {
  const sends = recentSends.map((iso) => DateTime.fromISO(iso, { zone: policy.timeZone }));
  let t: DateTime = DateTime.fromJSDate(due, { zone: policy.timeZone });
  let heldBy: HoldReason | null = null;
  // Each rule only moves t later, so a few rounds reach a time all rules accept.
  for (let round = 0; round < 10; round += 1) {
    const before = t;
    const last = sends.reduce<DateTime | null>((latest, sent) => (!latest || sent > latest ? sent : latest), null);
    if (last && t < last.plus({ seconds: policy.minGapSeconds })) {
      t = last.plus({ seconds: policy.minGapSeconds }).setZone(policy.timeZone);
      heldBy ??= 'cap_gap';
    }
    const sameDay = sends.filter((sent) => sent.hasSame(t, 'day')).length;
    if (sameDay >= policy.maxPerDay) {
      t = t.plus({ days: 1 }).startOf('day');
      heldBy ??= 'cap_daily';
    }
    const windowed = intoWindow(t, policy);
    if (+windowed !== +t) {
      t = windowed;
      heldBy ??= 'window';
    }
    if (+t === +before) break;
  }
  return { at: t.toJSDate(), heldBy };
}

export const windowTimePattern = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/**
 * The shortest window a tenant may set: the send gate claims no step in a window's last minute (activities/send-gate.ts),
 * so a window of a minute or two would hold every step for good.
 */
export const minWindowMinutes = 10;

/** Whether a window is usable: start before end, both valid "HH:mm" (end may be 24:00). */
export function isValidWindow(window: { start: string; end: string }): boolean {
  return (
    windowTimePattern.test(window.start) &&
    windowTimePattern.test(window.end) &&
    minutesOf(window.start) < minutesOf(window.end)
  );
}

/** How long a valid window is open, in minutes. */
export const windowMinutes = (window: { start: string; end: string }) =>
  minutesOf(window.end) - minutesOf(window.start);

/** Midnight to midnight: the window opens again as it closes, so a send in it never has to wait for one. */
export const windowNeverCloses = ({ start, end }: { start: string; end: string }) =>
  minutesOf(start) === 0 && end === '24:00';

/** When the window that `at` falls in closes: a send that would start later must be planned again. */
export function windowClosesAt(at: Date, policy: SendingPolicy): Date {
  return atLocalMinutes(DateTime.fromJSDate(at, { zone: policy.timeZone }), minutesOf(policy.window.end)).toJSDate();
}
