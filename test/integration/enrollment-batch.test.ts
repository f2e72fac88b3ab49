// A batch's enrollments exist before their workflows start, so what the lead says while the batch is still starting
// (a reply, a STOP) halts them as it halts any running enrollment; and every opt-out of the phone counts.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import request from 'supertest';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runEnrollmentBatch } from '../../api/enrollment-batch.js';
import { claimRow, createEnrollmentStarter } from '../../api/enrollment-starter.js';
import { createDb } from '../../common/db.js';
import { legacyPhoneHash } from '../../common/opt-outs.js';
import { inboundReplySignal } from '../../workflows/lead-follow-up.messages.js';
import { unansweredStarts } from '../support/deadline.js';
import { randomUkMobile } from '../support/fixtures.js';
import { tenantWithLead } from '../support/lead-on-own-number.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';
import { until } from '../support/wait.js';

const stack = stackForFile();

async function sequenceOf(auth: Record<string, string>) {
  const sequence = await request(stack.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds: 0, template: 'Hi {{firstName}}, still looking?' }] });
  return sequence.body.id as string;
}

/** The lead's phone as a batch's one row, its start made through `temporal`; no worker polls the queue. */
function batchOfOneStartedBy(temporal: Client, lead: { tenant: { id: string }; phone: string }, sequenceId: string) {
  const starter = createEnrollmentStarter({
    db: stack.db,
    temporal,
    taskQueue: `idle-${randomUUID()}`,
    defaultSender: testSenderNumber,
  });
  return runEnrollmentBatch(
    { db: stack.db, temporal: stack.client, startWorkflow: starter.startWorkflow, defaultSender: testSenderNumber },
    lead.tenant.id,
    { sequenceId, dryRun: false, rows: [{ phone: lead.phone }] },
  );
}

