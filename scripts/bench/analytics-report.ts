// Section 8's target rows and table lines in docs/benchmarks.md (scripts/bench/analytics.ts measures it).
import type { AnalyticsResult } from './analytics.js';
import type { CpuWindow } from './proc.js';

/** Issue 17: each analytics route answers within 100 ms at the 95th percentile with 100,000 messages in the tenant. */
export const analyticsP95LimitMs = 100;

export const analyticsTargets = (analytics: AnalyticsResult) =>
  analytics.reads.map((read) => ({
    target: `${read.endpoint} p95, ${analytics.messages} messages`,
    limit: `≤ ${analyticsP95LimitMs} ms`,
    measured: `${read.latencyMs.p95} ms`,
    met: read.latencyMs.p95 <= analyticsP95LimitMs,
  }));

export const analyticsLines = (analytics: AnalyticsResult, cpuLine: (cpu: CpuWindow) => string) =>
  analytics.reads.map(
    (read) =>
      `| 8. ${read.endpoint}: ${analytics.messages} messages, ${analytics.enrollments} enrollments (facts counted in bulk SQL in ${analytics.countSeconds} s into ${analytics.counterRows} counter rows), ${read.connections} connections, ${read.seconds} s | p50 ${read.latencyMs.p50} ms, p95 ${read.latencyMs.p95} ms, p99 ${read.latencyMs.p99} ms; ${read.requestsPerSecond} req/s, ${read.non2xx} non-2xx, ${read.errors} errors | ${cpuLine(read.cpu)} |`,
  );
