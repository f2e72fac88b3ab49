// The webhook endpoint routes: what a tenant may register (known event types, URLs that pass the SSRF checks), the
// secret shown once and rotated with an overlap, test pings, delivery logs and retries, and nothing across tenants.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createLogger } from '../../common/logger.js';
import { refusedAddressReason } from '../../common/webhooks/url-safety.js';
import { createTenant, testDb } from '../support/fixtures.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { afterEachCall } from '../support/racing-db.js';
import { testAppDeps } from '../support/stack.js';

const db = testDb();
// No Temporal call is made by these routes: a lazy client that never connects.
const temporal = new Client();
const devApp = createApp(testAppDeps(db, temporal, 'unused', { allowPrivateWebhookUrls: true }));
/** The strict app's log lines, as it would write them to stdout. */
const strictLog: string[] = [];
const strictApp = createApp(
  testAppDeps(db, temporal, 'unused', {
    allowPrivateWebhookUrls: false,
    logger: createLogger(
      { level: 'info', name: 'webhook-endpoints-test' },
      new Writable({
        write(chunk, _encoding, done) {
          strictLog.push(String(chunk));
          done();
        },
      }),
    ),
  }),
);
afterAll(() => db.$disconnect());

// Nothing listens on port 9: a relay running meanwhile (another test file) fails fast on these.
const closedUrl = 'http://127.0.0.1:9/hooks';

/** The database as the routes see it, with `meanwhile` run after each `findFirst` of `table` and before its answer. */
const afterEachRead = (table: 'webhookEndpoint' | 'webhookDelivery', meanwhile: () => PromiseLike<unknown>) =>
  afterEachCall(db, table, 'findFirst', meanwhile);

