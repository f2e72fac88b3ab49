// The result as JSON and as the markdown table in docs/benchmarks.md (between the bench:latest markers).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BenchResult } from './index.js';
import { analyticsLines, analyticsTargets } from './analytics-report.js';
import type { SleepingSnapshot } from './sections.js';
import { round } from './stats.js';

export interface TargetCheck {
  target: string;
  limit: string;
  measured: string;
  met: boolean | null;
}

const fmt = (value: number | null | undefined, unit = '') =>
  value === null || value === undefined || Number.isNaN(value) ? 'n/a' : `${value}${unit}`;

/**
 * Where the worker's memory went between two readings: the main thread's V8 heap, the workflow threads' V8 heaps, the
 * native rest of the process (RSS less both heaps' reserved size: the SDK's core, allocator arenas), the sticky cache.
 */
function workerMemoryLine(from: SleepingSnapshot, to: SleepingSnapshot): string {
  const native = ({ workerRssMiB, workerMemory }: SleepingSnapshot) =>
    workerRssMiB === null || workerMemory.heapTotalMiB === null || workerMemory.threadHeapsTotalMiB === null
      ? null
      : round(workerRssMiB - workerMemory.heapTotalMiB - workerMemory.threadHeapsTotalMiB, 1);
  const [a, b] = [from.workerMemory, to.workerMemory];
  const change = (before: number | null, after: number | null, unit: string) =>
    `${fmt(before, unit)} → ${fmt(after, unit)}`;
  return [
    `Worker: main thread's V8 heap used ${change(a.heapUsedMiB, b.heapUsedMiB, ' MiB')} (reserved ${change(a.heapTotalMiB, b.heapTotalMiB, ' MiB')})`,
    `workflow threads' V8 heaps used ${change(a.threadHeapsUsedMiB, b.threadHeapsUsedMiB, ' MiB')} (reserved ${change(a.threadHeapsTotalMiB, b.threadHeapsTotalMiB, ' MiB')})`,
    `native (RSS − both heaps reserved) ${change(native(from), native(to), ' MiB')}`,
    `runs in the sticky cache ${change(a.cachedRuns, b.cachedRuns, '')}`,
  ].join(', ');
}

/**
 * The engine's own yardsticks (issue 15), each against the baseline measured in the same run on the same server:
 * enrollment starts/s over baseline starts/s, first messages/s and due-at-once timer sends drained/s over baseline
 * completions/s.
 */
export function ratiosOf(result: BenchResult, engine: string) {
  const { baseline, enrollment, timers } = result.sections;
  const perBaselineCompletion = (perSecond: number) => round(perSecond / baseline.completionsPerSecond, 3);
  return {
    engine,
    startsVsBaseline: round(enrollment.startsPerSecond / baseline.startsPerSecond, 3),
    firstMessagesVsBaseline: perBaselineCompletion(enrollment.firstMessagesSent / enrollment.allFirstMessagesSeconds),
    // Drained: every send out, counted from the instant they were all due.
    timerDrainVsBaseline: perBaselineCompletion(timers.sends / (Math.max(timers.latenessMs.max, 1) / 1000)),
  };
}

