// SIGTERM to the real entry points (`node --import tsx worker/index.ts` / `api/index.ts`, as the npm scripts and the
// container run them), against the suite's dev server and PostgreSQL: work in flight finishes, then the process exits 0;
// work that outlives the grace time is cut off and the process exits 1.
import { roomyCapacity } from '../../common/capacity/settings.js';
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSmsSender } from '../../activities/sms-sender.js';
import { createApp } from '../../api/app.js';
import { createSignalRelay } from '../../api/signal-relay.js';
import type { Db } from '../../common/db.js';
import { freePort } from '../../common/free-port.js';
import { createWorker } from '../../worker/worker.js';
import { anytimeSettings, createTenant, randomUkMobile, testDb } from '../support/fixtures.js';
import { testAppDeps, testAuthToken, testSenderNumber, twilioFakeEnv } from '../support/stack.js';
import { startTwilioFake, type TwilioFake } from '../support/twilio-fake.js';
import { killAllEntries, startEntry } from '../support/processes.js';
import { until } from '../support/wait.js';

let db: Db;
let fake: TwilioFake;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  db = testDb();
  fake = await startTwilioFake();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: 'default' });
});

afterEach(async () => {
  // A failed test must not leave an entry point behind.
  await killAllEntries();
});

afterAll(async () => {
  await Promise.all([fake?.close(), db?.$disconnect(), connection?.close()]);
});

function appFor(taskQueue: string) {
  const logger = pino({ level: 'silent' });
  return createApp(
    testAppDeps(db, client, taskQueue, { logger, signalRelay: createSignalRelay({ db, temporal: client, logger }) }),
  );
}

/** A one-step enrollment, started through the API app on the given task queue. */
async function enrollOneStep(app: ReturnType<typeof createApp>) {
  const { tenant, auth } = await createTenant(db, anytimeSettings);
  const phone = randomUkMobile();
  const lead = await request(app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds: 0, template: 'Hi {{firstName}}!' }] });
  return {
    tenant,
    phone: phone.e164,
    start: () =>
      request(app).post('/v1/enrollments').set(auth).send({ leadId: lead.body.id, sequenceId: sequence.body.id }),
  };
}

function workerEnv(taskQueue: string, metricsPort: number, graceSeconds: number): Record<string, string> {
  return {
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...twilioFakeEnv(fake.url),
    WORKER_METRICS_PORT: String(metricsPort),
    WORKER_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
  };
}

describe('worker on SIGTERM', () => {
  it('stops polling, lets the send in flight finish and exits 0; the next worker completes the run without sending again', async () => {
    const taskQueue = `shutdown-${randomUUID()}`;
    const worker = startEntry('worker/index.ts', workerEnv(taskQueue, await freePort(), 30));
    await worker.logged('worker started');
    const enrollment = await enrollOneStep(appFor(taskQueue));
    fake.inject({ kind: 'slow', ms: 4000 }, { to: enrollment.phone });
    const started = await enrollment.start();
    expect(started.status).toBe(202);

    // The Twilio call is in flight (the fake holds its answer) when the signal arrives.
    const call = await until(
      () => fake.calls.find((candidate) => candidate.to === enrollment.phone && candidate.outcome === 'pending'),
      'the Twilio call in flight',
    );
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    await worker.logged('worker shutting down: polling stops, activities in flight finish', 5_000);
    expect(call.outcome).toBe('pending');

    expect(await worker.exited).toBe(0);
    // It waited for the answer (4 s after the call began) and recorded it before exiting.
    expect(call.outcome).toBe('created');
    expect(Date.now() - signalledAt).toBeGreaterThan(500);
    const row = await db.message.findFirstOrThrow({ where: { tenantId: enrollment.tenant.id } });
    expect(row).toMatchObject({ status: 'queued', twilioSid: call.sid });
    expect(worker.output()).toContain('"msg":"worker stopped"');
    const handle = client.workflow.getHandle(started.body.workflowId, started.body.runId);
    const history = await handle.fetchHistory();
    expect(history.events?.some((event) => event.activityTaskCompletedEventAttributes)).toBe(true);

    // A replacement worker on the same task queue finishes the run from the recorded result: one SMS in all.
    const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const sender = createSmsSender({
      kind: 'twilio',
      accountSid: `AC${'1'.repeat(32)}`,
      authToken: testAuthToken,
      sender: { from: testSenderNumber },
      apiBaseUrl: fake.url,
    });
    const replacement = await createWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      db,
      sender,
      shutdownGraceSeconds: 5,
      capacity: roomyCapacity,
    });
    try {
      await replacement.runUntil(async () =>
        expect(await handle.result()).toMatchObject({ status: 'completed', messagesSent: 1 }),
      );
    } finally {
      await nativeConnection.close();
    }
    expect(fake.createCallsTo(enrollment.phone)).toBe(1);
  });

  it('gives up on an activity that outlives the grace time (plus its cancellation margin) and exits 1', async () => {
    const taskQueue = `shutdown-${randomUUID()}`;
    const worker = startEntry('worker/index.ts', workerEnv(taskQueue, await freePort(), 1));
    await worker.logged('worker started');
    const enrollment = await enrollOneStep(appFor(taskQueue));
    fake.inject({ kind: 'slow', ms: 9000 }, { to: enrollment.phone });
    expect((await enrollment.start()).status).toBe(202);
    const call = await until(
      () => fake.calls.find((candidate) => candidate.to === enrollment.phone && candidate.outcome === 'pending'),
      'the Twilio call in flight',
    );

    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    const elapsed = Date.now() - signalledAt;
    // 1 s of grace, then 5 s for the cancelled activity: well before Twilio's 9 s answer.
    expect(elapsed).toBeGreaterThan(5_000);
    expect(elapsed).toBeLessThan(9_000);
    expect(call.outcome).toBe('pending');
    expect(worker.output()).toContain('"msg":"worker stopped with an error"');
    // The row stays `pending` ("maybe sent"): the retry on another worker asks Twilio before sending again.
    expect((await db.message.findFirstOrThrow({ where: { tenantId: enrollment.tenant.id } })).status).toBe('pending');
  });
});

