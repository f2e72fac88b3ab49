// The real entry points as child processes (`node --import tsx <entry>`, as `npm run start:*` runs them), for tests
// that signal or kill them.
import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { projectRoot } from '../../scripts/stack/paths.js';
import { stopChild } from '../../scripts/stack/stop-child.js';
import { until } from './wait.js';

export interface EntryProcess {
  child: ChildProcess;
  spawnedAt: number;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves with the time a pino line with this message was first seen; rejects if the process exits first. */
  logged(message: string, timeoutMs?: number): Promise<number>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, as a deployment stops it; SIGKILL only if it is still running after the worker's own 30 s grace. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/**
 * Sending capacity that limits nothing in practice: the whole suite sends from one test number, far more than its
 * warm-up would allow. Tests about capacity set their own limits.
 */
export const roomyCapacityEnv: Record<string, string> = {
  NUMBER_MAX_SENDS_PER_SECOND: '10000',
  TENANT_MAX_SENDS_PER_SECOND: '10000',
  WARMUP_DAYS: '0',
  WARMED_UP_DAILY_LIMIT: '10000000',
  // Another test file's brief global pause then holds a send for a second, not five.
  KILL_SWITCH_RECHECK_SECONDS: '1',
  // Every worker's webhook relay serves every tenant in the shared database: the webhook tests' receivers are on
  // 127.0.0.1, and a strict worker of another file would fail their deliveries as unsafe and back them off.
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
};

/** Runs an entry point against the suite's PostgreSQL and dev server unless `env` says otherwise. */
export function startEntry(entry: 'worker/index.ts' | 'api/index.ts', env: Record<string, string>): EntryProcess {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'info',
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      ...roomyCapacityEnv,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      exitCode = code ?? -1;
      resolve(code);
    }),
  );
  return {
    child,
    spawnedAt,
    output: () => output,
    exited,
    logged(message, timeoutMs = 150_000) {
      const needle = `"msg":"${message}"`;
      return until(
        () => {
          if (output.includes(needle)) return Date.now();
          if (exitCode !== undefined)
            throw new Error(`${entry} exited (${exitCode}) before logging "${message}":\n${output}`);
          return null;
        },
        `${entry} to log "${message}"`,
        timeoutMs,
      );
    },
    kill: () => stopChild(child, { graceMs: 0 }),
    stop: () => stopChild(child, { graceMs: 45_000 }),
  };
}

/** For afterEach/afterAll: no process outlives its test, whatever happened. */
export async function killAllEntries(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child, { graceMs: 0 })));
}
