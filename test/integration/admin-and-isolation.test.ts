// Tenant API keys (the admin command, as operators run it) and tenant isolation on every route.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { projectRoot } from '../../scripts/stack/paths.js';
import { weeklyReportScheduleId } from '../../worker/schedules.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrollInNewSequence } from '../support/follow-ups.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const admin = (...args: string[]) =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: stack.taskQueue,
      },
      encoding: 'utf8',
    }),
  ) as Record<string, unknown>;
const bearer = (key: unknown) => ({ Authorization: `Bearer ${String(key)}` });

describe('tenant API keys', () => {
  it('are created, listed by prefix only, rotated with a grace period, and revoked', async () => {
    const created = admin('tenant:create', `admin-${randomUUID()}`, 'Admin Dental', 'GB', 'Europe/London');
    expect((await request(stack.app).get('/v1/settings').set(bearer(created.key))).status).toBe(200);
    const schedule = await stack.client.schedule.getHandle(weeklyReportScheduleId(String(created.tenantId))).describe();
    expect(schedule.spec.timezone).toBe('Europe/London');
    const listed = admin('key:list', String(created.tenantId)) as unknown as { prefix: string; key?: string }[];
    expect(listed).toEqual([expect.objectContaining({ prefix: created.prefix })]);
    expect(JSON.stringify(listed)).not.toContain(String(created.key));
    expect(await stack.db.apiKey.count({ where: { hash: String(created.key) } })).toBe(0);

    const rotated = admin('key:rotate', String(created.prefix), '1');
    expect((await request(stack.app).get('/v1/settings').set(bearer(created.key))).status).toBe(200);
    expect((await request(stack.app).get('/v1/settings').set(bearer(rotated.key))).status).toBe(200);
    admin('key:revoke', String(created.prefix));
    expect((await request(stack.app).get('/v1/settings').set(bearer(created.key))).status).toBe(401);
    expect((await request(stack.app).get('/v1/settings').set(bearer(rotated.key))).status).toBe(200);
    // Rotating a revoked key (to give its integration a new one) must not bring it back for a grace period.
    expect(() => admin('key:rotate', String(created.prefix))).toThrow(/revoked or already rotated/);
    expect((await request(stack.app).get('/v1/settings').set(bearer(created.key))).status).toBe(401);
  });
});

describe('the admin script refuses what would leave a tenant or a key wrong', () => {
  it('a region libphonenumber does not know (UK for GB), and a tenant ID that is no UUID, each with the reason', () => {
    expect(() => admin('tenant:create', `admin-${randomUUID()}`, 'Admin Dental', 'UK', 'Europe/London')).toThrow(
      /UK: unknown ISO 3166 region code \(the United Kingdom is GB\)/,
    );
    expect(() => admin('key:list', 'acme')).toThrow(/no tenant acme/);
    expect(() => admin('key:create', 'acme', 'ci')).toThrow(/no tenant acme/);
  });

  it('two keys sharing a prefix: the prefix names both tenants; the whole key revokes that key only, and says whose', async () => {
    const first = admin('tenant:create', `admin-${randomUUID()}`, 'Admin Dental', 'GB', 'Europe/London');
    const second = admin('tenant:create', `admin-${randomUUID()}`, 'Other Dental', 'GB', 'Europe/London');
    await stack.db.apiKey.updateMany({
      where: { tenantId: String(second.tenantId) },
      data: { prefix: String(first.prefix) },
    });
    expect(() => admin('key:revoke', String(first.prefix))).toThrow(
      new RegExp(`matches 2 keys \\(tenants .*${String(first.tenantId)}.*\\): give the whole key`),
    );
    expect(admin('key:revoke', String(second.key))).toEqual({
      tenantId: second.tenantId,
      prefix: first.prefix,
      revoked: true,
    });
    expect((await request(stack.app).get('/v1/settings').set(bearer(second.key))).status).toBe(401);
    expect((await request(stack.app).get('/v1/settings').set(bearer(first.key))).status).toBe(200);
  });
});

