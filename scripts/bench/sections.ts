// The six measurements. Each returns plain JSON-able figures; the CPU each process tree used during the
// measurement is attached, so a figure that misses its target comes with what was busy meanwhile.
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import pLimit from 'p-limit';
import twilio from 'twilio';
import { workflowInput } from '../../api/enrollment-starter.js';
import { inboundWebhookPath } from '../../common/config.js';
import type { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { leadFollowUpWorkflowId, leadFollowUpWorkflowType } from '../../workflows/lead-follow-up.messages.js';
import { enrollmentStatusKey, leadIdKey, sequenceIdKey, tenantIdKey } from '../../workflows/search-attributes.js';
import { apiJson, httpCall } from './http.js';
import { cpuWindow, rssBytes, type CpuWindow } from './proc.js';
import { authToken, senderNumber, taskQueue, type BenchStack } from './stack.js';
import { percentile, round, sleep, summary, waitFor } from './stats.js';

/** The API's batch start concurrency (api/enrollment-batch.ts): the baseline starts the same way. */
export const startConcurrency = 64;
const mib = (bytes: number | null) => (bytes === null ? null : round(bytes / 2 ** 20, 1));

export interface Ctx {
  stack: BenchStack;
  log: (line: string) => void;
}

const cpu = (ctx: Ctx) => cpuWindow(() => ctx.stack.pids());

/** UK mobile numbers in Ofcom's 07700 9xxxxx drama block, one per index (0-99,999). */
export const phoneOf = (index: number) => `+4477009${String(index).padStart(5, '0')}`;

/** Every first create call the fake has seen for these phones since call index `from`, by phone. */
function firstCalls(
  ctx: Ctx,
  phones: ReadonlySet<string>,
  seen: Map<string, number>,
  cursor: { next: number },
): Map<string, number> {
  const { calls } = ctx.stack.fake;
  for (; cursor.next < calls.length; cursor.next += 1) {
    const call = calls[cursor.next];
    if (call?.outcome === 'created' && call.to && phones.has(call.to) && !seen.has(call.to))
      seen.set(call.to, call.at.getTime());
  }
  return seen;
}

// 1. Baseline -----------------------------------------------------------------------------------------------------

export interface BaselineResult {
  workflows: number;
  concurrency: number;
  startSeconds: number;
  startsPerSecond: number;
  completeSeconds: number;
  completionsPerSecond: number;
  cpu: CpuWindow;
}

export async function baseline(ctx: Ctx, count: number): Promise<BaselineResult> {
  const { stack } = ctx;
  const queue = 'bench-baseline';
  const worker = stack.startChild('baseline-worker', 'scripts/bench/baseline-worker.ts', {
    TEMPORAL_ADDRESS: stack.temporal.address,
    BENCH_TASK_QUEUE: queue,
  });
  try {
    await waitFor(
      'the baseline worker',
      () => (readFileSync(worker.logFile, 'utf8').includes('baseline worker ready') ? true : null),
      120_000,
      200,
    );
    await sleep(1000);
    ctx.log(`baseline: ${count} trivial workflows (one no-op activity), ${startConcurrency} starts at a time`);
    const window = cpu(ctx);
    const started = performance.now();
    const limit = pLimit(startConcurrency);
    const tag = randomUUID().slice(0, 8);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        limit(() =>
          stack.client.workflow.start('benchNoop', { workflowId: `bench-noop-${tag}-${i}`, taskQueue: queue }),
        ),
      ),
    );
    const startSeconds = (performance.now() - started) / 1000;
    await waitFor(
      'every baseline workflow to complete',
      async () =>
        (await stack.client.workflow.count(`WorkflowType="benchNoop" AND ExecutionStatus="Completed"`)).count >= count
          ? true
          : null,
      Math.max(120_000, count * 100),
      // Each count is a visibility query (on the dev server, over its one SQLite connection): not too often.
      1000,
    );
    const completeSeconds = (performance.now() - started) / 1000;
    return {
      workflows: count,
      concurrency: startConcurrency,
      startSeconds: round(startSeconds, 2),
      startsPerSecond: round(count / startSeconds),
      completeSeconds: round(completeSeconds, 2),
      completionsPerSecond: round(count / completeSeconds),
      cpu: window(),
    };
  } finally {
    await worker.stop();
  }
}

