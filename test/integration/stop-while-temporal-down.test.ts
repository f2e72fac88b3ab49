// A STOP that arrives while the Temporal server is down: committed to PostgreSQL before the 200, signalled once
// Temporal is back, and nothing sent after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { phoneHash } from '../../common/opt-outs.js';
import { startDevServer, type TemporalServer } from '../../scripts/stack/temporal.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrolledLead } from '../support/follow-ups.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { freePort } from '../../common/free-port.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';

const dir = mkdtempSync(path.join(tmpdir(), 'temporal-down-'));
const dbFile = path.join(dir, 'temporal.db');
let server: TemporalServer | undefined;
let stack: TestStack | undefined;

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('STOP while Temporal is down', () => {
  it('answers fast with the opt-out committed, and after Temporal restarts nothing more is sent', async () => {
    const port = await freePort();
    server = await startDevServer({ port, dbFile });
    const { app, db, fake } = (stack = await startTestStack({ temporalAddress: server.address }));
    const number = randomSenderNumber();
    const { tenant, auth } = await createTenant(stack.db, {
      ...anytimeSettings,
      senders: { create: { value: number } },
    });
    const phone = randomUkMobile();
    const { enrollmentId } = await enrolledLead(
      app,
      auth,
      [
        { delaySeconds: 0, template: 'one' },
        { delaySeconds: 8, template: 'two' },
      ],
      phone.national,
    );
    await expect.poll(() => fake.createCallsTo(phone.e164), { timeout: 20_000 }).toBe(1);

    await server.stop();
    const started = Date.now();
    const stop = await inbound(app, { From: phone.e164, To: number, Body: 'STOP' });
    expect(stop.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(phone.e164) } })).toBe(1);
    expect(await db.pendingSignal.count({ where: { tenantId: tenant.id } })).toBe(1);

    // Down past the second step's due time, then back with the same persisted state.
    await new Promise((resolve) => setTimeout(resolve, 9000));
    server = await startDevServer({ port, dbFile });
    await expect
      .poll(async () => (await request(app).get(`/v1/enrollments/${enrollmentId}`).set(auth)).body.status, {
        timeout: 60_000,
        interval: 500,
      })
      .toBe('opted_out');
    await expect.poll(() => db.pendingSignal.count({ where: { tenantId: tenant.id } }), { timeout: 20_000 }).toBe(0);
    expect(fake.createCallsTo(phone.e164)).toBe(1);
  }, 150_000);
});
