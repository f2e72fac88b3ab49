// `npm run bench:analytics`: section 8 of the bench alone (the analytics routes' p95 at BENCH_ANALYTICS_MESSAGES
// messages), on a stack of its own, without the hour the other sections take. Prints the target rows and table line.
import { z } from 'zod';
import { parseSettings } from '../../common/config.js';
import { analyticsReads } from './analytics.js';
import { analyticsLines, analyticsTargets } from './analytics-report.js';
import { loadAverage } from './proc.js';
import { startBenchStack, type BenchStack } from './stack.js';

const settings = parseSettings(
  z.object({
    BENCH_ANALYTICS_MESSAGES: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
    BENCH_READ_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
    BENCH_READ_CONNECTIONS: z.coerce.number().int().min(1).max(500).default(10),
  }),
);
const say = (line: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

let stack: BenchStack | undefined;
let exitCode = 0;
try {
  stack = await startBenchStack({ log: say, keepData: false, logLevel: 'info', engine: 'dev', devServerArgs: [] });
  const result = await analyticsReads(
    { stack, log: say },
    {
      messages: settings.BENCH_ANALYTICS_MESSAGES,
      seconds: settings.BENCH_READ_SECONDS,
      connections: settings.BENCH_READ_CONNECTIONS,
    },
  );
  const cpu = (window: { percentOfCore: Record<string, number>; wallSeconds: number }) =>
    `${Object.entries(window.percentOfCore)
      .filter(([, value]) => value > 0)
      .map(([name, value]) => `${name} ${value}%`)
      .join(', ')} (${window.wallSeconds} s)`;
  process.stdout.write(
    [
      '',
      `seeded in ${result.seedSeconds} s; facts counted in ${result.countSeconds} s; load average ${loadAverage().join(' / ')}`,
      ...analyticsTargets(result).map(
        (row) => `| ${row.target} | ${row.limit} | ${row.measured} | ${row.met ? 'yes' : '**no**'} |`,
      ),
      ...analyticsLines(result, cpu),
      '',
    ].join('\n'),
  );
} catch (error) {
  exitCode = 1;
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await stack?.stop();
}
process.exit(exitCode);
