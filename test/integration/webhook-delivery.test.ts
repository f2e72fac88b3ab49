// The webhook relay end to end: events recorded with recordEvent reach a local receiver that verifies every request
// with standardwebhooks and the endpoint's secret; retries keep one webhook-id; a worker killed mid-delivery loses
// nothing; rotation signs with both secrets; without WEBHOOK_ALLOW_PRIVATE_URLS a name resolving to loopback is
// refused at delivery time. Other test files' relays may run meanwhile: the tests wait for outcomes, not for rounds.
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { recordEvent, type EventType } from '../../common/events.js';
import { freePort } from '../../common/free-port.js';
import { releaseEndpoint, takeEndpoint } from '../../common/webhooks/deliveries.js';
import { fanOutEndpoint } from '../../common/webhooks/fan-out.js';
import {
  backoffAfter,
  createWebhookRelay,
  defaultBackoffMs,
  type WebhookRelayOptions,
} from '../../worker/webhook-relay.js';
import { createTenant, testDb } from '../support/fixtures.js';
import { heldTransaction } from '../support/held-transaction.js';
import { killAllEntries, startEntry } from '../support/processes.js';
import { testAppDeps } from '../support/stack.js';
import { until } from '../support/wait.js';
import { startWebhookReceiver, type Answer, type WebhookReceiver } from '../support/webhook-receiver.js';

const db = testDb();
const app = createApp(testAppDeps(db, new Client(), 'unused', { allowPrivateWebhookUrls: true }));
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await killAllEntries();
  await receiver.close();
  await db.$disconnect();
});

const silent = pino({ level: 'silent' });
/** Backoff in milliseconds instead of minutes, so a test sees the retries. */
const quickBackoff = [0, 50, 50];
const relayWith = (options: Partial<WebhookRelayOptions> = {}) =>
  createWebhookRelay({ db, logger: silent, allowPrivateUrls: true, backoffMs: quickBackoff, ...options });

async function endpointFor(options: { events?: EventType[]; answer?: Answer } = {}) {
  const { tenant, auth } = await createTenant(db);
  const path = `/crm/${randomUUID()}`;
  const created = await request(app)
    .post('/v1/webhook-endpoints')
    .set(auth)
    .send({ url: receiver.urlFor(path), events: options.events ?? [] });
  expect(created.status).toBe(201);
  receiver.expect(path, [created.body.secret as string], options.answer);
  return { tenantId: tenant.id, auth, path, id: created.body.id as string, secret: created.body.secret as string };
}

const record = (tenantId: string, type: EventType, data: Record<string, string> = {}) =>
  db.$transaction((tx) => recordEvent(tx, { tenantId, type, data }));

/** Runs relay rounds until `probe` holds. */
async function deliverUntil<T>(
  relay: ReturnType<typeof relayWith>,
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  what: string,
): Promise<T> {
  return until(
    async () => {
      await relay.round();
      return probe();
    },
    what,
    30_000,
  );
}

/** Runs relay rounds until the delivery is delivered; its endpoint is then `active`. */
async function deliveredByActiveEndpoint(relay: ReturnType<typeof relayWith>, deliveryId: string, what: string) {
  const delivery = await deliverUntil(
    relay,
    async () => {
      const row = await db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
      return row.status === 'delivered' ? row : null;
    },
    what,
  );
  expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: delivery.endpointId } })).toMatchObject({
    status: 'active',
  });
}

