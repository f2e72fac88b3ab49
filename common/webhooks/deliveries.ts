// A delivery's life in the database: claimed under a lease, then recorded as delivered or as a failed attempt with
// its next time. A worker that dies holding a lease only delays its deliveries until the lease ends; the next worker
// sends them again with the same webhook-id (at least once; receivers deduplicate on it).
import type { Db } from '../db.js';
import type { Prisma } from '../../generated/prisma/client.js';

/** A delivery's `status` column (plain text in the schema): waiting for an attempt, delivered, or given up on. */
export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed'] as const;

export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  endpointId: string;
  eventId: string | null;
  messageId: string;
  /** The envelope as stored: what is posted is read from the event just before each request (deliveryPayloads). */
  payload: unknown;
  attempts: number;
  createdAt: Date;
  /** When it was last retried by hand, if ever: its give-up window counts from then. */
  retriedAt: Date | null;
  /** When it was claimed, by PostgreSQL's clock. */
  claimedAt: Date;
  /**
   * The endpoint's `released_at` as the claim saw it: a release committed since (a ping, a retry, a new URL) overtakes
   * its failure. Compared as a value, not as a time: a release whose transaction began before the claim but committed
   * after it is still one the claim did not see.
   */
  endpointReleasedAt: Date | null;
}

export interface AttemptRecord {
  deliveryId: string;
  at: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

/**
 * Endpoints (not deleted, not waiting after a failure, not being drained by a worker) with a delivery due and not
 * leased, oldest due first.
 */
export async function endpointsDue(db: Db, exclude: string[], limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ endpoint_id: string }[]>`
    SELECT d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
      AND w.deleted_at IS NULL AND (w.retry_after IS NULL OR w.retry_after <= now())
      AND (w.drain_until IS NULL OR w.drain_until < now())
      AND NOT (d.endpoint_id = ANY(${exclude}::uuid[]))
    GROUP BY d.endpoint_id ORDER BY min(d.next_attempt_at) LIMIT ${limit}`;
  return rows.map((row) => row.endpoint_id);
}

/**
 * What a delivery posts. An event's delivery keeps only the envelope (`type`, `timestamp`); its `data` is read from the
 * event when it is sent or shown, so an erasure, which scrubs the lead's events, reaches deliveries not yet sent too.
 * A ping keeps its whole body.
 */
export async function deliveryPayloads(
  db: Db,
  deliveries: { id: string; tenantId: string; eventId: string | null; payload: unknown }[],
): Promise<Map<string, unknown>> {
  const eventIds = deliveries.flatMap((delivery) => (delivery.eventId ? [delivery.eventId] : []));
  const events = eventIds.length
    ? await db.event.findMany({
        where: { id: { in: eventIds }, tenantId: { in: [...new Set(deliveries.map((d) => d.tenantId))] } },
        select: { id: true, tenantId: true, sequence: true, data: true },
      })
    : [];
  const byId = new Map(events.map((event) => [event.id, event]));
  return new Map(
    deliveries.map((delivery) => {
      const event = delivery.eventId ? byId.get(delivery.eventId) : undefined;
      if (!event || event.tenantId !== delivery.tenantId) return [delivery.id, delivery.payload];
      const data = { ...(event.data as Record<string, unknown>), eventId: event.id, sequence: Number(event.sequence) };
      return [delivery.id, { ...(delivery.payload as Record<string, unknown>), data }];
    }),
  );
}

/**
 * Takes the endpoint for one batch, or null when another worker is draining it or its last failure's wait is not over
 * (a failure another worker recorded since this one listed it due): only one worker at a time sends to an endpoint,
 * and none past a failure's wait, so its events arrive one by one, in order. A worker that dies holding it only delays it by the lease.
 * The answer is the lease's end, which only this taking wrote: the token to hand it back with.
 */
export async function takeEndpoint(db: Db, endpointId: string, leaseMs: number): Promise<Date | null> {
  const [taken] = await db.$queryRaw<{ drain_until: Date }[]>`
    UPDATE webhook_endpoints SET drain_until = now() + ${leaseMs} * interval '1 millisecond'
    WHERE id = ${endpointId}::uuid AND deleted_at IS NULL AND (drain_until IS NULL OR drain_until < now())
      AND (retry_after IS NULL OR retry_after <= now())
    RETURNING drain_until`;
  return taken?.drain_until ?? null;
}

/**
 * Hands the endpoint back after a batch, so the next round, here or elsewhere, may take it at once; only if it is still
 * this batch's: past its lease another worker may have taken it, and that worker's lease stays.
 */
export async function releaseEndpoint(db: Db, endpointId: string, lease: Date): Promise<void> {
  await db.webhookEndpoint.updateMany({ where: { id: endpointId, drainUntil: lease }, data: { drainUntil: null } });
}

