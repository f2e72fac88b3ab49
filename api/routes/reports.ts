import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { tenantOf } from '../auth.js';
import { parseQuery } from '../errors.js';
import { queryInstant } from '../params.js';

export const querySchema = z.strictObject({ since: queryInstant.optional() });

/** Outbound messages by status and by Twilio error code; 30007 (carrier filtering) is called out for operators. */
export function reportsRouter({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/reports/messages', async (req, res) => {
    const query = parseQuery(querySchema, req.query);
    const since = query.since ? new Date(query.since) : new Date(Date.now() - 7 * 86_400_000);
    const where = { tenantId: tenantOf(req), direction: 'outbound' as const, createdAt: { gte: since } };
    const [byStatus, byError] = await Promise.all([
      db.message.groupBy({ by: ['status'], where, _count: { _all: true } }),
      db.message.groupBy({ by: ['errorCode'], where: { ...where, errorCode: { not: null } }, _count: { _all: true } }),
    ]);
    const errorCounts = Object.fromEntries(byError.map((row) => [String(row.errorCode), row._count._all]));
    res.json({
      since: since.toISOString(),
      byStatus: Object.fromEntries(byStatus.map((row) => [row.status, row._count._all])),
      byErrorCode: errorCounts,
      carrierFiltered: errorCounts['30007'] ?? 0,
    });
  });
  return router;
}
