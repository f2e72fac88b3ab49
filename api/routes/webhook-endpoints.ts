// The tenant's webhook endpoints: where its events are POSTed, signed (Standard Webhooks), and what became of each
// delivery. The worker's relay (worker/webhook-relay.ts) does the sending; these routes only record and read.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { eventTypes } from '../../common/events.js';
import {
  deliveryPayloads,
  giveUpForDeletedEndpoints,
  giveUpUnselected,
  lockPendingDeliveries,
  webhookDeliveryStatuses,
} from '../../common/webhooks/deliveries.js';
import { newWebhookSecret, previousSecretOverlapMs } from '../../common/webhooks/secrets.js';
import { checkTarget, UnsafeUrlError } from '../../common/webhooks/url-safety.js';
import type { Prisma, WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { ApiError, notFound, parseBody, parseQuery } from '../errors.js';
import { idParam, pageLimit } from '../params.js';

const fields = {
  url: z.string().max(2048),
  events: z.array(z.enum(eventTypes)).max(eventTypes.length),
  description: z.string().max(500).nullable(),
};
export const createSchema = z.strictObject({
  url: fields.url,
  events: fields.events.default([]),
  description: fields.description.optional(),
});
export const updateSchema = z.strictObject({
  url: fields.url.optional(),
  events: fields.events.optional(),
  description: fields.description.optional(),
});
export const deliveriesQuery = z.object({
  status: z.enum(webhookDeliveryStatuses).optional(),
  limit: pageLimit(100, 20),
});

/**
 * Each endpoint gets its own copy of every event it takes and its own share of the relay: a cap keeps one tenant from
 * multiplying the relay's work (the CRM needs one or two; delete one to add another).
 */
const maxEndpointsPerTenant = 10;

/** Until when the endpoint's last failure holds back all its deliveries; null when it holds nothing now. */
const heldUntil = ({ retryAfter }: Pick<WebhookEndpoint, 'retryAfter'>) =>
  retryAfter && retryAfter.getTime() > Date.now() ? retryAfter : null;

function endpointView(endpoint: WebhookEndpoint) {
  const { id, url, events, description, status, failingSince, createdAt, updatedAt } = endpoint;
  return { id, url, events, description, status, failingSince, retryAfter: heldUntil(endpoint), createdAt, updatedAt };
}

/**
 * A pending delivery's `nextAttemptAt` is when it may go: its own time, or its endpoint's wait when that is later (a
 * queued delivery shows the failure it waits behind, not a time long past).
 */
function deliveryView(
  delivery: WebhookDelivery & { attemptLog: WebhookAttempt[] },
  payload: unknown,
  endpoint: Pick<WebhookEndpoint, 'retryAfter'>,
) {
  const held = heldUntil(endpoint);
  const nextAttemptAt = held && held > delivery.nextAttemptAt ? held : delivery.nextAttemptAt;
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    messageId: delivery.messageId,
    type: (delivery.payload as { type?: string }).type,
    status: delivery.status,
    attemptCount: delivery.attempts,
    nextAttemptAt: delivery.status === 'pending' ? nextAttemptAt : null,
    deliveredAt: delivery.deliveredAt,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: delivery.createdAt,
    payload,
    attempts: delivery.attemptLog.map(({ at, statusCode, durationMs, error }) => ({
      at,
      statusCode,
      durationMs,
      error,
    })),
  };
}