// 2. Enrollment through the batch API -----------------------------------------------------------------------------

export interface Enrolled {
  leadId: string;
  enrollmentId: string;
  phone: string;
}

export interface EnrollmentResult {
  leads: number;
  /** Request sent → batch answered: every row's StartWorkflowExecution accepted by Temporal. */
  allStartedSeconds: number;
  startsPerSecond: number;
  /** Request sent → the fake's create call for the last lead's first message. */
  allFirstMessagesSeconds: number;
  /** First messages the fake saw before the wait limit (BENCH_SEND_WAIT_SECONDS); less than `leads` means incomplete. */
  firstMessagesSent: number;
  /** Per lead, request sent → its first message's create call. */
  firstMessageSeconds: ReturnType<typeof summary>;
  cpu: CpuWindow;
}

export async function enroll(
  ctx: Ctx,
  options: { firstIndex: number; count: number; sequenceId: string; label: string; sendWaitSeconds: number },
): Promise<{ result: EnrollmentResult; enrolled: Enrolled[] }> {
  const { stack } = ctx;
  const phones = Array.from({ length: options.count }, (_, i) => phoneOf(options.firstIndex + i));
  const phoneSet = new Set(phones);
  const cursor = { next: stack.fake.calls.length };
  const seen = new Map<string, number>();
  ctx.log(`${options.label}: ${options.count} leads through POST /v1/enrollments/batch`);
  const window = cpu(ctx);
  const sentAt = Date.now();
  const started = performance.now();
  const answer = await apiJson<{
    summary: Record<string, number>;
    results: Array<{ outcome: string; leadId?: string; enrollmentId?: string; phone?: string }>;
  }>(stack.apiUrl, stack.apiKey, 'POST', '/v1/enrollments/batch', {
    sequenceId: options.sequenceId,
    leads: phones.map((phone, i) => ({ phone, firstName: `Lead${options.firstIndex + i}` })),
  });
  const allStartedSeconds = (performance.now() - started) / 1000;
  if (answer.summary.enrolled !== options.count)
    throw new Error(`${options.label}: expected ${options.count} enrolled, got ${JSON.stringify(answer.summary)}`);
  ctx.log(`${options.label}: batch answered after ${allStartedSeconds.toFixed(1)} s; waiting for every first message`);
  // Past the wait limit the figure is reported as incomplete (how many went out in time) instead of failing the run.
  const complete = await waitFor(
    `${options.label}: every first message`,
    () => (firstCalls(ctx, phoneSet, seen, cursor).size >= options.count ? true : null),
    options.sendWaitSeconds * 1000,
    50,
  ).catch(() => false);
  const cpuUsed = window();
  const delays = [...seen.values()].map((at) => (at - sentAt) / 1000);
  if (!complete)
    ctx.log(
      `${options.label}: only ${seen.size} of ${options.count} first messages within ${options.sendWaitSeconds} s; going on`,
    );
  const enrolled = answer.results
    .filter((row) => row.outcome === 'enrolled')
    .map((row) => ({
      leadId: row.leadId as string,
      enrollmentId: row.enrollmentId as string,
      phone: row.phone as string,
    }));
  return {
    result: {
      leads: options.count,
      allStartedSeconds: round(allStartedSeconds, 2),
      startsPerSecond: round(options.count / allStartedSeconds),
      allFirstMessagesSeconds: seen.size === options.count ? round(Math.max(...delays), 2) : Number.NaN,
      firstMessagesSent: seen.size,
      firstMessageSeconds: summary(delays, 2),
      cpu: cpuUsed,
    },
    enrolled,
  };
}

