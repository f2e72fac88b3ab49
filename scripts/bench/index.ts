// `npm run bench`: starts a stack of its own on BENCH_ENGINE (dev or postgres), runs the eight measurements of
// docs/benchmarks.md, writes that engine's JSON and "Latest run" section into <BENCH_OUT_DIR> (engines.ts), and stops
// everything it started (also on failure or Ctrl-C). Scale with BENCH_* variables; see docs/development.md "Benchmarks".
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, parseSettings } from '../../common/config.js';
import { temporalEngine } from '../stack/engine.js';
import { dataDir, projectRoot } from '../stack/paths.js';
import { loadAverage, machine } from './proc.js';
import { engineOutput, writeSideBySide } from './engines.js';
import { markdown, ratiosOf, targetChecks, writeMarkdown } from './report.js';
import {
  baseline,
  enroll,
  reads,
  sleepingCost,
  sleepingSnapshot,
  stopLatency,
  timerPunctuality,
  type Ctx,
} from './sections.js';
import { startBenchStack, type BenchStack } from './stack.js';
import { analyticsReads } from './analytics.js';
import { webhookBurst } from './webhooks.js';
import { apiJson } from './http.js';
import { round } from './stats.js';

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const benchSettings = z.object({
  BENCH_LEADS: count(10_000, 10_000),
  /** The cohort asleep before the big batch: the first of the two memory readings. Default a tenth of BENCH_LEADS. */
  BENCH_WARM_LEADS: z.coerce.number().int().min(1).max(10_000).optional(),
  BENCH_BASELINE: z.coerce.number().int().min(1).max(50_000).optional(),
  BENCH_TIMERS: count(1000, 20_000),
  /** Seconds between the timer workflows' start and their common due instant; default from the baseline start rate. */
  BENCH_TIMER_LEAD_SECONDS: z.coerce.number().int().min(1).max(600).optional(),
  BENCH_STOPS: count(200, 5000),
  /** How long to wait for a cohort's first messages before reporting how many went out and going on. */
  BENCH_SEND_WAIT_SECONDS: count(1800, 7200),
  BENCH_READ_SECONDS: count(10, 600),
  BENCH_READ_CONNECTIONS: count(10, 500),
  /** Events in the webhook burst (section 7). */
  BENCH_WEBHOOK_EVENTS: count(10_000, 100_000),
  /** Step messages whose funnel facts the analytics reads (section 8) aggregate. */
  BENCH_ANALYTICS_MESSAGES: count(100_000, 1_000_000),
  BENCH_OUT_DIR: z.string().default('docs'),
  /** Which Temporal the stack runs on: the dev server (SQLite) or temporal-server on PostgreSQL. */
  BENCH_ENGINE: temporalEngine.default('dev'),
  BENCH_KEEP_DATA: z.enum(['true', 'false']).default('false'),
  /** The service's LOG_LEVEL in the worker and API (their output goes to files under the bench data folder). */
  BENCH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info'),
  /** More `temporal server start-dev` flags, space-separated, e.g. `--sqlite-pragma synchronous=off`. */
  BENCH_DEV_SERVER_ARGS: z.string().default(''),
  /** Free text recorded with the run, e.g. "before: default worker options". */
  BENCH_LABEL: z.string().default(''),
});

