// The thin slice end to end: API → Temporal dev server → worker → real twilio client → Twilio fake, and Postgres.
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import request from 'supertest';
import { recordOptOut } from '../../common/opt-outs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { abandonedClaimAfterMs, createClaimSweeper } from '../../api/claim-sweeper.js';
import { workflowInput } from '../../api/enrollment-starter.js';
import { createSignalRelay } from '../../api/signal-relay.js';
import type { Db } from '../../common/db.js';
import type { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { leadFollowUpWorkflowId, leadFollowUpWorkflowType } from '../../workflows/lead-follow-up.messages.js';
import { enrollmentStatusKey, tenantIdKey } from '../../workflows/search-attributes.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { startTestStack, testAppDeps, type TestStack } from '../support/stack.js';
import type { TwilioFake } from '../support/twilio-fake.js';

let stack: TestStack;
let db: Db;
let fake: TwilioFake;
let connection: Connection;
let app: TestStack['app'];
let taskQueue: string;

beforeAll(async () => {
  stack = await startTestStack();
  ({ db, fake, connection, app, taskQueue } = stack);
});
afterAll(() => stack?.stop());

async function enrollableLead(
  auth: Record<string, string>,
  steps = [{ delaySeconds: 0, template: 'Hi {{firstName}}, {{businessName}} here.' }],
) {
  const phone = randomUkMobile();
  const lead = await request(app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
  expect(lead.status).toBe(201);
  expect(lead.body.phone).toBe(phone.e164);
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps });
  expect(sequence.status).toBe(201);
  return { phone, leadId: lead.body.id as string, sequenceId: sequence.body.id as string };
}

