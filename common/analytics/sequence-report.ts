// GET /v1/analytics/sequences/:id: one sequence (every version of its name), per version and step, per A/B variant,
// with the variants compared two by two.
import type { Db } from '../db.js';
import { compareRates, type RateComparison } from './compare.js';
import { funnelOf, sumCounters, type Counters, type Funnel } from './funnel.js';
import type { DateRange, ZonedTenant } from './range.js';
import { rangeCounters, type DaySummary } from './rows.js';
import { labelledVariants, variantsOfStep, type VariantLabel } from './variants.js';

interface VariantReport {
  variant: VariantLabel;
  weight: number;
  totals: Funnel;
}

interface VariantComparison {
  a: VariantLabel;
  b: VariantLabel;
  replyRate: RateComparison;
  bookingRate: RateComparison;
}

export interface SequenceReport extends DateRange {
  sequenceId: string;
  name: string;
  timeZone: string;
  totals: Funnel;
  steps: {
    version: number;
    step: number;
    totals: Funnel;
    variants: VariantReport[];
    comparisons: VariantComparison[];
  }[];
  days: DaySummary[];
}

function comparisons(variants: { label: VariantLabel; counters: Counters }[]): VariantComparison[] {
  return variants.flatMap((a, index) =>
    variants.slice(index + 1).map((b) => ({
      a: a.label,
      b: b.label,
      replyRate: compareRates(
        { n: a.counters.sent, x: a.counters.replied },
        { n: b.counters.sent, x: b.counters.replied },
      ),
      bookingRate: compareRates(
        { n: a.counters.sent, x: a.counters.booked },
        { n: b.counters.sent, x: b.counters.booked },
      ),
    })),
  );
}

/** Null when the tenant has no such sequence. */
export async function sequenceReport(
  db: Db,
  tenant: ZonedTenant,
  sequenceId: string,
  range: DateRange,
): Promise<SequenceReport | null> {
  const sequence = await db.sequenceDefinition.findFirst({
    where: { id: sequenceId, tenantId: tenant.id },
    select: { name: true },
  });
  if (!sequence) return null;
  const [versions, { byStep: rows, days }] = await Promise.all([
    db.sequenceDefinition.findMany({
      where: { tenantId: tenant.id, name: sequence.name },
      select: { id: true, version: true, steps: true },
      orderBy: { version: 'asc' },
    }),
    rangeCounters(db, tenant.id, range, sequence.name),
  ]);
  const steps = versions.flatMap((version) => {
    const definitionSteps = Array.isArray(version.steps) ? version.steps : [];
    return definitionSteps.map((definitionStep, step) => {
      const stepRows = rows.filter((row) => row.sequenceId === version.id && row.step === step);
      const variants = labelledVariants(variantsOfStep(definitionStep) ?? []).map(({ label, weight }) => ({
        label,
        weight,
        counters: sumCounters(stepRows.filter((row) => row.variant === label)),
      }));
      return {
        version: version.version,
        step,
        totals: funnelOf(sumCounters(stepRows)),
        variants: variants.map(({ label, weight, counters }) => ({
          variant: label,
          weight,
          totals: funnelOf(counters),
        })),
        comparisons: comparisons(variants),
      };
    });
  });
  return {
    sequenceId,
    name: sequence.name,
    ...range,
    timeZone: tenant.defaultTimeZone,
    totals: funnelOf(sumCounters(rows)),
    steps,
    days,
  };
}