const say = (line: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

export type BenchResult = Awaited<ReturnType<typeof run>>;

let stack: BenchStack | undefined;
let stopping: Promise<void> | undefined;
const stopStack = () => (stopping ??= stack?.stop() ?? Promise.resolve());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping the stack`);
    void stopStack().finally(() => process.exit(130));
  });
}

async function run(settings: z.infer<typeof benchSettings>) {
  const started = performance.now();
  const loadBefore = loadAverage();
  const leads = settings.BENCH_LEADS;
  const warm = settings.BENCH_WARM_LEADS ?? Math.max(1, Math.round(leads / 10));
  const scale = {
    leads,
    warmLeads: warm,
    baselineWorkflows: settings.BENCH_BASELINE ?? leads,
    timers: settings.BENCH_TIMERS,
    stops: Math.min(settings.BENCH_STOPS, leads),
    readSeconds: settings.BENCH_READ_SECONDS,
    readConnections: settings.BENCH_READ_CONNECTIONS,
    webhookEvents: settings.BENCH_WEBHOOK_EVENTS,
    analyticsMessages: settings.BENCH_ANALYTICS_MESSAGES,
    logLevel: settings.BENCH_LOG_LEVEL,
    devServerArgs: settings.BENCH_DEV_SERVER_ARGS.split(/\s+/).filter(Boolean),
  };
  if (warm + leads + scale.timers > 100_000)
    throw new Error('BENCH_WARM_LEADS + BENCH_LEADS + BENCH_TIMERS must stay within 100,000 phone numbers');
  const engine = settings.BENCH_ENGINE;
  say(`engine ${engine}, scale ${JSON.stringify(scale)}`);
  stack = await startBenchStack({
    log: say,
    keepData: settings.BENCH_KEEP_DATA === 'true',
    logLevel: settings.BENCH_LOG_LEVEL,
    engine,
    devServerArgs: scale.devServerArgs,
  });
  const ctx: Ctx = { stack, log: say };

  const baselineResult = await baseline(ctx, scale.baselineWorkflows);
  say(`baseline: ${baselineResult.startsPerSecond} starts/s, ${baselineResult.completionsPerSecond} completions/s`);

  // A first step at once, then a week's sleep: after its first message every enrollment is asleep on a timer.
  const sequence = await apiJson<{ id: string }>(stack.apiUrl, stack.apiKey, 'POST', '/v1/sequences', {
    name: 'bench-follow-up',
    steps: [
      { delaySeconds: 0, template: 'Hi {{firstName}}, thanks for your enquiry to {{businessName}}.' },
      { delaySeconds: 7 * 86_400, template: 'Still interested, {{firstName}}? Reply to book.' },
    ],
  });
  await enroll(ctx, {
    firstIndex: 0,
    count: warm,
    sequenceId: sequence.id,
    label: 'warm-up cohort',
    sendWaitSeconds: settings.BENCH_SEND_WAIT_SECONDS,
  });
  const before = await sleepingSnapshot(ctx);
  say(
    `asleep ${before.sleeping}: worker ${before.workerRssMiB} MiB, server ${before.serverRssMiB} MiB, PostgreSQL ${before.postgresDatabaseMiB} MiB`,
  );

  const main = await enroll(ctx, {
    firstIndex: warm,
    count: leads,
    sequenceId: sequence.id,
    label: 'enrollment',
    sendWaitSeconds: settings.BENCH_SEND_WAIT_SECONDS,
  });
  say(
    `enrollment: all started after ${main.result.allStartedSeconds} s, every first message after ${main.result.allFirstMessagesSeconds} s`,
  );
  const after = await sleepingSnapshot(ctx);
  say(
    `asleep ${after.sleeping}: worker ${after.workerRssMiB} MiB, server ${after.serverRssMiB} MiB, PostgreSQL ${after.postgresDatabaseMiB} MiB`,
  );

  // STOPs spread over the batch; the readings afterwards use the ones still asleep too (a row is a row).
  const step = main.enrolled.length / scale.stops;
  const stopSample = Array.from({ length: scale.stops }, (_, i) => main.enrolled[Math.floor(i * step)]).filter(
    (lead) => lead !== undefined,
  );
  const stopResult = await stopLatency(ctx, stopSample);
  say(`STOP: p50 ${stopResult.latencyMs.p50} ms, p99 ${stopResult.latencyMs.p99} ms`);

  const leadSeconds =
    settings.BENCH_TIMER_LEAD_SECONDS ??
    Math.max(5, Math.ceil((scale.timers / baselineResult.startsPerSecond) * 2) + 3);
  const timers = await timerPunctuality(ctx, { firstIndex: warm + leads, count: scale.timers, leadSeconds });
  say(
    `timers: lateness p50 ${timers.latenessMs.p50} ms, p99 ${timers.latenessMs.p99} ms, max ${timers.latenessMs.max} ms`,
  );

  const readResults = await reads(ctx, main.enrolled, {
    seconds: scale.readSeconds,
    connections: scale.readConnections,
  });
  for (const read of readResults)
    say(
      `reads ${read.endpoint}: p50 ${read.latencyMs.p50} ms, p95 ${read.latencyMs.p95} ms, ${read.requestsPerSecond} req/s`,
    );

  const webhooks = await webhookBurst(ctx, {
    events: scale.webhookEvents,
    waitSeconds: Math.max(120, settings.BENCH_SEND_WAIT_SECONDS),
  });
  say(
    `webhooks: ${webhooks.delivered} of ${webhooks.events} delivered after ${webhooks.allDeliveredSeconds} s (${webhooks.deliveriesPerSecond}/s)`,
  );

  const analytics = await analyticsReads(ctx, {
    messages: scale.analyticsMessages,
    seconds: scale.readSeconds,
    connections: scale.readConnections,
  });
  for (const read of analytics.reads)
    say(`analytics ${read.endpoint}: p50 ${read.latencyMs.p50} ms, p95 ${read.latencyMs.p95} ms`);

  return {
    engine,
    label: settings.BENCH_LABEL,
    finishedAt: new Date().toISOString(),
    command: `${Object.entries(process.env)
      .filter(([name, value]) => name.startsWith('BENCH_') && name !== 'BENCH_OUT_DIR' && value)
      .map(([name, value]) => `${name}=${JSON.stringify(value).replace(/^"([\w.:-]*)"$/, '$1')} `)
      .join('')}npm run bench`,
    machine: machine(),
    loadBefore,
    loadAfter: loadAverage(),
    totalSeconds: round((performance.now() - started) / 1000),
    scale,
    sections: {
      baseline: baselineResult,
      enrollment: main.result,
      sleeping: sleepingCost(before, after),
      stop: stopResult,
      timers,
      reads: readResults,
      webhooks,
      analytics,
    },
  };
}

let exitCode = 0;
try {
  const settings = parseSettings(benchSettings);
  const result = await run(settings);
  const outDir = path.resolve(projectRoot, settings.BENCH_OUT_DIR);
  mkdirSync(outDir, { recursive: true });
  const output = engineOutput[result.engine];
  const ratios = ratiosOf(result, result.engine);
  const json = `${JSON.stringify({ ...result, ratios, targets: targetChecks(result) }, null, 2)}\n`;
  writeFileSync(path.join(outDir, output.json), json);
  // Every run's figures are kept locally (git-ignored), for before/after comparisons.
  const runsDir = path.join(dataDir, 'bench-runs');
  mkdirSync(runsDir, { recursive: true });
  writeFileSync(path.join(runsDir, `${result.finishedAt.replaceAll(':', '-')}.json`), json);
  const section = markdown(result, ratios);
  writeMarkdown(path.join(outDir, 'benchmarks.md'), section, output.section);
  writeSideBySide(outDir);
  process.stdout.write(`\n${section}\n\n`);
  say(`wrote ${path.relative(projectRoot, path.join(outDir, output.json))} and benchmarks.md`);
} catch (error) {
  exitCode = 1;
  if (error instanceof ConfigError) for (const problem of error.problems) process.stderr.write(`${problem}\n`);
  else
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
} finally {
  await stopStack();
}
process.exit(exitCode);