/** Leases up to `limit` of an endpoint's due deliveries, in event order (pings first); rows another worker holds are skipped. */
export async function claimDue(db: Db, endpointId: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const rows = await db.$queryRaw<
    Array<{
      id: string;
      tenant_id: string;
      endpoint_id: string;
      event_id: string | null;
      sequence: bigint | null;
      message_id: string;
      payload: unknown;
      attempts: number;
      created_at: Date;
      retried_at: Date | null;
      claimed_at: Date;
      released_at: Date | null;
    }>
  >`
    UPDATE webhook_deliveries d SET lease_until = now() + ${leaseMs} * interval '1 millisecond'
    FROM (
      SELECT w.id, e.sequence FROM webhook_deliveries w LEFT JOIN events e ON e.id = w.event_id
      WHERE w.endpoint_id = ${endpointId}::uuid AND w.status = 'pending' AND w.next_attempt_at <= now()
        AND (w.lease_until IS NULL OR w.lease_until < now())
      ORDER BY e.sequence NULLS FIRST, w.created_at
      LIMIT ${limit} FOR UPDATE OF w SKIP LOCKED
    ) due
    WHERE d.id = due.id
    RETURNING d.id, d.tenant_id, d.endpoint_id, d.event_id, due.sequence, d.message_id, d.payload, d.attempts, d.created_at,
      d.retried_at, now() AS claimed_at,
      (SELECT released_at FROM webhook_endpoints WHERE id = ${endpointId}::uuid) AS released_at`;
  // RETURNING keeps no order: sort as claimed. By sequence, not by when a row was written: two replicas' fan-outs
  // stamp rows with their transactions' starts, and the later batch may carry the earlier stamp. Pings first.
  return rows
    .sort(
      (a, b) => Number(a.sequence ?? -1) - Number(b.sequence ?? -1) || a.created_at.getTime() - b.created_at.getTime(),
    )
    .map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      endpointId: row.endpoint_id,
      eventId: row.event_id,
      messageId: row.message_id,
      payload: row.payload,
      attempts: row.attempts,
      createdAt: row.created_at,
      retriedAt: row.retried_at,
      claimedAt: row.claimed_at,
      endpointReleasedAt: row.released_at,
    }));
}

/** Deliveries answered 2xx: delivered, their attempts logged, in one transaction. */
export async function recordDelivered(db: Db, attempts: AttemptRecord[]): Promise<void> {
  if (attempts.length === 0) return;
  const ids = attempts.map((attempt) => attempt.deliveryId);
  const codes = attempts.map((attempt) => attempt.statusCode ?? 200);
  await db.$transaction([
    db.$executeRaw`
      UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = now(), attempts = d.attempts + 1, lease_until = NULL,
        last_status_code = done.code, last_error = NULL
      FROM unnest(${ids}::uuid[], ${codes}::int[]) AS done(id, code)
      WHERE d.id = done.id`,
    db.webhookAttempt.createMany({ data: attempts }),
  ]);
}

/**
 * A failed attempt: logged, and the delivery due again at `nextAttemptAt`, or given up on (`failed`) when `giveUp`.
 * Only a delivery still pending and not retried by hand since it was claimed is changed (true): one another worker
 * delivered meanwhile stays delivered, and a retry asked for during the attempt keeps its fresh start. The endpoint's
 * other deliveries wait as long (its `retryAfter`), so they keep their order and a dead endpoint is not probed with
 * each of them in turn; unless a ping, a retry or a new URL released the endpoint since the claim: then the wait stays
 * lifted and the delivery stays due, first in line again (false). In the caller's transaction: a give-up commits with
 * what it makes of the endpoint, or not at all.
 */
export async function recordFailed(
  tx: Prisma.TransactionClient,
  attempt: AttemptRecord,
  next: { delivery: ClaimedDelivery; nextAttemptAt: Date; giveUp: boolean },
): Promise<boolean> {
  await tx.webhookAttempt.create({ data: attempt });
  const { count } = await tx.webhookDelivery.updateMany({
    where: { id: attempt.deliveryId, status: 'pending', retriedAt: next.delivery.retriedAt },
    data: {
      attempts: { increment: 1 },
      leaseUntil: null,
      lastStatusCode: attempt.statusCode,
      lastError: attempt.error,
      nextAttemptAt: next.nextAttemptAt,
      ...(next.giveUp ? { status: 'failed' } : {}),
    },
  });
  if (count === 0) {
    // Retried by hand meanwhile: handed back as the retry left it, due at once.
    await tx.webhookDelivery.updateMany({
      where: { id: attempt.deliveryId, status: 'pending' },
      data: { leaseUntil: null },
    });
    return false;
  }
  const waits = await tx.webhookEndpoint.updateMany({
    where: { id: next.delivery.endpointId, releasedAt: next.delivery.endpointReleasedAt },
    data: { retryAfter: next.nextAttemptAt },
  });
  if (waits.count > 0) return true;
  await tx.webhookDelivery.updateMany({
    where: { id: attempt.deliveryId },
    data: { status: 'pending', nextAttemptAt: next.delivery.claimedAt },
  });
  return false;
}

