// Each Temporal engine's run has its own JSON and "Latest run" section, and a table puts the two side by side.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TemporalEngine } from '../stack/engine.js';
import type { BenchResult } from './index.js';
import { latestSection, writeMarkdown, type MarkdownSection } from './report.js';

export const engineOutput: Record<TemporalEngine, { json: string; section: MarkdownSection }> = {
  dev: { json: 'benchmarks.json', section: latestSection },
  postgres: {
    json: 'benchmarks-postgres.json',
    section: {
      heading: 'Latest run on the postgres engine',
      start: '<!-- bench:latest-postgres:start (written by BENCH_ENGINE=postgres npm run bench) -->',
      end: '<!-- bench:latest-postgres:end -->',
    },
  },
};

const sideBySideSection: MarkdownSection = {
  heading: 'Engines side by side',
  start: '<!-- bench:engines:start (written by npm run bench when both engines have a run) -->',
  end: '<!-- bench:engines:end -->',
};

function readRun(file: string): BenchResult | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResult) : null;
}

/** The headline figures of each engine's latest run, one column each. */
export function sideBySide(dev: BenchResult, postgres: BenchResult): string {
  const rows: Array<[string, (run: BenchResult) => string]> = [
    ['run', (run) => `${run.finishedAt.slice(0, 16)}, \`${run.command}\``],
    ['scale', (run) => `${run.scale.leads} leads, ${run.scale.baselineWorkflows} baseline, ${run.scale.timers} timers`],
    [
      '1. baseline no-op workflows',
      ({ sections: { baseline } }) =>
        `${baseline.startsPerSecond} starts/s, ${baseline.completionsPerSecond} completions/s`,
    ],
    [
      '2. enrollment batch',
      ({ sections: { enrollment } }) =>
        `started in ${enrollment.allStartedSeconds} s (${enrollment.startsPerSecond}/s); every first message ${enrollment.allFirstMessagesSeconds} s (${enrollment.firstMessagesSent} of ${enrollment.leads})`,
    ],
    [
      '3. sleeping: RSS at the second reading',
      ({ sections: { sleeping } }) =>
        `worker ${sleeping.to.workerRssMiB} MiB, Temporal server ${sleeping.to.serverRssMiB} MiB, Temporal's store ${sleeping.to.temporalStoreMiB} MiB`,
    ],
    ['4. STOP → closed', ({ sections: { stop } }) => `p50 ${stop.latencyMs.p50} ms, p99 ${stop.latencyMs.p99} ms`],
    [
      '5. timer lateness',
      ({ sections: { timers } }) => `p50 ${timers.latenessMs.p50} ms, p99 ${timers.latenessMs.p99} ms`,
    ],
    [
      '6. reads p95',
      ({ sections: { reads } }) => reads.map((read) => `${read.endpoint} ${read.latencyMs.p95} ms`).join('; '),
    ],
    [
      '7. webhooks delivered',
      ({ sections: { webhooks } }) =>
        `${webhooks.delivered} of ${webhooks.events} after ${webhooks.allDeliveredSeconds} s (${webhooks.deliveriesPerSecond}/s)`,
    ],
  ];
  return [
    '| figure | dev (`temporal server start-dev`, SQLite) | postgres (`temporal-server`, PostgreSQL, 4 shards) |',
    '| --- | --- | --- |',
    ...rows.map(([name, figure]) => `| ${name} | ${figure(dev)} | ${figure(postgres)} |`),
  ].join('\n');
}

/** Rewrites the side-by-side table in <outDir>/benchmarks.md when both engines have a run there. */
export function writeSideBySide(outDir: string): void {
  const dev = readRun(path.join(outDir, engineOutput.dev.json));
  const postgres = readRun(path.join(outDir, engineOutput.postgres.json));
  if (dev && postgres) writeMarkdown(path.join(outDir, 'benchmarks.md'), sideBySide(dev, postgres), sideBySideSection);
}