describe('POST /v1/enrollments/batch', () => {
  it("a reply that lands after a row's workflow started, before the batch answered, halts that enrollment", async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    // No worker polls this queue: the run never takes its first step, so only the batch can have written the row.
    const starter = createEnrollmentStarter({
      db: stack.db,
      temporal: stack.client,
      taskQueue: `idle-${randomUUID()}`,
      defaultSender: testSenderNumber,
    });
    const replies: number[] = [];
    const startThenReply: typeof starter.startWorkflow = async (...args) => {
      const started = await starter.startWorkflow(...args);
      replies.push((await lead.reply('Thanks, already sorted')).status);
      return started;
    };
    const answer = await runEnrollmentBatch(
      { db: stack.db, temporal: stack.client, startWorkflow: startThenReply, defaultSender: testSenderNumber },
      lead.tenant.id,
      { sequenceId, dryRun: false, rows: [{ phone: lead.phone }] },
    );
    expect(replies).toEqual([200]);
    const [row] = answer.results;
    expect(row).toMatchObject({ outcome: 'enrolled', leadId: lead.leadId, enrollmentId: expect.any(String) });
    const enrollment = await stack.db.enrollment.findUniqueOrThrow({ where: { id: row?.enrollmentId } });
    expect(enrollment).toMatchObject({ status: 'running', haltedBy: 'replied', runId: expect.any(String) });
    // And the run hears of it, through the signal the reply queued for this enrollment.
    const run = stack.client.workflow.getHandle(enrollment.workflowId);
    await until(
      async () =>
        (await run.fetchHistory()).events?.some(
          (event) => event.workflowExecutionSignaledEventAttributes?.signalName === inboundReplySignal.name,
        ),
      'the reply signalled to the run',
    );
    await run.terminate('test cleanup');
  });

  it('a row whose start reached Temporal but whose answer was lost is enrolled with its run, and a reply halts it', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const answer = await batchOfOneStartedBy(unansweredStarts(stack.client), lead, sequenceId);
    const [row] = answer.results;
    expect(row).toMatchObject({ outcome: 'enrolled', enrollmentId: expect.any(String) });
    const run = await stack.client.workflow.getHandle(row?.workflowId ?? '').describe();
    expect((await lead.reply('Thanks, already sorted')).status).toBe(200);
    const enrollment = await stack.db.enrollment.findUniqueOrThrow({ where: { id: row?.enrollmentId } });
    expect(enrollment).toMatchObject({ status: 'running', runId: run.runId, haltedBy: 'replied' });
    await stack.client.workflow.getHandle(enrollment.workflowId).terminate('test cleanup');
  });

  it('a row whose start and the check for its run both went unanswered keeps its claim, so a reply meanwhile still halts it', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const answer = await batchOfOneStartedBy(unansweredStarts(stack.client, { undescribable: true }), lead, sequenceId);
    const [row] = answer.results;
    expect(row).toMatchObject({
      outcome: 'failed',
      enrollmentId: expect.any(String),
      reason: expect.stringContaining('may have landed'),
    });
    // Before: the claim was removed, and the run (which did start) recreated its row without the reply's halt.
    expect((await lead.reply('Thanks, already sorted')).status).toBe(200);
    const enrollment = await stack.db.enrollment.findUniqueOrThrow({ where: { id: row?.enrollmentId } });
    expect(enrollment).toMatchObject({ status: 'running', runId: null, haltedBy: 'replied' });
    await stack.client.workflow.getHandle(enrollment.workflowId).terminate('test cleanup');
  });

  it('a lead whose claim was left with no run (its start never came) is enrolled, not answered already_enrolled', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const [tenant, saved, sequence] = await Promise.all([
      stack.db.tenant.findUniqueOrThrow({ where: { id: lead.tenant.id } }),
      stack.db.lead.findUniqueOrThrow({ where: { id: lead.leadId } }),
      stack.db.sequenceDefinition.findUniqueOrThrow({ where: { id: sequenceId } }),
    ]);
    // What an API process that died between a claim and its start leaves: the sweeper removes it at 10 minutes.
    const left = await stack.db.enrollment.create({
      data: claimRow(tenant, saved, sequence, randomUUID(), new Date(Date.now() - 60_000)),
    });
    const answer = await batchOfOneStartedBy(stack.client, lead, sequenceId);
    // Before: already_enrolled, naming the left claim; the sweeper then removed it, and the lead was never texted.
    const [row] = answer.results;
    expect(row).toMatchObject({ outcome: 'enrolled', enrollmentId: expect.not.stringMatching(left.id) });
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: row?.enrollmentId } })).toMatchObject({
      status: 'running',
      runId: expect.any(String),
    });
    await stack.client.workflow.getHandle(left.workflowId).terminate('test cleanup');
  });

  it('a CSV that is not UTF-8 is a 415 naming the fix, and is read in the charset it names', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const phone = randomUkMobile();
    // "José" as a spreadsheet exports it on Windows: é is the one byte E9.
    const windows1252 = Buffer.from(`phone,firstName\n${phone.national},Jos\u00e9\n`, 'latin1');
    const post = (type: string) =>
      request(stack.app)
        .post(`/v1/enrollments/batch?sequenceId=${sequenceId}`)
        .set(lead.auth)
        .set('Content-Type', type)
        .send(windows1252);
    const refused = await post('text/csv');
    // Before: enrolled as "Jos\ufffd", and greeted so in every text.
    expect(refused.status).toBe(415);
    expect(refused.body.error).toMatchObject({
      code: 'unsupported_media_type',
      message: expect.stringContaining('UTF-8'),
    });
    expect(await stack.db.lead.count({ where: { tenantId: lead.tenant.id, phone: phone.e164 } })).toBe(0);
    const read = await post('text/csv; charset=windows-1252');
    expect(read.body.results).toEqual([expect.objectContaining({ outcome: 'enrolled' })]);
    const saved = await stack.db.lead.findUniqueOrThrow({
      where: { tenantId_phone: { tenantId: lead.tenant.id, phone: phone.e164 } },
    });
    expect(saved.firstName).toBe('Jos\u00e9');
    await stack.client.workflow.getHandle(read.body.results[0].workflowId).terminate('test cleanup');
  });

  it('a phone opted out under its legacy hash is answered opted_out and starts nothing', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    await stack.db.optOut.create({
      data: { tenantId: lead.tenant.id, phoneHash: legacyPhoneHash(lead.phone), source: 'inbound' },
    });
    const answer = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(lead.auth)
      .send({ sequenceId, leads: [{ phone: lead.phone }] });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([expect.objectContaining({ outcome: 'opted_out' })]);
    expect(await stack.db.enrollment.count({ where: { tenantId: lead.tenant.id } })).toBe(0);
    // A phone erased before the hash was keyed keeps its consent events under the legacy hash for good (no lead knows
    // it, so re-keying leaves them): its consent log shows them (before: an empty log).
    const erased = randomUkMobile().e164;
    await stack.db.consentEvent.create({
      data: { tenantId: lead.tenant.id, phoneHash: legacyPhoneHash(erased), kind: 'opt_out', source: 'inbound' },
    });
    const consent = await request(stack.app)
      .get(`/v1/opt-outs/${encodeURIComponent(erased)}/consent`)
      .set(lead.auth);
    expect(consent.body.items).toEqual([expect.objectContaining({ kind: 'opt_out', source: 'inbound' })]);
  });

  it('a JSON batch with ?dryRun=true in the query is a 400, not a commit: no lead saved, nothing started', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const answer = await request(stack.app)
      .post(`/v1/enrollments/batch?sequenceId=${sequenceId}&dryRun=true`)
      .set(lead.auth)
      .send({ sequenceId, leads: [{ phone: lead.phone }, { phone: '07700 900996' }] });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'bad_request',
      details: { fields: { sequenceId: ['not taken with a JSON body'], dryRun: ['not taken with a JSON body'] } },
    });
    expect(await stack.db.lead.count({ where: { tenantId: lead.tenant.id } })).toBe(1);
    expect(await stack.db.enrollment.count({ where: { tenantId: lead.tenant.id } })).toBe(0);
  });

  it('a lead the sequence would send nothing (every step uses a name it has not) is refused: 422 alone, missing_value in a batch', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const nameless = await request(stack.app).post('/v1/leads').set(lead.auth).send({ phone: '07700 900997' });
    // Before: 202, and the enrollment ended `completed` with its one step skipped: the lead got nothing.
    const single = await request(stack.app)
      .post('/v1/enrollments')
      .set(lead.auth)
      .send({ leadId: nameless.body.id, sequenceId });
    expect(single.status).toBe(422);
    expect(single.body.error.details.fields.leadId[0]).toMatch(/^every step uses \{\{firstName\}\}, which the lead/);
    const batch = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(lead.auth)
      .send({
        sequenceId,
        dryRun: true,
        leads: [{ phone: '07700 900997' }, { phone: '07700 900996' }, { phone: '07700 900995', firstName: 'Ann' }],
      });
    expect(batch.body.results.map((row: { outcome: string }) => row.outcome)).toEqual([
      'missing_value',
      'missing_value',
      'ok',
    ]);
    expect(await stack.db.enrollment.count({ where: { tenantId: lead.tenant.id } })).toBe(0);
  });

  it('a misnamed field is refused, not dropped: a JSON row is invalid_row, a CSV column a 422 naming it; no lead saved', async () => {
    const lead = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(lead.auth);
    const json = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(lead.auth)
      .send({
        sequenceId,
        leads: [
          { phone: '07700 900999', firstname: 'Ann' },
          { phone: '07700 900998', firstName: 'Ann\nClaim your prize' },
        ],
      });
    expect(json.status).toBe(200);
    expect(json.body.results).toEqual([
      expect.objectContaining({ outcome: 'invalid_row', reason: expect.stringContaining('firstname') }),
      expect.objectContaining({ outcome: 'invalid_row', reason: expect.stringContaining('one line') }),
    ]);
    const csv = await request(stack.app)
      .post(`/v1/enrollments/batch?sequenceId=${sequenceId}`)
      .set(lead.auth)
      .set('Content-Type', 'text/csv')
      .send('phone,first_name\n07700 900998,Ann\n');
    expect(csv.status).toBe(422);
    expect(csv.body.error).toMatchObject({
      code: 'validation_failed',
      details: { fields: { header: ['unknown column first_name'] } },
    });
    expect(await stack.db.lead.count({ where: { tenantId: lead.tenant.id } })).toBe(1);
    // A trailing comma on every line, as spreadsheets export: an unnamed, empty column, left out.
    const trailing = await request(stack.app)
      .post(`/v1/enrollments/batch?sequenceId=${sequenceId}&dryRun=true`)
      .set(lead.auth)
      .set('Content-Type', 'text/csv')
      .send('phone,firstName,\n07700 900997,Ann,\n');
    expect(trailing.status).toBe(200);
    expect(trailing.body.results).toEqual([expect.objectContaining({ outcome: 'ok' })]);
  });
});