async function endpointFor(auth: Record<string, string>, body: Record<string, unknown> = {}) {
  const created = await request(devApp)
    .post('/v1/webhook-endpoints')
    .set(auth)
    .send({ url: closedUrl, ...body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as { id: string; secret: string; url: string; events: string[] };
}

/** A pending delivery of a new endpoint (as `delivery` says), its row held by a transaction standing for the relay's. */
async function deliveryHeldByRelay(delivery: { nextAttemptAt?: Date; leaseUntil?: Date }) {
  const { auth, tenant } = await createTenant(db);
  const endpoint = await endpointFor(auth);
  const { id } = await db.webhookDelivery.create({
    data: {
      tenantId: tenant.id,
      endpointId: endpoint.id,
      messageId: `msg_held_${endpoint.id}`,
      payload: { type: 'ping' },
      ...delivery,
    },
  });
  const relay = await heldTransaction(
    db,
    (tx) => tx.$executeRaw`SELECT 1 FROM webhook_deliveries WHERE id = ${id}::uuid FOR UPDATE`,
  );
  return { auth, endpoint, relay };
}

describe('webhook endpoint routes', () => {
  it('create (the secret shown only then), list, read, update and delete an endpoint', async () => {
    const { auth } = await createTenant(db);
    const created = await request(devApp)
      .post('/v1/webhook-endpoints')
      .set(auth)
      .send({ url: closedUrl, events: ['lead.created', 'message.received'], description: 'CRM' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      url: closedUrl,
      events: ['lead.created', 'message.received'],
      description: 'CRM',
      status: 'active',
      createdAt: expect.any(String),
    });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const path = `/v1/webhook-endpoints/${created.body.id}`;

    const read = await request(devApp).get(path).set(auth);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('secret');
    const listed = await request(devApp).get('/v1/webhook-endpoints').set(auth);
    expect(listed.body.endpoints.map((endpoint: { id: string }) => endpoint.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);

    const updated = await request(devApp).patch(path).set(auth).send({ events: [], description: null });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ url: closedUrl, events: [], description: null });

    expect((await request(devApp).delete(path).set(auth)).status).toBe(204);
    expect((await request(devApp).get(path).set(auth)).status).toBe(404);
    expect((await request(devApp).get('/v1/webhook-endpoints').set(auth)).body.endpoints).toEqual([]);
    // Soft-deleted: the row stays for its delivery history.
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: created.body.id } })).toMatchObject({
      deletedAt: expect.any(Date),
    });
  });

  it('422 for unknown event types and fields, with the one error shape', async () => {
    const { auth } = await createTenant(db);
    const unknownType = await request(devApp)
      .post('/v1/webhook-endpoints')
      .set(auth)
      .send({ url: closedUrl, events: ['lead.created', 'lead.teleported'] });
    expect(unknownType.status).toBe(422);
    expect(unknownType.body.error).toMatchObject({
      code: 'validation_failed',
      details: { fields: { 'events.1': [expect.any(String)] } },
    });
    const extra = await request(devApp)
      .post('/v1/webhook-endpoints')
      .set(auth)
      .send({ url: closedUrl, secret: 'whsec_mine' });
    expect(extra.status).toBe(422);
    const endpoint = await endpointFor(auth);
    const patched = await request(devApp)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .set(auth)
      .send({ events: ['nope'] });
    expect(patched.status).toBe(422);
  });

  // Domain facts, "Events to the CRM": loopback, private, link-local (cloud metadata) targets are SSRF. The answer names
  // the rule, never the address the host resolved to (a tenant could map our network with it): that is logged.
  it.each([
    ['https://127.0.0.1/hooks', 'loopback'],
    ['https://localhost/hooks', 'loopback'],
    ['https://[::1]/hooks', 'loopback'],
    ['https://10.1.2.3/hooks', 'private'],
    ['https://172.20.0.1/hooks', 'private'],
    ['https://192.168.1.10/hooks', 'private'],
    ['https://[fd00::1]/hooks', 'private'],
    ['https://169.254.169.254/latest/meta-data', 'link-local'],
    ['https://[fe80::1]/hooks', 'link-local'],
    ['https://0.0.0.0/hooks', 'unspecified'],
    ['https://100.64.0.1/hooks', 'carrier-grade NAT'],
    ['https://198.18.0.1/hooks', 'reserved'],
    ['https://240.0.0.1/hooks', 'reserved'],
    ['https://[::ffff:127.0.0.1]/hooks', 'loopback'],
    ['https://[64:ff9b::7f00:1]/hooks', 'loopback'],
    ['https://[2002:a00:1::]/hooks', 'private'],
    ['https://[64:ff9b:1::a00:1]/hooks', 'private'],
    // IPv4-translated (RFC 6145) and site-local: before, both passed.
    ['https://[::ffff:0:7f00:1]/hooks', 'loopback'],
    ['https://[fec0::1]/hooks', 'private'],
    // Teredo: the client 127.0.0.1 and 10.0.0.1, their bits flipped.
    ['https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks', 'loopback'],
    ['https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hooks', 'private'],
  ])('without WEBHOOK_ALLOW_PRIVATE_URLS, %s is refused (422 unsafe_url; the log says %s)', async (url, kind) => {
    const { auth } = await createTenant(db);
    strictLog.length = 0;
    const refused = await request(strictApp).post('/v1/webhook-endpoints').set(auth).send({ url });
    expect(refused.status).toBe(422);
    const rule =
      'the host must resolve, and only to public internet addresses; webhook URLs must reach the public internet';
    expect(refused.body.error).toMatchObject({
      code: 'unsafe_url',
      message: `The URL cannot be a webhook endpoint: ${rule}`,
      details: { fields: { url: [rule] } },
    });
    const logged = strictLog.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'webhook URL refused');
    expect(logged).toMatchObject({ host: expect.any(String), address: expect.any(String), kind: expect.any(String) });
    expect(logged.kind).toContain(kind);
    expect(JSON.stringify(refused.body)).not.toContain(logged.address);
    const endpoint = await endpointFor(auth);
    const patched = await request(strictApp).patch(`/v1/webhook-endpoints/${endpoint.id}`).set(auth).send({ url });
    expect(patched.status).toBe(422);
    expect(patched.body.error).toMatchObject({
      code: 'unsafe_url',
      message: `The URL cannot be a webhook endpoint: ${rule}`,
    });
  });

  it.each([
    ['http://93.184.215.14/hooks', 'https'],
    ['https://user:pw@93.184.215.14/hooks', 'credentials'],
  ])('without WEBHOOK_ALLOW_PRIVATE_URLS, %s is refused (422 unsafe_url: %s)', async (url, rule) => {
    const { auth } = await createTenant(db);
    const refused = await request(strictApp).post('/v1/webhook-endpoints').set(auth).send({ url });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('unsafe_url');
    expect(refused.body.error.message).toContain(rule);
  });

  it('a host that does not resolve gets the same answer as one resolving privately; the log says which', async () => {
    const { auth } = await createTenant(db);
    const attempt = async (url: string) => {
      strictLog.length = 0;
      const refused = await request(strictApp).post('/v1/webhook-endpoints').set(auth).send({ url });
      const logged = strictLog.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'webhook URL refused');
      return { status: refused.status, error: refused.body.error, logged };
    };
    const unknown = await attempt('https://nowhere.invalid/hooks');
    const internal = await attempt('https://localhost/hooks');
    expect(unknown.status).toBe(422);
    expect(unknown.error).toEqual(internal.error);
    expect(unknown.logged).toMatchObject({ host: 'nowhere.invalid', kind: 'does not resolve' });
    expect(internal.logged).toMatchObject({ host: 'localhost', kind: 'a loopback address' });
  });

  it('a public address passes the address check', () => {
    expect(refusedAddressReason('93.184.215.14')).toBeNull();
    expect(refusedAddressReason('2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBeNull();
    expect(refusedAddressReason('172.32.0.1')).toBeNull();
    // A public IPv4 address behind NAT64 or 6to4 is as public.
    expect(refusedAddressReason('64:ff9b::5db8:d70e')).toBeNull();
    expect(refusedAddressReason('2002:5db8:d70e::1')).toBeNull();
    expect(refusedAddressReason('2001:0:4136:e378:8000:63bf:a247:28f1')).toBeNull();
  });

  it('rotate-secret answers a new secret and keeps the old one signing for 24 h', async () => {
    const { auth } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    const rotated = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`).set(auth);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);
    const expires = new Date(rotated.body.previousSecretExpiresAt).getTime();
    expect(Math.abs(expires - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      secret: rotated.body.secret,
      previousSecret: endpoint.secret,
    });
  });

  it('two rotations at once: each keeps the secret it replaced, so the secret each answered is the current or the previous one', async () => {
    const { auth } = await createTenant(db);
    for (let round = 0; round < 5; round += 1) {
      const endpoint = await endpointFor(auth);
      const rotate = () => request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`).set(auth);
      const answered = (await Promise.all([rotate(), rotate()])).map((answer) => answer.body.secret as string);
      const stored = await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
      // The later rotation's secret signs, the earlier one's beside it; the original is no longer either.
      expect([stored.secret, stored.previousSecret].sort()).toEqual([...answered].sort());
    }
  });

  it('test sends a ping delivery; deliveries lists it with its attempts; retry makes a failed one due now', async () => {
    const { auth } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    const ping = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(auth);
    expect(ping.status).toBe(202);
    expect(ping.body).toMatchObject({
      eventId: null,
      type: 'ping',
      status: 'pending',
      messageId: expect.stringMatching(/^msg_ping_/),
      payload: { type: 'ping', data: { endpointId: endpoint.id } },
    });

    await db.webhookDelivery.update({
      where: { id: ping.body.id },
      data: {
        status: 'failed',
        attempts: 1,
        lastStatusCode: 500,
        attemptLog: { create: { statusCode: 500, durationMs: 12, error: 'HTTP 500' } },
      },
    });
    const failed = await request(devApp)
      .get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed&limit=5`)
      .set(auth);
    expect(failed.status).toBe(200);
    expect(failed.body.deliveries).toHaveLength(1);
    expect(failed.body.deliveries[0]).toMatchObject({
      id: ping.body.id,
      status: 'failed',
      attemptCount: 1,
      attempts: [{ at: expect.any(String), statusCode: 500, durationMs: 12, error: 'HTTP 500' }],
    });
    expect(
      (await request(devApp).get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?status=delivered`).set(auth)).body
        .deliveries,
    ).toEqual([]);
    expect(
      (await request(devApp).get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=0`).set(auth)).status,
    ).toBe(400);

    const before = Date.now();
    const retried = await request(devApp)
      .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${ping.body.id}/retry`)
      .set(auth);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('pending');
    expect(new Date(retried.body.nextAttemptAt).getTime()).toBeLessThanOrEqual(Date.now());
    expect(new Date(retried.body.nextAttemptAt).getTime()).toBeGreaterThanOrEqual(before - 1000);

    await db.webhookDelivery.update({
      where: { id: ping.body.id },
      data: { status: 'delivered', deliveredAt: new Date() },
    });
    const again = await request(devApp)
      .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${ping.body.id}/retry`)
      .set(auth);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it('a retry by hand racing the relay’s record of the delivery: 409, and the delivery stays delivered (not sent again)', async () => {
    const { auth } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    const ping = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(auth);
    await db.webhookDelivery.update({ where: { id: ping.body.id }, data: { status: 'failed', attempts: 3 } });
    // The relay records it delivered right after the route has read it failed.
    const racing = afterEachRead('webhookDelivery', () =>
      db.webhookDelivery.update({
        where: { id: ping.body.id },
        data: { status: 'delivered', deliveredAt: new Date() },
      }),
    );
    const app = createApp(testAppDeps(racing, temporal, 'unused', { allowPrivateWebhookUrls: true }));
    const retried = await request(app)
      .post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${ping.body.id}/retry`)
      .set(auth);
    expect(retried.status).toBe(409);
    expect(retried.body.error).toMatchObject({ code: 'conflict', details: { deliveredAt: expect.any(String) } });
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: ping.body.id } })).toMatchObject({
      status: 'delivered',
      attempts: 3,
    });
  });

  it('an endpoint deleted between a change’s read and its write: 404 for an update, a ping and a retry, and none of them written', async () => {
    const { auth } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    const ping = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(auth);
    await db.webhookDelivery.update({ where: { id: ping.body.id }, data: { status: 'failed' } });
    // The DELETE commits right after the route has read the endpoint live.
    const deletedOnceRead = afterEachRead('webhookEndpoint', () =>
      request(devApp).delete(`/v1/webhook-endpoints/${endpoint.id}`).set(auth),
    );
    const app = createApp(testAppDeps(deletedOnceRead, temporal, 'unused', { allowPrivateWebhookUrls: true }));
    const base = `/v1/webhook-endpoints/${endpoint.id}`;
    const raced = async (call: request.Test) => {
      await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { deletedAt: null } });
      return (await call).status;
    };
    // Before: 200 with a live-looking endpoint, a 202 ping and a `pending` retry, all for an endpoint that is gone.
    expect(await raced(request(app).patch(base).set(auth).send({ description: 'renamed' }))).toBe(404);
    expect(await raced(request(app).post(`${base}/test`).set(auth))).toBe(404);
    expect(await raced(request(app).post(`${base}/deliveries/${ping.body.id}/retry`).set(auth))).toBe(404);
    expect(await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } })).toEqual([
      expect.objectContaining({ id: ping.body.id, status: 'failed' }),
    ]);
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      description: null,
    });
  });

  it('a DELETE and a ping queued on the same held delivery both answer (no deadlock), and the ping is given up with the rest', async () => {
    // A delivery waiting out its endpoint's backoff (which a ping makes due now and a DELETE gives up), held by the
    // relay recording a failure: the ping and then the DELETE queue behind it.
    const { auth, endpoint, relay } = await deliveryHeldByRelay({ nextAttemptAt: new Date(Date.now() + 3600_000) });
    const base = `/v1/webhook-endpoints/${endpoint.id}`;
    const pinged = request(devApp)
      .post(`${base}/test`)
      .set(auth)
      .then((response) => response);
    await untilWaitingBehind(db, relay.pid, 1);
    const deleted = request(devApp)
      .delete(base)
      .set(auth)
      .then((response) => response);
    await untilWaitingBehind(db, relay.pid, 2);
    relay.release();
    await relay.committed;
    // Before: the DELETE held the endpoint and waited for the delivery, the ping the reverse; PostgreSQL failed one, a 500.
    expect([(await pinged).status, (await deleted).status]).toEqual([202, 204]);
    const deliveries = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
    expect(deliveries).toHaveLength(2);
    expect(deliveries.every((delivery) => delivery.status === 'failed')).toBe(true);
  });

  it('a ping while the relay records a batch of leased deliveries goes ahead without them: it waits for no row the relay holds', async () => {
    // The relay recording a leased delivery's answer (with others, in no order): the API must not queue on it, or the
    // two sets of rows, locked in different orders, deadlock.
    const { auth, endpoint, relay } = await deliveryHeldByRelay({ leaseUntil: new Date(Date.now() + 60_000) });
    try {
      const pinged = request(devApp)
        .post(`/v1/webhook-endpoints/${endpoint.id}/test`)
        .set(auth)
        .then((response) => response.status);
      const waited = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5000));
      // Before: it waited for the relay's transaction.
      expect(await Promise.race([pinged, waited])).toBe(202);
    } finally {
      relay.release();
      await relay.committed;
    }
  });

  it('narrowed to fewer event types gives up what still waits of the others, and keeps the rest and its pings', async () => {
    const { auth, tenant } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    // Held back by an earlier failure, so they wait (a relay another test file runs would try them otherwise).
    await db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { retryAfter: new Date(Date.now() + 3600_000) },
    });
    const waiting = (type: string, eventId: string | null = randomUUID()) =>
      db.webhookDelivery.create({
        data: {
          tenantId: tenant.id,
          endpointId: endpoint.id,
          eventId,
          messageId: `msg_${randomUUID()}`,
          payload: { type },
        },
      });
    const [sent, received, ping] = [
      await waiting('message.sent'),
      await waiting('message.received'),
      await waiting('ping', null),
    ];
    const narrowed = await request(devApp)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .set(auth)
      .send({ events: ['message.received'] });
    expect(narrowed.status).toBe(200);
    const statusOf = async ({ id }: { id: string }) =>
      db.webhookDelivery.findUniqueOrThrow({ where: { id }, select: { status: true, lastError: true } });
    // Before: still pending, and the CRM got message.sent after asking for message.received only.
    expect(await statusOf(sent)).toEqual({
      status: 'failed',
      lastError: 'given up unsent: its endpoint no longer takes this event type',
    });
    expect((await statusOf(received)).status).toBe('pending');
    expect((await statusOf(ping)).status).toBe('pending');
  });

  it('an endpoint held back by its last failure says until when, and so does each delivery waiting behind it', async () => {
    const { auth } = await createTenant(db);
    const endpoint = await endpointFor(auth);
    const ping = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(auth);
    const retryAfter = new Date(Date.now() + 5 * 3600_000);
    // As the relay leaves them after a failure of an earlier delivery: the endpoint waits, this one is due by its own time.
    await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { retryAfter } });
    await db.webhookDelivery.update({
      where: { id: ping.body.id },
      data: { nextAttemptAt: new Date(Date.now() - 60_000) },
    });
    const base = `/v1/webhook-endpoints/${endpoint.id}`;
    // Before: an `active` endpoint with nothing said of the wait, and a delivery due a minute ago that did not go.
    expect((await request(devApp).get(base).set(auth)).body).toMatchObject({
      status: 'active',
      retryAfter: retryAfter.toISOString(),
    });
    const listed = await request(devApp).get(`${base}/deliveries?status=pending`).set(auth);
    expect(listed.body.deliveries).toEqual([expect.objectContaining({ nextAttemptAt: retryAfter.toISOString() })]);
    // A ping lifts the wait: nothing holds the endpoint back any more.
    expect((await request(devApp).post(`${base}/test`).set(auth)).status).toBe(202);
    expect((await request(devApp).get(base).set(auth)).body.retryAfter).toBeNull();
  });

  it('a tenant has at most 10 endpoints, however many creates come at once; a deleted one makes room', async () => {
    const { auth } = await createTenant(db);
    const create = () => request(devApp).post('/v1/webhook-endpoints').set(auth).send({ url: closedUrl });
    const answers = await Promise.all(Array.from({ length: 14 }, create));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(10);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused.map((answer) => answer.status)).toEqual([409, 409, 409, 409]);
    expect(refused[0]?.body.error).toMatchObject({ code: 'conflict', details: { limit: 10 } });
    const listed = await request(devApp).get('/v1/webhook-endpoints').set(auth);
    expect(listed.body.endpoints).toHaveLength(10);
    const first = answers.find((answer) => answer.status === 201)?.body.id as string;
    expect((await request(devApp).delete(`/v1/webhook-endpoints/${first}`).set(auth)).status).toBe(204);
    expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(409);
  });

  it('404 across tenants on every route, and for IDs that are not UUIDs', async () => {
    const owner = await createTenant(db);
    const other = await createTenant(db);
    const endpoint = await endpointFor(owner.auth);
    const ping = await request(devApp).post(`/v1/webhook-endpoints/${endpoint.id}/test`).set(owner.auth);
    const base = `/v1/webhook-endpoints/${endpoint.id}`;
    const attempts = [
      request(devApp).get(base).set(other.auth),
      request(devApp).patch(base).set(other.auth).send({ description: 'mine now' }),
      request(devApp).delete(base).set(other.auth),
      request(devApp).post(`${base}/rotate-secret`).set(other.auth),
      request(devApp).post(`${base}/test`).set(other.auth),
      request(devApp).get(`${base}/deliveries`).set(other.auth),
      request(devApp).post(`${base}/deliveries/${ping.body.id}/retry`).set(other.auth),
      request(devApp).get('/v1/webhook-endpoints/not-a-uuid').set(owner.auth),
      request(devApp).post(`${base}/deliveries/not-a-uuid/retry`).set(owner.auth),
    ];
    for (const answer of await Promise.all(attempts)) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
    }
    expect((await request(devApp).get('/v1/webhook-endpoints').set(other.auth)).body.endpoints).toEqual([]);
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({
      deletedAt: null,
      description: null,
      secret: endpoint.secret,
    });
  });
});
