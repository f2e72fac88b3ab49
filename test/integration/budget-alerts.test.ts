// The budget alert relay: alerts recorded by sends reach the tenant's webhook once, and a failing webhook is retried later.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../common/db.js';
import { Prisma } from '../../generated/prisma/client.js';
import { createBudgetAlertRelay } from '../../worker/budget-alerts.js';
import { createTenant, testDb } from '../support/fixtures.js';

let db: Db;
let server: Server;
let baseUrl: string;
const received: { path: string; body: unknown }[] = [];
let status = 200;

beforeAll(async () => {
  db = testDb();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.writeHead(status).end();
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
const relay = () => createBudgetAlertRelay({ db, logger: pino({ level: 'silent' }), allowPrivateUrls: true });

async function alertFor(alertWebhookUrl: string | null) {
  const { tenant } = await createTenant(db, { alertWebhookUrl });
  const alert = await db.budgetAlert.create({
    data: {
      tenantId: tenant.id,
      budget: 'daily',
      period: '2026-06-01',
      spent: new Prisma.Decimal('8.0000'),
      limit: new Prisma.Decimal('10'),
    },
  });
  return { tenant, alert };
}

describe('budget alert relay', () => {
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
    expect(await db.budgetAlert.findUniqueOrThrow({ where: { id: alert.id } })).toMatchObject({
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
    const failed = await db.budgetAlert.findUniqueOrThrow({ where: { id: alert.id } });
    expect(failed).toMatchObject({ attempts: 1, lastError: 'HTTP 503', deliveredAt: null });
    expect(failed.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 5000);
    await relay().round(); // not due yet: nothing is posted
    expect(received.filter((post) => post.path === '/hooks/failing')).toHaveLength(1);

    await db.budgetAlert.update({ where: { id: alert.id }, data: { nextAttemptAt: new Date() } });
    await relay().round();
    expect(received.filter((post) => post.path === '/hooks/failing')).toHaveLength(2);
    expect(await db.budgetAlert.findUniqueOrThrow({ where: { id: alert.id } })).toMatchObject({
      attempts: 2,
      lastError: null,
      deliveredAt: expect.any(Date),
    });
  });

  it('never posts to a private address in production: the attempt fails with the reason and nothing is received', async () => {
    const path = `/hooks/${'p'.repeat(8)}`;
    const { alert } = await alertFor(`${baseUrl}${path}`);
    await createBudgetAlertRelay({ db, logger: pino({ level: 'silent' }) }).round();
    expect(received.filter((post) => post.path === path)).toEqual([]);
    const refused = await db.budgetAlert.findUniqueOrThrow({ where: { id: alert.id } });
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
    expect((await db.budgetAlert.findUniqueOrThrow({ where: { id: alert.id } })).deliveredAt).not.toBeNull();
  });
});
