// The alert relay: alerts recorded with their cause (a budget reaching 80%, a webhook endpoint failing for days) reach
// the tenant's alert webhook once, and a failing alert webhook is retried later.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../common/db.js';
import { recordEvent } from '../../common/events.js';
import { recordTenantAlert } from '../../common/tenant-alerts.js';
import { newWebhookSecret } from '../../common/webhooks/secrets.js';
import { createAlertRelay } from '../../worker/alert-relay.js';
import { createWebhookRelay } from '../../worker/webhook-relay.js';
import { createTenant, testDb } from '../support/fixtures.js';
import { Webhook } from 'standardwebhooks';

let db: Db;
let server: Server;
let baseUrl: string;
const received: { path: string; body: unknown }[] = [];
/** The same requests as they came: headers and the body's text, for their signatures. */
const raw: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
let status = 200;

beforeAll(async () => {
  db = testDb();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body) });
      raw.push({ path: req.url ?? '', headers: req.headers, body });
      // A CRM endpoint that is down for good: what makes the webhook relay give up on it.
      res.writeHead(req.url?.startsWith('/down/') ? 503 : status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await db.$disconnect();
});

// The receiver listens on loopback, so these relays run as in development (WEBHOOK_ALLOW_PRIVATE_URLS).
const silent = pino({ level: 'silent' });
const relay = () => createAlertRelay({ db, logger: silent, allowPrivateUrls: true });

/** A budget alert as the send gate records it (common/capacity/budget-alert.ts). */
async function alertFor(alertWebhookUrl: string | null, alertWebhookSecret: string | null = null) {
  const { tenant } = await createTenant(db, { alertWebhookUrl, alertWebhookSecret });
  const facts = { budget: 'daily', period: '2026-06-01', spent: '8', limit: '10', threshold: 0.8 };
  await db.$transaction((tx) => recordTenantAlert(tx, { tenantId: tenant.id, type: 'budget.alert', facts }));
  const alert = await db.tenantAlert.findFirstOrThrow({ where: { tenantId: tenant.id } });
  return { tenant, alert };
}

describe('tenant alert relay', () => {
  it('signs each alert as the CRM webhooks are (Standard Webhooks) with the secret made when the URL was set', async () => {
    const secret = newWebhookSecret();
    const path = `/signed/${randomUUID()}`;
    const { alert } = await alertFor(`${baseUrl}${path}`, secret);
    await relay().round();
    const [post] = raw.filter((request) => request.path === path);
    expect(post?.headers['webhook-id']).toBe(`alert_${alert.id}`);
    const headers = Object.fromEntries(
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(post?.headers[name])]),
    );
    expect(new Webhook(secret).verify(post?.body ?? '', headers)).toMatchObject({ type: 'budget.alert' });
    expect(() => new Webhook(newWebhookSecret()).verify(post?.body ?? '', headers)).toThrow();
  });

  it("posts each alert once to the tenant's webhook, even with two worker processes relaying", async () => {
    const { tenant, alert } = await alertFor(`${baseUrl}/hooks/${'a'.repeat(8)}`);
    await Promise.all([relay().round(), relay().round()]);
    const posts = received.filter((post) => post.path === `/hooks/${'a'.repeat(8)}`);
    expect(posts).toEqual([
      {
        path: `/hooks/${'a'.repeat(8)}`,
        body: {
          type: 'budget.alert',
          tenantId: tenant.id,
          budget: 'daily',
          period: '2026-06-01',
          spent: '8',
          limit: '10',
          threshold: 0.8,
          at: alert.createdAt.toISOString(),
        },
      },
    ]);
    expect(await db.tenantAlert.findUniqueOrThrow({ where: { id: alert.id } })).toMatchObject({
      attempts: 1,
      lastError: null,
      deliveredAt: expect.any(Date),
    });
  });

  it('a failing webhook keeps the alert for a later attempt, backing off, and delivers it once the webhook answers', async () => {
    const { alert } = await alertFor(`${baseUrl}/hooks/failing`);
    status = 503;
    try {
      await relay().round();
    } finally {
      status = 200;
    }
    const failed = await db.tenantAlert.findUniqueOrThrow({ where: { id: alert.id } });
    expect(failed).toMatchObject({ attempts: 1, lastError: 'HTTP 503', deliveredAt: null });
    expect(failed.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 5000);
    await relay().round(); // not due yet: nothing is posted
    expect(received.filter((post) => post.path === '/hooks/failing')).toHaveLength(1);

    await db.tenantAlert.update({ where: { id: alert.id }, data: { nextAttemptAt: new Date() } });
    await relay().round();
    expect(received.filter((post) => post.path === '/hooks/failing')).toHaveLength(2);
    expect(await db.tenantAlert.findUniqueOrThrow({ where: { id: alert.id } })).toMatchObject({
      attempts: 2,
      lastError: null,
      deliveredAt: expect.any(Date),
    });
  });

  it('never posts to a private address in production: the attempt fails with the reason and nothing is received', async () => {
    const path = `/hooks/${'p'.repeat(8)}`;
    const { alert } = await alertFor(`${baseUrl}${path}`);
    await createAlertRelay({ db, logger: silent }).round();
    expect(received.filter((post) => post.path === path)).toEqual([]);
    const refused = await db.tenantAlert.findUniqueOrThrow({ where: { id: alert.id } });
    expect(refused).toMatchObject({
      attempts: 1,
      deliveredAt: null,
      lastError: expect.stringMatching(/^unsafe URL: /),
    });
  });

  it('without a webhook the alert is done (the audit log and the metric have it)', async () => {
    const { alert } = await alertFor(null);
    const before = received.length;
    await relay().round();
    expect(received).toHaveLength(before);
    expect((await db.tenantAlert.findUniqueOrThrow({ where: { id: alert.id } })).deliveredAt).not.toBeNull();
  });

  it('tells the tenant once when its CRM endpoint is marked failing after days of failed deliveries', async () => {
    const alertPath = `/alerts/${randomUUID()}`;
    const { tenant } = await createTenant(db, { alertWebhookUrl: `${baseUrl}${alertPath}` });
    const endpoint = await db.webhookEndpoint.create({
      data: { tenantId: tenant.id, url: `${baseUrl}/down/${randomUUID()}`, secret: newWebhookSecret() },
    });
    const webhooks = createWebhookRelay({ db, logger: silent, allowPrivateUrls: true, failingAfterMs: 0 });
    // Two events, two failed deliveries given up: the endpoint is marked failing once, and alerted once.
    for (const type of ['lead.created', 'lead.opted_in'] as const) {
      await db.$transaction((tx) => recordEvent(tx, { tenantId: tenant.id, type, data: {} }));
      await webhooks.round();
    }
    const { failingSince } = await db.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });

    await Promise.all([relay().round(), relay().round()]);
    expect(received.filter((post) => post.path === alertPath)).toEqual([
      {
        path: alertPath,
        body: {
          type: 'webhook_endpoint.failing',
          tenantId: tenant.id,
          endpointId: endpoint.id,
          url: endpoint.url,
          failingSince: failingSince?.toISOString(),
          lastError: 'HTTP 503',
          at: expect.any(String),
        },
      },
    ]);
    expect(await db.tenantAlert.count({ where: { tenantId: tenant.id } })).toBe(1);
    // Its server closes with this file: other files' relays must not go on posting to a port another test may reuse.
    await db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { deletedAt: new Date() } });
  });
});