/**
 * With a delivery given up, the endpoint's deliveries that have waited behind it longer than a delivery may fail are
 * given up too, unsent: tried one per longest step, a dead endpoint's backlog would grow without end and come back
 * weeks stale. The tenant retries them by hand or reads them from the events feed.
 */
export async function giveUpWaitedTooLong(
  tx: Prisma.TransactionClient | Db,
  endpointId: string,
  olderThan: Date,
): Promise<number> {
  // Locked in one order, as the API's changes lock them (lockPendingDeliveries): two sets taken in different orders deadlock.
  return tx.$executeRaw`
    UPDATE webhook_deliveries
    SET status = 'failed', lease_until = NULL, last_error = 'given up unsent: it waited days behind a failing delivery'
    WHERE id IN (
      SELECT id FROM webhook_deliveries
      WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending'
        AND coalesce(retried_at, created_at) < ${olderThan}::timestamptz
      ORDER BY id FOR UPDATE)`;
}

/**
 * Locks the endpoint's pending deliveries no relay holds, in one order, before the caller locks the endpoint: the relay
 * records a failure on its delivery first and on the endpoint then, so every change the API makes takes them in that
 * order too, or a DELETE and a ping (each holding what the other waits for) deadlock and one of them fails. Leased ones
 * are the relay's to record (several at once, in no order): the API writes one at most, the delivery a retry names.
 */
export async function lockPendingDeliveries(tx: Prisma.TransactionClient, endpointId: string): Promise<void> {
  await tx.$executeRaw`SELECT id FROM webhook_deliveries
    WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
    ORDER BY id FOR UPDATE`;
}

/**
 * Deleted endpoints' deliveries will never go: given up, not left pending for good. The relay's rounds give up those
 * no relay holds (one in flight when its endpoint was deleted is handed back, or recorded as failed, first; a retry
 * or a test the API made as the endpoint was deleted is caught the same way); DELETE gives up its endpoint's at once.
 */
export async function giveUpForDeletedEndpoints(db: Db | Prisma.TransactionClient, endpointId?: string) {
  await db.$executeRaw`
    UPDATE webhook_deliveries d
    SET status = 'failed', lease_until = NULL, last_error = 'given up unsent: its endpoint was deleted'
    FROM webhook_endpoints w
    WHERE w.id = d.endpoint_id AND w.deleted_at IS NOT NULL AND d.status = 'pending'
      AND (d.lease_until IS NULL OR d.lease_until < now())
      AND (${endpointId ?? null}::uuid IS NULL OR w.id = ${endpointId ?? null}::uuid)`;
}

/**
 * An endpoint narrowed to fewer event types (`events` set, non-empty) gets no more of the others: those still waiting
 * for it are given up, as no new one is fanned out to it. Pings stay, and so do deliveries a relay holds (in flight:
 * they may go). Call it under lockPendingDeliveries.
 */
export async function giveUpUnselected(tx: Prisma.TransactionClient, endpointId: string, events: string[]) {
  if (events.length === 0) return;
  await tx.$executeRaw`
    UPDATE webhook_deliveries
    SET status = 'failed', lease_until = NULL, last_error = ${unselectedError}
    WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending' AND event_id IS NOT NULL
      AND (lease_until IS NULL OR lease_until < now())
      AND NOT (payload->>'type' = ANY(${events}::text[]))`;
}

const unselectedError = 'given up unsent: its endpoint no longer takes this event type';

/**
 * Whether the endpoint, as it is now, no longer takes the event a claimed delivery carries: a ping it always takes, and
 * a delivery retried by hand is the tenant asking for it.
 */
export const noLongerSelected = (endpoint: { events: string[] }, delivery: ClaimedDelivery): boolean =>
  delivery.eventId !== null &&
  delivery.retriedAt === null &&
  endpoint.events.length > 0 &&
  !endpoint.events.includes((delivery.payload as { type?: string }).type ?? '');

/**
 * Gives up a claimed delivery its endpoint's narrowed events no longer take: giveUpUnselected leaves the claimed ones to
 * the relay, which reaches them here, in its batch or once handed back.
 */
export async function giveUpClaimedUnselected(db: Db, deliveryId: string): Promise<void> {
  await db.webhookDelivery.updateMany({
    where: { id: deliveryId, status: 'pending' },
    data: { status: 'failed', leaseUntil: null, lastError: unselectedError },
  });
}

/** Hands back leased deliveries this worker will not send now, so the next round (here or elsewhere) takes them at once. */
export async function releaseLeases(db: Db, ids: string[]): Promise<void> {
  if (ids.length)
    await db.webhookDelivery.updateMany({ where: { id: { in: ids }, status: 'pending' }, data: { leaseUntil: null } });
}
