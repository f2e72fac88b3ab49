// The reported races, fired at once against the real stack: concurrent clients get 2xx or 4xx, never a 5xx, and
// nothing is left half-written in PostgreSQL or Temporal.
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { claimSettledWithinMs, enrollmentRequestHash, workflowInput } from '../../api/enrollment-starter.js';
import type { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { leadFollowUpWorkflowId, leadFollowUpWorkflowType } from '../../workflows/lead-follow-up.messages.js';
import { enrollmentViolations, settledFollowUp } from '../support/enrollment-invariants.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { unansweredStarts } from '../support/deadline.js';
import { stackForFile, testAppDeps } from '../support/stack.js';

const stack = stackForFile();

const api = () => request(stack.app);
type Auth = Record<string, string>;
const later = [{ delaySeconds: 3600, template: 'later' }];

async function tenantWithLeads(count: number) {
  const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
  const sequence = await api()
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: later });
  const leads = [];
  for (let i = 0; i < count; i += 1) {
    const phone = randomUkMobile();
    const lead = await api().post('/v1/leads').set(auth).send({ phone: phone.national });
    leads.push({ id: lead.body.id as string, phone: phone.e164 });
  }
  return { tenantId: tenant.id, auth, sequenceId: sequence.body.id as string, leads };
}

const enroll = (auth: Auth, body: { leadId: string; sequenceId: string }, key?: string) => {
  const call = api().post('/v1/enrollments').set(auth);
  return (key ? call.set('Idempotency-Key', key) : call).send(body);
};

const terminateFollowUps = (tenantId: string, leadIds: string[]) =>
  Promise.all(
    leadIds.map((leadId) =>
      stack.client.workflow
        .getHandle(leadFollowUpWorkflowId(tenantId, leadId))
        .terminate('test cleanup')
        .catch(() => undefined),
    ),
  );

