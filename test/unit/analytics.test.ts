// The pure parts of the funnel analytics: the statistics, the variant choice, the date ranges and the funnel's sums.
import { describe, expect, it } from 'vitest';
import {
  compareRates,
  isLargeEnough,
  newcombeInterval,
  twoProportionPValue,
  wilsonInterval,
} from '../../common/analytics/compare.js';
import { emptyCounters, funnelOf } from '../../common/analytics/funnel.js';
import { datesOf, resolveRange } from '../../common/analytics/range.js';
import { chooseVariant } from '../../common/analytics/variants.js';
import { Prisma } from '../../generated/prisma/client.js';

describe('two-proportion comparison', () => {
  // Newcombe (1998), "Interval estimation for the difference between independent proportions", Statistics in
  // Medicine 17:873-890, table II, method 10: 56/70 − 48/80 → (0.0524, 0.3339); 9/10 − 3/10 → (0.1705, 0.8090).
  it("matches Newcombe's published hybrid score intervals", () => {
    const [low, high] = newcombeInterval({ n: 80, x: 48 }, { n: 70, x: 56 });
    expect(low).toBeCloseTo(0.0524, 4);
    expect(high).toBeCloseTo(0.3339, 4);
    const [low2, high2] = newcombeInterval({ n: 10, x: 3 }, { n: 10, x: 9 });
    expect(low2).toBeCloseTo(0.1705, 4);
    expect(high2).toBeCloseTo(0.809, 4);
  });

  // Wilson (1927) as tabulated by Newcombe (1998a), method 3: 81/263 → (0.2553, 0.3662).
  it('matches a published Wilson interval', () => {
    const [low, high] = wilsonInterval({ n: 263, x: 81 });
    expect(low).toBeCloseTo(0.2553, 4);
    expect(high).toBeCloseTo(0.3662, 4);
  });

  // R: prop.test(c(56, 48), c(70, 80), correct = FALSE) → X-squared = 7.0233, p-value = 0.008045.
  it("gives the pooled z-test's p-value (R's prop.test without continuity correction)", () => {
    expect(twoProportionPValue({ n: 80, x: 48 }, { n: 70, x: 56 })).toBeCloseTo(0.008045, 5);
    expect(twoProportionPValue({ n: 50, x: 0 }, { n: 50, x: 0 })).toBe(1);
  });

  it('calls a clear difference significant, a small one not, and refuses samples below the documented minimum', () => {
    expect(compareRates({ n: 80, x: 48 }, { n: 70, x: 56 })).toMatchObject({
      difference: expect.closeTo(0.2, 10),
      verdict: 'significant',
    });
    expect(compareRates({ n: 100, x: 20 }, { n: 100, x: 24 })).toMatchObject({ verdict: 'not_significant' });
    // 29 sent is below 30; 4 expected successes at the pooled rate are below 5.
    expect(compareRates({ n: 29, x: 10 }, { n: 100, x: 30 })).toEqual({
      difference: 30 / 100 - 10 / 29,
      ci95: null,
      pValue: null,
      verdict: 'too_small',
    });
    expect(isLargeEnough({ n: 40, x: 2 }, { n: 40, x: 2 })).toBe(false);
    expect(isLargeEnough({ n: 40, x: 35 }, { n: 40, x: 36 })).toBe(false);
    expect(compareRates({ n: 0, x: 0 }, { n: 40, x: 5 })).toMatchObject({ difference: null, verdict: 'too_small' });
  });
});

describe('chooseVariant', () => {
  const variants = [
    { template: 'a', weight: 1 },
    { template: 'b', weight: 3 },
  ];

  it('picks the same variant for the same enrollment and step on every call', () => {
    for (let i = 0; i < 50; i += 1) {
      const enrollmentId = crypto.randomUUID();
      const first = chooseVariant(enrollmentId, 2, variants);
      expect(chooseVariant(enrollmentId, 2, variants)).toEqual(first);
      expect(first.template).toBe(first.label === 'A' ? 'a' : 'b');
    }
  });

  it('follows the weights over many enrollments', () => {
    const picks = Array.from({ length: 4000 }, () => chooseVariant(crypto.randomUUID(), 0, variants).label);
    const shareOfB = picks.filter((label) => label === 'B').length / picks.length;
    // 3/4 expected; ±0.03 is more than five standard deviations at n = 4000.
    expect(shareOfB).toBeGreaterThan(0.72);
    expect(shareOfB).toBeLessThan(0.78);
  });

  it('labels up to four variants A to D in order', () => {
    const four = ['w', 'x', 'y', 'z'].map((template) => ({ template, weight: 1 }));
    const picks = Array.from({ length: 200 }, () => chooseVariant(crypto.randomUUID(), 1, four));
    expect([...new Set(picks.map(({ label, template }) => `${label}${template}`))].sort()).toEqual([
      'Aw',
      'Bx',
      'Cy',
      'Dz',
    ]);
  });
});

describe('date ranges in the tenant zone', () => {
  // 02:30 UTC on 2 November is still 1 November in New York (21:30 EST).
  const now = new Date('2026-11-02T02:30:00Z');

  it('defaults to the 30 days ending today in the zone', () => {
    expect(resolveRange({}, 'America/New_York', now)).toEqual({ from: '2026-10-03', to: '2026-11-01' });
    expect(resolveRange({}, 'Europe/London', now)).toEqual({ from: '2026-10-04', to: '2026-11-02' });
  });

  it('refuses impossible dates, reversed ranges and ranges over 366 days', () => {
    expect(resolveRange({ from: '2026-02-30' }, 'UTC', now)).toMatchObject({ field: 'from' });
    expect(resolveRange({ from: '2026-11-02', to: '2026-11-01' }, 'UTC', now)).toMatchObject({ field: 'to' });
    expect(resolveRange({ from: '2025-01-01', to: '2026-01-02' }, 'UTC', now)).toMatchObject({ field: 'to' });
    expect(resolveRange({ from: '2025-01-01', to: '2026-01-01' }, 'UTC', now)).toEqual({
      from: '2025-01-01',
      to: '2026-01-01',
    });
  });

  it('lists every date of a range across a DST change', () => {
    expect(datesOf({ from: '2026-10-24', to: '2026-10-27' })).toEqual([
      '2026-10-24',
      '2026-10-25',
      '2026-10-26',
      '2026-10-27',
    ]);
  });
});

describe('funnelOf', () => {
  it('gives rates against sent and cost per reply and per booking, null where nothing to divide by', () => {
    const counters = { ...emptyCounters(), sent: 8, delivered: 6, replied: 3, cost: new Prisma.Decimal('0.0664') };
    expect(funnelOf(counters)).toMatchObject({
      rates: { delivered: 0.75, replied: 0.375, booked: 0, clicked: 0 },
      cost: { currency: 'USD', total: '0.0664', perReply: '0.0221', perBooking: null },
    });
    expect(funnelOf(emptyCounters()).rates).toEqual({
      delivered: null,
      clicked: null,
      replied: null,
      booked: null,
      optedOut: null,
    });
  });
});
