import { describe, expect, it } from 'vitest';
import { instantsOf, relativeChange, weekJustEnded } from '../../common/reports/weekly.js';

describe('the week a weekly report covers', () => {
  it('is the Monday-to-Sunday week before the run, in the tenant’s zone', () => {
    const mondayMorningLondon = new Date('2026-11-30T08:00:00Z');
    expect(weekJustEnded(mondayMorningLondon, 'Europe/London')).toEqual({
      week: { from: '2026-11-23', to: '2026-11-29' },
      previous: { from: '2026-11-16', to: '2026-11-22' },
    });
    // Monday 08:00 in Auckland is still Sunday in UTC: the zone decides which week has ended.
    const mondayMorningAuckland = new Date('2026-11-29T19:00:00Z');
    expect(weekJustEnded(mondayMorningAuckland, 'Pacific/Auckland').week).toEqual({
      from: '2026-11-23',
      to: '2026-11-29',
    });
    expect(weekJustEnded(mondayMorningAuckland, 'Europe/London').week).toEqual({
      from: '2026-11-16',
      to: '2026-11-22',
    });
  });

  it('runs from local midnight to local midnight, a day short of 168 hours when the clocks go forward', () => {
    const { start, end } = instantsOf({ from: '2026-03-23', to: '2026-03-29' }, 'Europe/London');
    expect(start.toISOString()).toBe('2026-03-23T00:00:00.000Z');
    expect(end.toISOString()).toBe('2026-03-29T23:00:00.000Z');
  });
});

describe('week-over-week change', () => {
  it('is relative to the previous week, null where that week had none, and skips what is not a count', () => {
    const totals = { sent: 110, replied: 8, booked: 3, rates: { replied: 0.07 }, cost: { total: '1.0000' } };
    const previous = { sent: 100, replied: 10, booked: 0, rates: { replied: 0.1 }, cost: { total: '0.9000' } };
    expect(relativeChange(totals, previous)).toEqual({ sent: 0.1, replied: -0.2, booked: null });
  });
});