export function webhookEndpointsRouter({
  db,
  allowPrivateWebhookUrls = false,
}: {
  db: Db;
  allowPrivateWebhookUrls?: boolean | undefined;
}): Router {
  const router = Router();

  /**
   * The URL as given, once it passed the SSRF checks (the relay checks again at every delivery). Where a refused host
   * resolved is logged, not answered.
   */
  async function safeUrl(url: string, owner: string, log: Logger): Promise<string> {
    try {
      await checkTarget(url, { allowPrivate: allowPrivateWebhookUrls, owner });
      return url;
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      if (error.resolved) log.warn(error.resolved, 'webhook URL refused');
      throw new ApiError(422, 'unsafe_url', `The URL cannot be a webhook endpoint: ${error.reason}`, {
        fields: { url: [error.reason] },
      });
    }
  }

  async function endpointOf(req: { tenantId?: string; params: { id?: string } }): Promise<WebhookEndpoint> {
    const endpoint = await db.webhookEndpoint.findFirst({
      where: { id: idParam(req.params.id, 'Webhook endpoint'), tenantId: tenantOf(req), deletedAt: null },
    });
    if (!endpoint) throw notFound('Webhook endpoint');
    return endpoint;
  }

  router.post('/webhook-endpoints', async (req, res) => {
    const body = parseBody(createSchema, req.body);
    const tenantId = tenantOf(req);
    const url = await safeUrl(body.url, tenantId, req.log);
    const endpoint = await db.$transaction(async (tx) => {
      // Counted under a lock of the tenant's own, so creates at once cannot pass the cap together.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`webhook-endpoints:${tenantId}`}, 0))`;
      const live = await tx.webhookEndpoint.count({ where: { tenantId, deletedAt: null } });
      if (live >= maxEndpointsPerTenant)
        throw new ApiError(409, 'conflict', `A tenant has at most ${maxEndpointsPerTenant} webhook endpoints`, {
          limit: maxEndpointsPerTenant,
        });
      // Events from now on: a new endpoint starts past the tenant's last event, not at the beginning of its history.
      const counter = await tx.eventCounter.findUnique({ where: { tenantId } });
      return tx.webhookEndpoint.create({
        data: {
          tenantId,
          url,
          events: body.events,
          description: body.description ?? null,
          secret: newWebhookSecret(),
          cursor: counter?.lastSequence ?? 0n,
        },
      });
    });
    res.status(201).json({ ...endpointView(endpoint), secret: endpoint.secret });
  });

  router.get('/webhook-endpoints', async (req, res) => {
    const endpoints = await db.webhookEndpoint.findMany({
      where: { tenantId: tenantOf(req), deletedAt: null },
      orderBy: { createdAt: 'asc' },
    });
    res.json({ endpoints: endpoints.map(endpointView) });
  });

  router.get('/webhook-endpoints/:id', async (req, res) => {
    res.json(endpointView(await endpointOf(req)));
  });

  /**
   * Writes the endpoint unless a DELETE committed since the route read it (a DELETE in flight is waited for): then a
   * 404, and the caller's transaction rolls back.
   */
  const updateLiveEndpoint = async (
    tx: Prisma.TransactionClient,
    endpointId: string,
    data: Prisma.WebhookEndpointUpdateManyMutationInput,
  ) => {
    const { count } = await tx.webhookEndpoint.updateMany({ where: { id: endpointId, deletedAt: null }, data });
    if (count === 0) throw notFound('Webhook endpoint');
  };

  /**
   * A ping, a retry by hand or a new URL is tried at once, not after the wait the endpoint's last failure set; and the
   * deliveries the endpoint's failures hold back, the failing one's own wait included, are due now: all of them, or
   * the ones after the failing one would go first and out of order. In the change's transaction, so the relay never
   * sees the wait lifted before they are due; the deliveries first, then the endpoint, as the relay locks them. By
   * PostgreSQL's clock, which the relay's claims compare with.
   */
  const goesAtOnce = async (tx: Prisma.TransactionClient, endpointId: string) => {
    await lockPendingDeliveries(tx, endpointId);
    await tx.$executeRaw`UPDATE webhook_deliveries SET next_attempt_at = now()
      WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending' AND next_attempt_at > now()`;
    // Stamped too: an attempt in flight, claimed before this, that fails does not set the wait again (recordFailed).
    const released = await tx.$executeRaw`UPDATE webhook_endpoints SET retry_after = NULL, released_at = now()
      WHERE id = ${endpointId}::uuid AND deleted_at IS NULL`;
    // Deleted since the route read it: rolled back, no ping or retry is left that its deletion already gave up on.
    if (released === 0) throw notFound('Webhook endpoint');
  };

  router.patch('/webhook-endpoints/:id', async (req, res) => {
    const body = parseBody(updateSchema, req.body);
    const endpoint = await endpointOf(req);
    const url = body.url === undefined ? undefined : await safeUrl(body.url, endpoint.tenantId, req.log);
    // A client sending its whole configuration each time does not lift the failing endpoint's pace: only a new URL does.
    const newUrl = url !== undefined && url !== endpoint.url;
    const updated = await db.$transaction(async (tx) => {
      // A new URL is tried at once, whatever the old one's failures made its deliveries wait for.
      if (newUrl) await goesAtOnce(tx, endpoint.id);
      if (body.events) await lockPendingDeliveries(tx, endpoint.id);
      await updateLiveEndpoint(tx, endpoint.id, { url, events: body.events, description: body.description });
      // Narrowed: what still waits of the types it no longer takes never goes, as the CRM asked; after the endpoint's
      // update, which waits for a fan-out holding it, so what that fan-out queued by the old filter is given up too.
      if (body.events) await giveUpUnselected(tx, endpoint.id, body.events);
      return tx.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    });
    res.json(endpointView(updated));
  });

  router.delete('/webhook-endpoints/:id', async (req, res) => {
    const endpoint = await endpointOf(req);
    await db.$transaction(async (tx) => {
      await lockPendingDeliveries(tx, endpoint.id);
      await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { deletedAt: new Date() } });
      await giveUpForDeletedEndpoints(tx, endpoint.id);
    });
    res.status(204).end();
  });

  router.post('/webhook-endpoints/:id/rotate-secret', async (req, res) => {
    const endpoint = await endpointOf(req);
    const previousSecretExpiresAt = new Date(Date.now() + previousSecretOverlapMs);
    // One statement: two rotations at once each keep the secret they replaced, so neither answers a secret never used.
    const [rotated] = await db.$queryRaw<{ id: string; secret: string }[]>`
      UPDATE webhook_endpoints SET previous_secret = secret, secret = ${newWebhookSecret()},
        previous_secret_expires_at = ${previousSecretExpiresAt}, updated_at = now()
      WHERE id = ${endpoint.id}::uuid AND tenant_id = ${endpoint.tenantId}::uuid AND deleted_at IS NULL
      RETURNING id, secret`;
    if (!rotated) throw notFound('Webhook endpoint');
    res.json({ id: rotated.id, secret: rotated.secret, previousSecretExpiresAt });
  });

  router.post('/webhook-endpoints/:id/test', async (req, res) => {
    const endpoint = await endpointOf(req);
    const messageId = `msg_ping_${randomUUID()}`;
    const delivery = await db.$transaction(async (tx) => {
      await goesAtOnce(tx, endpoint.id);
      return tx.webhookDelivery.create({
        data: {
          tenantId: endpoint.tenantId,
          endpointId: endpoint.id,
          messageId,
          payload: { type: 'ping', timestamp: new Date().toISOString(), data: { endpointId: endpoint.id } },
        },
        include: { attemptLog: true },
      });
    });
    res.status(202).json(deliveryView(delivery, delivery.payload, { retryAfter: null }));
  });

  router.get('/webhook-endpoints/:id/deliveries', async (req, res) => {
    const { status, limit } = parseQuery(deliveriesQuery, req.query);
    const endpoint = await endpointOf(req);
    const deliveries = await db.webhookDelivery.findMany({
      where: { endpointId: endpoint.id, tenantId: endpoint.tenantId, ...(status ? { status } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
      include: { attemptLog: { orderBy: { at: 'asc' } } },
    });
    const payloads = await deliveryPayloads(db, deliveries);
    res.json({
      deliveries: deliveries.map((delivery) => deliveryView(delivery, payloads.get(delivery.id), endpoint)),
    });
  });

  router.post('/webhook-endpoints/:id/deliveries/:deliveryId/retry', async (req, res) => {
    const endpoint = await endpointOf(req);
    const deliveryId = idParam(req.params.deliveryId, 'Delivery');
    const delivery = await db.webhookDelivery.findFirst({
      where: { id: deliveryId, endpointId: endpoint.id, tenantId: endpoint.tenantId },
    });
    if (!delivery) throw notFound('Delivery');
    const delivered = (deliveredAt: Date | null) =>
      new ApiError(409, 'conflict', 'The delivery was delivered already', { deliveredAt });
    if (delivery.status === 'delivered') throw delivered(delivery.deliveredAt);
    const retried = await db.$transaction(async (tx) => {
      await lockPendingDeliveries(tx, endpoint.id);
      // Only while it is still not delivered: the relay may record it delivered between the read above and this.
      const { count } = await tx.webhookDelivery.updateMany({
        where: { id: delivery.id, status: { not: 'delivered' } },
        // Its backoff and give-up window start again: a transient failure now is retried, not given up at once.
        data: { status: 'pending', nextAttemptAt: new Date(), retriedAt: new Date(), attempts: 0 },
      });
      const now = await tx.webhookDelivery.findUniqueOrThrow({
        where: { id: delivery.id },
        include: { attemptLog: { orderBy: { at: 'asc' } } },
      });
      if (count === 0) throw delivered(now.deliveredAt);
      await goesAtOnce(tx, endpoint.id);
      return now;
    });
    res.json(deliveryView(retried, (await deliveryPayloads(db, [retried])).get(retried.id), { retryAfter: null }));
  });

  return router;
}
