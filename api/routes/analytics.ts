import { Router } from 'express';
import { z } from 'zod';
import { analyticsOverview } from '../../common/analytics/overview.js';
import { resolveRange, type DateRange } from '../../common/analytics/range.js';
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

  async function rangeOf(query: unknown, tenantId: string): Promise<DateRange> {
    const asked = parseQuery(rangeSchema, query);
    const { defaultTimeZone } = await db.tenant.findUniqueOrThrow({
      where: { id: tenantId },
      select: { defaultTimeZone: true },
    });
    const range = resolveRange(asked, defaultTimeZone);
    if ('field' in range)
      throw new ApiError(400, 'bad_request', 'Invalid query parameters', {
        fields: { [range.field]: [range.message] },
      });
    return range;
  }

  router.get('/analytics/overview', async (req, res) => {
    const tenantId = tenantOf(req);
    res.json(await analyticsOverview(db, tenantId, await rangeOf(req.query, tenantId)));
  });

  router.get('/analytics/sequences/:sequenceId', async (req, res) => {
    const tenantId = tenantOf(req);
    const sequenceId = idParam(req.params.sequenceId, 'Sequence');
    const report = await sequenceReport(db, tenantId, sequenceId, await rangeOf(req.query, tenantId));
    if (!report) throw notFound('Sequence');
    res.json(report);
  });

  return router;
}
