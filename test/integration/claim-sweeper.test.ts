// Enrollment claims whose claimant died before settling them: older than any claimant takes, they are settled by the
// sweeper (the run recorded if it is the claim's, the row removed if no run is), and younger ones are left alone.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { abandonedClaimAfterMs, createClaimSweeper } from '../../api/claim-sweeper.js';
import {
  claimRow,
  claimSettledWithinMs,
  createEnrollmentStarter,
  enrollmentRequestHash,
} from '../../api/enrollment-starter.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';

const stack = stackForFile();
const sweeper = () => createClaimSweeper({ db: stack.db, temporal: stack.client, logger: pino({ level: 'silent' }) });
// No worker polls this queue: a run started on it stays before its first task, so only the sweeper records its row.
const idleStarter = () =>
  createEnrollmentStarter({
    db: stack.db,
    temporal: stack.client,
    taskQueue: `idle-${randomUUID()}`,
    defaultSender: testSenderNumber,
  });

async function tenantWithLeads(count: number) {
  const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
  const sequence = await stack.db.sequenceDefinition.create({
    data: {
      tenantId: tenant.id,
      name: `seq-${randomUUID()}`,
      version: 1,
      steps: [{ delaySeconds: 0, template: 'Hi' }],
    },
  });
  const leads = await Promise.all(
    Array.from({ length: count }, () =>
      stack.db.lead.create({ data: { tenantId: tenant.id, phone: randomUkMobile().e164, timeZone: 'Europe/London' } }),
    ),
  );
  return { tenant, auth, sequence, leads };
}

type Setup = Awaited<ReturnType<typeof tenantWithLeads>>;

/** A claim as a claimant writes it (running, no run), `ageMs` old. */
const claim = ({ tenant, sequence }: Setup, lead: Setup['leads'][number], ageMs: number) =>
  stack.db.enrollment.create({
    data: claimRow(tenant, lead, sequence, randomUUID(), new Date(Date.now() - ageMs)),
  });

