// The analytics answers (docs/analytics.md says what each number means), as zod schemas for the OpenAPI document.
import { z } from 'zod';

const count = z.number().int();
const rate = z.number().nullable().meta({ description: 'A fraction of `sent`; null when nothing was sent' });
const money = z.string().meta({ description: 'A decimal amount' });

export const funnel = z
  .object({
    enrolled: count,
    sent: count,
    delivered: count,
    failed: count,
    clicked: count,
    replied: count,
    booked: count,
    optedOut: count,
    expired: count,
    completed: count,
    rates: z.object({ delivered: rate, clicked: rate, replied: rate, booked: rate, optedOut: rate }),
    cost: z.object({ currency: z.string(), total: money, perReply: money.nullable(), perBooking: money.nullable() }),
  })
  .meta({ id: 'Funnel' });

const day = z
  .object({
    date: z.string(),
    sent: count,
    delivered: count,
    clicked: count,
    replied: count,
    booked: count,
    optedOut: count,
  })
  .meta({ id: 'FunnelDay' });

const range = { from: z.string(), to: z.string(), timeZone: z.string() };

export const analyticsOverview = z
  .object({
    ...range,
    totals: funnel,
    sequences: z.array(z.object({ sequenceId: z.uuid(), name: z.string(), totals: funnel })),
    days: z.array(day),
  })
  .meta({ id: 'AnalyticsOverview' });

const comparison = z.object({
  difference: z.number().nullable(),
  ci95: z.tuple([z.number(), z.number()]).nullable(),
  pValue: z.number().nullable(),
  verdict: z.enum(['significant', 'not_significant', 'too_small']),
});

export const sequenceAnalytics = z
  .object({
    sequenceId: z.uuid(),
    name: z.string(),
    ...range,
    totals: funnel,
    steps: z.array(
      z.object({
        version: count,
        step: count,
        totals: funnel,
        variants: z.array(z.object({ variant: z.string(), weight: count, totals: funnel })),
        comparisons: z.array(
          z.object({ a: z.string(), b: z.string(), replyRate: comparison, bookingRate: comparison }),
        ),
      }),
    ),
    days: z.array(day),
  })
  .meta({ id: 'SequenceAnalytics' });
