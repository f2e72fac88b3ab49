// /metrics from both processes: the API app (in this process) and the real worker entry point (a child process, as
// `npm run start:worker` runs it), against the suite's dev server, PostgreSQL and a loopback Twilio fake.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import type { Db } from '../../common/db.js';
import { createApiMetrics } from '../../common/metrics.js';
import { freePort } from '../../common/free-port.js';
import { anytimeSettings, createTenant, randomUkMobile, testDb } from '../support/fixtures.js';
import { startEntry, type EntryProcess } from '../support/processes.js';
import { testAppDeps, twilioFakeEnv } from '../support/stack.js';
import { startTwilioFake, type TwilioFake } from '../support/twilio-fake.js';
import { inbound, messageSid, randomSenderNumber, statusCallback } from '../support/webhooks.js';
import { until } from '../support/wait.js';

// ---- Prometheus text format (0.0.4), parsed strictly enough to catch what a scraper would reject ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help?: string;
}
interface Exposition {
  families: Map<string, Family>;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$/;
const labelPair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const suffixes = ['_bucket', '_sum', '_count', '_total', '_created', '_info'];

function parseValue(raw: string, line: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value in: ${line}`);
  return Number(raw);
}

function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  labelPair.lastIndex = 0;
  while (labelPair.lastIndex < raw.length) {
    const match = labelPair.exec(raw);
    if (!match) throw new Error(`bad labels in: ${line}`);
    const [, key = '', value = ''] = match;
    if (key in labels) throw new Error(`label ${key} twice in: ${line}`);
    labels[key] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return labels;
}

/** Throws on any line a Prometheus scraper would refuse, on a family typed twice, and on samples without a TYPE. */
function parsePrometheus(text: string): Exposition {
  const families = new Map<string, Family>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const [, keyword, name, rest] = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line) ?? [];
      if (!keyword || !name) continue; // any other comment
      if (!metricName.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (keyword === 'TYPE') {
        if (families.get(name)?.type) throw new Error(`second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest ?? ''))
          throw new Error(`bad type in: ${line}`);
        families.set(name, { ...families.get(name), type: rest ?? '' });
      } else {
        families.set(name, { type: families.get(name)?.type ?? '', ...families.get(name), help: rest ?? '' });
      }
      continue;
    }
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name = '', labels, value = ''] = match;
    samples.push({ name, labels: labels ? parseLabels(labels, line) : {}, value: parseValue(value, line) });
  }
  for (const sample of samples) {
    const family = [
      sample.name,
      ...suffixes
        .filter((suffix) => sample.name.endsWith(suffix))
        .map((suffix) => sample.name.slice(0, -suffix.length)),
    ].find((name) => families.get(name)?.type);
    if (!family) throw new Error(`sample ${sample.name} has no TYPE`);
    if (families.get(family)?.type === 'histogram' && sample.name === `${family}_bucket` && !('le' in sample.labels))
      throw new Error(`bucket without le: ${sample.name}`);
  }
  return { families, samples };
}

/** The sum of every sample of `name` whose labels include `labels`. */
function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

// ---- the processes ----

let fake: TwilioFake;
let db: Db;
let connection: Connection;
let worker: EntryProcess | undefined;
let workerMetricsUrl = '';
const taskQueue = `metrics-${randomUUID()}`;
const apiMetrics = createApiMetrics();
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  fake = await startTwilioFake();
  db = testDb();
  const metricsPort = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  worker = startEntry('worker/index.ts', {
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...twilioFakeEnv(fake.url),
    WORKER_METRICS_PORT: String(metricsPort),
  });

  connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection, namespace: 'default' });
  app = createApp(testAppDeps(db, temporal, taskQueue, { metrics: apiMetrics }));

  await worker.logged('worker started', 150_000);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await Promise.all([fake?.close(), db?.$disconnect(), connection?.close()]);
});

async function scrapeApi(): Promise<Exposition> {
  const response = await request(app).get('/metrics');
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(response.text);
}

