import { describe, expect, it } from 'vitest';
import { earliestSendTime, isValidWindow, type SendingPolicy } from '../../workflows/decisions/send-time.js';

const policy = (timeZone: string, overrides: Partial<SendingPolicy> = {}): SendingPolicy => ({
  timeZone,
  window: { start: '08:00', end: '21:00' },
  minGapSeconds: 60,
  maxPerDay: 5,
  ...overrides,
});
const at = (iso: string) => new Date(iso);
const decide = (due: string, p: SendingPolicy, sends: string[] = []) => {
  const decision = earliestSendTime(at(due), p, sends);
  return { at: decision.at.toISOString(), heldBy: decision.heldBy };
};

describe('earliestSendTime: sending window (shared/docs/domain.md: 08:00-21:00 local, hold rather than drop)', () => {
  it('sends at the due time inside the window', () => {
    expect(decide('2026-03-02T15:00:00Z', policy('Europe/London'))).toEqual({
      at: '2026-03-02T15:00:00.000Z',
      heldBy: null,
    });
  });

  it('holds a send due before the window until it opens the same day', () => {
    expect(decide('2026-03-02T06:30:00Z', policy('Europe/London'))).toEqual({
      at: '2026-03-02T08:00:00.000Z',
      heldBy: 'window',
    });
  });

  it('holds a send due after the window until it opens the next day', () => {
    // 21:30 in New York (EST, UTC-5) -> 08:00 next day = 13:00Z
    expect(decide('2026-01-15T02:30:00Z', policy('America/New_York'))).toEqual({
      at: '2026-01-15T13:00:00.000Z',
      heldBy: 'window',
    });
  });

  it('opens at 08:00 local on the day New York springs forward (EST -> EDT, 8 March 2026)', () => {
    // Due 23:00 EST on 7 March; the window opens 08:00 EDT on 8 March = 12:00Z, not 13:00Z.
    expect(decide('2026-03-08T04:00:00Z', policy('America/New_York'))).toEqual({
      at: '2026-03-08T12:00:00.000Z',
      heldBy: 'window',
    });
  });

  it('opens at 08:00 local on the day London falls back (BST -> GMT, 25 October 2026)', () => {
    // Due 22:00 BST on 24 October (21:00Z); 08:00 GMT on the 25th = 08:00Z, not 07:00Z.
    expect(decide('2026-10-24T21:00:00Z', policy('Europe/London'))).toEqual({
      at: '2026-10-25T08:00:00.000Z',
      heldBy: 'window',
    });
  });

  it('honours a stricter per-tenant window (08:00-20:00, as in Florida)', () => {
    expect(
      decide('2026-06-10T00:30:00Z', policy('America/New_York', { window: { start: '08:00', end: '20:00' } })),
    ).toEqual({
      at: '2026-06-10T12:00:00.000Z',
      heldBy: 'window',
    });
  });
});

describe('earliestSendTime: per-lead caps (counted per local calendar day)', () => {
  it('keeps at least the minimum gap after the last send', () => {
    expect(decide('2026-03-02T15:00:10Z', policy('Europe/London'), ['2026-03-02T15:00:00Z'])).toEqual({
      at: '2026-03-02T15:01:00.000Z',
      heldBy: 'cap_gap',
    });
  });

  it('holds the sixth message of a local day until the next day opens', () => {
    const sends = ['09:00', '10:00', '11:00', '12:00', '13:00'].map((time) => `2026-03-02T${time}:00Z`);
    expect(decide('2026-03-02T14:00:00Z', policy('Europe/London'), sends)).toEqual({
      at: '2026-03-03T08:00:00.000Z',
      heldBy: 'cap_daily',
    });
  });

  it('counts the day in the lead’s zone, not UTC', () => {
    // 23:30Z on 2 March is 18:30 on 2 March in New York: the five sends that day count.
    const sends = ['14:00', '15:00', '16:00', '17:00', '18:00'].map((time) => `2026-03-02T${time}:00Z`);
    const decision = decide('2026-03-02T23:30:00Z', policy('America/New_York'), sends);
    expect(decision).toEqual({ at: '2026-03-03T13:00:00.000Z', heldBy: 'cap_daily' });
  });
});

describe('isValidWindow', () => {
  it('accepts HH:mm with start before end only', () => {
    expect(isValidWindow({ start: '08:00', end: '21:00' })).toBe(true);
    expect(isValidWindow({ start: '21:00', end: '08:00' })).toBe(false);
    expect(isValidWindow({ start: '8:00', end: '21:00' })).toBe(false);
    expect(isValidWindow({ start: '08:00', end: '24:00' })).toBe(true);
    expect(isValidWindow({ start: '24:00', end: '24:00' })).toBe(false);
  });
});
