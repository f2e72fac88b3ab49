// GET /v1/analytics/overview, and the weekly report built from the same query.
import type { Db } from '../db.js';
import { funnelOf, sumCounters, type Funnel } from './funnel.js';
import type { DateRange } from './range.js';
import { countersByStep, daySeries, type DaySummary } from './rows.js';

export interface AnalyticsOverview extends DateRange {
  timeZone: string;
  totals: Funnel;
  /** One per sequence name (all its versions together); sequenceId is its latest version's. */
  sequences: { sequenceId: string; name: string; totals: Funnel }[];
  days: DaySummary[];
}

export async function analyticsOverview(db: Db, tenantId: string, range: DateRange): Promise<AnalyticsOverview> {
  const [tenant, definitions, rows, days] = await Promise.all([
    db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { defaultTimeZone: true } }),
    db.sequenceDefinition.findMany({
      where: { tenantId },
      select: { id: true, name: true },
      orderBy: [{ name: 'asc' }, { version: 'desc' }],
    }),
    countersByStep(db, tenantId, range),
    daySeries(db, tenantId, range),
  ]);
  const nameOf = new Map(definitions.map((definition) => [definition.id, definition.name]));
  const latestIdOf = new Map<string, string>();
  for (const definition of definitions)
    if (!latestIdOf.has(definition.name)) latestIdOf.set(definition.name, definition.id);
  return {
    ...range,
    timeZone: tenant.defaultTimeZone,
    totals: funnelOf(sumCounters(rows)),
    sequences: [...latestIdOf].map(([name, sequenceId]) => ({
      sequenceId,
      name,
      totals: funnelOf(sumCounters(rows.filter((row) => nameOf.get(row.sequenceId) === name))),
    })),
    days,
  };
}