// 3. What sleeping enrollments cost ---------------------------------------------------------------------------------

export interface SleepingSnapshot {
  sleeping: number;
  workerRssMiB: number | null;
  /** From the worker's /metrics: V8's heap (used and reserved), memory outside it, and the runs in the sticky cache. */
  workerMemory: {
    heapUsedMiB: number | null;
    heapTotalMiB: number | null;
    /** The workflow threads' V8 heaps, summed (leadfollowup_worker_threads_heap_bytes). */
    threadHeapsUsedMiB: number | null;
    threadHeapsTotalMiB: number | null;
    externalMiB: number | null;
    cachedRuns: number | null;
  };
  serverRssMiB: number | null;
  apiRssMiB: number | null;
  postgresDatabaseMiB: number;
  /** Temporal's own store: the dev server's SQLite files, or the postgres engine's two databases. */
  temporalStoreMiB: number;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** A gauge's value in a Prometheus text scrape (the first series of that name, or the one with `labels`), or null. */
function gauge(scrape: string, name: string, labels?: string): number | null {
  const line = scrape
    .split('\n')
    .find((candidate) =>
      labels
        ? candidate.startsWith(`${name}{${labels}} `)
        : candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`),
    );
  const value = line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
  return Number.isFinite(value) ? value : null;
}

async function workerMemory(url: string): Promise<SleepingSnapshot['workerMemory']> {
  const scrape = await fetch(url).then(
    (response) => response.text(),
    () => '',
  );
  const mibOf = (name: string) => mib(gauge(scrape, name));
  return {
    heapUsedMiB: mibOf('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mibOf('nodejs_heap_size_total_bytes'),
    threadHeapsUsedMiB: mib(gauge(scrape, 'leadfollowup_worker_threads_heap_bytes', 'kind="used"')),
    threadHeapsTotalMiB: mib(gauge(scrape, 'leadfollowup_worker_threads_heap_bytes', 'kind="total"')),
    externalMiB: mibOf('nodejs_external_memory_bytes'),
    cachedRuns: gauge(scrape, 'temporal_sticky_cache_size'),
  };
}

/** Readings once the stack has gone quiet (no sends for a few seconds), the worker's RSS the median of five. */
export async function sleepingSnapshot(ctx: Ctx): Promise<SleepingSnapshot> {
  const { stack } = ctx;
  let calls = stack.fake.calls.length;
  await waitFor(
    'no sends for 3 s',
    async () => {
      await sleep(3000);
      const quiet = stack.fake.calls.length === calls;
      calls = stack.fake.calls.length;
      return quiet ? true : null;
    },
    120_000,
    0,
  );
  const samples: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    samples.push(rssBytes(stack.worker.child.pid as number) ?? Number.NaN);
    await sleep(400);
  }
  const [{ size }] = await stack.db.$queryRaw<[{ size: bigint }]>`select pg_database_size(current_database()) as size`;
  const temporalStore =
    stack.engine === 'dev'
      ? ['temporal.db', 'temporal.db-wal', 'temporal.db-shm'].reduce(
          (sum, name) => sum + fileSize(path.join(stack.dir, name)),
          0,
        )
      : Number(
          (
            await stack.db.$queryRaw<[{ size: bigint }]>`select sum(pg_database_size(datname))::bigint as size
              from pg_database where datname in ('temporal', 'temporal_visibility')`
          )[0].size,
        );
  return {
    sleeping: await stack.db.enrollment.count({ where: { tenantId: stack.tenantId, status: 'running' } }),
    workerRssMiB: mib(percentile(samples, 50)),
    workerMemory: await workerMemory(stack.workerMetricsUrl),
    serverRssMiB: mib(rssBytes(stack.temporal.process.pid as number)),
    apiRssMiB: mib(rssBytes(stack.api.child.pid as number)),
    postgresDatabaseMiB: mib(Number(size)) as number,
    temporalStoreMiB: mib(temporalStore) as number,
  };
}

export function sleepingCost(before: SleepingSnapshot, after: SleepingSnapshot) {
  const added = after.sleeping - before.sleeping;
  const perEnrollmentKiB = (a: number | null, b: number | null) =>
    a === null || b === null || added <= 0 ? null : round(((b - a) * 1024) / added, 2);
  return {
    from: before,
    to: after,
    added,
    perSleepingEnrollmentKiB: {
      worker: perEnrollmentKiB(before.workerRssMiB, after.workerRssMiB),
      server: perEnrollmentKiB(before.serverRssMiB, after.serverRssMiB),
      postgresDatabase: perEnrollmentKiB(before.postgresDatabaseMiB, after.postgresDatabaseMiB),
      temporalStore: perEnrollmentKiB(before.temporalStoreMiB, after.temporalStoreMiB),
    },
    workerRssChangePercent:
      before.workerRssMiB && after.workerRssMiB
        ? round(((after.workerRssMiB - before.workerRssMiB) / before.workerRssMiB) * 100, 1)
        : null,
  };
}

// 4. STOP latency -----------------------------------------------------------------------------------------------------

export interface StopResult {
  stops: number;
  sleepingDuring: number;
  /** Signed webhook POST sent → the enrollment row reads opted_out (polled every 10 ms), in ms. */
  latencyMs: ReturnType<typeof summary>;
  webhookAnswerMs: ReturnType<typeof summary>;
  cpu: CpuWindow;
}

export async function stopLatency(ctx: Ctx, sample: Enrolled[]): Promise<StopResult> {
  const { stack } = ctx;
  const url = `${stack.apiUrl}${inboundWebhookPath}`;
  const sleepingDuring = await stack.db.enrollment.count({ where: { tenantId: stack.tenantId, status: 'running' } });
  ctx.log(
    `STOP: ${sample.length} signed inbound webhooks, one after another, with ${sleepingDuring} enrollments asleep`,
  );
  const latencies: number[] = [];
  const answers: number[] = [];
  const window = cpu(ctx);
  for (const lead of sample) {
    const params = {
      MessageSid: `SM${randomUUID().replaceAll('-', '')}`,
      AccountSid: `AC${'b'.repeat(32)}`,
      From: lead.phone,
      To: senderNumber,
      Body: 'STOP',
    };
    const signature = twilio.getExpectedTwilioSignature(authToken, url, params);
    const started = performance.now();
    const answer = await httpCall(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
      body: new URLSearchParams(params).toString(),
    });
    answers.push(performance.now() - started);
    if (answer.status !== 200) throw new Error(`STOP webhook answered ${answer.status}: ${answer.body}`);
    await waitFor(
      `enrollment ${lead.enrollmentId} to close`,
      async () =>
        (await stack.db.enrollment.findUnique({ where: { id: lead.enrollmentId }, select: { status: true } }))
          ?.status === 'opted_out'
          ? true
          : null,
      30_000,
      10,
    );
    latencies.push(performance.now() - started);
  }
  return {
    stops: sample.length,
    sleepingDuring,
    latencyMs: summary(latencies),
    webhookAnswerMs: summary(answers),
    cpu: window(),
  };
}

// 5. Timer punctuality --------------------------------------------------------------------------------------------

export interface TimerResult {
  sends: number;
  sleepingDuring: number;
  /** How far ahead of the due instant the workflows were started (all starts done before it). */
  leadSeconds: number;
  startsDoneBeforeDueSeconds: number;
  /** Due instant → the fake's create call, per send. */
  latenessMs: ReturnType<typeof summary>;
  cpu: CpuWindow;
}

/**
 * Every workflow is started with the same `enrolledAt` and a first step `leadSeconds` later, so all of them are
 * due at one instant (the API sets `enrolledAt` to each request's own time, which would spread them out).
 */
export async function timerPunctuality(
  ctx: Ctx,
  options: { firstIndex: number; count: number; leadSeconds: number },
): Promise<TimerResult> {
  const { stack } = ctx;
  const { db, tenantId } = stack;
  const phones = Array.from({ length: options.count }, (_, i) => phoneOf(options.firstIndex + i));
  await db.lead.createMany({
    data: phones.map((phone, i) => ({ tenantId, phone, firstName: `Timer${i}`, timeZone: 'Europe/London' })),
  });
  const leads = await db.lead.findMany({ where: { tenantId, phone: { in: phones } } });
  const created = await apiJson<{ id: string }>(stack.apiUrl, stack.apiKey, 'POST', '/v1/sequences', {
    name: `bench-timers-${randomUUID().slice(0, 8)}`,
    steps: [
      { delaySeconds: options.leadSeconds, template: 'Hi {{firstName}}, your reminder from {{businessName}}.' },
      { delaySeconds: 7 * 86_400, template: 'A week on, {{firstName}}: still interested?' },
    ],
  });
  const [tenant, sequence] = await Promise.all([
    db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
    db.sequenceDefinition.findUniqueOrThrow({ where: { id: created.id } }),
  ]);
  const sleepingDuring = await db.enrollment.count({ where: { tenantId, status: 'running' } });
  ctx.log(
    `timers: ${options.count} sends due at one instant, ${options.leadSeconds} s after their start, with ${sleepingDuring} enrollments asleep`,
  );
  const cursor = { next: stack.fake.calls.length };
  const seen = new Map<string, number>();
  const window = cpu(ctx);
  const enrolledAt = Date.now();
  const due = enrolledAt + options.leadSeconds * 1000;
  const limit = pLimit(startConcurrency);
  await Promise.all(
    leads.map((lead) =>
      limit(() =>
        stack.client.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
          workflowId: leadFollowUpWorkflowId(tenantId, lead.id),
          taskQueue,
          args: [
            { ...workflowInput(tenant, lead, sequence, randomUUID()), enrolledAt: new Date(enrolledAt).toISOString() },
          ],
          workflowIdConflictPolicy: 'FAIL',
          typedSearchAttributes: [
            { key: tenantIdKey, value: tenantId },
            { key: leadIdKey, value: lead.id },
            { key: sequenceIdKey, value: sequence.id },
            { key: enrollmentStatusKey, value: 'running' },
          ],
        }),
      ),
    ),
  );
  const startsDoneBeforeDueSeconds = (due - Date.now()) / 1000;
  if (startsDoneBeforeDueSeconds <= 0)
    ctx.log(
      `timers: starts finished ${-startsDoneBeforeDueSeconds} s after the due instant; lateness includes start time`,
    );
  const phoneSet = new Set(phones);
  await waitFor(
    'every timer send',
    () => (firstCalls(ctx, phoneSet, seen, cursor).size >= options.count ? true : null),
    Math.max(180_000, options.leadSeconds * 1000 + options.count * 100),
    50,
  );
  return {
    sends: options.count,
    sleepingDuring,
    leadSeconds: options.leadSeconds,
    startsDoneBeforeDueSeconds: round(startsDoneBeforeDueSeconds, 2),
    latenessMs: summary([...seen.values()].map((at) => at - due)),
    cpu: window(),
  };
}

// 6. API reads under load -------------------------------------------------------------------------------------------

export interface ReadResult {
  endpoint: string;
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  non2xx: number;
  errors: number;
  latencyMs: ReturnType<typeof summary>;
  cpu: CpuWindow;
}

/** `paths` chooses each request's path; `apiKey` is another tenant's key than the stack's own. */
export async function readLoad(
  ctx: Ctx,
  endpoint: string,
  paths: () => string,
  options: { seconds: number; connections: number; apiKey?: string },
): Promise<ReadResult> {
  const latencies: number[] = [];
  const window = cpu(ctx);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: ctx.stack.apiUrl,
        connections: options.connections,
        duration: options.seconds,
        headers: { Authorization: `Bearer ${options.apiKey ?? ctx.stack.apiKey}` },
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: paths() }) }],
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    // autocannon's own histogram has p97.5 but no p95: every response time is kept instead.
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  return {
    endpoint,
    connections: options.connections,
    seconds: options.seconds,
    requests: result.requests.total,
    requestsPerSecond: round(result.requests.average),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyMs: summary(latencies, 1),
    cpu: window(),
  };
}

/** Appointments booked for the read load (each ends its lead's follow-up as booked; the rest stay asleep). */
const benchAppointments = 100;

export async function reads(
  ctx: Ctx,
  enrolled: Enrolled[],
  options: { seconds: number; connections: number },
): Promise<ReadResult[]> {
  const pick = () => enrolled[Math.floor(Math.random() * enrolled.length)] as Enrolled;
  const startsAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const limit = pLimit(8);
  // Leads still in their follow-up (not those the STOP section opted out): each booking sends a confirmation.
  const running = await ctx.stack.db.enrollment.findMany({
    where: { id: { in: enrolled.map((lead) => lead.enrollmentId) }, status: 'running' },
    select: { id: true },
  });
  const runningIds = new Set(running.map((row) => row.id));
  const booking = enrolled.filter((lead) => runningIds.has(lead.enrollmentId)).slice(-benchAppointments);
  const cursor = { next: ctx.stack.fake.calls.length };
  const appointmentIds = await Promise.all(
    booking.map((lead) =>
      limit(async () => {
        const booked = await apiJson<{ id: string }>(ctx.stack.apiUrl, ctx.stack.apiKey, 'POST', '/v1/appointments', {
          leadId: lead.leadId,
          startsAt,
        });
        return booked.id;
      }),
    ),
  );
  // The bookings' own work (confirmations sent, follow-ups closed as booked) is over before any read is timed.
  const confirmed = new Map<string, number>();
  await waitFor(
    'every booking confirmation and booked follow-up',
    async () =>
      firstCalls(ctx, new Set(booking.map((lead) => lead.phone)), confirmed, cursor).size >= booking.length &&
      (await ctx.stack.db.enrollment.count({
        where: { id: { in: booking.map((lead) => lead.enrollmentId) }, status: { not: 'running' } },
      })) >= booking.length
        ? true
        : null,
    300_000,
    250,
  );
  const appointment = () => appointmentIds[Math.floor(Math.random() * appointmentIds.length)] as string;
  const endpoints: Array<[string, () => string]> = [
    ['GET /v1/enrollments/:id (rows)', () => `/v1/enrollments/${pick().enrollmentId}`],
    [
      'GET /v1/enrollments/:id?live=true (rows + workflow query)',
      () => `/v1/enrollments/${pick().enrollmentId}?live=true`,
    ],
    ['GET /v1/appointments/:id (row)', () => `/v1/appointments/${appointment()}`],
    ['GET /v1/appointments/:id?live=true (row + workflow query)', () => `/v1/appointments/${appointment()}?live=true`],
    ['GET /v1/enrollments?limit=50', () => '/v1/enrollments?limit=50'],
    ['GET /v1/leads?limit=50', () => '/v1/leads?limit=50'],
    ['GET /v1/leads/:id', () => `/v1/leads/${pick().leadId}`],
  ];
  const results: ReadResult[] = [];
  for (const [endpoint, paths] of endpoints) {
    ctx.log(`reads: ${endpoint}, ${options.connections} connections for ${options.seconds} s`);
    results.push(await readLoad(ctx, endpoint, paths, options));
  }
  return results;
}