describe('an enrollment whose run an operator terminated (the runbook)', () => {
  it('is closed by enrollment:close as its run would have: the row, the lead and enrollment.closed; not while it runs', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone: randomUkMobile().national });
    const enrollmentId = await enrollInNewSequence(stack.app, auth, lead.body.id as string, [
      { delaySeconds: 3600, template: 'Any news?' },
    ]);
    const { workflowId, runId } = await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } });
    const firstTaskCompleted = async () =>
      (await stack.client.workflow.getHandle(workflowId, runId ?? undefined).fetchHistory()).events?.find(
        (event) => event.workflowTaskCompletedEventAttributes,
      );
    await expect.poll(firstTaskCompleted, { timeout: 30_000 }).toBeDefined();
    expect(() => admin('enrollment:close', tenant.id, enrollmentId, 'OPS-1')).toThrow(/still running/);

    const handle = stack.client.workflow.getHandle(workflowId);
    await handle.terminate('stuck: OPS-1');
    // Reset after a fix: the new run runs while the row still names the terminated one, which must not pass.
    const firstTask = await firstTaskCompleted();
    await stack.client.workflowService.resetWorkflowExecution({
      namespace: stack.client.options.namespace,
      workflowExecution: { workflowId, runId },
      reason: 'after fix OPS-1',
      workflowTaskFinishEventId: firstTask?.eventId,
      requestId: randomUUID(),
    });
    expect(() => admin('enrollment:close', tenant.id, enrollmentId, 'OPS-1')).toThrow(/still running/);
    await handle.terminate('stuck again: OPS-1');
    // Named in capitals (pasted from a ticket): the close's event still names the IDs as the CRM has them.
    const closing = admin('enrollment:close', tenant.id.toUpperCase(), enrollmentId.toUpperCase(), 'OPS-1');
    expect(closing).toMatchObject({ enrollmentId, status: 'cancelled' });
    const enrollment = await request(stack.app).get(`/v1/enrollments/${enrollmentId}`).set(auth);
    expect(enrollment.body).toMatchObject({ status: 'cancelled', closedReason: 'terminated by an operator: OPS-1' });
    const closed = await request(stack.app).get('/v1/events?type=enrollment.closed').set(auth);
    expect(closed.body.items).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ enrollmentId, outcome: 'cancelled' }) }),
    ]);
    const started = await request(stack.app).get('/v1/events?type=enrollment.started').set(auth);
    expect(started.body.items).toEqual([expect.objectContaining({ data: expect.objectContaining({ enrollmentId }) })]);
    // Once closed, nothing is closed again.
    expect(() => admin('enrollment:close', tenant.id, enrollmentId, 'OPS-1')).toThrow(/is cancelled: nothing to close/);
  });
});

