// The benchmark's own stack, on free ports with data under .data/bench-<pid>: Temporal (BENCH_ENGINE: the dev server,
// or temporal-server on the same embedded PostgreSQL), an embedded
// PostgreSQL, the Twilio fake (in this process, so it can time every create call), and the worker and API as child
// processes run exactly as `npm run start:worker` / `start:api` run them (so their RSS and CPU can be read apart).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { generateApiKey } from '../../api/auth.js';
import { createDb, type Db } from '../../common/db.js';
import { applyMigrations } from '../db/schema-engine.js';
import { dataDir, migrationsDir, projectRoot } from '../stack/paths.js';
import { freePort } from '../../common/free-port.js';
import { startTemporalEngine, type TemporalEngine } from '../stack/engine.js';
import { startEmbeddedPostgres } from '../stack/postgres.js';
import { stopChild } from '../stack/stop-child.js';
import type { TemporalServer } from '../stack/temporal.js';
import { startTwilioFake, type TwilioFake } from '../../test/support/twilio-fake.js';
import { sleep, waitFor } from './stats.js';

export const senderNumber = '+15005550006';
export const authToken = 'bench-auth-token-0123456789';
const accountSid = `AC${'b'.repeat(32)}`;
export const taskQueue = 'lead-followup';

/**
 * `BENCH_CPU_PROFILE=api,worker` runs those children with V8's CPU profiler; each writes `.cpuprofile` files (open them
 * in Chrome's DevTools) under `.data/cpu-profiles/<name>-<time>/` when it exits. A profiled process is slower: not for the figures.
 */