describe('the enrollment claim sweeper', () => {
  it('removes an old claim no run was started for; the lead can then be enrolled by a batch', async () => {
    const setup = await tenantWithLeads(1);
    const [lead] = setup.leads as [Setup['leads'][number]];
    const orphan = await claim(setup, lead, abandonedClaimAfterMs + 60_000);
    await sweeper().round(setup.tenant.id);
    expect(await stack.db.enrollment.findUnique({ where: { id: orphan.id } })).toBeNull();
    const batch = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(setup.auth)
      .send({ sequenceId: setup.sequence.id, dryRun: true, leads: [{ phone: lead.phone }] });
    expect(batch.body.results).toEqual([expect.objectContaining({ outcome: 'ok' })]);
  });

  it("records the run of an old claim whose workflow started as its own, and removes one whose lead's run is another claim's", async () => {
    const setup = await tenantWithLeads(1);
    const [lead] = setup.leads as [Setup['leads'][number]];
    const started = await claim(setup, lead, abandonedClaimAfterMs + 60_000);
    const start = await idleStarter().startWorkflow(
      setup.tenant,
      lead,
      setup.sequence,
      started.id,
      null,
      started.startedAt,
    );
    const other = await claim(setup, lead, abandonedClaimAfterMs + 30_000);
    await sweeper().round(setup.tenant.id);
    expect(start.kind).toBe('started');
    const runId = start.kind === 'started' ? start.runId : null;
    expect(await stack.db.enrollment.findUnique({ where: { id: started.id } })).toMatchObject({
      status: 'running',
      runId,
    });
    expect(await stack.db.enrollment.findUnique({ where: { id: other.id } })).toBeNull();
    await stack.client.workflow.getHandle(started.workflowId).terminate('test cleanup');
  });

  it('closes, not removes, an old claim a reply halted before any run started: replied, told to the CRM', async () => {
    const setup = await tenantWithLeads(1);
    const [lead] = setup.leads as [Setup['leads'][number]];
    const halted = await claim(setup, lead, abandonedClaimAfterMs + 60_000);
    await stack.db.enrollment.update({ where: { id: halted.id }, data: { haltedAt: new Date(), haltedBy: 'replied' } });
    await sweeper().round(setup.tenant.id);
    // Before: removed, so the reply recorded against it pointed nowhere and GET answered 404 after a 202 cancel.
    expect(await stack.db.enrollment.findUnique({ where: { id: halted.id } })).toMatchObject({
      status: 'replied',
      runId: null,
      closedReason: 'halted (replied) before its run started',
    });
    // Started, then closed: before, the CRM heard of the close of an enrollment it never saw start, and the funnel
    // counted its reply without counting it enrolled.
    const lifecycle = await stack.db.event.findMany({
      where: { tenantId: setup.tenant.id, type: { in: ['enrollment.started', 'enrollment.closed'] } },
      orderBy: { sequence: 'asc' },
    });
    expect(lifecycle.map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'enrollment.started', data: expect.objectContaining({ enrollmentId: halted.id, runId: null }) },
      { type: 'enrollment.closed', data: expect.objectContaining({ enrollmentId: halted.id, outcome: 'replied' }) },
    ]);
    const counted = await stack.db.analyticsCounted.findMany({
      where: { subjectId: halted.id },
      orderBy: { fact: 'asc' },
    });
    // Enrolled when it was accepted, not when it was settled (a day later after an outage).
    expect(counted.map(({ fact, at }) => ({ fact, at }))).toEqual([
      { fact: 'enrolled', at: halted.startedAt },
      { fact: 'replied', at: expect.any(Date) },
    ]);
  });

  it('a retry with the key of a claim a reply halted before its start went through answers it replied, and starts nothing', async () => {
    const setup = await tenantWithLeads(1);
    const [lead] = setup.leads as [Setup['leads'][number]];
    const key = `key-${randomUUID()}`;
    // The first request's start went unanswered (Temporal away): its claim kept; the lead replied meanwhile.
    const kept = await stack.db.enrollment.create({
      data: {
        ...claimRow(
          setup.tenant,
          lead,
          setup.sequence,
          randomUUID(),
          new Date(Date.now() - claimSettledWithinMs - 5_000),
        ),
        idempotencyKey: key,
        requestHash: enrollmentRequestHash({ leadId: lead.id, sequenceId: setup.sequence.id }),
        haltedAt: new Date(),
        haltedBy: 'replied',
      },
    });
    const retried = await request(stack.app)
      .post('/v1/enrollments')
      .set({ ...setup.auth, 'Idempotency-Key': key })
      .send({ leadId: lead.id, sequenceId: setup.sequence.id });
    // Before: the claim removed and a new follow-up started, texting a lead who had just replied.
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: kept.id, status: 'replied' });
    // Final: asked again, it answers the same; a live read says it has no run (not another enrollment's).
    const again = await request(stack.app)
      .post('/v1/enrollments')
      .set({ ...setup.auth, 'Idempotency-Key': key })
      .send({ leadId: lead.id, sequenceId: setup.sequence.id });
    expect(again.body).toMatchObject({ id: kept.id, status: 'replied' });
    const live = await request(stack.app).get(`/v1/enrollments/${kept.id}?live=true`).set(setup.auth);
    expect(live.body).toMatchObject({ live: null, liveError: 'no_run' });
    expect(await stack.db.enrollment.count({ where: { leadId: lead.id } })).toBe(1);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
  });

  it('leaves a claim younger than any claimant takes, whether or not its run has started yet', async () => {
    const setup = await tenantWithLeads(1);
    const [lead] = setup.leads as [Setup['leads'][number]];
    const young = await claim(setup, lead, abandonedClaimAfterMs - 60_000);
    await sweeper().round(setup.tenant.id);
    expect(await stack.db.enrollment.findUnique({ where: { id: young.id } })).toMatchObject({ runId: null });
  });
});