describe('webhook delivery', () => {
  it('delivers the events an endpoint takes, in sequence order, signed, once each even with two relays at once', async () => {
    const endpoint = await endpointFor({ events: ['lead.created', 'message.received'] });
    const events = [];
    for (const [type, data] of [
      ['lead.created', { phone: '+447700900001' }],
      ['message.sent', {}],
      ['message.received', { body: 'Yes' }],
      ['lead.created', { phone: '+447700900002' }],
    ] as const) {
      events.push({ type, data, ...(await record(endpoint.tenantId, type, data)) });
    }
    const [relayA, relayB] = [relayWith(), relayWith()];
    await Promise.all([relayA.round(), relayB.round()]);
    const received = await until(
      () => (receiver.received(endpoint.path).length >= 3 ? receiver.received(endpoint.path) : null),
      'three deliveries',
    );
    const taken = events.filter((event) => event.type !== 'message.sent');
    expect(received.map((entry) => entry.body)).toEqual(
      taken.map((event) => ({
        type: event.type,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        data: { ...event.data, eventId: event.id, sequence: Number(event.sequence) },
      })),
    );
    expect(received.map((entry) => entry.headers['webhook-id'])).toEqual(taken.map((event) => `msg_${event.id}`));
    expect(
      received.every((entry) => entry.verifiedBy.length === 1 && entry.headers['content-type'] === 'application/json'),
    ).toBe(true);
    await relayA.round();
    expect(receiver.received(endpoint.path)).toHaveLength(3);
    const deliveries = await db.webhookDelivery.findMany({
      where: { endpointId: endpoint.id },
      include: { attemptLog: true },
    });
    expect(deliveries).toHaveLength(3);
    expect(
      deliveries.every(
        (delivery) =>
          delivery.status === 'delivered' && delivery.attempts === 1 && delivery.attemptLog[0]?.statusCode === 200,
      ),
    ).toBe(true);
    expect(receiver.unverified).toEqual([]);
  });

  it('two relays at once send one endpoint its events one at a time, in sequence order', async () => {
    const endpoint = await endpointFor({ answer: () => ({ status: 200, afterMs: 20 }) });
    for (let i = 0; i < 60; i += 1) await record(endpoint.tenantId, 'message.sent', { n: String(i) });
    // Every delivery due before either relay looks, and small batches, so each relay has every chance to take it.
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const relays = [relayWith({ batchSize: 5 }), relayWith({ batchSize: 5 })];
    const received = await until(async () => {
      await Promise.all(relays.map((relay) => relay.round()));
      const all = receiver.received(endpoint.path);
      return all.length >= 60 ? all : null;
    }, 'every event');
    const sequences = received.map((entry) => Number(entry.body.data.sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(60);
    // The receiver answers each request 20 ms after it came: the next one never came sooner.
    const gaps = received.slice(1).map((entry, i) => entry.at - (received[i]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(18);
  });

  it('an endpoint that is down is tried once per backoff step, not once per queued event; a retry by hand goes at once', async () => {
    const relay = relayWith({ timeoutMs: 500, backoffMs: [0, 60_000] });
    const down = [await endpointFor({ answer: () => 'hold' }), await endpointFor({ answer: () => 'hold' })];
    for (const endpoint of down)
      for (let i = 0; i < 5; i += 1) await record(endpoint.tenantId, 'message.sent', { n: String(i) });
    const healthy = await endpointFor();
    await record(healthy.tenantId, 'lead.created');
    await deliverUntil(
      relay,
      () => [...down, healthy].every((endpoint) => receiver.received(endpoint.path).length > 0) || null,
      'an attempt at each endpoint',
    );
    // Rounds go on; the endpoints that timed out wait out their minute with all their deliveries.
    await relay.round();
    await relay.round();
    for (const endpoint of down) {
      expect(receiver.received(endpoint.path)).toHaveLength(1);
      const deliveries = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
      expect(deliveries.filter((delivery) => delivery.attempts > 0)).toHaveLength(1);
      expect(deliveries.every((delivery) => delivery.status === 'pending')).toBe(true);
    }
    const [first] = down as [Awaited<ReturnType<typeof endpointFor>>];
    const tried = await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: first.id, attempts: 1 } });
    const retry = `/v1/webhook-endpoints/${first.id}/deliveries/${tried.id}/retry`;
    expect((await request(app).post(retry).set(first.auth)).status).toBe(200);
    await deliverUntil(relay, () => receiver.received(first.path).length === 2 || null, 'the retry by hand');
  });

  it('a receiver answering 500 twice then 200 gets the event three times with one webhook-id; the attempts are listed', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n < 2 ? 500 : 200) });
    const event = await record(endpoint.tenantId, 'appointment.confirmed', { appointmentId: 'a1' });
    const relay = relayWith();
    await deliverUntil(relay, () => receiver.received(endpoint.path).length >= 3, 'the third attempt');
    const received = receiver.received(endpoint.path);
    expect(received.map((entry) => entry.headers['webhook-id'])).toEqual([
      `msg_${event.id}`,
      `msg_${event.id}`,
      `msg_${event.id}`,
    ]);
    const listed = await until(async () => {
      const answer = await request(app).get(`/v1/webhook-endpoints/${endpoint.id}/deliveries`).set(endpoint.auth);
      return answer.body.deliveries[0]?.status === 'delivered' ? answer.body.deliveries : null;
    }, 'the delivery recorded as delivered');
    expect(listed).toHaveLength(1);
    const answered = (
      listed[0].attempts as Array<{ statusCode: number | null; durationMs: number; error: string | null }>
    ).filter((attempt) => attempt.statusCode !== null);
    expect(answered.map((attempt) => [attempt.statusCode, attempt.error])).toEqual([
      [500, 'HTTP 500'],
      [500, 'HTTP 500'],
      [200, null],
    ]);
    expect(answered.every((attempt) => attempt.durationMs >= 0)).toBe(true);
  });

  it('backs off at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then every 10 h', () => {
    const minutes = Array.from({ length: 10 }, (_, failures) => backoffAfter(failures, defaultBackoffMs) / 60_000);
    expect(minutes).toEqual([0, 5 / 60, 5, 30, 120, 300, 600, 600, 600, 600]);
  });

  it('a redirect is not followed: the attempt failed', async () => {
    const endpoint = await endpointFor({ answer: () => 302 });
    await record(endpoint.tenantId, 'lead.created');
    const attempt = await deliverUntil(
      relayWith(),
      () => db.webhookAttempt.findFirst({ where: { delivery: { endpointId: endpoint.id }, statusCode: 302 } }),
      'the redirected attempt',
    );
    expect(attempt.error).toBe('HTTP 302 (redirects are not followed)');
    expect(await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } })).toMatchObject({
      status: 'pending',
      deliveredAt: null,
    });
    await request(app).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(endpoint.auth);
  });

  it('a worker process killed (SIGKILL) while the receiver holds its request loses nothing: the lease lapses and another relay sends it again', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? 'hold' : 200) });
    const worker = startEntry('worker/index.ts', {
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
      WORKER_METRICS_PORT: String(await freePort()),
    });
    await worker.logged('worker started');
    const event = await record(endpoint.tenantId, 'lead.opted_out', { reason: 'STOP' });
    await until(() => receiver.received(endpoint.path).length === 1, 'the worker to send the event', 30_000);
    await worker.kill();
    const leased = await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
    expect(leased).toMatchObject({ status: 'pending', attempts: 0, leaseUntil: expect.any(Date) });
    expect(leased.leaseUntil?.getTime()).toBeGreaterThan(Date.now());
    // The leases (60 s) on the delivery and on the endpoint running out, without the test waiting for them.
    await db.webhookDelivery.update({ where: { id: leased.id }, data: { leaseUntil: new Date(Date.now() - 1000) } });
    await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { drainUntil: new Date(Date.now() - 1000) } });
    await deliverUntil(
      relayWith(),
      async () => (await db.webhookDelivery.findUniqueOrThrow({ where: { id: leased.id } })).status === 'delivered',
      'the delivery after the crash',
    );
    expect(receiver.received(endpoint.path).map((entry) => entry.headers['webhook-id'])).toEqual([
      `msg_${event.id}`,
      `msg_${event.id}`,
    ]);
  });

  it('after rotate-secret both secrets sign (either verifies) until the overlap ends; then only the new one', async () => {
    const endpoint = await endpointFor();
    const rotated = await request(app).post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`).set(endpoint.auth);
    receiver.expect(endpoint.path, [rotated.body.secret as string, endpoint.secret]);
    await record(endpoint.tenantId, 'lead.created');
    const relay = relayWith();
    const [first] = await deliverUntil(
      relay,
      () => (receiver.received(endpoint.path).length === 1 ? receiver.received(endpoint.path) : null),
      'the first delivery',
    );
    expect(first?.verifiedBy).toEqual([0, 1]);
    expect(String(first?.headers['webhook-signature']).split(' ')).toEqual([
      expect.stringMatching(/^v1,/),
      expect.stringMatching(/^v1,/),
    ]);

    await db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1000) },
    });
    await record(endpoint.tenantId, 'lead.created');
    const second = (
      await deliverUntil(
        relay,
        () => (receiver.received(endpoint.path).length === 2 ? receiver.received(endpoint.path) : null),
        'the second delivery',
      )
    )[1];
    expect(second?.verifiedBy).toEqual([0]);
    expect(String(second?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(receiver.unverified).toEqual([]);
  });

  it('without WEBHOOK_ALLOW_PRIVATE_URLS a host that resolves to 127.0.0.1 is refused at delivery time (DNS rebinding)', async () => {
    const endpoint = await endpointFor();
    // As if the name resolved to a public address when saved and to loopback now.
    await db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { url: `https://localhost:${receiver.port}${endpoint.path}` },
    });
    await record(endpoint.tenantId, 'lead.created');
    const logged: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const strict = relayWith({ allowPrivateUrls: false, logger });
    const refused = await deliverUntil(
      strict,
      () =>
        db.webhookAttempt.findFirst({
          where: { delivery: { endpointId: endpoint.id }, error: { startsWith: 'unsafe URL' } },
        }),
      'a refused attempt',
    );
    // The rule, not the address: a tenant could map our network by where its hosts resolve. The log has the address.
    expect(refused).toMatchObject({
      statusCode: null,
      error:
        'unsafe URL: the host must resolve, and only to public internet addresses; webhook URLs must reach the public internet',
    });
    expect(await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } })).toMatchObject({
      lastError: refused.error,
    });
    expect(logged).toContainEqual(
      expect.objectContaining({
        msg: 'webhook URL refused',
        endpointId: endpoint.id,
        host: 'localhost',
        address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/),
        kind: 'a loopback address',
      }),
    );
    expect(await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } })).toMatchObject({
      status: 'pending',
      deliveredAt: null,
    });
    expect(receiver.received(endpoint.path)).toEqual([]);
  });

  it('a receiver that never answers holds up neither another endpoint nor, past the timeout, its own relay; a stop cuts its request short', async () => {
    const stuck = await endpointFor({ answer: () => 'hold' });
    const healthy = await endpointFor();
    const relay = relayWith({ timeoutMs: 3000 });
    relay.start(50);
    let stopStarted: number;
    try {
      await record(stuck.tenantId, 'lead.created');
      await until(() => receiver.received(stuck.path).length === 1, 'the stuck endpoint to be called');
      const sentAt = Date.now();
      await record(healthy.tenantId, 'lead.created');
      await until(() => receiver.received(healthy.path).length === 1, 'the healthy endpoint to be called', 2500);
      expect(Date.now() - sentAt).toBeLessThan(2500);
      const timedOut = await until(
        () => db.webhookDelivery.findFirst({ where: { endpointId: stuck.id, attempts: 1 } }),
        'the timed-out attempt',
      );
      expect(timedOut.lastError).toBe('no answer within 3000 ms');
      await until(() => receiver.received(stuck.path).length === 2, 'the second attempt, held too');
    } finally {
      stopStarted = Date.now();
      await relay.stop();
    }
    expect(Date.now() - stopStarted).toBeLessThan(1000);
    // Not counted as the endpoint's failure, and handed back for the next worker.
    expect(await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: stuck.id } })).toMatchObject({
      status: 'pending',
      attempts: 1,
      leaseUntil: null,
    });
    // The later tests' rounds wait for every endpoint they drain: not for this one.
    await request(app).delete(`/v1/webhook-endpoints/${stuck.id}`).set(stuck.auth);
  });

  it('after days of failures the delivery is given up, the endpoint marked failing and audited; new events still queue; a retried delivery that succeeds makes it active', async () => {
    let up = false;
    const endpoint = await endpointFor({ answer: () => (up ? 200 : 503) });
    await record(endpoint.tenantId, 'lead.created');
    const relay = relayWith({ failingAfterMs: 0 });
    const failed = await deliverUntil(
      relay,
      () => db.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: 'failed' } }),
      'the delivery given up',
    );
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      status: 'failing',
      failingSince: expect.any(Date),
    });
    expect(await db.auditLog.findMany({ where: { subject: endpoint.id } })).toMatchObject([
      { tenantId: endpoint.tenantId, action: 'webhook_endpoint.failing' },
    ]);

    up = true;
    await record(endpoint.tenantId, 'lead.created');
    expect(
      (await request(app).post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${failed.id}/retry`).set(endpoint.auth))
        .status,
    ).toBe(200);
    await deliverUntil(
      relay,
      async () => (await db.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'delivered' } })) === 2,
      'both delivered',
    );
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      status: 'active',
      failingSince: null,
    });
  });

  it('a new URL takes the failing delivery first, not the ones queued behind it, though its own wait was far off', async () => {
    const endpoint = await endpointFor({ answer: () => 503 });
    for (let event = 0; event < 3; event += 1) await record(endpoint.tenantId, 'lead.created');
    const relay = relayWith({ backoffMs: [0, 60_000] });
    const head = await deliverUntil(
      relay,
      () => db.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, attempts: 1 } }),
      'the first delivery failed once',
    );
    const moved = `${endpoint.path}/moved`;
    receiver.expect(moved, [endpoint.secret]);
    const patched = await request(app)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .set(endpoint.auth)
      .send({ url: receiver.urlFor(moved) });
    expect(patched.status).toBe(200);
    await deliverUntil(
      relay,
      async () => (await db.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'delivered' } })) === 3,
      'all three delivered at the new URL',
    );
    const sequences = receiver.received(moved).map((request) => Number(request.body.data.sequence));
    expect(sequences[0]).toBe(Number((await db.event.findUniqueOrThrow({ where: { id: head.eventId! } })).sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  });

  it('goes in sequence order even when a later fan-out stamped its rows earlier (two replicas, the later one begun first)', async () => {
    const endpoint = await endpointFor();
    for (let event = 0; event < 4; event += 1) await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const recorded = (
      await db.event.findMany({ where: { tenantId: endpoint.tenantId }, orderBy: { sequence: 'asc' } })
    ).map((event) => Number(event.sequence));
    // As a replica whose transaction began before another's, and fanned out after it, stamps its rows.
    await db.$executeRaw`
      UPDATE webhook_deliveries d SET created_at = d.created_at - interval '1 second' FROM events e
      WHERE d.endpoint_id = ${endpoint.id}::uuid AND e.id = d.event_id AND e.sequence > ${recorded[1]}`;
    await relayWith().round();
    const sequences = receiver.received(endpoint.path).map((request) => Number(request.body.data.sequence));
    expect(sequences).toEqual(recorded);
  });

  it('a give-up gives up unsent, with it, every delivery that waited as long behind it', async () => {
    const endpoint = await endpointFor({ answer: () => 503 });
    for (let event = 0; event < 3; event += 1) await record(endpoint.tenantId, 'lead.created');
    // Every delivery is as old as a delivery may fail (0 ms here, 3 days in production).
    const relay = relayWith({ failingAfterMs: 0 });
    await deliverUntil(
      relay,
      async () => (await db.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'failed' } })) === 3,
      'all three given up',
    );
    // One request in all: the two behind the first were not tried, one each, against a dead endpoint.
    expect(await db.webhookAttempt.count({ where: { delivery: { endpointId: endpoint.id } } })).toBe(1);
  });

  it('once the endpoint is failing, its younger deliveries are tried at the longest step, not at their own first', async () => {
    const endpoint = await endpointFor({ answer: () => 503 });
    await record(endpoint.tenantId, 'lead.created');
    const longestStepMs = 700;
    const relay = relayWith({ backoffMs: [0, 50, 50, longestStepMs], failingAfterMs: 4000 });
    await deliverUntil(
      relay,
      () => db.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: 'failed' } }),
      'the first given up, the endpoint failing',
    );
    const failingSince = new Date();
    for (let event = 0; event < 2; event += 1) await record(endpoint.tenantId, 'lead.created');
    const behind = () =>
      db.webhookAttempt.findMany({
        where: { delivery: { endpointId: endpoint.id }, at: { gt: failingSince } },
        orderBy: { at: 'asc' },
      });
    await deliverUntil(relay, async () => ((await behind()).length >= 3 ? true : null), 'three tries since');
    const attempts = await behind();
    const gaps = attempts.slice(1).map((attempt, index) => attempt.at.getTime() - attempts[index]!.at.getTime());
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(longestStepMs - 50);
  });

  it('a give-up whose endpoint mark cannot be written leaves nothing half-written; a later round commits both', async () => {
    const endpoint = await endpointFor({ answer: () => 503 });
    await record(endpoint.tenantId, 'lead.created');
    // The tenant alert's insert fails, as a crash or a lost connection would between giving up and marking the endpoint.
    const refuse = `refuse_alert_${randomUUID().replaceAll('-', '')}`;
    await db.$executeRawUnsafe(
      `CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'alert refused'; END $$`,
    );
    await db.$executeRawUnsafe(
      `CREATE TRIGGER ${refuse} BEFORE INSERT ON tenant_alerts FOR EACH ROW
       WHEN (NEW.tenant_id = '${endpoint.tenantId}'::uuid) EXECUTE FUNCTION ${refuse}()`,
    );
    const relay = relayWith({ failingAfterMs: 0 });
    try {
      await deliverUntil(relay, () => receiver.received(endpoint.path).length > 0 || null, 'the attempt');
      expect(await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } })).toMatchObject({
        status: 'pending',
        attempts: 0,
      });
      expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
        status: 'active',
        failingSince: null,
      });
      expect(await db.auditLog.count({ where: { subject: endpoint.id } })).toBe(0);
    } finally {
      await db.$executeRawUnsafe(`DROP TRIGGER ${refuse} ON tenant_alerts`);
      await db.$executeRawUnsafe(`DROP FUNCTION ${refuse}()`);
    }
    // Its lease (60 s) running out, without the test waiting for it.
    await db.webhookDelivery.updateMany({
      where: { endpointId: endpoint.id },
      data: { leaseUntil: new Date(Date.now() - 1000) },
    });
    await deliverUntil(
      relay,
      () => db.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: 'failed' } }),
      'the delivery given up',
    );
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      status: 'failing',
    });
    expect(await db.auditLog.count({ where: { subject: endpoint.id, action: 'webhook_endpoint.failing' } })).toBe(1);
    expect(
      await db.tenantAlert.count({ where: { tenantId: endpoint.tenantId, type: 'webhook_endpoint.failing' } }),
    ).toBe(1);
    await request(app).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(endpoint.auth);
  });

  it('a failure whose record cannot be written hands the delivery back: the one behind it never goes first', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? 503 : 200) });
    await record(endpoint.tenantId, 'lead.created', { order: 'first' });
    await record(endpoint.tenantId, 'lead.created', { order: 'second' });
    // The failed attempt's record fails, as a lost connection would.
    const refuse = `refuse_attempt_${randomUUID().replaceAll('-', '')}`;
    await db.$executeRawUnsafe(
      `CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'attempt refused'; END $$`,
    );
    await db.$executeRawUnsafe(
      `CREATE TRIGGER ${refuse} BEFORE INSERT ON webhook_attempts FOR EACH ROW
       WHEN (NEW.status_code = 503) EXECUTE FUNCTION ${refuse}()`,
    );
    const relay = relayWith();
    try {
      await deliverUntil(relay, () => receiver.received(endpoint.path).length > 0 || null, 'the first attempt');
    } finally {
      await db.$executeRawUnsafe(`DROP TRIGGER ${refuse} ON webhook_attempts`);
      await db.$executeRawUnsafe(`DROP FUNCTION ${refuse}()`);
    }
    // Before: the failing delivery kept its 60 s lease and the next round sent the second event first.
    await deliverUntil(relay, () => receiver.received(endpoint.path).length >= 3 || null, 'both delivered');
    expect(receiver.received(endpoint.path).map((request) => request.body.data.order)).toEqual([
      'first',
      'first',
      'second',
    ]);
    await request(app).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(endpoint.auth);
  });

  it('a delivery retried by hand after it was given up gets its days again: one more failure is retried, the endpoint stays active', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? 503 : 200) });
    await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const given = await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
    // Given up four days in, as the relay leaves one whose endpoint was down for three days.
    await db.webhookDelivery.update({
      where: { id: given.id },
      data: { status: 'failed', attempts: 12, createdAt: new Date(Date.now() - 4 * 86_400_000) },
    });
    const retry = `/v1/webhook-endpoints/${endpoint.id}/deliveries/${given.id}/retry`;
    const retried = await request(app).post(retry).set(endpoint.auth);
    const relay = relayWith();
    await deliverUntil(relay, () => receiver.received(endpoint.path).length >= 1 || null, 'the retried attempt');
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: given.id } })).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 503,
    });
    await deliveredByActiveEndpoint(relay, given.id, 'the delivery on the next attempt');
    // The retry answered with its attempts counted from then; the log keeps every one.
    expect(retried.body).toMatchObject({ status: 'pending', attemptCount: 0 });
  });

  it('a retry by hand asked for while an attempt is in flight stands when that attempt fails: the delivery goes again at once', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? { status: 503, afterMs: 400 } : 200) });
    await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const delivery = await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
    // A minute's backoff and a give-up window already spent: the failing attempt would park it, or give it up.
    const relay = relayWith({ backoffMs: [0, 60_000], failingAfterMs: 0 });
    const round = relay.round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the attempt in flight');
    const retry = `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/retry`;
    expect((await request(app).post(retry).set(endpoint.auth)).status).toBe(200);
    await round;
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({
      status: 'pending',
      attempts: 0,
    });
    await deliveredByActiveEndpoint(relay, delivery.id, 'the retried delivery');
    const attempts = await db.webhookAttempt.findMany({ where: { deliveryId: delivery.id }, orderBy: { at: 'asc' } });
    expect(attempts.map((attempt) => attempt.statusCode)).toEqual([503, 200]);
  });

  it('a ping asked for while an attempt is in flight goes at once when that attempt fails, and the failed one right after', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? { status: 503, afterMs: 400 } : 200) });
    await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const delivery = await db.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
    // A minute's backoff: the failing attempt would make the endpoint, the ping with it, wait that long.
    const relay = relayWith({ backoffMs: [0, 60_000] });
    const round = relay.round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the attempt in flight');
    expect((await request(app).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(endpoint.auth)).status).toBe(202);
    await round;
    // Before: the failure set the endpoint's wait after the ping had lifted it: the ping waited a minute (10 h once failing).
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      retryAfter: null,
    });
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 503,
    });
    await deliveredByActiveEndpoint(relay, delivery.id, 'the failed delivery, after the ping');
    const types = receiver.received(endpoint.path).map((received) => received.body.type);
    expect(types).toEqual(['lead.created', 'ping', 'lead.created']);
  });

  it('a release whose transaction began before the attempt was claimed and committed after it still overtakes its failure', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? { status: 503, afterMs: 400 } : 200) });
    await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    // A ping's transaction, begun now (its now() is this instant), writing the endpoint only once the attempt is out.
    const release = await heldTransaction(
      db,
      (tx) => tx.$queryRaw`SELECT now()`,
      (tx) =>
        tx.$executeRaw`UPDATE webhook_endpoints SET retry_after = NULL, released_at = now() WHERE id = ${endpoint.id}::uuid`,
    );
    const round = relayWith({ backoffMs: [0, 60_000] }).round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the attempt in flight');
    release.release();
    await release.committed;
    await round;
    // Before: its release stamp came before the claim's by the clock, so the failure set the wait again.
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      retryAfter: null,
    });
  });

  it('a batch whose endpoint lease ran out hands back only its own: another worker’s lease on the endpoint stays', async () => {
    const endpoint = await endpointFor();
    const lapsed = await takeEndpoint(db, endpoint.id, 1);
    expect(lapsed).toBeInstanceOf(Date);
    await until(async () => takeEndpoint(db, endpoint.id, 60_000), 'the endpoint taken again past the lease');
    await releaseEndpoint(db, endpoint.id, lapsed as Date);
    expect(await takeEndpoint(db, endpoint.id, 60_000)).toBeNull();
  });

  it('a worker that listed the endpoint due before another worker recorded its failure does not take it: the events behind wait', async () => {
    const endpoint = await endpointFor();
    // The other worker's failure, recorded between this worker's list of due endpoints and its take.
    await db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { retryAfter: new Date(Date.now() + 60_000) },
    });
    // Before: taken, and the deliveries behind the failing one (due, not leased) went before it.
    expect(await takeEndpoint(db, endpoint.id, 60_000)).toBeNull();
    await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { retryAfter: new Date(Date.now() - 1000) } });
    expect(await takeEndpoint(db, endpoint.id, 60_000)).toBeInstanceOf(Date);
  });

  it('what is posted is read from the event at each request: an erasure during a slow batch reaches the events still to go', async () => {
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? { status: 200, afterMs: 400 } : 200) });
    await record(endpoint.tenantId, 'lead.created', { phone: '+447700900101' });
    const second = await record(endpoint.tenantId, 'lead.created', { phone: '+447700900102' });
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const round = relayWith().round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the first request in flight');
    // What an erasure does to the lead's events (api/lead-erasure.ts), committed while the first request is answered.
    await db.$executeRaw`UPDATE events SET data = data - 'phone' WHERE id = ${second.id}::uuid`;
    await round;
    const received = await until(
      () => (receiver.received(endpoint.path).length === 2 ? receiver.received(endpoint.path) : null),
      'both deliveries',
    );
    expect(received.map((entry) => entry.body.data.phone)).toEqual(['+447700900101', undefined]);
  });

  it('an endpoint changed during a batch is sent to as it is now: its new URL and secret from the next request, nothing once deleted', async () => {
    const slowly = () => ({ status: 200, afterMs: 600 });
    const endpoint = await endpointFor({ answer: slowly });
    for (let i = 0; i < 3; i += 1) await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const round = relayWith().round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the first request in flight');
    const moved = `/crm/${randomUUID()}`;
    const path = `/v1/webhook-endpoints/${endpoint.id}`;
    const rotated = await request(app).post(`${path}/rotate-secret`).set(endpoint.auth);
    receiver.expect(moved, [rotated.body.secret as string, endpoint.secret], slowly);
    expect(
      (
        await request(app)
          .patch(path)
          .set(endpoint.auth)
          .send({ url: receiver.urlFor(moved) })
      ).status,
    ).toBe(200);
    await until(() => receiver.received(moved).length === 1 || null, 'the second request, at the new URL', 5000);
    expect((await request(app).delete(path).set(endpoint.auth)).status).toBe(204);
    await round;
    expect(receiver.received(endpoint.path)).toHaveLength(1);
    expect(receiver.received(moved).map((entry) => entry.verifiedBy)).toEqual([[0, 1]]);
    // The one the batch held as the endpoint was deleted is handed back, and given up by the next round: never sent,
    // and not left pending for good.
    await relayWith().round();
    const deliveries = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
    expect(deliveries.map((delivery) => delivery.status).sort()).toEqual(['delivered', 'delivered', 'failed']);
    expect(deliveries.every((delivery) => delivery.leaseUntil === null)).toBe(true);
  });

  it('an endpoint narrowed during a batch gets none of the batch’s events it no longer takes, then or after a failure', async () => {
    // The first request is slow and then fails: the two behind it are handed back, to be sent after the backoff.
    const endpoint = await endpointFor({ answer: (n) => (n === 0 ? { status: 503, afterMs: 600 } : 200) });
    for (const type of ['lead.created', 'message.received', 'message.received', 'lead.created'] as const)
      await record(endpoint.tenantId, type, { body: 'my words' });
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    const relay = relayWith();
    const round = relay.round();
    await until(() => receiver.received(endpoint.path).length === 1 || null, 'the first request in flight');
    const narrowed = await request(app)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .set(endpoint.auth)
      .send({ events: ['lead.created'] });
    expect(narrowed.status).toBe(200);
    await round;
    await deliverUntil(
      relay,
      async () =>
        (await db.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'pending' } })) === 0 || null,
      'every delivery settled',
    );
    // Before: the two message.received, claimed before the change, were handed back and sent after the retry.
    expect(receiver.received(endpoint.path).map((entry) => entry.body.type)).toEqual([
      'lead.created',
      'lead.created',
      'lead.created',
    ]);
    const deliveries = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
    const givenUp = deliveries.filter((delivery) => delivery.status === 'failed');
    expect(givenUp.map((delivery) => delivery.lastError)).toEqual(
      Array(2).fill('given up unsent: its endpoint no longer takes this event type'),
    );
    // One retried by hand is the tenant asking for it: sent.
    const retried = await request(app)
      .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${givenUp[0]!.id}/retry`)
      .set(endpoint.auth);
    expect(retried.status).toBe(200);
    await deliveredByActiveEndpoint(relay, givenUp[0]!.id, 'the delivery retried by hand');
    expect(receiver.received(endpoint.path).at(-1)?.body.type).toBe('message.received');
  });

  it('a failing endpoint that answers again: a failure after a success waits the first steps, gives up without a new alert, and a whole batch makes it active', async () => {
    // Answers 200, then 503 (a delivery days old: given up, as every failure here is), then 200 from then on.
    const endpoint = await endpointFor({ answer: (n) => (n === 1 ? 503 : 200) });
    await db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { status: 'failing', failingSince: new Date(Date.now() - 86_400_000) },
    });
    for (let i = 0; i < 3; i += 1) await record(endpoint.tenantId, 'lead.created');
    const longestStepMs = 36_000_000;
    const relay = relayWith({ backoffMs: [0, 50, longestStepMs], failingAfterMs: 0 });
    await deliverUntil(relay, () => receiver.received(endpoint.path).length === 2 || null, 'two requests');
    const afterFailure = await until(async () => {
      const row = await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
      return row.retryAfter ? row : null;
    }, 'the failure’s wait');
    // Before: the 503 set the longest wait (10 h by default): the endpoint had just answered.
    expect(afterFailure.retryAfter!.getTime()).toBeLessThan(Date.now() + 60_000);
    expect(afterFailure.status).toBe('failing');
    // Given up without marking it failing again: no second audit row or alert for one outage.
    expect(await db.auditLog.count({ where: { subject: endpoint.id } })).toBe(0);
    expect(await db.tenantAlert.count({ where: { tenantId: endpoint.tenantId } })).toBe(0);
    await deliverUntil(
      relay,
      async () =>
        (await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).status === 'active' || null,
      'the rest delivered, the endpoint active',
    );
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      failingSince: null,
    });
  });

  it('an endpoint with a backlog hands its slot back after a batch when another waits: the other’s event goes before the backlog ends', async () => {
    const backlogged = await endpointFor();
    for (let i = 0; i < 30; i += 1) await record(backlogged.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, backlogged.id)) > 0);
    const waiting = await endpointFor();
    await record(waiting.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, waiting.id)) > 0);
    const relay = relayWith({ concurrency: 1, batchSize: 5 });
    await deliverUntil(
      relay,
      () => receiver.received(waiting.path).length === 1 || null,
      'the waiting endpoint’s event',
    );
    // Before: its one slot stayed with the backlog until all 30 were delivered.
    expect(receiver.received(backlogged.path).length).toBeLessThan(30);
    await deliverUntil(relay, () => receiver.received(backlogged.path).length === 30 || null, 'the backlog');
  });

  it('endpoints of many tenants on one host are sent to at once: none waits out its timeout for a connection', async () => {
    const slowly = () => ({ status: 200, afterMs: 600 });
    const endpoints: Awaited<ReturnType<typeof endpointFor>>[] = [];
    for (let i = 0; i < 6; i += 1) endpoints.push(await endpointFor({ answer: slowly }));
    for (const endpoint of endpoints) await record(endpoint.tenantId, 'lead.created');
    const relay = relayWith({ concurrency: 6, timeoutMs: 1000 });
    const attempts = () =>
      db.webhookAttempt.findMany({
        where: { delivery: { endpointId: { in: endpoints.map((endpoint) => endpoint.id) } } },
      });
    await deliverUntil(relay, async () => ((await attempts()).length >= 6 ? true : null), 'an attempt each');
    // Before: 4 connections to the host, and the last two requests timed out queued for one.
    expect((await attempts()).map((attempt) => attempt.error)).toEqual(Array(6).fill(null));
  });

  it('deleting an endpoint gives up its queued deliveries: none stays pending for good', async () => {
    const endpoint = await endpointFor();
    for (let i = 0; i < 3; i += 1) await record(endpoint.tenantId, 'lead.created');
    while ((await fanOutEndpoint(db, endpoint.id)) > 0);
    expect((await request(app).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(endpoint.auth)).status).toBe(204);
    const deliveries = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
    expect(deliveries.map((delivery) => [delivery.status, delivery.lastError])).toEqual(
      Array(3).fill(['failed', 'given up unsent: its endpoint was deleted']),
    );
  });

  it('a deleted endpoint gets no deliveries', async () => {
    const endpoint = await endpointFor();
    expect((await request(app).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(endpoint.auth)).status).toBe(204);
    await record(endpoint.tenantId, 'lead.created');
    await relayWith().round();
    expect(await db.webhookDelivery.count({ where: { endpointId: endpoint.id } })).toBe(0);
    expect(receiver.received(endpoint.path)).toEqual([]);
  });
});