async function scrapeWorker(): Promise<Exposition> {
  const response = await fetch(workerMetricsUrl);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

async function enroll(auth: Record<string, string>, phone: { national: string; e164: string }) {
  const lead = await request(app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({
      name: `seq-${randomUUID()}`,
      steps: [{ delaySeconds: 0, template: 'Hi {{firstName}}, {{businessName}} here.' }],
    });
  const enrollment = await request(app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  return enrollment.body as { id: string; workflowId: string };
}

describe('API /metrics', () => {
  it('counts webhook outcomes and opt-outs, and times requests by route pattern and status', async () => {
    const number = randomSenderNumber();
    const { auth } = await createTenant(db, { ...anytimeSettings, senders: { create: { value: number } } });
    const before = await scrapeApi();
    const webhooks = (outcome: string, exposition: Exposition) =>
      valueOf(exposition, 'leadfollowup_webhooks_total', { kind: 'inbound', outcome });

    const stop = { From: randomUkMobile().e164, To: number, Body: 'STOP', MessageSid: messageSid() };
    expect((await inbound(app, stop)).status).toBe(200);
    expect((await inbound(app, stop)).status).toBe(200); // Twilio's retry of the same MessageSid
    // The lead asks again: processed, and no second opt-out (before: counted once per STOP).
    expect((await inbound(app, { ...stop, Body: 'stop texting me', MessageSid: messageSid() })).status).toBe(200);
    expect(
      (
        await inbound(
          app,
          { From: randomUkMobile().e164, To: number, Body: 'hi' },
          { signature: 'bm90IGEgc2lnbmF0dXJl' },
        )
      ).status,
    ).toBe(403);
    expect((await inbound(app, { From: randomUkMobile().e164, To: randomSenderNumber(), Body: 'hi' })).status).toBe(
      200,
    );
    expect((await statusCallback(app, { MessageSid: messageSid(), MessageStatus: 'delivered' })).status).toBe(200);

    const missing = randomUUID();
    expect((await request(app).get(`/v1/enrollments/${missing}`).set(auth)).status).toBe(404);
    expect((await request(app).get('/v1/leads?limit=5').set(auth)).status).toBe(200);
    expect((await request(app).get('/no-such-thing')).status).toBe(404);
    const inTheirWords = 'asked by phone, Ada Lovelace 4 Elm Row';
    const optedOut = await request(app)
      .post('/v1/opt-outs')
      .set(auth)
      .send({ phone: randomUkMobile().e164, source: inTheirWords });
    expect(optedOut.status).toBe(201);

    const after = await scrapeApi();
    // Before: the tenant's words were the label, one series each, and personal data in the metrics.
    expect(valueOf(after, 'leadfollowup_opt_outs_total', { source: 'api' })).toBeGreaterThanOrEqual(1);
    expect(after.samples.some((sample) => sample.labels.source === inTheirWords)).toBe(false);
    expect(webhooks('processed', after) - webhooks('processed', before)).toBe(2);
    expect(webhooks('duplicate', after) - webhooks('duplicate', before)).toBe(1);
    expect(webhooks('bad_signature', after) - webhooks('bad_signature', before)).toBe(1);
    expect(webhooks('unknown_tenant', after) - webhooks('unknown_tenant', before)).toBe(1);
    expect(
      valueOf(after, 'leadfollowup_webhooks_total', { kind: 'status', outcome: 'unknown_message' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(after, 'leadfollowup_opt_outs_total', { source: 'inbound_keyword' }) -
        valueOf(before, 'leadfollowup_opt_outs_total', { source: 'inbound_keyword' }),
    ).toBe(1);

    const duration = 'leadfollowup_http_request_duration_seconds_count';
    // The pattern, not the URL: an error answered after the /v1 router still carries its mount path.
    expect(
      valueOf(after, duration, { method: 'GET', route: '/v1/enrollments/:enrollmentId', status_code: '404' }),
    ).toBe(1);
    expect(after.samples.some((sample) => sample.labels.route?.includes(missing))).toBe(false);
    expect(valueOf(after, duration, { method: 'GET', route: '/v1/leads', status_code: '200' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(valueOf(after, duration, { method: 'POST', route: '/webhooks/twilio/inbound', status_code: '403' })).toBe(1);
    expect(valueOf(after, duration, { method: 'GET', route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      valueOf(after, 'leadfollowup_http_request_duration_seconds_bucket', { route: '/v1/leads', le: '+Inf' }),
    ).toBe(valueOf(after, duration, { route: '/v1/leads' }));
    expect(after.families.get('leadfollowup_http_request_duration_seconds')?.type).toBe('histogram');
  });
});

describe('worker /metrics', () => {
  it('counts messages by status and Twilio error codes, next to the Temporal SDK metrics of the same process', async () => {
    const { auth, tenant } = await createTenant(db, anytimeSettings);
    const before = await scrapeWorker();
    const messages = (status: string, exposition: Exposition) =>
      valueOf(exposition, 'leadfollowup_messages_total', { status });

    const sent = randomUkMobile();
    await enroll(auth, sent);
    const refused = randomUkMobile();
    fake.inject({ kind: 'twilioError', code: 21211 }, { to: refused.e164 });
    await enroll(auth, refused);
    await until(
      async () =>
        (await db.message.count({ where: { tenantId: tenant.id, status: { in: ['queued', 'failed'] } } })) === 2,
      'both messages recorded',
    );

    // The SDK records an activity's latency once it has returned, a moment after our counter moved inside it.
    const activityRuns = (exposition: Exposition) =>
      valueOf(exposition, 'temporal_activity_execution_latency_count', {
        task_queue: taskQueue,
        activity_type: 'sendStepMessage',
      });
    const after = await until(async () => {
      const scraped = await scrapeWorker();
      return messages('failed', scraped) > messages('failed', before) &&
        activityRuns(scraped) - activityRuns(before) >= 2
        ? scraped
        : null;
    }, 'both sends in the worker metrics');
    expect(messages('queued', after) - messages('queued', before)).toBe(1);
    expect(messages('failed', after) - messages('failed', before)).toBe(1);
    const twilioErrors = (exposition: Exposition) =>
      valueOf(exposition, 'leadfollowup_twilio_errors_total', { code: '21211', source: 'send' });
    expect(twilioErrors(after) - twilioErrors(before)).toBe(1);

    // The SDK's own exporter, proxied into the same scrape: worker and activity metrics of this task queue.
    expect(valueOf(after, 'leadfollowup_temporal_sdk_metrics_up')).toBe(1);
    const sdkFamilies = [...after.families.keys()].filter((name) => name.startsWith('temporal_'));
    expect(sdkFamilies.length).toBeGreaterThan(5);
    const ofQueue = after.samples.filter(
      (sample) => sample.name.startsWith('temporal_') && sample.labels.task_queue === taskQueue,
    );
    expect(ofQueue.length).toBeGreaterThan(0);
    expect(after.families.get('temporal_activity_execution_latency')?.type).toBe('histogram');
    // Node's process metrics come with the worker's registry.
    expect(after.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    // The workflow threads' heaps, which nodejs_heap_* (the main thread's) leave out: the runs just executed live there.
    const threadHeap = (kind: string) => valueOf(after, 'leadfollowup_worker_threads_heap_bytes', { kind });
    expect(threadHeap('used')).toBeGreaterThan(1024 * 1024);
    expect(threadHeap('total')).toBeGreaterThanOrEqual(threadHeap('used'));
  });

  it('counts a delivery error reported by a status callback on the API side', async () => {
    const { auth, tenant } = await createTenant(db, anytimeSettings);
    const phone = randomUkMobile();
    await enroll(auth, phone);
    const row = await until(
      () => db.message.findFirst({ where: { tenantId: tenant.id, status: 'queued', twilioSid: { not: null } } }),
      'the sent message',
    );
    const before = await scrapeApi();
    const callback = await statusCallback(app, {
      MessageSid: row.twilioSid ?? '',
      MessageStatus: 'undelivered',
      ErrorCode: '30007',
    });
    expect(callback.status).toBe(200);
    const after = await scrapeApi();
    const carrierFiltered = (exposition: Exposition) =>
      valueOf(exposition, 'leadfollowup_twilio_errors_total', { code: '30007', source: 'status_callback' });
    expect(carrierFiltered(after) - carrierFiltered(before)).toBe(1);
    expect(
      valueOf(after, 'leadfollowup_webhooks_total', { kind: 'status', outcome: 'processed' }) -
        valueOf(before, 'leadfollowup_webhooks_total', { kind: 'status', outcome: 'processed' }),
    ).toBe(1);
  });
});

describe('the exposition parser used here', () => {
  it('refuses what a scraper would refuse', () => {
    expect(() => parsePrometheus('# TYPE a counter\na{x="1"} one\n')).toThrow(/bad value/);
    expect(() => parsePrometheus('# TYPE a counter\n# TYPE a gauge\na 1\n')).toThrow(/second TYPE/);
    expect(() => parsePrometheus('b 1\n')).toThrow(/no TYPE/);
    expect(() => parsePrometheus('# TYPE a counter\na{x=1} 1\n')).toThrow(/bad labels/);
    expect(valueOf(parsePrometheus('# TYPE a counter\na_total{x="1"} 2\na_total{x="2"} 3\n'), 'a_total')).toBe(5);
  });
});