export function targetChecks(result: BenchResult): TargetCheck[] {
  const { baseline, enrollment, sleeping, stop, timers, reads, webhooks, analytics } = result.sections;
  const ratio = enrollment.startsPerSecond / baseline.startsPerSecond;
  const flat = sleeping.workerRssChangePercent;
  return [
    {
      target: `${enrollment.leads} enrollments started`,
      limit: '≤ 30 s',
      measured: fmt(enrollment.allStartedSeconds, ' s'),
      met: enrollment.allStartedSeconds <= 30,
    },
    {
      target: 'every first message sent',
      limit: '≤ 60 s',
      measured:
        enrollment.firstMessagesSent < enrollment.leads
          ? `incomplete: ${enrollment.firstMessagesSent} of ${enrollment.leads} within the wait`
          : fmt(enrollment.allFirstMessagesSeconds, ' s'),
      met: enrollment.firstMessagesSent === enrollment.leads && enrollment.allFirstMessagesSeconds <= 60,
    },
    {
      target: 'enrollment start rate / baseline start rate',
      limit: '≥ 80%',
      measured: `${Math.round(ratio * 100)}% (${enrollment.startsPerSecond}/s vs ${baseline.startsPerSecond}/s)`,
      met: ratio >= 0.8,
    },
    {
      target: `STOP → closed p99, ${stop.sleepingDuring} asleep`,
      limit: '≤ 1 s',
      measured: fmt(stop.latencyMs.p99, ' ms'),
      met: stop.latencyMs.p99 <= 1000,
    },
    {
      target: `timer lateness p99, ${timers.sends} due at once`,
      limit: '≤ 2 s',
      measured: fmt(timers.latenessMs.p99, ' ms'),
      met: timers.latenessMs.p99 <= 2000,
    },
    {
      target: `worker RSS from ${sleeping.from.sleeping} to ${sleeping.to.sleeping} asleep`,
      limit: '±10%',
      measured: `${fmt(sleeping.from.workerRssMiB, ' MiB')} → ${fmt(sleeping.to.workerRssMiB, ' MiB')} (${flat !== null && flat >= 0 ? '+' : ''}${fmt(flat, '%')})`,
      met: flat === null ? null : Math.abs(flat) <= 10,
    },
    ...reads.map((read) => ({
      target: `${read.endpoint} p95`,
      limit: '≤ 50 ms',
      measured: fmt(read.latencyMs.p95, ' ms'),
      met: read.latencyMs.p95 <= 50,
    })),
    {
      target: `${webhooks.events} webhook events delivered, a slow tenant beside`,
      limit: '≤ 60 s',
      measured:
        webhooks.delivered < webhooks.events
          ? `incomplete: ${webhooks.delivered} of ${webhooks.events} within the wait`
          : fmt(webhooks.allDeliveredSeconds, ' s'),
      met: webhooks.delivered === webhooks.events && webhooks.allDeliveredSeconds <= 60,
    },
    ...analyticsTargets(analytics),
  ];
}

const cpuLine = (cpu: {
  percentOfCore: Record<string, number>;
  machinePercentOfCore: number;
  otherPercentOfCore: number;
  wallSeconds: number;
}) =>
  `${Object.entries(cpu.percentOfCore)
    .filter(([, value]) => value > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([name, value]) => `${name} ${value}%`)
    .join(
      ', ',
    )}; machine ${cpu.machinePercentOfCore}% of 200%, others ${cpu.otherPercentOfCore}% (${cpu.wallSeconds} s)`;

