// Shared pieces of the fault tests: the real worker entry point as a child process (killable with SIGKILL), the API
// app wired to a given database, enrollments of N-step sequences, and the checks every scenario ends with.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { createApp } from '../../api/app.js';
import type { Db } from '../../common/db.js';
import { freePort } from '../../common/free-port.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { killAllEntries, startEntry, type EntryProcess } from '../support/processes.js';
import { testAppDeps, twilioFakeEnv } from '../support/stack.js';
import { startTwilioFake, type CreateCall, type TwilioFake } from '../support/twilio-fake.js';
import { until } from '../support/wait.js';

export type WorkerProcess = EntryProcess;

/** The worker entry point sending through the Twilio fake, on its own task queue (and database, if given). */
export async function startWorker(options: {
  taskQueue: string;
  fake: TwilioFake;
  databaseUrl?: string;
}): Promise<WorkerProcess> {
  return startEntry('worker/index.ts', {
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    WORKER_METRICS_PORT: String(await freePort()),
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...twilioFakeEnv(options.fake.url),
  });
}

export { killAllEntries as killAllWorkers };

/** The API app as production wires it, on the given database, starting workflows on `taskQueue`. */
export const appFor = (db: Db, temporal: Client, taskQueue: string) => createApp(testAppDeps(db, temporal, taskQueue));

/** A lead and a sequence with one step per delay, in a tenant of their own; `start()` enrolls through the API. */
export async function prepareEnrollment(db: Db, app: ReturnType<typeof createApp>, delaysSeconds: number[]) {
  const { tenant, auth } = await createTenant(db, anytimeSettings);
  const phone = randomUkMobile();
  const lead = await request(app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
  expect(lead.status).toBe(201);
  const steps = delaysSeconds.map((delaySeconds, i) => ({ delaySeconds, template: `Step ${i + 1} for {{firstName}}` }));
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps });
  expect(sequence.status).toBe(201);
  return {
    tenant,
    phone: phone.e164,
    async start(): Promise<{ id: string; workflowId: string; runId: string }> {
      const started = await request(app)
        .post('/v1/enrollments')
        .set(auth)
        .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
      expect(started.status).toBe(202);
      return started.body;
    },
  };
}

/** The create calls the fake saw for `phone` that created a message (whether or not Twilio's answer got back). */
export function createdCalls(fake: TwilioFake, phone: string): CreateCall[] {
  return fake.calls.filter(
    (call) => call.to === phone && (call.outcome === 'created' || call.outcome === 'sentThenTimeout'),
  );
}

/**
 * The end state every scenario must reach: the run completed (not failed) with `steps` messages, the enrollment row
 * `completed`, and per step exactly one create call that created a message and exactly one row carrying its SID.
 */
export async function expectExactlyOnce(
  { temporal, fake }: FaultHarness,
  db: Db,
  {
    phone,
    enrollment,
    steps,
  }: { phone: string; enrollment: { id: string; workflowId: string; runId: string }; steps: number },
) {
  const handle = temporal.workflow.getHandle(enrollment.workflowId, enrollment.runId);
  expect(await handle.result()).toMatchObject({ status: 'completed', messagesSent: steps });
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  await until(
    async () => (await db.enrollment.findUniqueOrThrow({ where: { id: enrollment.id } })).status === 'completed',
    'the enrollment row to be completed',
  );

  const created = createdCalls(fake, phone);
  expect(fake.createCallsTo(phone)).toBe(steps); // no further attempt reached Twilio at all
  expect(created).toHaveLength(steps);
  expect(new Set(created.map((call) => call.body)).size).toBe(steps); // one per step
  expect(fake.messages.filter((message) => message.to === phone)).toHaveLength(steps);

  const rows = await db.message.findMany({ where: { enrollmentId: enrollment.id }, orderBy: { createdAt: 'asc' } });
  expect(rows).toHaveLength(steps);
  expect(new Set(rows.map((row) => row.idempotencyKey)).size).toBe(steps);
  for (const row of rows) {
    expect(['accepted', 'queued', 'sending', 'sent', 'delivered']).toContain(row.status);
    const call = created.find((candidate) => candidate.sid === row.twilioSid);
    expect(call, `a create call for row ${row.idempotencyKey}`).toBeDefined();
    expect(call?.body).toBe(row.body);
  }
  return { created, rows };
}

/** Polls the workflow's `status` query until it sleeps before a step (the send before it recorded). */
async function untilSleepingBeforeStep(
  temporal: Client,
  enrollment: { workflowId: string; runId: string },
  messagesSent: number,
) {
  const handle = temporal.workflow.getHandle(enrollment.workflowId, enrollment.runId);
  return until(async () => {
    const state = await handle.query<{ waitingFor: string; messagesSent: number; nextSendAt: string | null }>('status');
    return state.messagesSent === messagesSent && state.waitingFor === 'delay' ? state : null;
  }, `the workflow to sleep with ${messagesSent} message(s) sent`);
}

/**
 * Enrolls through the API, then waits for the first message and for the run to sleep before its second step: the run,
 * and when that step is due.
 */
export async function startUntilSleeping(
  { temporal, fake }: FaultHarness,
  enrollment: Awaited<ReturnType<typeof prepareEnrollment>>,
) {
  const started = await enrollment.start();
  await until(() => createdCalls(fake, enrollment.phone).length === 1, 'the first message');
  const sleeping = await untilSleepingBeforeStep(temporal, started, 1);
  return { started, dueAt: new Date(sleeping.nextSendAt ?? '').getTime() };
}

/** The attempt number each `sendStepMessage` activity completed on, in history order (1 = no retry). */
export async function sendAttempts(
  temporal: Client,
  enrollment: { workflowId: string; runId: string },
): Promise<number[]> {
  const history = await temporal.workflow.getHandle(enrollment.workflowId, enrollment.runId).fetchHistory();
  const events = history.events ?? [];
  const sends = new Set(
    events
      .filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'sendStepMessage')
      .map((event) => String(event.eventId)),
  );
  return events
    .filter(
      (event) =>
        event.activityTaskStartedEventAttributes &&
        sends.has(String(event.activityTaskStartedEventAttributes.scheduledEventId)),
    )
    .map((event) => event.activityTaskStartedEventAttributes?.attempt ?? 0);
}

/**
 * The Twilio fake and a Temporal client for a fault test file, set up once; worker processes a test started are killed
 * after it. Read the fields inside tests, not at load.
 */
export interface FaultHarness {
  fake: TwilioFake;
  temporal: Client;
}

export function useFaultHarness(): FaultHarness {
  const harness = {} as { fake: TwilioFake; temporal: Client; connection: Connection };
  beforeAll(async () => {
    harness.fake = await startTwilioFake();
    harness.connection = await Connection.connect({ address: inject('temporalAddress') });
    harness.temporal = new Client({ connection: harness.connection, namespace: 'default' });
  });
  afterEach(killAllEntries);
  afterAll(async () => {
    await killAllEntries();
    await Promise.all([harness.fake?.close(), harness.connection?.close()]);
  });
  return harness;
}