describe("a batch's new leads and the tenant's event lock", () => {
  const statements: string[] = [];
  const counted = createDb(inject('databaseUrl'), { maxConnections: 2, onStatement: (sql) => statements.push(sql) });
  afterAll(() => counted.$disconnect());

  it('their lead.created events take the lock in one statement, just before the commit, in the rows’ order', async () => {
    const { tenant, auth } = await tenantWithLead(stack);
    const sequenceId = await sequenceOf(auth);
    // Forty different numbers: random ones from the drama range collide now and then, and a batch enrolls a phone once.
    const phones = new Set<string>();
    while (phones.size < 40) phones.add(randomUkMobile().e164);
    statements.length = 0;
    const notStarted = () => Promise.reject(new Error('not started in this test'));
    await runEnrollmentBatch(
      { db: counted, temporal: stack.client, startWorkflow: notStarted, defaultSender: testSenderNumber },
      tenant.id,
      {
        sequenceId,
        dryRun: false,
        rows: [...phones].map((phone) => ({ phone, firstName: 'Ann' })),
      },
    );
    const bumps = statements.flatMap((sql, index) => (sql.includes('event_counters') ? [index] : []));
    // Before: one statement per lead, the lock held across all forty round trips.
    expect(bumps).toHaveLength(1);
    expect(statements[(bumps[0] ?? 0) + 1]).toBe('COMMIT');
    const events = await stack.db.event.findMany({
      where: { tenantId: tenant.id, type: 'lead.created' },
      orderBy: { sequence: 'asc' },
    });
    const created = events.slice(-phones.size);
    expect(created.map((event) => (event.data as { phone: string }).phone)).toEqual([...phones]);
    const sequences = created.map((event) => Number(event.sequence));
    expect(sequences).toEqual(sequences.map((_, index) => (sequences[0] ?? 0) + index));
  });
});
