import { Router } from 'express';
import { z } from 'zod';
import { globalScope, PausedByOperatorError, pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import type { CapacitySettings } from '../../common/capacity/settings.js';
import { pauseView, sendingStatus } from '../../common/capacity/status.js';
import type { Db } from '../../common/db.js';
import { apiKeyOf, tenantOf } from '../auth.js';
import { ApiError, notFound, parseBody, unknownRoute } from '../errors.js';
import { uuidField } from '../params.js';

export interface SendingDeps {
  db: Db;
  capacity: CapacitySettings;
  /** What messages go out from when a tenant has no sender of its own (shown once the tenant used it). */
  defaultSender?: string | undefined;
}

export const reasonSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });
export const operatorSchema = reasonSchema.extend({ tenantId: uuidField.optional() });

/** The caller's sending capacity, and its own kill switch (actor: the API key that turned it). */
export function sendingRouter({ db, capacity, defaultSender }: SendingDeps): Router {
  const router = Router();
  const status = (tenantId: string) => sendingStatus(db, { tenantId, settings: capacity, defaultSender });
  router.get('/sending', async (req, res) => {
    res.json(await status(tenantOf(req)));
  });
  router.post('/sending/pause', async (req, res) => {
    const tenantId = tenantOf(req);
    const { reason } = parseBody(reasonSchema, req.body);
    await pauseSending(db, { scope: tenantId, actor: apiKeyOf(req), reason: reason ?? null });
    res.json(await status(tenantId));
  });
  router.post('/sending/resume', async (req, res) => {
    const tenantId = tenantOf(req);
    const { reason } = parseBody(reasonSchema, req.body);
    await resumeSending(db, { scope: tenantId, actor: apiKeyOf(req), reason: reason ?? null }).catch(
      (error: unknown) => {
        if (!(error instanceof PausedByOperatorError)) throw error;
        throw new ApiError(
          409,
          'conflict',
          "The operator paused this tenant's sending; only the operator can resume it",
          {
            pausedAt: error.pause.pausedAt.toISOString(),
            reason: error.pause.reason,
          },
        );
      },
    );
    res.json(await status(tenantId));
  });
  return router;
}

/** Every pause in force: the global one and each paused tenant. */
async function pausesView(db: Db) {
  const pauses = await db.sendingPause.findMany({ orderBy: { pausedAt: 'asc' } });
  return {
    global: pauseView(pauses.find((pause) => pause.scope === globalScope)),
    tenants: pauses
      .filter((pause) => pause.scope !== globalScope)
      .map((pause) => ({ tenantId: pause.scope, ...pauseView(pause) })),
  };
}

/**
 * The operator's kill switch (mounted behind requireOperator): global, or one tenant's with `tenantId`. Its own 404
 * for anything else, so no operator path falls through to the tenant routes.
 */
export function operatorSendingRouter({ db }: { db: Db }): Router {
  const router = Router();
  // The stored ID: the send gate looks a pause up by it as text.
  const scopeOf = async (tenantId: string | undefined) => {
    if (!tenantId) return globalScope;
    const tenant = await db.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
    if (!tenant) throw notFound('Tenant');
    return tenant.id;
  };
  router.get('/sending', async (_req, res) => {
    res.json(await pausesView(db));
  });
  router.post('/sending/pause', async (req, res) => {
    const { reason, tenantId } = parseBody(operatorSchema, req.body);
    await pauseSending(db, { scope: await scopeOf(tenantId), actor: 'operator', reason: reason ?? null });
    res.json(await pausesView(db));
  });
  router.post('/sending/resume', async (req, res) => {
    const { reason, tenantId } = parseBody(operatorSchema, req.body);
    await resumeSending(db, { scope: await scopeOf(tenantId), actor: 'operator', reason: reason ?? null });
    res.json(await pausesView(db));
  });
  router.use(unknownRoute);
  return router;
}
