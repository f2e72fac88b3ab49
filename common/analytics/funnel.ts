// The funnel object every analytics answer uses (docs/analytics.md), summed from analytics_daily rows.
import { Prisma } from '../../generated/prisma/client.js';

export interface Counters {
  enrolled: number;
  sent: number;
  delivered: number;
  failed: number;
  clicked: number;
  replied: number;
  booked: number;
  optedOut: number;
  expired: number;
  completed: number;
  cost: Prisma.Decimal;
}

export interface Funnel extends Omit<Counters, 'cost'> {
  rates: Record<'delivered' | 'clicked' | 'replied' | 'booked' | 'optedOut', number | null>;
  cost: { currency: string; total: string; perReply: string | null; perBooking: string | null };
}

/** SMS_COST_PER_SEGMENT is a price in US dollars, as Twilio bills it. */
export const costCurrency = 'USD';

const countKeys = [
  'enrolled',
  'sent',
  'delivered',
  'failed',
  'clicked',
  'replied',
  'booked',
  'optedOut',
  'expired',
  'completed',
] as const;

export const emptyCounters = (): Counters => ({
  ...(Object.fromEntries(countKeys.map((key) => [key, 0])) as Omit<Counters, 'cost'>),
  cost: new Prisma.Decimal(0),
});

export function addCounters(into: Counters, row: Counters): Counters {
  for (const key of countKeys) into[key] += row[key];
  into.cost = into.cost.plus(row.cost);
  return into;
}

export const sumCounters = (rows: Iterable<Counters>): Counters => {
  const total = emptyCounters();
  for (const row of rows) addCounters(total, row);
  return total;
};

const money = (value: Prisma.Decimal) => value.toFixed(4);

export function funnelOf(counters: Counters): Funnel {
  const { cost, ...counts } = counters;
  const ofSent = (value: number) => (counts.sent === 0 ? null : value / counts.sent);
  return {
    ...counts,
    rates: {
      delivered: ofSent(counts.delivered),
      clicked: ofSent(counts.clicked),
      replied: ofSent(counts.replied),
      booked: ofSent(counts.booked),
      optedOut: ofSent(counts.optedOut),
    },
    cost: {
      currency: costCurrency,
      total: money(cost),
      perReply: counts.replied ? money(cost.dividedBy(counts.replied)) : null,
      perBooking: counts.booked ? money(cost.dividedBy(counts.booked)) : null,
    },
  };
}