describe('tenant isolation: another tenant’s key gets 404 on every route, and changes nothing', () => {
  it('leads, sequences, enrollments (read, list, signal-like updates, cancel), batch, opt-outs', async () => {
    const owner = await createTenant(stack.db, anytimeSettings);
    const other = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile();
    const lead = (
      await request(stack.app).post('/v1/leads').set(owner.auth).send({ phone: phone.national, firstName: 'Ada' })
    ).body as { id: string };
    const sequence = (
      await request(stack.app)
        .post('/v1/sequences')
        .set(owner.auth)
        .send({ name: 'mine', steps: [{ delaySeconds: 3600, template: 'x' }] })
    ).body as { id: string };
    const enrollment = (
      await request(stack.app)
        .post('/v1/enrollments')
        .set(owner.auth)
        .send({ leadId: lead.id, sequenceId: sequence.id })
    ).body as { id: string };
    const api = request(stack.app);
    const attempts = [
      api.get(`/v1/leads/${lead.id}`).set(other.auth),
      api.patch(`/v1/leads/${lead.id}`).set(other.auth).send({ firstName: 'Mallory' }),
      api.delete(`/v1/leads/${lead.id}`).set(other.auth),
      api.get(`/v1/sequences/${sequence.id}`).set(other.auth),
      api.post('/v1/enrollments').set(other.auth).send({ leadId: lead.id, sequenceId: sequence.id }),
      api.get(`/v1/enrollments/${enrollment.id}`).set(other.auth),
      api.post(`/v1/enrollments/${enrollment.id}/pause`).set(other.auth),
      api.post(`/v1/enrollments/${enrollment.id}/resume`).set(other.auth),
      api.post(`/v1/enrollments/${enrollment.id}/skip`).set(other.auth).send({ step: 0 }),
      api.post(`/v1/enrollments/${enrollment.id}/cancel`).set(other.auth),
      api
        .post('/v1/enrollments/batch')
        .set(other.auth)
        .send({ sequenceId: sequence.id, dryRun: true, leads: [{ phone: phone.national }] }),
    ];
    const statuses = (await Promise.all(attempts)).map((response) => response.status);
    expect(statuses).toEqual(attempts.map(() => 404));

    const lists = await Promise.all([
      api.get('/v1/leads').set(other.auth),
      api.get(`/v1/enrollments?leadId=${lead.id}`).set(other.auth),
      api.get('/v1/opt-outs').set(other.auth),
    ]);
    for (const response of lists) expect(response.body.items).toEqual([]);
    const mine = await api.get(`/v1/enrollments/${enrollment.id}`).set(owner.auth);
    expect(mine.body).toMatchObject({ status: 'running', progress: { paused: false } });
    expect((await api.get(`/v1/leads/${lead.id}`).set(owner.auth)).body.firstName).toBe('Ada');
    await api.post(`/v1/enrollments/${enrollment.id}/cancel`).set(owner.auth);
  });
});

describe('abuse limits', () => {
  it('answers 429 with Retry-After past the per-key rate, per key, and sets security headers', async () => {
    const limited = createApp({ ...stack.deps, requestsPerMinute: 3 });
    const first = await createTenant(stack.db);
    const second = await createTenant(stack.db);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await request(limited).get('/v1/settings').set(first.auth)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await request(limited).get('/v1/settings').set(first.auth);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await request(limited).get('/v1/settings').set(second.auth)).status).toBe(200);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    expect(refused.headers['x-powered-by']).toBeUndefined();
  });

  it('answers 429 to an address past the rate in refused keys; a key found valid lately there, and other addresses, go on', async () => {
    const limited = createApp({ ...stack.deps, requestsPerMinute: 3 });
    const { auth } = await createTenant(stack.db);
    expect((await request(limited).get('/v1/settings').set(auth)).status).toBe(200);
    const guess = { Authorization: `Bearer lf_${'0'.repeat(64)}` };
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await request(limited).get('/v1/leads').set(guess)).status);
    // Before: 401 every time, each after a hash and a lookup, with no limit at all.
    expect(statuses).toEqual([401, 401, 401, 429]);
    const refused = await request(limited).get('/v1/leads').set(guess);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The tenant's live key from the same address is not held back by the guesses; a key new to it is.
    expect((await request(limited).get('/v1/settings').set(auth)).status).toBe(200);
    const other = await createTenant(stack.db);
    expect((await request(limited).get('/v1/settings').set(other.auth)).status).toBe(429);
    // Another address (the same /64 counts as one) is not held back by this one's guesses.
    const proxied = createApp({ ...stack.deps, requestsPerMinute: 3, trustProxy: 1 });
    const from = (address: string) => request(proxied).get('/v1/leads').set(guess).set('X-Forwarded-For', address);
    for (let i = 1; i <= 3; i += 1) expect((await from(`2001:db8::${i}`)).status).toBe(401);
    expect((await from('2001:db8::ffff')).status).toBe(429);
    expect((await from('2001:db8:0:1::1')).status).toBe(401);
    expect(
      (await request(proxied).get('/v1/settings').set(other.auth).set('X-Forwarded-For', '203.0.113.9')).status,
    ).toBe(200);
  });

  it('refuses bodies over the size limit with 413 in the error shape', async () => {
    const { auth } = await createTenant(stack.db);
    const response = await request(stack.app)
      .post('/v1/leads')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(`{"phone":"${'1'.repeat(6 * 1024 * 1024)}"}`);
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
  });
});