function cpuProfileArgs(name: string): string[] {
  const profiled = (process.env.BENCH_CPU_PROFILE ?? '').split(',').map((entry) => entry.trim());
  if (!profiled.includes(name)) return [];
  // A folder per process: each of its threads (tsx's loader is one) writes a profile of its own.
  const dir = path.join(dataDir, 'cpu-profiles', `${name}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export interface ChildEntry {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export interface BenchStack {
  dir: string;
  engine: TemporalEngine;
  temporal: TemporalServer;
  databaseUrl: string;
  db: Db;
  client: Client;
  fake: TwilioFake;
  apiUrl: string;
  apiKey: string;
  tenantId: string;
  worker: ChildEntry;
  workerMetricsUrl: string;
  api: ChildEntry;
  /** Pids of the stack's processes for /proc readings (postgres: the postmaster, whose children are its backends). */
  pids(): Record<string, number | undefined>;
  startChild(name: string, entry: string, env: Record<string, string>): ChildEntry;
  stop(): Promise<void>;
}

function readPostmasterPid(dir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

export async function startBenchStack(options: {
  log: (line: string) => void;
  keepData: boolean;
  logLevel: string;
  engine: TemporalEngine;
  devServerArgs: string[];
}): Promise<BenchStack> {
  const dir = path.join(dataDir, `bench-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  /** Undo steps, run in reverse on stop or on a failed start. */
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const children: ChildEntry[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        options.log(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  cleanups.push(() =>
    options.keepData ? options.log(`data kept in ${dir}`) : rmSync(dir, { recursive: true, force: true }),
  );

  function startChild(name: string, entry: string, env: Record<string, string>): ChildEntry {
    const logFile = path.join(dir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    // Output goes straight to a file: reading it through a pipe would cost this process CPU during the measurements.
    const child = spawn(process.execPath, [...cpuProfileArgs(name), '--import', 'tsx', entry], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const entryStop = () => stopChild(child, { graceMs: 15_000 });
    const started: ChildEntry = { name, child, logFile, stop: entryStop };
    children.push(started);
    cleanups.push(entryStop);
    return started;
  }

  try {
    const [temporalPort, postgresPort, apiPort, workerMetricsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    options.log(
      `starting PostgreSQL (:${postgresPort}), then Temporal's ${options.engine} engine (:${temporalPort}), under ${path.relative(projectRoot, dir)}`,
    );
    const postgresDir = path.join(dir, 'postgres');
    const database = await startEmbeddedPostgres({ dir: postgresDir, port: postgresPort, database: 'leadfollowup' });
    cleanups.push(() => database.stop());
    const temporal = await startTemporalEngine(options.engine, {
      port: temporalPort,
      dir,
      postgresUrl: database.url,
      devServerArgs: options.devServerArgs,
    });
    cleanups.push(() => temporal.stop());
    await applyMigrations({ databaseUrl: database.url, migrationsDir });

    const db = createDb(database.url, { maxConnections: 4 });
    cleanups.push(() => db.$disconnect());
    const key = generateApiKey();
    const tenant = await db.tenant.create({
      data: {
        name: 'bench',
        businessName: 'Bench Dental',
        defaultRegion: 'GB',
        defaultTimeZone: 'Europe/London',
        // Open all day with no caps that bite, so every first message is due at once whatever the clock says.
        windowStart: '00:00',
        windowEnd: '24:00',
        minGapSeconds: 0,
        maxPerDay: 1000,
        apiKeys: { create: { name: 'bench', prefix: key.prefix, hash: key.hash } },
      },
    });

    const fake = await startTwilioFake();
    cleanups.push(() => fake.close());

    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    // The webhook section's receivers are on 127.0.0.1.
    const common = {
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LOG_LEVEL: options.logLevel,
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    };
    const worker = startChild('worker', 'worker/index.ts', {
      ...common,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_FROM_NUMBER: senderNumber,
      TWILIO_API_BASE_URL: fake.url,
      // Its /metrics splits the worker's memory (V8 heap, the rest) and counts the sticky cache's runs.
      WORKER_METRICS_PORT: String(workerMetricsPort),
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      // The benchmark measures the stack, not a carrier's limits: one number may send as fast as the stack can, and
      // every send still goes through the capacity gate (and pays for its checks).
      NUMBER_MAX_SENDS_PER_SECOND: '10000',
      TENANT_MAX_SENDS_PER_SECOND: '10000',
      WARMUP_DAYS: '0',
      WARMED_UP_DAILY_LIMIT: '10000000',
    });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const api = startChild('api', 'api/index.ts', {
      ...common,
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      TWILIO_AUTH_TOKEN: authToken,
      PUBLIC_BASE_URL: apiUrl,
      // The per-key limit protects production from one noisy client; the benchmark is that client on purpose.
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      API_SHUTDOWN_GRACE_SECONDS: '5',
    });
    const exitedEarly = (entry: ChildEntry) => () => {
      if (entry.child.exitCode !== null)
        throw new Error(`${entry.name} exited with code ${entry.child.exitCode}; see ${entry.logFile}`);
    };
    await waitFor(
      'the worker to start polling',
      () => {
        exitedEarly(worker)();
        return readFileSync(worker.logFile, 'utf8').includes('"msg":"worker started"') ? true : null;
      },
      180_000,
      200,
    );
    await waitFor(
      'the API to answer /health',
      async () => {
        exitedEarly(api)();
        return (await fetch(`${apiUrl}/health`).catch(() => null))?.ok ? true : null;
      },
      60_000,
      200,
    );
    // The worker logs "started" just before its pollers begin.
    await sleep(1000);
    options.log(`stack ready: API ${apiUrl}, worker pid ${worker.child.pid}, Temporal pid ${temporal.process.pid}`);

    return {
      dir,
      engine: options.engine,
      temporal,
      databaseUrl: database.url,
      db,
      client,
      fake,
      apiUrl,
      apiKey: key.key,
      tenantId: tenant.id,
      worker,
      workerMetricsUrl: `http://127.0.0.1:${workerMetricsPort}/metrics`,
      api,
      startChild,
      pids: () => ({
        temporal: temporal.process.pid,
        postgres: readPostmasterPid(postgresDir),
        worker: worker.child.pid,
        api: api.child.pid,
        bench: process.pid,
        ...Object.fromEntries(
          children.filter((entry) => entry !== worker && entry !== api).map((entry) => [entry.name, entry.child.pid]),
        ),
      }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
