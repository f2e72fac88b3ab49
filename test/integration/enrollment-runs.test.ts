// Which run a change through the API reaches: the enrollment's own (its chain), never a later enrollment's run under the
// same workflow ID. Against the dev server, the Twilio fake and PostgreSQL.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { claimRow, createEnrollmentStarter } from '../../api/enrollment-starter.js';
import { lockConversation } from '../../common/conversation.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';

const stack = stackForFile();
const api = () => request(stack.app);
type Auth = Record<string, string>;

async function leadInHourlySteps(auth: Auth) {
  const phone = randomUkMobile();
  const lead = await api().post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
  const sequence = await api()
    .post('/v1/sequences')
    .set(auth)
    .send({
      name: `seq-${randomUUID()}`,
      steps: [
        { delaySeconds: 3600, template: 'a' },
        { delaySeconds: 3600, template: 'b' },
      ],
    });
  return { phone: phone.e164, leadId: lead.body.id as string, sequenceId: sequence.body.id as string };
}

async function enroll(auth: Auth, { leadId, sequenceId }: { leadId: string; sequenceId: string }) {
  const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId, sequenceId });
  expect(enrolled.status).toBe(202);
  return enrolled.body as { id: string; workflowId: string; runId: string };
}

/** An enrollment claimed as the API claims one, its workflow not started. */
async function claimOf(tenantId: string, { leadId, sequenceId }: { leadId: string; sequenceId: string }) {
  const [tenantRow, leadRow, sequenceRow] = await Promise.all([
    stack.db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
    stack.db.lead.findUniqueOrThrow({ where: { id: leadId } }),
    stack.db.sequenceDefinition.findUniqueOrThrow({ where: { id: sequenceId } }),
  ]);
  const claim = await stack.db.enrollment.create({
    data: claimRow(tenantRow, leadRow, sequenceRow, randomUUID(), new Date()),
  });
  return { claim, tenantRow, leadRow, sequenceRow };
}

const liveOf = async (auth: Auth, enrollmentId: string) =>
  (await api().get(`/v1/enrollments/${enrollmentId}?live=true`).set(auth)).body.live;

describe('a cancel after another fact halted the enrollment', () => {
  it('is a 409 naming the fact, and the run is not cancelled (the fact’s signal ends it as that)', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await leadInHourlySteps(auth);
    const enrolled = await enroll(auth, lead);
    // A reply recorded, its signal still queued for the relay.
    await stack.db.enrollment.update({
      where: { id: enrolled.id },
      data: { haltedAt: new Date(), haltedBy: 'replied' },
    });
    const cancelled = await api().post(`/v1/enrollments/${enrolled.id}/cancel`).set(auth);
    // Before: 202, the run cancelled, and the enrollment closed `cancelled` over the lead's reply.
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error).toMatchObject({ code: 'conflict', details: { reason: 'replied' } });
    const description = await stack.client.workflow.getHandle(enrolled.workflowId, enrolled.runId).describe();
    expect(description.status.name).toBe('RUNNING');
    await stack.client.workflow.getHandle(enrolled.workflowId, enrolled.runId).terminate('test cleanup');
  });
});

