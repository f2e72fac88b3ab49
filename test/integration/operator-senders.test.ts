// Senders (the numbers and Messaging Services inbound messages find their tenant by) are assigned by the operator,
// one tenant per sender: the operator routes, the admin command, and a tenant key refused.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { projectRoot } from '../../scripts/stack/paths.js';
import { createTenant } from '../support/fixtures.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';
import { randomSenderNumber } from '../support/webhooks.js';

let stack: TestStack;
let app: ReturnType<typeof createApp>;
const operatorKey = `op_${randomBytes(24).toString('hex')}`;
const asOperator = { Authorization: `Bearer ${operatorKey}` };
beforeAll(async () => {
  stack = await startTestStack();
  app = createApp({ ...stack.deps, operatorApiKey: operatorKey });
});
afterAll(() => stack?.stop());

const senderPath = (value: string) => `/v1/operator/senders/${encodeURIComponent(value)}`;
const assign = (value: string, body: Record<string, unknown>) =>
  request(app).put(senderPath(value)).set(asOperator).send(body);
const sendersOf = async (auth: Record<string, string>) =>
  (await request(app).get('/v1/settings').set(auth)).body.senders as string[];
const auditOf = (value: string) =>
  stack.db.auditLog.findMany({ where: { subject: value }, orderBy: { createdAt: 'asc' } });

describe('operator sender routes', () => {
  it('assign a sender to a tenant, refuse it to another (409 sender_taken) unless reassigned, unassign it; every change audited', async () => {
    const [a, b] = [await createTenant(stack.db), await createTenant(stack.db)];
    const number = randomSenderNumber();
    const assigned = await assign(number, { tenantId: a.tenant.id });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({
      value: number,
      tenantId: a.tenant.id,
      tenantName: a.tenant.name,
      assignedBy: 'operator',
      previousTenantId: null,
      changed: true,
    });
    expect(await sendersOf(a.auth)).toEqual([number]);
    expect((await assign(number, { tenantId: a.tenant.id })).body).toMatchObject({
      tenantId: a.tenant.id,
      changed: false,
    });

    const taken = await assign(number, { tenantId: b.tenant.id });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'sender_taken', details: { value: number, tenantId: a.tenant.id } });
    expect(await sendersOf(b.auth)).toEqual([]);

    const moved = await assign(number, { tenantId: b.tenant.id, reassign: true });
    expect(moved.body).toMatchObject({ tenantId: b.tenant.id, previousTenantId: a.tenant.id, changed: true });
    expect([await sendersOf(a.auth), await sendersOf(b.auth)]).toEqual([[], [number]]);
    const listed = await request(app).get('/v1/operator/senders').set(asOperator);
    expect(listed.body.defaultSender).toBe(testSenderNumber);
    expect(listed.body.senders).toContainEqual(expect.objectContaining({ value: number, tenantId: b.tenant.id }));

    expect((await request(app).delete(senderPath(number)).set(asOperator)).body).toEqual({
      value: number,
      tenantId: b.tenant.id,
      unassigned: true,
    });
    expect((await request(app).delete(senderPath(number)).set(asOperator)).status).toBe(404);
    // Express decodes %00 to a NUL, which PostgreSQL refuses: not a sender's form, so no sender.
    expect((await request(app).delete(senderPath('\u0000')).set(asOperator)).status).toBe(404);
    expect(await sendersOf(b.auth)).toEqual([]);
    expect((await auditOf(number)).map(({ actor, action, tenantId }) => ({ actor, action, tenantId }))).toEqual([
      { actor: 'operator', action: 'sender.assigned', tenantId: a.tenant.id },
      { actor: 'operator', action: 'sender.assigned', tenantId: b.tenant.id },
      { actor: 'operator', action: 'sender.unassigned', tenantId: b.tenant.id },
    ]);
  });

  it('refuse the deployment’s default sender (409 shared_sender), a malformed sender (422), an unknown tenant (404) and a tenant key (403)', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const shared = await assign(testSenderNumber, { tenantId: tenant.id });
    expect(shared.status).toBe(409);
    expect(shared.body.error.code).toBe('shared_sender');
    for (const value of ['07700900123', '+0123456789', `MG${'0'.repeat(31)}`, `PN${'0'.repeat(32)}`]) {
      const refused = await assign(value, { tenantId: tenant.id });
      expect(refused.status, value).toBe(422);
      expect(refused.body.error.details.fields).toHaveProperty('value');
    }
    expect((await assign(randomSenderNumber(), { tenantId: 'not-a-uuid' })).status).toBe(422);
    expect((await assign(randomSenderNumber(), { tenantId: randomUUID() })).status).toBe(404);
    expect(
      (await request(app).put(senderPath(randomSenderNumber())).set(auth).send({ tenantId: tenant.id })).status,
    ).toBe(403);
    expect((await request(app).get('/v1/operator/senders').set(auth)).status).toBe(403);
    expect(await stack.db.tenantSender.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it('two assignments of one new sender to different tenants at once: one 200, one 409 sender_taken, never a 5xx', async () => {
    const [a, b] = [await createTenant(stack.db), await createTenant(stack.db)];
    for (let round = 0; round < 5; round += 1) {
      const number = randomSenderNumber();
      const answers = await Promise.all([
        assign(number, { tenantId: a.tenant.id }),
        assign(number, { tenantId: b.tenant.id }),
      ]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
      expect(answers.find((answer) => answer.status === 409)?.body.error.code).toBe('sender_taken');
      const winner = answers.find((answer) => answer.status === 200)?.body.tenantId;
      expect(await stack.db.tenantSender.findUniqueOrThrow({ where: { value: number } })).toMatchObject({
        tenantId: winner,
      });
    }
  });
});

describe('operator sender routes, one assignment sent twice at once', () => {
  it('both answer 200 with the tenant (one changed, one unchanged), never a 409 naming the caller’s own tenant', async () => {
    const { tenant } = await createTenant(stack.db);
    for (let round = 0; round < 5; round += 1) {
      const number = randomSenderNumber();
      const answers = await Promise.all([
        assign(number, { tenantId: tenant.id }),
        assign(number, { tenantId: tenant.id }),
      ]);
      expect(answers.map((answer) => [answer.status, answer.body.tenantId])).toEqual([
        [200, tenant.id],
        [200, tenant.id],
      ]);
      expect(answers.map((answer) => answer.body.changed).sort()).toEqual([false, true]);
      expect(await auditOf(number)).toHaveLength(1);
    }
  });
});

describe('a tenant key', () => {
  it('can no longer change senders through PATCH /v1/settings (403 senders_operator_only), and still sees its own in GET', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const number = randomSenderNumber();
    await assign(number, { tenantId: tenant.id });
    for (const senders of [[randomSenderNumber()], [], 'anything']) {
      const refused = await request(app).patch('/v1/settings').set(auth).send({ senders, businessName: 'Changed' });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({
        code: 'senders_operator_only',
        message: expect.stringMatching(/operator/),
      });
    }
    const settings = (await request(app).get('/v1/settings').set(auth)).body;
    expect(settings).toMatchObject({ senders: [number], businessName: 'Acme Dental' });
  });
});