/** A POST whose body arrives in two parts, `pauseMs` apart: a request that is in flight for that long. */
function slowPost(
  url: string,
  headers: Record<string, string>,
  body: string,
): { sendRest(): void; response: Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> } {
  const half = Math.floor(body.length / 2);
  let req: ReturnType<typeof httpRequest>;
  const response = new Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }>(
    (resolve, reject) => {
      req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            ...headers,
            'Content-Type': 'application/json',
            'Content-Length': String(Buffer.byteLength(body)),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, half));
    },
  );
  return { sendRest: () => req.end(body.slice(half)), response };
}

describe('API on SIGTERM', () => {
  async function startApi(graceSeconds: number) {
    const port = await freePort();
    const api = startEntry('api/index.ts', {
      API_PORT: String(port),
      API_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
    });
    await api.logged('API listening', 60_000);
    return { api, url: `http://127.0.0.1:${port}` };
  }

  it('refuses new connections, answers the request in flight, then exits 0', async () => {
    const { api, url } = await startApi(10);
    const { auth } = await createTenant(db, anytimeSettings);
    const phone = randomUkMobile();
    expect((await fetch(`${url}/health`)).status).toBe(200);

    const inFlight = slowPost(`${url}/v1/leads`, auth, JSON.stringify({ phone: phone.national, firstName: 'Grace' }));
    await new Promise((resolve) => setTimeout(resolve, 300)); // headers and half the body are in
    api.child.kill('SIGTERM');
    await api.logged('API shutting down: no new connections, requests in flight finish', 5_000);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(api.child.exitCode).toBeNull();

    inFlight.sendRest();
    const answer = await inFlight.response;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ phone: phone.e164, firstName: 'Grace' });
    expect(await api.exited).toBe(0);
    expect(await db.lead.count({ where: { phone: phone.e164, firstName: 'Grace' } })).toBe(1);
  });

  it('cuts off a request still running after API_SHUTDOWN_GRACE_SECONDS and exits 1', async () => {
    const { api, url } = await startApi(1);
    const { auth } = await createTenant(db, anytimeSettings);
    const stuck = slowPost(`${url}/v1/leads`, auth, JSON.stringify({ phone: randomUkMobile().national }));
    const outcome = stuck.response.then(
      () => 'answered',
      () => 'cut off',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalledAt = Date.now();
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(1);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(900);
    expect(await outcome).toBe('cut off');
    expect(api.output()).toContain('"msg":"API shutdown grace time over: requests still in flight are cut off"');
  });
});