describe('enrolling a lead into a one-step sequence', () => {
  it('sends exactly one SMS through Twilio, records it and closes the enrollment, visible by search attribute', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId, sequenceId } = await enrollableLead(auth);

    const started = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'running', workflowId: `followup:${tenant.id}:${leadId}` });
    expect(started.body.temporalUiUrl).toContain(encodeURIComponent(started.body.workflowId));

    const client = new Client({ connection });
    const handle = client.workflow.getHandle(started.body.workflowId, started.body.runId);
    expect(await handle.result()).toMatchObject({ status: 'completed', messagesSent: 1 });

    expect(fake.createCallsTo(phone.e164)).toBe(1);
    expect(fake.calls.find((call) => call.to === phone.e164)?.body).toBe('Hi Ada, Acme Dental here.');
    const messages = await db.message.findMany({ where: { tenantId: tenant.id } });
    expect(messages).toEqual([
      expect.objectContaining({
        direction: 'outbound',
        toPhone: phone.e164,
        status: 'queued',
        twilioSid: expect.stringMatching(/^SM/),
      }),
    ]);
    const enrollment = await request(app).get(`/v1/enrollments/${started.body.id}`).set(auth);
    expect(enrollment.body).toMatchObject({
      status: 'completed',
      closedReason: 'all steps done',
      progress: { step: 1, totalSteps: 1, messagesSent: 1, waitingFor: 'nothing', nextSendAt: null },
      capacityHold: null,
      live: null,
    });
    const asked = await request(app).get(`/v1/enrollments/${started.body.id}?live=true`).set(auth);
    expect(asked.body).toMatchObject({ status: 'completed', live: { status: 'completed', messagesSent: 1 } });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(tenantIdKey)).toBe(tenant.id);
    expect(description.typedSearchAttributes.get(enrollmentStatusKey)).toBe('completed');
    await expect
      .poll(
        async () => {
          const found = [];
          for await (const run of client.workflow.list({
            query: `TenantId = "${tenant.id}" AND EnrollmentStatus = "completed"`,
          }))
            found.push(run.workflowId);
          return found;
        },
        { timeout: 10_000 },
      )
      .toEqual([started.body.workflowId]);
  });

  it('refuses a second enrollment while one runs, naming the running one', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { leadId, sequenceId } = await enrollableLead(auth, [{ delaySeconds: 3600, template: 'later' }]);
    const first = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(first.status).toBe(202);
    const second = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({
      code: 'conflict',
      details: { reason: 'already_enrolled', enrollmentId: first.body.id },
    });
    await new Client({ connection }).workflow.getHandle(first.body.workflowId).terminate('test cleanup');
  });

  /**
   * The moment between a follow-up's recordEnrollmentOutcome and its run's close, held open: the run sits on a task
   * queue no worker polls while its row already says how it ended.
   */
  async function runThatRecordedItsEnd(
    tenantId: string,
    leadId: string,
    sequenceId: string,
    status: 'booked' | 'replied',
  ) {
    const [tenant, lead, sequence] = await Promise.all([
      db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
      db.lead.findUniqueOrThrow({ where: { id: leadId } }),
      db.sequenceDefinition.findUniqueOrThrow({ where: { id: sequenceId } }),
    ]);
    const workflowId = leadFollowUpWorkflowId(tenantId, leadId);
    const enrollmentId = randomUUID();
    const run = await new Client({ connection }).workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
      workflowId,
      taskQueue: `nobody-${randomUUID()}`,
      args: [workflowInput(tenant, lead, sequence, enrollmentId)],
    });
    await db.enrollment.create({
      data: {
        id: enrollmentId,
        tenantId,
        leadId,
        sequenceId,
        workflowId,
        runId: run.firstExecutionRunId,
        status,
        closedAt: new Date(),
      },
    });
    return run;
  }

  it('enrolls a lead whose last follow-up has recorded how it ended once that run closes, instead of calling it running', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId, sequenceId } = await enrollableLead(auth, [{ delaySeconds: 3600, template: 'later' }]);
    const closing = await runThatRecordedItsEnd(tenant.id, leadId, sequenceId, 'booked');

    const [again] = await Promise.all([
      request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId }),
      setTimeout(1_000).then(() => closing.terminate('the run closes')),
    ]);
    expect(again.status).toBe(202);
    expect(again.body.runId).not.toBe(closing.firstExecutionRunId);
    await new Client({ connection }).workflow.getHandle(closing.workflowId).terminate('test cleanup');
  });

  it('a batch row for such a lead is enrolled too once that run closes, not answered already_enrolled', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId, sequenceId } = await enrollableLead(auth, [{ delaySeconds: 3600, template: 'later' }]);
    const { phone } = await db.lead.findUniqueOrThrow({ where: { id: leadId } });
    const closing = await runThatRecordedItsEnd(tenant.id, leadId, sequenceId, 'replied');

    const [batch] = await Promise.all([
      request(app)
        .post('/v1/enrollments/batch')
        .set(auth)
        .send({ sequenceId, leads: [{ phone }] }),
      setTimeout(1_000).then(() => closing.terminate('the run closes')),
    ]);
    expect(batch.status).toBe(200);
    // Before: already_enrolled, naming the run that was closing; the CRM was told the lead was in a follow-up.
    expect(batch.body.results).toEqual([expect.objectContaining({ outcome: 'enrolled', leadId })]);
    const { workflowId, runId } = await db.enrollment.findUniqueOrThrow({
      where: { id: batch.body.results[0].enrollmentId },
    });
    expect(runId).not.toBe(closing.firstExecutionRunId);
    await new Client({ connection }).workflow.getHandle(workflowId).terminate('test cleanup');
  });

  it('still refuses, after a bounded wait, when a run whose enrollment recorded its end does not close', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId, sequenceId } = await enrollableLead(auth, [{ delaySeconds: 3600, template: 'later' }]);
    const stuck = await runThatRecordedItsEnd(tenant.id, leadId, sequenceId, 'replied');

    const refused = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toMatchObject({
      reason: 'already_enrolled',
      workflowId: stuck.workflowId,
      enrollmentId: null,
    });
    await stuck.terminate('test cleanup');
  });

  it('refuses an opted-out lead with the reason and calls Twilio for nobody', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId, sequenceId } = await enrollableLead(auth);
    await db.$transaction((tx) =>
      recordOptOut(tx, { tenantId: tenant.id, phone: phone.e164, source: 'inbound_keyword' }),
    );
    const refused = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toMatchObject({ reason: 'opted_out', source: 'inbound_keyword' });
    expect(fake.createCallsTo(phone.e164)).toBe(0);
  });

  it('answers bad input in the one error shape', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const noKey = await request(app).post('/v1/enrollments').send({});
    expect(noKey.status).toBe(401);
    expect(noKey.body.error.code).toBe('unauthorized');
    const invalid = await request(app).post('/v1/enrollments').set(auth).send({ leadId: 'x', extra: 1 });
    expect(invalid.status).toBe(422);
    expect(Object.keys(invalid.body.error.details.fields).sort()).toEqual(['(body)', 'leadId', 'sequenceId']);
    const unknown = await request(app)
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: randomUUID(), sequenceId: randomUUID() });
    expect(unknown.status).toBe(404);
    const badPhone = await request(app).post('/v1/leads').set(auth).send({ phone: '12345' });
    expect(badPhone.status).toBe(422);
    expect(badPhone.body.error.details.fields.phone).toHaveLength(1);
    const badJson = await request(app)
      .post('/v1/leads')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"phone":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('bad_request');
  });

  it('refuses, singly and in a batch, a sequence with a step the tenant’s expiry comes before: 422 naming the step, nothing enrolled', async () => {
    const { tenant, auth } = await createTenant(db, { ...anytimeSettings, expiryDays: 30 });
    // The third step is due 30 days after enrollment: the enrollment expires first, and it would end `expired`.
    const { phone, leadId, sequenceId } = await enrollableLead(auth, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 15 * 86_400, template: 'Still there?' },
      { delaySeconds: 15 * 86_400, template: 'Last one' },
    ]);
    const single = await request(app).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    const batch = await request(app)
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({ sequenceId, leads: [{ phone: phone.e164 }] });
    // Before: 202 and `enrolled`; the lead got the first two texts and the enrollment ended `expired`.
    for (const refused of [single, batch]) {
      expect(refused.status).toBe(422);
      expect(refused.body.error.details.fields.sequenceId).toEqual([
        expect.stringMatching(/^step 3 is due 30 days after enrollment, not before the tenant's expiryDays \(30\)/),
      ]);
    }
    expect(await db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(0);
    // One step fewer fits.
    const fits = await enrollableLead(auth, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 29 * 86_400, template: 'Still there?' },
    ]);
    const enroll = () =>
      request(app)
        .post('/v1/enrollments')
        .set(auth)
        .set('Idempotency-Key', `expiry-${fits.leadId}`)
        .send({ leadId: fits.leadId, sequenceId: fits.sequenceId });
    const enrolled = await enroll();
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(202);
    // A retry of that request (its answer lost) answers what it made, though the expiry is shorter now.
    await db.tenant.update({ where: { id: tenant.id }, data: { expiryDays: 29 } });
    const retried = await enroll();
    expect([retried.status, retried.body.id]).toEqual([202, enrolled.body.id]);
    await request(app).post(`/v1/enrollments/${enrolled.body.id}/cancel`).set(auth).expect(202);
  });

  it('answers 503 when Temporal does not answer, keeping the claim (the start may have landed) until the sweeper finds no run', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId, sequenceId } = await enrollableLead(auth);
    const deadConnection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
    const offlineClient = new Client({ connection: deadConnection });
    const logger = pino({ level: 'silent' });
    const offline = createApp(
      testAppDeps(db, offlineClient, taskQueue, {
        logger,
        signalRelay: createSignalRelay({ db, temporal: offlineClient, logger }),
      }),
    );
    const refused = await request(offline).post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('temporal_unavailable');
    expect(refused.body.error.message).toMatch(/may have happened/);
    // Unanswered, not refused: the claim stays, so a cancel or a reply meanwhile would stand with it.
    const [kept] = await db.enrollment.findMany({ where: { tenantId: tenant.id } });
    expect(kept).toMatchObject({ status: 'running', runId: null });
    // Once Temporal answers and the claim is old enough, the sweeper finds no run of it and removes it.
    await db.enrollment.update({
      where: { id: kept?.id },
      data: { startedAt: new Date(Date.now() - abandonedClaimAfterMs - 60_000) },
    });
    await createClaimSweeper({ db, temporal: stack.client, logger }).round(tenant.id);
    expect(await db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(0);
    const health = await request(offline).get('/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({
      status: 'unavailable',
      down: ['temporal'],
      database: { ok: true },
      sms: { mode: 'twilio' },
    });
    await deadConnection.close();
  });

  it('reports health 200 with Temporal, the database and the SMS mode', async () => {
    const health = await request(app).get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      temporal: { ok: true },
      database: { ok: true },
      sms: { mode: 'twilio' },
    });
    expect(health.headers['x-request-id']).toBeTruthy();
    const echoed = await request(app).get('/health').set('X-Request-Id', 'abc-123');
    expect(echoed.headers['x-request-id']).toBe('abc-123');
  });
});
