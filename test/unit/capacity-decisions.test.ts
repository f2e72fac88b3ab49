import { describe, expect, it } from 'vitest';
import { budgetPeriods, warmupAllowance, warmupDay, type WarmupSettings } from '../../common/capacity/periods.js';
import { countSegments } from '../../common/capacity/segments.js';
import { sendingNumberFor } from '../../common/capacity/sending-number.js';

describe('countSegments: GSM-7 160/153, UCS-2 70/67 (what Twilio bills)', () => {
  it.each([
    ['a'.repeat(160), 'GSM-7', 1],
    ['a'.repeat(161), 'GSM-7', 2],
    ['a'.repeat(306), 'GSM-7', 2], // 2 × 153
    ['a'.repeat(307), 'GSM-7', 3],
    ['a'.repeat(459), 'GSM-7', 3], // 3 × 153
    ['a'.repeat(460), 'GSM-7', 4],
    ['ж'.repeat(70), 'UCS-2', 1],
    ['ж'.repeat(71), 'UCS-2', 2],
    ['ж'.repeat(134), 'UCS-2', 2], // 2 × 67
    ['ж'.repeat(135), 'UCS-2', 3],
  ] as const)('%#: %s… is %s in %d segment(s)', (body, encoding, segments) => {
    expect(countSegments(body)).toEqual({ encoding, segments });
  });

  it("keeps GSM-7 for the alphabet's accented letters and counts its extension characters (€ [ ] { }) twice", () => {
    expect(countSegments(`Café à ${'e'.repeat(152)}`)).toEqual({ encoding: 'GSM-7', segments: 1 }); // 160 characters
    expect(countSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1 }); // 160 septets
    expect(countSegments('€'.repeat(81))).toEqual({ encoding: 'GSM-7', segments: 2 });
  });

  it('one character outside GSM-7 (an emoji, a curly quote) makes the whole body UCS-2', () => {
    const hi = 'Hi Ada, your appointment is confirmed';
    expect(countSegments(hi)).toEqual({ encoding: 'GSM-7', segments: 1 });
    expect(countSegments(`${hi} 🙂`)).toEqual({ encoding: 'UCS-2', segments: 1 });
    expect(countSegments(`${'a'.repeat(69)}’`)).toEqual({ encoding: 'UCS-2', segments: 1 });
    expect(countSegments(`${'a'.repeat(70)}’`)).toEqual({ encoding: 'UCS-2', segments: 2 });
    // An emoji takes two UTF-16 units: 35 fit in one UCS-2 segment, 36 do not.
    expect(countSegments('🙂'.repeat(35)).segments).toBe(1);
    expect(countSegments('🙂'.repeat(36)).segments).toBe(2);
  });
});

const warmup: WarmupSettings = { firstDayLimit: 20, dailyIncrease: 50, days: 7, warmedUpDailyLimit: 1000 };

describe('warm-up: day 1 at most 20, +50 a day up to day 7, then 1,000 a day', () => {
  it('allows 20, 70, … 320 on days 1 to 7 and 1,000 from day 8', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 30].map((day) => warmupAllowance(day, warmup))).toEqual([
      20, 70, 120, 170, 220, 270, 320, 1000, 1000,
    ]);
  });

  it('never ramps above the warmed-up limit, and no warm-up days means the full limit from the first send', () => {
    expect(warmupAllowance(3, { ...warmup, warmedUpDailyLimit: 100 })).toBe(100);
    expect(warmupAllowance(1, { ...warmup, days: 0 })).toBe(1000);
  });

  it("counts days in 24 hours from the number's first send", () => {
    const first = new Date('2026-11-21T22:30:00Z');
    expect(warmupDay(first, first)).toEqual({
      day: 1,
      period: { key: 'day-1', endsAt: new Date('2026-11-22T22:30:00Z') },
    });
    expect(warmupDay(first, new Date('2026-11-22T22:29:59.999Z')).day).toBe(1);
    expect(warmupDay(first, new Date('2026-11-22T22:30:00Z'))).toEqual({
      day: 2,
      period: { key: 'day-2', endsAt: new Date('2026-11-23T22:30:00Z') },
    });
    expect(warmupDay(first, new Date('2026-11-29T00:00:00Z')).day).toBe(8);
  });
});

describe("budget periods: the tenant's own calendar day and month", () => {
  it('names the local day and month and ends them at local midnight', () => {
    const { daily, monthly } = budgetPeriods(new Date('2026-11-30T23:30:00Z'), 'America/New_York');
    expect(daily).toEqual({ key: '2026-11-30', endsAt: new Date('2026-12-01T05:00:00Z') });
    expect(monthly).toEqual({ key: '2026-11', endsAt: new Date('2026-12-01T05:00:00Z') });
    // The same instant is already 1 December in Tokyo.
    expect(budgetPeriods(new Date('2026-11-30T23:30:00Z'), 'Asia/Tokyo').monthly).toEqual({
      key: '2026-12',
      endsAt: new Date('2026-12-31T15:00:00Z'),
    });
  });

  it('keeps a day whole across a DST change (23 or 25 hours)', () => {
    // London springs forward on 29 March 2026: that day ends 23 hours after it began.
    expect(budgetPeriods(new Date('2026-03-29T12:00:00Z'), 'Europe/London').daily).toEqual({
      key: '2026-03-29',
      endsAt: new Date('2026-03-29T23:00:00Z'),
    });
    expect(budgetPeriods(new Date('2026-10-25T12:00:00Z'), 'Europe/London').daily).toEqual({
      key: '2026-10-25',
      endsAt: new Date('2026-10-26T00:00:00Z'),
    });
  });
});

describe("sendingNumberFor: a lead always hears from the same one of its tenant's numbers", () => {
  const numbers = ['+15005550101', '+15005550102', '+15005550103'];

  it("falls back to the deployment's sender when the tenant has none", () => {
    expect(sendingNumberFor([], '+447700900001', '+15005550006')).toBe('+15005550006');
  });

  it('picks the same number for a lead whatever order the numbers come in, and spreads leads over them', () => {
    const leads = Array.from({ length: 60 }, (_, i) => `+4477009${String(i).padStart(5, '0')}`);
    const picks = leads.map((lead) => sendingNumberFor(numbers, lead, 'unused'));
    expect(leads.map((lead) => sendingNumberFor([...numbers].reverse(), lead, 'unused'))).toEqual(picks);
    expect(new Set(picks)).toEqual(new Set(numbers));
  });
});
