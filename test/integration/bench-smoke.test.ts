// The benchmark harness at a tiny scale, so `npm run bench` keeps working: it must start and stop its own stack and
// report every section with plausible numbers. The targets themselves are never asserted here (a smoke run on a busy
// CI machine says nothing about them); docs/benchmarks.md holds the full-scale figures.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataDir, projectRoot } from '../../scripts/stack/paths.js';

const outDir = mkdtempSync(path.join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function runBench(env: Record<string, string>): Promise<{ code: number | null; output: string; pid: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/index.ts'], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output, pid: child.pid as number }));
  });
}

const positive = (value: unknown) =>
  expect(
    typeof value === 'number' && Number.isFinite(value) && value > 0,
    `${String(value)} should be a positive number`,
  ).toBe(true);

describe('npm run bench (smoke scale)', () => {
  it('runs all eight measurements on a stack of its own, writes JSON and markdown, and cleans up', async () => {
    const leads = 30;
    const timers = 10;
    const { code, output, pid } = await runBench({
      BENCH_LEADS: String(leads),
      BENCH_WARM_LEADS: '5',
      BENCH_TIMERS: String(timers),
      BENCH_STOPS: '5',
      BENCH_READ_SECONDS: '1',
      BENCH_READ_CONNECTIONS: '4',
      BENCH_WEBHOOK_EVENTS: '50',
      BENCH_ANALYTICS_MESSAGES: '300',
      BENCH_OUT_DIR: outDir,
      BENCH_LABEL: 'smoke',
    });
    expect(code, output).toBe(0);
    expect(existsSync(path.join(dataDir, `bench-${pid}`)), 'the data folder is removed').toBe(false);

    const result = JSON.parse(readFileSync(path.join(outDir, 'benchmarks.json'), 'utf8'));
    const { baseline, enrollment, sleeping, stop, timers: timer, reads } = result.sections;
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.command).toContain('npm run bench');

    expect(baseline.workflows).toBe(leads);
    positive(baseline.startsPerSecond);
    positive(baseline.completionsPerSecond);
    expect(baseline.completeSeconds).toBeGreaterThanOrEqual(baseline.startSeconds);

    expect(enrollment.leads).toBe(leads);
    positive(enrollment.allStartedSeconds);
    expect(enrollment.allFirstMessagesSeconds).toBeGreaterThan(0);
    expect(enrollment.firstMessageSeconds.count).toBe(leads);

    expect(sleeping.from.sleeping).toBe(5);
    expect(sleeping.to.sleeping).toBe(5 + leads);
    for (const snapshot of [sleeping.from, sleeping.to]) {
      positive(snapshot.workerRssMiB);
      positive(snapshot.serverRssMiB);
      positive(snapshot.postgresDatabaseMiB);
      // The worker's memory split: the main heap and the workflow threads' heaps, each read from the worker's /metrics.
      positive(snapshot.workerMemory.heapTotalMiB);
      positive(snapshot.workerMemory.threadHeapsTotalMiB);
    }

    expect(stop.stops).toBe(5);
    positive(stop.latencyMs.p50);
    expect(stop.latencyMs.p99).toBeGreaterThanOrEqual(stop.latencyMs.p50);
    expect(stop.latencyMs.max).toBeLessThan(30_000);

    expect(timer.sends).toBe(timers);
    expect(timer.latenessMs.count).toBe(timers);
    // A send may not come before its due instant; it may be late by anything a busy machine imposes.
    expect(timer.latenessMs.p50).toBeGreaterThanOrEqual(0);

    expect(result.sections.webhooks).toMatchObject({ events: 50, delivered: 50, unverified: 0 });
    positive(result.sections.webhooks.allDeliveredSeconds);

    expect(reads.length).toBeGreaterThanOrEqual(3);
    for (const read of reads) {
      positive(read.requests);
      expect(read.non2xx, read.endpoint).toBe(0);
      positive(read.latencyMs.p95);
    }
    const { analytics } = result.sections;
    expect(analytics).toMatchObject({ messages: 300, enrollments: 100 });
    positive(analytics.counterRows);
    expect(analytics.reads).toHaveLength(2);
    for (const read of analytics.reads) {
      positive(read.requests);
      expect(read.non2xx, read.endpoint).toBe(0);
      positive(read.latencyMs.p95);
    }
    expect(reads.map((read: { endpoint: string }) => read.endpoint)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^GET \/v1\/appointments\/:id/)]),
    );
    expect(result.targets.length).toBeGreaterThanOrEqual(6);

    expect(result.ratios.engine).toBe('dev');
    for (const name of ['startsVsBaseline', 'firstMessagesVsBaseline', 'timerDrainVsBaseline'])
      positive(result.ratios[name]);

    const markdown = readFileSync(path.join(outDir, 'benchmarks.md'), 'utf8');
    for (const heading of ['1. baseline', '2. enrollment', '3. sleeping', '4. STOP', '5. timers', '6. GET', '8. GET'])
      expect(markdown).toContain(heading);
  }, 240_000);
});
