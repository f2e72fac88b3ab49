// Events to the tenants' webhook endpoints (the CRM), durably: every step's state is in PostgreSQL (fan-out cursor,
// deliveries, leases, attempts), so a worker or API restart, or a database outage, delays deliveries but loses none.
// Several worker processes may relay at once: the endpoint row lock and the delivery leases keep them apart.
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { periodicRounds } from '../common/periodic.js';
import {
  claimDue,
  deliveryPayloads,
  endpointsDue,
  giveUpForDeletedEndpoints,
  giveUpClaimedUnselected,
  giveUpWaitedTooLong,
  noLongerSelected,
  recordDelivered,
  recordFailed,
  releaseEndpoint,
  takeEndpoint,
  releaseLeases,
  type AttemptRecord,
  type ClaimedDelivery,
} from '../common/webhooks/deliveries.js';
import { endpointsBehind, fanOutEndpoint } from '../common/webhooks/fan-out.js';
import { postWebhook } from '../common/webhooks/post.js';
import { standardWebhookHeaders } from '../common/webhooks/secrets.js';
import { recordTenantAlert } from '../common/tenant-alerts.js';
import type { Prisma, WebhookEndpoint } from '../generated/prisma/client.js';

/** Wait before the next attempt after the n-th failure (index n; the first attempt goes at once), then 10 h for good. */
export const defaultBackoffMs = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
/** A delivery failing this long is given up on (retried by hand) and its endpoint is marked `failing`. */
const defaultFailingAfterMs = 3 * 86_400_000;

/** Endpoints due read per free slot, to choose among by when each was last served. */
const candidatesPerSlot = 4;

export const backoffAfter = (failures: number, schedule: readonly number[]) =>
  schedule[Math.min(failures, schedule.length - 1)] ?? 0;

/**
 * Marks the endpoint `failing`, with its audit row and its alert to the tenant's alertWebhookUrl, in the transaction that
 * gives up its delivery; false when it was not active (failing already).
 */
async function markFailing(
  tx: Prisma.TransactionClient,
  endpoint: WebhookEndpoint,
  attempt: AttemptRecord,
): Promise<boolean> {
  const failingSince = new Date();
  const { count } = await tx.webhookEndpoint.updateMany({
    where: { id: endpoint.id, status: 'active' },
    data: { status: 'failing', failingSince },
  });
  if (count === 0) return false;
  await tx.auditLog.create({
    data: {
      tenantId: endpoint.tenantId,
      actor: 'webhook-relay',
      action: 'webhook_endpoint.failing',
      subject: endpoint.id,
      data: { url: endpoint.url, lastError: attempt.error },
    },
  });
  await recordTenantAlert(tx, {
    tenantId: endpoint.tenantId,
    type: 'webhook_endpoint.failing',
    facts: {
      endpointId: endpoint.id,
      url: endpoint.url,
      failingSince: failingSince.toISOString(),
      lastError: attempt.error,
    },
  });
  return true;
}

export interface WebhookRelayOptions {
  db: Db;
  logger: Logger;
  /** WEBHOOK_ALLOW_PRIVATE_URLS: development and tests only. */
  allowPrivateUrls: boolean;
  backoffMs?: readonly number[];
  failingAfterMs?: number;
  /** Per request: the endpoint must answer within it. */
  timeoutMs?: number;
  /** How long a claimed delivery is this worker's; a worker that dies holding it delays it by at most this. */
  leaseMs?: number;
  /** Endpoints served at once by this process; each endpoint gets one request at a time, in event order. */
  concurrency?: number;
  /** Deliveries claimed per endpoint at a time. */
  batchSize?: number;
}

export interface WebhookRelay {
  /** Fans out new events and delivers everything due, resolving when done (tests and benchmarks). */
  round(): Promise<void>;
  start(intervalMs: number): void;
  /** Stops the timer, cuts requests in flight short and hands their leases back, with those not sent yet. */
  stop(): Promise<void>;
}