describe('the admin command', () => {
  const admin = (...args: string[]) => {
    const env = {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: inject('databaseUrl'),
      TWILIO_FROM_NUMBER: testSenderNumber,
    };
    try {
      return {
        code: 0,
        out: JSON.parse(
          execFileSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', 'senders', ...args], {
            cwd: projectRoot,
            env,
            encoding: 'utf8',
            stdio: 'pipe',
          }),
        ) as unknown,
      };
    } catch (error) {
      const failed = error as { status: number; stderr: string };
      return { code: failed.status, err: failed.stderr };
    }
  };

  it('assigns (refusing another tenant’s sender without --reassign, and the default sender), lists and removes senders, audited as admin-cli', async () => {
    const [a, b] = [await createTenant(stack.db), await createTenant(stack.db)];
    const number = randomSenderNumber();
    expect(admin('assign', number, '--tenant', a.tenant.id)).toMatchObject({
      code: 0,
      out: { value: number, tenantId: a.tenant.id, assignedBy: 'admin-cli' },
    });
    expect(admin('assign', number, '--tenant', b.tenant.id)).toMatchObject({
      code: 2,
      err: expect.stringContaining('--reassign'),
    });
    expect(admin('assign', number, '--tenant', b.tenant.id, '--reassign')).toMatchObject({
      code: 0,
      out: { tenantId: b.tenant.id, previousTenantId: a.tenant.id },
    });
    expect(admin('assign', testSenderNumber, '--tenant', a.tenant.id)).toMatchObject({
      code: 2,
      err: expect.stringContaining('default sender'),
    });
    expect(admin('list').out).toContainEqual(expect.objectContaining({ value: number, tenantId: b.tenant.id }));
    expect(admin('remove', number)).toMatchObject({
      code: 0,
      out: { value: number, tenantId: b.tenant.id, unassigned: true },
    });
    expect(await stack.db.tenantSender.count({ where: { value: number } })).toBe(0);
    expect((await auditOf(number)).map((row) => `${row.actor} ${row.action}`)).toEqual([
      'admin-cli sender.assigned',
      'admin-cli sender.assigned',
      'admin-cli sender.unassigned',
    ]);
  });
});