describe('concurrent clients', () => {
  it('six saves of one sequence name at once all answer 201 with versions 1 to 6', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const saves = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api()
          .post('/v1/sequences')
          .set(auth)
          .send({ name: 'racing', steps: [{ delaySeconds: i, template: `v${i}` }] }),
      ),
    );
    expect(saves.map((save) => save.status)).toEqual(Array(6).fill(201));
    expect(saves.map((save) => save.body.version as number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("two settings changes at once, one moving the window's start past the other's new end: one 200, one 422, the window still valid", async () => {
    for (let round = 0; round < 10; round += 1) {
      const { tenant, auth } = await createTenant(stack.db, { windowStart: '08:00', windowEnd: '21:00' });
      const answers = await Promise.all([
        api().patch('/v1/settings').set(auth).send({ windowStart: '20:00' }),
        api().patch('/v1/settings').set(auth).send({ windowEnd: '09:00' }),
      ]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 422]);
      const saved = await stack.db.tenant.findUniqueOrThrow({ where: { id: tenant.id } });
      expect([saved.windowStart, saved.windowEnd]).toEqual(
        answers[0]?.status === 200 ? ['20:00', '21:00'] : ['08:00', '09:00'],
      );
    }
  });

  it('one Idempotency-Key for two leads at once: one 202, one 409 idempotency_key_reused, one workflow', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(2);
    const key = `crm-${randomUUID()}`;
    const answers = await Promise.all(leads.map((lead) => enroll(auth, { leadId: lead.id, sequenceId }, key)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
    const won = answers.find((answer) => answer.status === 202)?.body;
    const refused = answers.find((answer) => answer.status === 409)?.body;
    expect(refused.error).toMatchObject({ code: 'idempotency_key_reused', message: expect.any(String) });
    const loser = leads.find((lead) => lead.id !== won.leadId)?.id as string;
    expect(await settledFollowUp(stack.client, tenantId, loser)).toBeNull();
    expect(
      await stack.db.enrollment.findMany({
        where: { tenantId },
        select: { id: true, leadId: true, idempotencyKey: true },
      }),
    ).toEqual([{ id: won.id, leadId: won.leadId, idempotencyKey: key }]);
    const leadIds = leads.map((lead) => lead.id);
    expect(await enrollmentViolations(stack, tenantId, leadIds)).toEqual([]);
    // The key stays bound to the first request: the loser's lead retried later is refused the same way.
    expect((await enroll(auth, { leadId: loser, sequenceId }, key)).body.error.code).toBe('idempotency_key_reused');
    await terminateFollowUps(tenantId, [won.leadId]);
  });

  it('an Idempotency-Key whose first request was refused (409, the lead already enrolled) still stands for that request: another lead with it is 409 idempotency_key_reused', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(2);
    const [enrolled, other] = [leads[0]!.id, leads[1]!.id];
    expect((await enroll(auth, { leadId: enrolled, sequenceId })).status).toBe(202);
    const key = `crm-${randomUUID()}`;
    const refused = await enroll(auth, { leadId: enrolled, sequenceId }, key);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    // Before: the refusal left no row holding the key, and this started the other lead's follow-up (202).
    const reused = await enroll(auth, { leadId: other, sequenceId }, key);
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(await settledFollowUp(stack.client, tenantId, other)).toBeNull();
    // The first request again is judged again: still enrolled, still 409.
    expect((await enroll(auth, { leadId: enrolled, sequenceId }, key)).body.error.code).toBe('conflict');
    await terminateFollowUps(tenantId, [enrolled]);
  });

  it('one Idempotency-Key for one request sent three times at once: all 202 with the same enrollment', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(1);
    const body = { leadId: leads[0]!.id, sequenceId };
    const answers = await Promise.all([1, 2, 3].map(() => enroll(auth, body, 'same-request')));
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    expect(answers[0]?.body.runId).toEqual(expect.any(String));
    expect(await stack.db.enrollment.count({ where: { tenantId } })).toBe(1);
    expect(await enrollmentViolations(stack, tenantId, [body.leadId])).toEqual([]);
    await terminateFollowUps(tenantId, [body.leadId]);
  });

  it('a key claimed by an API that died before starting is taken over once any start would have settled', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(1);
    const body = { leadId: leads[0]!.id, sequenceId };
    const claimedBy = async (startedAt: Date, idempotencyKey: string) =>
      stack.db.enrollment.create({
        data: {
          tenantId,
          ...body,
          workflowId: leadFollowUpWorkflowId(tenantId, body.leadId),
          idempotencyKey,
          requestHash: enrollmentRequestHash(body),
          startedAt,
        },
      });
    // Younger than a claimant's slowest start (a first start, the wait for a closing run, a second start): still its.
    const young = await claimedBy(new Date(Date.now() - 20_000), 'young');
    const waited = await enroll(auth, body, 'young');
    expect(waited.status).toBe(409);
    expect(waited.body.error.details).toEqual({ reason: 'in_progress' });
    expect(await stack.db.enrollment.findUnique({ where: { id: young.id } })).not.toBeNull();
    await stack.db.enrollment.delete({ where: { id: young.id } });

    const abandoned = await claimedBy(new Date(Date.now() - claimSettledWithinMs - 1_000), 'orphan');
    const answer = await enroll(auth, body, 'orphan');
    expect(answer.status).toBe(202);
    expect(answer.body.id).not.toBe(abandoned.id);
    expect(await stack.db.enrollment.findMany({ where: { tenantId }, select: { id: true, runId: true } })).toEqual([
      { id: answer.body.id, runId: expect.any(String) },
    ]);
    expect(await enrollmentViolations(stack, tenantId, [body.leadId])).toEqual([]);
    await terminateFollowUps(tenantId, [body.leadId]);
  }, 40_000);

  it('a start Temporal took whose answer was lost (DEADLINE_EXCEEDED): 202 with its run, found by the memo; a retry with the key replays it', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(1);
    const body = { leadId: leads[0]!.id, sequenceId };
    // Every start reaches Temporal, then is answered DEADLINE_EXCEEDED; nobody polls the queue, so the run never
    // records itself: only the API can tie it to its enrollment.
    const app = createApp(testAppDeps(stack.db, unansweredStarts(stack.client), `idle-${randomUUID()}`));
    const enrollOnce = () =>
      request(app).post('/v1/enrollments').set(auth).set('Idempotency-Key', 'slow-start').send(body);
    const first = await enrollOnce();
    const run = await stack.client.workflow.getHandle(leadFollowUpWorkflowId(tenantId, body.leadId)).describe();
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ runId: run.runId });
    expect(run.memo).toMatchObject({ enrollmentId: first.body.id });
    const retried = await enrollOnce();
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: first.body.id, runId: run.runId });
    expect(await stack.db.enrollment.findMany({ where: { tenantId }, select: { id: true, runId: true } })).toEqual([
      { id: first.body.id, runId: run.runId },
    ]);
    await terminateFollowUps(tenantId, [body.leadId]);
  });

  it('a start whose answer was lost and whose run Temporal could not be asked about keeps its claim: the retry with the key answers that run', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(1);
    const body = { leadId: leads[0]!.id, sequenceId };
    const taskQueue = `idle-${randomUUID()}`;
    // The start reaches Temporal, its answer and the check for its run both run out of time: a 503.
    const slow = createApp(testAppDeps(stack.db, unansweredStarts(stack.client, { undescribable: true }), taskQueue));
    const first = await request(slow).post('/v1/enrollments').set(auth).set('Idempotency-Key', 'lost').send(body);
    expect(first.status).toBe(503);
    const run = await stack.client.workflow.getHandle(leadFollowUpWorkflowId(tenantId, body.leadId)).describe();
    // Before: the claim was removed, so the retry claimed anew, met the run in the way and answered 409 already_enrolled
    // naming no enrollment, and the run, recording its own, collided with the retry's claim of the key.
    const kept = await stack.db.enrollment.findMany({ where: { tenantId }, select: { id: true, runId: true } });
    expect(kept).toEqual([{ id: run.memo?.enrollmentId, runId: null }]);
    const retried = await request(createApp(testAppDeps(stack.db, stack.client, taskQueue)))
      .post('/v1/enrollments')
      .set(auth)
      .set('Idempotency-Key', 'lost')
      .send(body);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: run.memo?.enrollmentId, runId: run.runId });
    await terminateFollowUps(tenantId, [body.leadId]);
  });

  it('a key recorded before request hashes were kept stands for its own lead and sequence', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(2);
    const first = await enroll(auth, { leadId: leads[0]!.id, sequenceId }, 'legacy');
    await stack.db.enrollment.update({ where: { id: first.body.id }, data: { requestHash: null } });
    expect((await enroll(auth, { leadId: leads[0]!.id, sequenceId }, 'legacy')).body.id).toBe(first.body.id);
    expect((await enroll(auth, { leadId: leads[1]!.id, sequenceId }, 'legacy')).body.error.code).toBe(
      'idempotency_key_reused',
    );
    await terminateFollowUps(tenantId, [leads[0]!.id]);
  });

  it('refuses an erased lead with 409 erased before anything starts, and a batch with its number starts nothing', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(1);
    const lead = leads[0]!;
    expect((await api().delete(`/v1/leads/${lead.id}`).set(auth)).status).toBe(200);
    const refused = await enroll(auth, { leadId: lead.id, sequenceId }, 'erased-lead');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'erased', message: expect.any(String) });
    const batch = await api()
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({ sequenceId, leads: [{ phone: lead.phone }] });
    expect(batch.body.results).toEqual([expect.objectContaining({ outcome: 'opted_out' })]);
    expect(await stack.db.enrollment.count({ where: { tenantId } })).toBe(0);
    expect(await settledFollowUp(stack.client, tenantId, lead.id)).toBeNull();
  });

  it('a cancel is recorded on the enrollment before it answers, then the workflow closes as cancelled', async () => {
    const { auth, sequenceId, leads } = await tenantWithLeads(1);
    const started = await enroll(auth, { leadId: leads[0]!.id, sequenceId });
    const cancelled = await api().post(`/v1/enrollments/${started.body.id}/cancel`).set(auth);
    expect(cancelled.status).toBe(202);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: started.body.id } })).toMatchObject({
      haltedAt: expect.any(Date),
      haltedBy: 'cancelled',
    });
    await expect
      .poll(async () => (await stack.db.enrollment.findUniqueOrThrow({ where: { id: started.body.id } })).status, {
        timeout: 20_000,
      })
      .toBe('cancelled');
  });

  it('opt-outs added and removed at once: one 201 and one 200 among the adds, one 200 among the removals, the rest 200 or 404', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile();
    const adds = await Promise.all(
      [1, 2, 3, 4].map(() => api().post('/v1/opt-outs').set(auth).send({ phone: phone.national })),
    );
    expect(adds.map((add) => add.status).sort()).toEqual([200, 200, 200, 201]);
    const removals = await Promise.all(
      [1, 2, 3, 4].map(() =>
        api()
          .delete(`/v1/opt-outs/${encodeURIComponent(phone.e164)}`)
          .set(auth)
          .send({ consentSource: 'web form' }),
      ),
    );
    expect(removals.map((removal) => removal.status).sort()).toEqual([200, 404, 404, 404]);
    expect(removals.find((removal) => removal.status === 404)?.body.error.code).toBe('not_found');
    expect(await stack.db.consentEvent.count({ where: { tenantId: tenant.id, kind: 'opt_in' } })).toBe(1);
    const mixed = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) =>
        i % 2
          ? api().post('/v1/opt-outs').set(auth).send({ phone: phone.national })
          : api()
              .delete(`/v1/opt-outs/${encodeURIComponent(phone.e164)}`)
              .set(auth)
              .send({ consentSource: 'web form' }),
      ),
    );
    expect(
      mixed.every((answer) => [200, 201, 404].includes(answer.status)),
      mixed.map((answer) => answer.status).join(),
    ).toBe(true);
  });

  it('a workflow whose Idempotency-Key another enrollment holds fails once instead of retrying its bookkeeping', async () => {
    const { tenantId, auth, sequenceId, leads } = await tenantWithLeads(2);
    const [first, second] = leads as [(typeof leads)[0], (typeof leads)[0]];
    expect((await enroll(auth, { leadId: first.id, sequenceId }, 'held')).status).toBe(202);
    const [tenant, lead, sequence] = await Promise.all([
      stack.db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
      stack.db.lead.findUniqueOrThrow({ where: { id: second.id } }),
      stack.db.sequenceDefinition.findUniqueOrThrow({ where: { id: sequenceId } }),
    ]);
    // What an API without the claim did: start a second workflow carrying a key that is already taken.
    const handle = await stack.client.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
      workflowId: leadFollowUpWorkflowId(tenantId, second.id),
      taskQueue: stack.taskQueue,
      args: [workflowInput(tenant, lead, sequence, randomUUID(), 'held')],
    });
    // Failed either way: closed as `failed`, or as a failed run when recording that outcome finds no row either.
    const closed = await handle.result().then(
      (state) => state.status,
      (error: unknown) => (error instanceof WorkflowFailedError ? 'failed' : error),
    );
    expect(closed).toBe('failed');
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((event) => event.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(attempts.every((attempt) => attempt === 1)).toBe(true);
    // The start is recorded by a local activity (patch record-start-local-activity): its one marker carries the
    // refusal, which is not retried (a retried one would keep the run open, and the result above would never come).
    const recordedStart = (history.events ?? []).flatMap(
      (event) =>
        (event.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
          event.markerRecordedEventAttributes.failure?.applicationFailureInfo?.type) ||
        [],
    );
    expect(recordedStart).toEqual(['ConflictError']);
    await terminateFollowUps(tenantId, [first.id]);
  });
});
