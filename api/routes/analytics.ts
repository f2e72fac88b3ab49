import { Router, type Request } from 'express';
import { z } from 'zod';
import { analyticsOverview } from '../../common/analytics/overview.js';
import { resolveRange, type DateRange, type ZonedTenant } from '../../common/analytics/range.js';
import { sequenceReport } from '../../common/analytics/sequence-report.js';
import type { Db } from '../../common/db.js';
import { tenantOf } from '../auth.js';
import { ApiError, notFound, parseQuery } from '../errors.js';
import { idParam } from '../params.js';

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a calendar date YYYY-MM-DD');
export const rangeSchema = z.strictObject({ from: date.optional(), to: date.optional() });

/** Funnels from the counters kept as facts happen (common/analytics/aggregate.ts); docs/analytics.md says what each means. */
export function analyticsRouter({ db }: { db: Db }): Router {
  const router = Router();

  /** The asked range in the tenant's zone, with the tenant the answer is for. */
  async function rangeOf(req: Request): Promise<{ tenant: ZonedTenant; range: DateRange }> {
    const asked = parseQuery(rangeSchema, req.query);
    const tenant = await db.tenant.findUniqueOrThrow({
      where: { id: tenantOf(req) },
      select: { id: true, defaultTimeZone: true },
    });
    const range = resolveRange(asked, tenant.defaultTimeZone);
    if ('field' in range)
      throw new ApiError(400, 'bad_request', 'Invalid query parameters', {
        fields: { [range.field]: [range.message] },
      });
    return { tenant, range };
  }

  router.get('/analytics/overview', async (req, res) => {
    const { tenant, range } = await rangeOf(req);
    res.json(await analyticsOverview(db, tenant, range));
  });

  router.get('/analytics/sequences/:sequenceId', async (req, res) => {
    const sequenceId = idParam(req.params.sequenceId, 'Sequence');
    const { tenant, range } = await rangeOf(req);
    const report = await sequenceReport(db, tenant, sequenceId, range);
    if (!report) throw notFound('Sequence');
    res.json(report);
  });

  return router;
}
