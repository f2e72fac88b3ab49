// GET /v1/analytics/overview, and the weekly report built from the same query.
import type { Db } from '../db.js';
import { funnelOf, sumCounters, type Funnel } from './funnel.js';
import type { DateRange, ZonedTenant } from './range.js';
import { rangeCounters, type DaySummary } from './rows.js';

export interface AnalyticsOverview extends DateRange {
  timeZone: string;
  totals: Funnel;
  /** One per sequence name (all its versions together); sequenceId is its latest version's. */
  sequences: { sequenceId: string; name: string; totals: Funnel }[];
  days: DaySummary[];
}

export async function analyticsOverview(db: Db, tenant: ZonedTenant, range: DateRange): Promise<AnalyticsOverview> {
  const [definitions, { byStep: rows, days }] = await Promise.all([
    db.sequenceDefinition.findMany({
      where: { tenantId: tenant.id },
      select: { id: true, name: true },
      orderBy: [{ name: 'asc' }, { version: 'desc' }],
    }),
    rangeCounters(db, tenant.id, range),
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