export function createWebhookRelay(options: WebhookRelayOptions): WebhookRelay {
  const { db, logger, allowPrivateUrls } = options;
  const backoffMs = options.backoffMs ?? defaultBackoffMs;
  const failingAfterMs = options.failingAfterMs ?? defaultFailingAfterMs;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const concurrency = options.concurrency ?? 16;
  const batchSize = options.batchSize ?? 50;
  const limit = pLimit(concurrency);
  /** The endpoints this process is delivering to: another round leaves them to the drain under way. */
  const busy = new Map<string, Promise<void>>();
  /** When this process last delivered a batch to each endpoint: a round serves those served longest ago first. */
  const lastServed = new Map<string, number>();
  let stopping = false;
  /** Aborted by stop(): a shutdown does not wait up to the timeout for a slow endpoint. */
  const stopped = new AbortController();

  async function send(endpoint: WebhookEndpoint, delivery: ClaimedDelivery): Promise<AttemptRecord> {
    // Read now, not when the batch was claimed: an erasure committed during a slow batch reaches what is posted next.
    const payload = (await deliveryPayloads(db, [delivery])).get(delivery.id);
    const at = new Date();
    const body = JSON.stringify(payload);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'lead-followup-webhooks',
      ...standardWebhookHeaders(endpoint, { id: delivery.messageId, body }, at),
    };
    const outcome = await postWebhook(
      endpoint.url,
      { headers, body },
      {
        allowPrivate: allowPrivateUrls,
        owner: endpoint.tenantId,
        timeoutMs,
        cancel: stopped.signal,
        logger: logger.child({ tenantId: endpoint.tenantId, endpointId: endpoint.id, deliveryId: delivery.id }),
      },
    );
    return { deliveryId: delivery.id, at, ...outcome };
  }

  /** `answered`: the endpoint answered an earlier delivery of this batch with a 2xx. */
  async function failed(
    endpoint: WebhookEndpoint,
    delivery: ClaimedDelivery,
    attempt: AttemptRecord,
    answered: boolean,
  ): Promise<void> {
    // A delivery retried by hand gets its own 3 days again, from the retry.
    const giveUp = Date.now() - (delivery.retriedAt ?? delivery.createdAt).getTime() >= failingAfterMs;
    // Once an endpoint is failing, the endpoint waits the longest step after each failure: the deliveries queued behind
    // the one given up have few attempts of their own, and stepping by those sent a request for each, 5 s apart. Not
    // after it has just answered: an endpoint back from an outage has days-old deliveries at the front of its queue,
    // and one of them failing would hold the rest 10 h, and mark it failing again with another alert.
    const longest = (giveUp || endpoint.status === 'failing') && !answered;
    const failures = longest ? backoffMs.length : delivery.attempts + 1;
    const nextAttemptAt = new Date(Date.now() + backoffAfter(failures, backoffMs));
    // Giving up and marking the endpoint are one fact: apart, a crash between them would leave the delivery given up for
    // good and its endpoint active, with no alert. The delivery's row is locked before its endpoint's, as a retry by hand
    // locks them.
    const { recorded, marked } = await db.$transaction(async (tx) => {
      const recorded = await recordFailed(tx, attempt, { delivery, nextAttemptAt, giveUp });
      return { recorded, marked: giveUp && !answered && recorded && (await markFailing(tx, endpoint, attempt)) };
    });
    // After, in a statement of its own: taken inside, these rows' locks would come after the endpoint's, where a retry by
    // hand, a ping or a new URL takes the rows it makes due before the endpoint. A crash between the two leaves them for
    // the next give-up. An endpoint that has just answered is sent them instead.
    if (giveUp && recorded && !answered)
      await giveUpWaitedTooLong(db, endpoint.id, new Date(Date.now() - failingAfterMs));
    logger.warn(
      {
        tenantId: endpoint.tenantId,
        endpointId: endpoint.id,
        deliveryId: delivery.id,
        attempts: delivery.attempts + 1,
        statusCode: attempt.statusCode,
        err: attempt.error,
        givenUp: giveUp && recorded,
        // Retried by hand during the attempt (or delivered elsewhere): the delivery goes on as that left it.
        overtaken: !recorded,
      },
      'webhook delivery failed',
    );
    if (!marked) return;
    // The tenant sees it in the endpoint's status, the audit log and its alert webhook; the operator in this log line.
    logger.error(
      { tenantId: endpoint.tenantId, endpointId: endpoint.id, failingForMs: failingAfterMs },
      'webhook endpoint marked failing: its deliveries have failed for days',
    );
  }

  /** A failing endpoint that answered a whole batch is active again. */
  async function markAnswering(endpointId: string): Promise<void> {
    await db.webhookEndpoint.updateMany({
      where: { id: endpointId, status: 'failing' },
      data: { status: 'active', failingSince: null },
    });
    logger.info({ endpointId }, 'webhook endpoint answers again: active');
  }

  /**
   * Sends one claimed batch in order; false when it stopped early (a failure, a lease running short, a stop, the
   * endpoint deleted). The endpoint's lease, taken first, ends first; `leaseEnds` is this clock's reading from before it
   * was asked for, so it errs early whatever the database's clock says.
   */
  async function sendBatch(endpointId: string, batch: ClaimedDelivery[], leaseEnds: number): Promise<boolean> {
    const delivered: AttemptRecord[] = [];
    let sent = 0;
    // The deliveries whose outcome is recorded; the rest are handed back, those sent but unrecorded included: kept
    // leased after a failed write, the ones behind them would go first (they may arrive twice, with one id).
    let settled = 0;
    let failure = false;
    let answered = false;
    let failing = false;
    try {
      for (const delivery of batch) {
        // Never start a request that could outlast the lease: another worker could be sending it by then.
        if (stopping || Date.now() + timeoutMs + 1000 > leaseEnds) break;
        // Read before each request, not once for a batch that may last a minute: a new URL, a rotated secret or a
        // deletion applies from the next request.
        const current = await db.webhookEndpoint.findFirst({ where: { id: endpointId, deletedAt: null } });
        if (!current) break;
        failing = current.status === 'failing';
        if (noLongerSelected(current, delivery)) {
          await giveUpClaimedUnselected(db, delivery.id);
          sent += 1;
          continue;
        }
        const attempt = await send(current, delivery);
        // Cut short by a stop: not the endpoint's failure. Handed back with the rest; it may arrive twice (same id).
        if (stopping && attempt.error !== null) break;
        sent += 1;
        if (attempt.error === null) {
          delivered.push(attempt);
          answered = true;
          continue;
        }
        failure = true;
        await recordDelivered(db, delivered.splice(0));
        settled = sent - 1;
        await failed(current, delivery, attempt, answered);
        settled = sent;
        break;
      }
      await recordDelivered(db, delivered);
      settled = sent;
      if (failing && answered && !failure && sent === batch.length) await markAnswering(endpointId);
    } finally {
      await releaseLeases(
        db,
        batch.slice(settled).map((delivery) => delivery.id),
      );
    }
    return !failure && sent === batch.length;
  }

  /**
   * One batch under the endpoint's lease: whether all of it was delivered; null when another worker is draining it or
   * nothing is due.
   */
  async function drainBatch(endpointId: string): Promise<boolean | null> {
    const leaseEnds = Date.now() + leaseMs;
    const lease = await takeEndpoint(db, endpointId, leaseMs);
    if (!lease) return null;
    try {
      const endpoint = await db.webhookEndpoint.findFirst({ where: { id: endpointId, deletedAt: null } });
      if (!endpoint) return null;
      const batch = await claimDue(db, endpointId, batchSize, leaseMs);
      if (batch.length === 0) return null;
      return await sendBatch(endpointId, batch, leaseEnds);
    } finally {
      await releaseEndpoint(db, endpointId, lease);
    }
  }

  /**
   * Batch after batch while the endpoint has them, unless every slot is taken and another endpoint waits for one: then
   * it hands its slot back after the batch, and the next round serves the endpoints served longest ago first. Held
   * otherwise, a few endpoints with a backlog (a big import's events, a slow receiver) would keep every other
   * tenant's events waiting until they drained.
   */
  async function drain(endpointId: string): Promise<void> {
    // After a failure the rest waits for the endpoint's retryAfter: a dead endpoint costs one request per backoff step.
    while (!stopping) {
      const allDelivered = await drainBatch(endpointId);
      if (allDelivered === null) return;
      lastServed.set(endpointId, Date.now());
      if (!allDelivered) return;
      if (busy.size >= concurrency && (await endpointsDue(db, [...busy.keys()], 1)).length > 0) return;
    }
  }

  /**
   * Gives up deleted endpoints' deliveries, fans out, then starts a drain for each endpoint with deliveries due that is
   * not being drained here already.
   */
  async function dispatch(): Promise<void> {
    await giveUpForDeletedEndpoints(db);
    for (const endpointId of await endpointsBehind(db)) {
      // One endpoint that cannot be fanned out (logged) must not stop the others'.
      try {
        while ((await fanOutEndpoint(db, endpointId)) > 0 && !stopping);
      } catch (error) {
        logger.error({ err: error, endpointId }, 'webhook fan-out failed; retried next round');
      }
    }
    if (stopping || busy.size >= concurrency) return;
    const due = await endpointsDue(db, [...busy.keys()], candidatesPerSlot * concurrency);
    const longestUnserved = due.sort((a, b) => (lastServed.get(a) ?? 0) - (lastServed.get(b) ?? 0));
    for (const endpointId of longestUnserved.slice(0, concurrency - busy.size)) {
      const draining = limit(() => drain(endpointId))
        .catch((error: unknown) =>
          logger.error({ err: error, endpointId }, 'webhook delivery round failed; its leases lapse and it is retried'),
        )
        .finally(() => busy.delete(endpointId));
      busy.set(endpointId, draining);
    }
  }

  const periodic = periodicRounds(dispatch, { logger, what: 'webhook relay' });
  return {
    async round() {
      await dispatch();
      while (busy.size) await Promise.all(busy.values());
    },
    start: periodic.start,
    async stop() {
      stopping = true;
      stopped.abort();
      await periodic.stop();
      await Promise.all(busy.values());
    },
  };
}