export function markdown(result: BenchResult, ratios: ReturnType<typeof ratiosOf>): string {
  const { baseline, enrollment, sleeping, stop, timers, reads, webhooks, analytics } = result.sections;
  const m = result.machine;
  const lines = [
    `Run ${result.finishedAt}${result.label ? ` — ${result.label}` : ''}: \`${result.command}\``,
    `on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average before ${result.loadBefore.join(' / ')}, after ${result.loadAfter.join(' / ')}; ${result.totalSeconds} s in all.`,
    `Scale: ${JSON.stringify(result.scale)}.`,
    `Ratios on the ${ratios.engine} engine: starts ${ratios.startsVsBaseline}, first messages ${ratios.firstMessagesVsBaseline}, timer drain ${ratios.timerDrainVsBaseline} (of the baseline's).`,
    '',
    '| target | limit | measured | met |',
    '| --- | --- | --- | --- |',
    ...targetChecks(result).map(
      (check) =>
        `| ${check.target} | ${check.limit} | ${check.measured} | ${check.met === null ? 'n/a' : check.met ? 'yes' : '**no**'} |`,
    ),
    '',
    '| measurement | figures | CPU during it (% of one core) |',
    '| --- | --- | --- |',
    `| 1. baseline: ${baseline.workflows} no-op workflows | started in ${baseline.startSeconds} s (${baseline.startsPerSecond}/s), all completed after ${baseline.completeSeconds} s (${baseline.completionsPerSecond}/s) | ${cpuLine(baseline.cpu)} |`,
    `| 2. enrollment: ${enrollment.leads} leads in one batch | all started ${enrollment.allStartedSeconds} s (${enrollment.startsPerSecond}/s); first messages p50 ${enrollment.firstMessageSeconds.p50} s, p99 ${enrollment.firstMessageSeconds.p99} s, all ${enrollment.allFirstMessagesSeconds} s | ${cpuLine(enrollment.cpu)} |`,
    `| 3. sleeping: ${sleeping.from.sleeping} → ${sleeping.to.sleeping} asleep | worker RSS ${sleeping.from.workerRssMiB} → ${sleeping.to.workerRssMiB} MiB, server RSS ${sleeping.from.serverRssMiB} → ${sleeping.to.serverRssMiB} MiB, PostgreSQL ${sleeping.from.postgresDatabaseMiB} → ${sleeping.to.postgresDatabaseMiB} MiB, Temporal's store ${sleeping.from.temporalStoreMiB} → ${sleeping.to.temporalStoreMiB} MiB; per added sleeping enrollment: worker ${fmt(sleeping.perSleepingEnrollmentKiB.worker, ' KiB')}, server ${fmt(sleeping.perSleepingEnrollmentKiB.server, ' KiB')}, PostgreSQL ${fmt(sleeping.perSleepingEnrollmentKiB.postgresDatabase, ' KiB')}, Temporal's store ${fmt(sleeping.perSleepingEnrollmentKiB.temporalStore, ' KiB')}. ${workerMemoryLine(sleeping.from, sleeping.to)} | |`,
    `| 4. STOP: ${stop.stops} in a row, ${stop.sleepingDuring} asleep | webhook → row \`opted_out\`: p50 ${stop.latencyMs.p50} ms, p95 ${stop.latencyMs.p95} ms, p99 ${stop.latencyMs.p99} ms, max ${stop.latencyMs.max} ms (webhook answered: p50 ${stop.webhookAnswerMs.p50} ms, p99 ${stop.webhookAnswerMs.p99} ms) | ${cpuLine(stop.cpu)} |`,
    `| 5. timers: ${timers.sends} sends due at one instant, ${timers.sleepingDuring} asleep | lateness p50 ${timers.latenessMs.p50} ms, p99 ${timers.latenessMs.p99} ms, max ${timers.latenessMs.max} ms (started ${timers.startsDoneBeforeDueSeconds} s before due) | ${cpuLine(timers.cpu)} |`,
    ...reads.map(
      (read) =>
        `| 6. ${read.endpoint}, ${read.connections} connections, ${read.seconds} s | p50 ${read.latencyMs.p50} ms, p95 ${read.latencyMs.p95} ms, p99 ${read.latencyMs.p99} ms; ${read.requestsPerSecond} req/s, ${read.non2xx} non-2xx, ${read.errors} errors | ${cpuLine(read.cpu)} |`,
    ),
    ...analyticsLines(analytics, cpuLine),
    `| 7. webhooks: ${webhooks.events} events for one tenant, another's endpoint answering in ${webhooks.slowAnswerMs} ms | recorded in ${webhooks.recordSeconds} s; ${webhooks.delivered} delivered and verified after ${fmt(webhooks.allDeliveredSeconds, ' s')} (${webhooks.deliveriesPerSecond}/s), ${webhooks.duplicates} duplicates, ${webhooks.unverified} unverified; the slow endpoint answered ${webhooks.slowAnswered} meanwhile | ${cpuLine(webhooks.cpu)} |`,
  ];
  return lines.join('\n');
}

const latestStart = '<!-- bench:latest:start (written by npm run bench) -->';
const latestEnd = '<!-- bench:latest:end -->';

/** Where a generated section goes in docs/benchmarks.md: between its markers, or appended under its heading. */
export interface MarkdownSection {
  heading: string;
  start: string;
  end: string;
}

export const latestSection: MarkdownSection = { heading: 'Latest run', start: latestStart, end: latestEnd };

/** Replaces the section between the markers (or writes a new file with just it); the rest of the file is left alone. */
export function writeMarkdown(file: string, section: string, where: MarkdownSection): void {
  const block = `${where.start}\n${section}\n${where.end}`;
  if (!existsSync(file)) return writeFileSync(file, `# Benchmarks\n\n## ${where.heading}\n\n${block}\n`);
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(where.start);
  const end = text.indexOf(where.end);
  writeFileSync(
    file,
    start >= 0 && end > start
      ? `${text.slice(0, start)}${block}${text.slice(end + where.end.length)}`
      : `${text.trimEnd()}\n\n## ${where.heading}\n\n${block}\n`,
  );
}
