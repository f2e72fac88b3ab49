// Issue 6: sending capacity through the API (budget settings, the kill switch, the status read model, a send's
// capacity hold), against PostgreSQL, the dev server and the Twilio fake.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { budgetPeriods } from '../../common/capacity/periods.js';
import { projectRoot } from '../../scripts/stack/paths.js';
import { withGlobalSwitch } from '../support/capacity.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const api = () => request(stack.app);
const operatorKey = `op_${randomBytes(24).toString('hex')}`;
const operatorApp = () => createApp({ ...stack.deps, operatorApiKey: operatorKey });
const asOperator = { Authorization: `Bearer ${operatorKey}` };
/** A US number of our own per test (senders belong to one tenant across the whole database). */
const randomNumber = () => `+1202555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;

const apiKeyIdOf = async (tenantId: string) => (await stack.db.apiKey.findFirstOrThrow({ where: { tenantId } })).id;

describe('budget settings', () => {
  it('takes amounts as numbers (or the strings it answers), null for no limit, and names a bad field', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const saved = await api().patch('/v1/settings').set(auth).send({
      dailyBudget: 12.5,
      monthlyBudget: 300,
      remindersBypassBudget: true,
      alertWebhookUrl: 'https://93.184.216.34/budget',
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      dailyBudget: '12.5',
      monthlyBudget: '300',
      remindersBypassBudget: true,
      alertWebhookUrl: 'https://93.184.216.34/budget',
      // The alerts' signing secret: in this answer only.
      alertWebhookSecret: expect.stringMatching(/^whsec_/),
    });
    expect((await api().get('/v1/settings').set(auth)).body).not.toHaveProperty('alertWebhookSecret');
    // The same URL again (a client sending all its settings) keeps the secret; a URL saved before alerts were signed,
    // with none, gets one when it is set again.
    const again = await api().patch('/v1/settings').set(auth).send({ alertWebhookUrl: 'https://93.184.216.34/budget' });
    expect(again.body).not.toHaveProperty('alertWebhookSecret');
    await stack.db.tenant.update({ where: { id: tenant.id }, data: { alertWebhookSecret: null } });
    const unsigned = await api()
      .patch('/v1/settings')
      .set(auth)
      .send({ alertWebhookUrl: 'https://93.184.216.34/budget' });
    expect(unsigned.body.alertWebhookSecret).toMatch(/^whsec_/);
    expect(unsigned.body.alertWebhookSecret).not.toBe(saved.body.alertWebhookSecret);
    expect((await api().patch('/v1/settings').set(auth).send({ monthlyBudget: saved.body.monthlyBudget })).status).toBe(
      200,
    );
    const cleared = await api().patch('/v1/settings').set(auth).send({ dailyBudget: null, alertWebhookUrl: null });
    expect(cleared.body).toMatchObject({ dailyBudget: null, monthlyBudget: '300', alertWebhookUrl: null });
    expect(cleared.body).not.toHaveProperty('alertWebhookSecret');

    for (const [field, value] of [
      ['dailyBudget', -1],
      ['dailyBudget', 1.23456],
      ['monthlyBudget', 'lots'],
      ['monthlyBudget', 1e12],
      ['remindersBypassBudget', 'yes'],
      ['alertWebhookUrl', 'http://93.184.216.34/budget'],
      ['alertWebhookUrl', 'https://127.0.0.1:9/alerts'],
      ['alertWebhookUrl', 'https://10.0.0.7/alerts'],
      ['alertWebhookUrl', 'https://name.invalid/alerts'],
      ['alertWebhookUrl', 'not a url'],
    ] as const) {
      const refused = await api()
        .patch('/v1/settings')
        .set(auth)
        .send({ [field]: value });
      expect(refused.status, `${field}=${value}`).toBe(422);
      expect(Object.keys(refused.body.error.details.fields)).toEqual([field]);
    }
    expect((await api().get('/v1/settings').set(auth)).body).toMatchObject({ dailyBudget: null, monthlyBudget: '300' });
  });
});

describe('the tenant kill switch', () => {
  it('pauses and resumes through the API, answers the status, and audits who did it', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const paused = await api().post('/v1/sending/pause').set(auth).send({ reason: 'campaign review' });
    expect(paused.status).toBe(200);
    const keyId = await apiKeyIdOf(tenant.id);
    expect(paused.body.killSwitch.tenant).toMatchObject({ on: true, by: keyId, reason: 'campaign review' });
    expect(paused.body.killSwitch.paused).toBe(true);
    const resumed = await api().post('/v1/sending/resume').set(auth);
    expect(resumed.body.killSwitch.tenant).toEqual({ on: false, since: null, by: null, reason: null });
    const audit = await stack.db.auditLog.findMany({ where: { tenantId: tenant.id }, orderBy: { createdAt: 'asc' } });
    expect(audit.map(({ actor, action, subject }) => ({ actor, action, subject }))).toEqual([
      { actor: keyId, action: 'sending.paused', subject: tenant.id },
      { actor: keyId, action: 'sending.resumed', subject: tenant.id },
    ]);
    expect((await api().post('/v1/sending/pause').set(auth).send({ why: 'x' })).status).toBe(422);
  });

  it('the admin command pauses and resumes one tenant as admin-cli', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const admin = (...args: string[]) =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', 'sending', ...args], {
          cwd: projectRoot,
          env: { PATH: process.env.PATH ?? '', DATABASE_URL: inject('databaseUrl') },
          encoding: 'utf8',
        }),
      ) as Record<string, unknown>;
    expect(admin('pause', '--tenant', tenant.id, '--reason', 'billing')).toMatchObject({
      scope: tenant.id,
      paused: true,
      by: 'admin-cli',
      reason: 'billing',
    });
    expect((await api().get('/v1/sending').set(auth)).body.killSwitch.tenant).toMatchObject({
      on: true,
      by: 'admin-cli',
    });
    expect(admin('resume', '--tenant', tenant.id)).toMatchObject({ paused: false, wasPaused: true });
    expect(await stack.db.auditLog.count({ where: { tenantId: tenant.id, actor: 'admin-cli' } })).toBe(2);
  });
});

describe('operator routes', () => {
  it('refuse tenant keys, wrong keys and no key; are off without OPERATOR_API_KEY; never fall through to tenant routes', async () => {
    const { apiKey, auth } = await createTenant(stack.db);
    const app = operatorApp();
    expect((await request(app).get('/v1/operator/sending').set(auth)).status).toBe(403);
    expect((await request(app).post('/v1/operator/sending/pause').set(auth)).status).toBe(403);
    expect(
      (
        await request(app)
          .get('/v1/operator/sending')
          .set({ Authorization: `Bearer ${operatorKey}x` })
      ).status,
    ).toBe(403);
    expect((await request(app).get('/v1/operator/sending')).status).toBe(401);
    expect((await request(app).get('/v1/operator/nothing-here').set(asOperator)).status).toBe(404);
    expect((await request(app).get('/v1/sending').set(asOperator)).status).toBe(401);
    const off = await request(stack.app)
      .get('/v1/operator/sending')
      .set({ Authorization: `Bearer ${apiKey}` });
    expect(off.status).toBe(403);
    expect(off.body.error.message).toMatch(/OPERATOR_API_KEY/);
    expect(await stack.db.sendingPause.count({ where: { scope: 'global', pausedBy: { not: 'operator' } } })).toBe(0);
  });

  it('a global pause shows in every tenant’s status and is audited; an operator can pause one tenant', async () => {
    const app = operatorApp();
    const [a, b] = await Promise.all([createTenant(stack.db), createTenant(stack.db)]);
    const reason = `incident ${randomUUID()}`;
    // Held for as short as possible: the suite's other files share this database.
    await withGlobalSwitch(stack.db, async () => {
      const paused = await request(app).post('/v1/operator/sending/pause').set(asOperator).send({ reason });
      expect(paused.body.global).toMatchObject({ on: true, by: 'operator' });
      const [statusA, statusB] = await Promise.all([
        request(app).get('/v1/sending').set(a.auth),
        request(app).get('/v1/sending').set(b.auth),
      ]);
      for (const status of [statusA, statusB])
        expect(status.body.killSwitch).toMatchObject({
          paused: true,
          tenant: { on: false },
          global: { on: true, by: 'operator' },
        });
      await request(app).post('/v1/operator/sending/resume').set(asOperator).send({ reason: 'over' });
    });
    expect(
      await stack.db.auditLog.count({
        where: { tenantId: null, actor: 'operator', subject: 'global', data: { path: ['reason'], equals: reason } },
      }),
    ).toBe(1);

    const one = await request(app).post('/v1/operator/sending/pause').set(asOperator).send({ tenantId: a.tenant.id });
    expect(one.body.tenants).toEqual(
      expect.arrayContaining([expect.objectContaining({ tenantId: a.tenant.id, on: true, by: 'operator' })]),
    );
    expect((await request(app).get('/v1/sending').set(a.auth)).body.killSwitch.tenant).toMatchObject({
      on: true,
      by: 'operator',
    });
    expect((await request(app).get('/v1/sending').set(b.auth)).body.killSwitch.tenant.on).toBe(false);
    await request(app).post('/v1/operator/sending/resume').set(asOperator).send({ tenantId: a.tenant.id });
    expect(
      (await request(app).post('/v1/operator/sending/pause').set(asOperator).send({ tenantId: randomUUID() })).status,
    ).toBe(404);
  });
});

describe("the operator's pause of a tenant", () => {
  it("cannot be lifted with the tenant's own key, even when the tenant paused first; the operator lifts it", async () => {
    const app = operatorApp();
    const { tenant, auth } = await createTenant(stack.db);
    // The tenant pauses, then the operator pauses it too (a complaint): the pause is the operator's now.
    expect((await request(app).post('/v1/sending/pause').set(auth).send({ reason: 'our own' })).status).toBe(200);
    await request(app)
      .post('/v1/operator/sending/pause')
      .set(asOperator)
      .send({ tenantId: tenant.id, reason: 'complaint' });
    const refused = await request(app).post('/v1/sending/resume').set(auth).send({});
    // Before: 200, and the operator's pause was gone.
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', details: { reason: 'complaint' } });
    expect((await request(app).get('/v1/sending').set(auth)).body.killSwitch.tenant).toMatchObject({
      on: true,
      by: 'operator',
    });
    await request(app).post('/v1/operator/sending/resume').set(asOperator).send({ tenantId: tenant.id });
    expect((await request(app).get('/v1/sending').set(auth)).body.killSwitch.tenant.on).toBe(false);
    // A pause of the tenant's own it lifts itself.
    await request(app).post('/v1/sending/pause').set(auth).send({});
    expect((await request(app).post('/v1/sending/resume').set(auth).send({})).status).toBe(200);
  });

  it('named in capital letters is that tenant’s pause all the same: its sends stop, and its key cannot lift it', async () => {
    const app = operatorApp();
    const { tenant, auth } = await createTenant(stack.db);
    const asGiven = { tenantId: tenant.id.toUpperCase() };
    const paused = await request(app).post('/v1/operator/sending/pause').set(asOperator).send(asGiven);
    expect(paused.body.tenants).toEqual(expect.arrayContaining([expect.objectContaining({ tenantId: tenant.id })]));
    // Before: stored under the ID as given, which the gate's lookup by the tenant's ID never matched.
    expect((await request(app).get('/v1/sending').set(auth)).body.killSwitch).toMatchObject({
      paused: true,
      tenant: { on: true, by: 'operator' },
    });
    expect((await request(app).post('/v1/sending/resume').set(auth).send({})).status).toBe(409);
    await request(app).post('/v1/operator/sending/resume').set(asOperator).send(asGiven);
    expect((await request(app).get('/v1/sending').set(auth)).body.killSwitch.paused).toBe(false);
  });
});

describe('the migration that puts pauses under the stored tenant ID', () => {
  it('keeps one pause per tenant: the operator’s over the tenant’s own, else the earliest, whatever the spellings', async () => {
    const sql = await readFile(
      new URL('../../prisma/migrations/20261207190000_lower_case_pause_scopes/migration.sql', import.meta.url),
      'utf8',
    );
    const [both, spellings] = [randomUUID(), randomUUID()];
    const pauses = await stack.db
      .$transaction(async (tx) => {
        await tx.sendingPause.createMany({
          data: [
            // The tenant paused itself, then the operator paused it named in capitals.
            { scope: both, pausedBy: 'key-1', reason: 'our own' },
            { scope: both.toUpperCase(), pausedBy: 'operator', reason: 'complaint' },
            // Two spellings and no stored one: the primary key allows one lower-case row only.
            {
              scope: spellings.toUpperCase(),
              pausedBy: 'admin-cli',
              reason: 'first',
              pausedAt: new Date(Date.now() - 60_000),
            },
            { scope: `${spellings.slice(0, 8).toUpperCase()}${spellings.slice(8)}`, pausedBy: 'operator' },
          ],
        });
        for (const statement of sql
          .replace(/--.*$/gm, '')
          .split(';')
          .filter((part) => part.trim()))
          await tx.$executeRawUnsafe(statement);
        const after = await tx.sendingPause.findMany({
          where: { scope: { in: [both, spellings] } },
          orderBy: { scope: 'asc' },
        });
        throw Object.assign(new Error('rolled back'), { after });
      })
      .catch((error: { after?: unknown }) => error.after ?? error);
    expect(pauses).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: both, pausedBy: 'operator', reason: 'complaint' }),
        expect.objectContaining({ scope: spellings, pausedBy: 'admin-cli', reason: 'first' }),
      ]),
    );
    expect(pauses).toHaveLength(2);
  });
});

describe('GET /v1/sending', () => {
  /** A tenant with one number of its own on warm-up day 2, a budget partly spent and sends in the last minute. */
  async function seededTenant() {
    const owner = await createTenant(stack.db, { dailyBudget: '10', monthlyBudget: '100' });
    const number = randomNumber();
    // Senders are the operator's to assign (PUT /v1/operator/senders/:value): here straight in the database.
    await stack.db.tenantSender.create({ data: { value: number, tenantId: owner.tenant.id } });
    const now = Date.now();
    const periods = budgetPeriods(new Date(now), owner.tenant.defaultTimeZone);
    await stack.db.sendingNumber.create({ data: { value: number, firstSentAt: new Date(now - 36 * 3_600_000) } });
    await stack.db.capacityUsage.createMany({
      data: [
        { scope: `warmup:${number}`, period: 'day-2', used: 7 },
        { scope: `budget_daily:${owner.tenant.id}`, period: periods.daily.key, used: '2.5' },
        { scope: `budget_monthly:${owner.tenant.id}`, period: periods.monthly.key, used: '40.25' },
      ],
    });
    const sent = (secondsAgo: number) => ({
      tenantId: owner.tenant.id,
      direction: 'outbound' as const,
      toPhone: randomUkMobile().e164,
      fromPhone: number,
      body: 'hi',
      status: 'sent' as const,
      sentAt: new Date(now - secondsAgo * 1000),
    });
    await stack.db.message.createMany({ data: [sent(5), sent(20), sent(50), sent(600)] });
    return { ...owner, number };
  }

  it('shows throughput, budgets and each number’s rate and warm-up from the rows', async () => {
    const { auth, number } = await seededTenant();
    const status = (await api().get('/v1/sending').set(auth)).body;
    expect(status.throughput).toEqual({ limitPerSecond: 10_000, sentLastMinute: 3, currentPerSecond: 0.05 });
    expect(status.budgets.daily).toMatchObject({ limit: '10', spent: '2.5', left: '7.5' });
    expect(status.budgets.monthly).toMatchObject({ limit: '100', spent: '40.25', left: '59.75' });
    expect(Date.parse(status.budgets.daily.resetsAt)).toBeGreaterThan(Date.now());
    expect(status.numbers).toEqual([
      {
        number,
        owner: 'tenant',
        rate: { limitPerSecond: 10_000, sentLastMinute: 3, currentPerSecond: 0.05 },
        warmup: expect.objectContaining({ day: 2, sent: 7, allowance: 10_000_000, left: 9_999_993, warmedUp: true }),
      },
    ]);
    expect(Date.parse(status.numbers[0].warmup.resetsAt) - Date.parse(status.numbers[0].warmup.firstSentAt)).toBe(
      2 * 86_400_000,
    );
  });

  it('shows the deployment’s default sender once the tenant sent from it, and no budget limit when none is set', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    expect((await api().get('/v1/sending').set(auth)).body.numbers).toEqual([]);
    await stack.db.message.create({
      data: {
        tenantId: tenant.id,
        direction: 'outbound',
        toPhone: randomUkMobile().e164,
        fromPhone: testSenderNumber,
        body: 'hi',
        status: 'sent',
        sentAt: new Date(),
      },
    });
    const status = (await api().get('/v1/sending').set(auth)).body;
    expect(status.numbers).toEqual([expect.objectContaining({ number: testSenderNumber, owner: 'deployment' })]);
    expect(status.budgets.daily).toMatchObject({ limit: null, spent: '0', left: null });
  });

  it('keeps tenants apart: a tenant never sees another’s numbers, budget or pause', async () => {
    const b = await seededTenant();
    await api().post('/v1/sending/pause').set(b.auth);
    const a = await createTenant(stack.db, { dailyBudget: '1' });
    const status = (await api().get('/v1/sending').set(a.auth)).body;
    expect(status.numbers).toEqual([]);
    expect(status.throughput.sentLastMinute).toBe(0);
    expect(status.budgets.daily).toMatchObject({ limit: '1', spent: '0', left: '1' });
    expect(status.killSwitch.tenant.on).toBe(false);
    expect(JSON.stringify(status)).not.toContain(b.number);
    expect(JSON.stringify(status)).not.toContain(b.tenant.id);
    await api().post('/v1/sending/resume').set(b.auth);
  });
});

describe('a send waiting for capacity shows on its enrollment', () => {
  it('held by the tenant’s kill switch: capacityHold names it; after resume the message goes out and the hold clears', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile();
    const lead = (await api().post('/v1/leads').set(auth).send({ phone: phone.national })).body as { id: string };
    const sequence = (
      await api()
        .post('/v1/sequences')
        .set(auth)
        .send({ name: 'held', steps: [{ delaySeconds: 0, template: 'held then sent' }] })
    ).body as { id: string };
    await api().post('/v1/sending/pause').set(auth).send({ reason: 'test' });
    const enrollment = (
      await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id })
    ).body as { id: string };
    const read = async () => (await api().get(`/v1/enrollments/${enrollment.id}`).set(auth)).body;

    await expect
      .poll(async () => (await read()).capacityHold?.reason, { timeout: 15_000, interval: 250 })
      .toBe('kill_switch');
    const held = await read();
    expect(held.capacityHold).toMatchObject({
      detail: expect.stringMatching(/paused for this tenant/),
      attempt: expect.any(Number),
    });
    expect(Date.parse(held.capacityHold.nextAttemptAt)).toBeGreaterThan(Date.now() - 5000);
    expect(held).toMatchObject({ status: 'running', progress: { waitingFor: 'capacity', step: 0 } });
    expect(stack.fake.calls.filter((call) => call.to === phone.e164)).toEqual([]);

    await api().post('/v1/sending/resume').set(auth);
    await expect
      .poll(() => stack.fake.calls.filter((call) => call.to === phone.e164).length, { timeout: 15_000, interval: 250 })
      .toBe(1);
    await expect.poll(async () => (await read()).capacityHold, { timeout: 15_000, interval: 250 }).toBeNull();
  });
});