describe('changes to an enrollment reach its own run', () => {
  it('leaves a later enrollment alone when the earlier one’s run was terminated by an operator and its row still says running', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await leadInHourlySteps(auth);
    const earlier = await enroll(auth, lead);
    await stack.client.workflow.getHandle(earlier.workflowId, earlier.runId).terminate('operator');
    const later = await enroll(auth, lead);
    expect(later.workflowId).toBe(earlier.workflowId);
    expect((await api().get(`/v1/enrollments/${earlier.id}`).set(auth)).body.status).toBe('running');
    // Its live read is not the later enrollment's run (before: `live` was that run's state, step and all).
    expect((await api().get(`/v1/enrollments/${earlier.id}?live=true`).set(auth)).body).toMatchObject({
      live: null,
      liveError: 'no_run',
    });

    for (const change of ['pause', 'skip', 'cancel']) {
      const answer = await api().post(`/v1/enrollments/${earlier.id}/${change}`).set(auth).send({ step: 1 });
      expect({ change, status: answer.status }).toEqual({ change, status: 409 });
    }

    expect(await liveOf(auth, later.id)).toMatchObject({ status: 'running', paused: false, step: 0 });
    const laterRun = await stack.client.workflow.getHandle(later.workflowId, later.runId).describe();
    expect(laterRun.status.name).toBe('RUNNING');
    expect((await stack.db.enrollment.findUniqueOrThrow({ where: { id: later.id } })).haltedAt).toBeNull();
    await api().post(`/v1/enrollments/${later.id}/cancel`).set(auth).expect(202);
  });

  it('follows an operator’s reset of the enrollment’s run to the new run', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const enrolled = await enroll(auth, await leadInHourlySteps(auth));
    const handle = stack.client.workflow.getHandle(enrolled.workflowId, enrolled.runId);
    // The first workflow task has completed once the run has recorded its enrollment and waits on its first step.
    await expect.poll(async () => (await liveOf(auth, enrolled.id))?.waitingFor).toBe('delay');
    const { events } = await handle.fetchHistory();
    const completed = events!.find((event) => event.workflowTaskCompletedEventAttributes)!;
    const reset = await stack.client.workflowService.resetWorkflowExecution({
      namespace: stack.client.options.namespace,
      workflowExecution: { workflowId: enrolled.workflowId, runId: enrolled.runId },
      reason: 'operator reset',
      workflowTaskFinishEventId: completed.eventId,
      requestId: randomUUID(),
    });
    expect(reset.runId).not.toBe(enrolled.runId);

    const paused = await api().post(`/v1/enrollments/${enrolled.id}/pause`).set(auth);
    expect(paused.status).toBe(200);
    expect(paused.body.live).toMatchObject({ paused: true });
    const resetRun = await stack.client.workflow.getHandle(enrolled.workflowId, reset.runId!).query('status');
    expect(resetRun).toMatchObject({ paused: true });
    await api().post(`/v1/enrollments/${enrolled.id}/cancel`).set(auth).expect(202);
    await expect
      .poll(
        async () => (await stack.client.workflow.getHandle(enrolled.workflowId, reset.runId!).describe()).status.name,
      )
      .toBe('CANCELLED');
  });

  it('cancels a claim not started yet without touching the run that holds the workflow ID', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await leadInHourlySteps(auth);
    const running = await enroll(auth, lead);
    // A second request's claim, between its row and its start (which Temporal will refuse while the first runs).
    const { claim } = await claimOf(tenant.id, lead);

    const cancelled = await api().post(`/v1/enrollments/${claim.id}/cancel`).set(auth);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ id: claim.id, cancelRequested: true, runId: null });
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: claim.id } })).toMatchObject({
      haltedBy: 'cancelled',
    });
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: running.id } })).toMatchObject({
      status: 'running',
      haltedAt: null,
    });
    expect(await liveOf(auth, running.id)).toMatchObject({ status: 'running' });
    await api().post(`/v1/enrollments/${running.id}/cancel`).set(auth).expect(202);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
  });

  it('a claim cancelled before its run started: the run ends at once as cancelled, and the lead can be enrolled again', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await leadInHourlySteps(auth);
    const { claim, tenantRow, leadRow, sequenceRow } = await claimOf(tenant.id, lead);
    await api().post(`/v1/enrollments/${claim.id}/cancel`).set(auth).expect(202);
    // Its start, which was under way (a batch's, say), goes through after the cancel.
    const starter = createEnrollmentStarter({
      db: stack.db,
      temporal: stack.client,
      taskQueue: stack.taskQueue,
      defaultSender: testSenderNumber,
    });
    const started = await starter.startWorkflow(tenantRow, leadRow, sequenceRow, claim.id, null, claim.startedAt);
    expect(started.kind).toBe('started');

    await expect
      .poll(async () => (await stack.db.enrollment.findUniqueOrThrow({ where: { id: claim.id } })).status, {
        timeout: 10_000,
      })
      .toBe('cancelled');
    const again = await enroll(auth, lead);
    expect(again.id).not.toBe(claim.id);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
    await api().post(`/v1/enrollments/${again.id}/cancel`).set(auth).expect(202);
  });

  it('a cancel answers with the run its lock saw, when the run recorded its start after the request read the row', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await leadInHourlySteps(auth);
    const enrolled = await enroll(auth, lead);
    // The row as a request read it while the run was still recording its start.
    await stack.db.enrollment.update({ where: { id: enrolled.id }, data: { runId: null } });
    const conversation = await heldTransaction(stack.db, (tx) => lockConversation(tx, tenant.id, lead.phone));
    const cancelling = api()
      .post(`/v1/enrollments/${enrolled.id}/cancel`)
      .set(auth)
      .then((response) => response);
    await untilWaitingBehind(stack.db, conversation.pid, 1);
    await stack.db.enrollment.update({ where: { id: enrolled.id }, data: { runId: enrolled.runId } });
    conversation.release();
    await conversation.committed;

    const cancelled = await cancelling;
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ runId: enrolled.runId, cancelRequested: true });
    expect(cancelled.body.temporalUiUrl).toContain(enrolled.runId);
    await expect
      .poll(async () => (await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrolled.id } })).status, {
        timeout: 10_000,
      })
      .toBe('cancelled');
  });
});
