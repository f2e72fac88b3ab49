// What a patch marker costs the engine: the SDK upserts TemporalChangeVersion with every marker a new run records, and
// the engine writes the run's visibility once per upsert. Starts runs that record 1, 3 and 9 markers in their first
// task and sleep (PATCH_MARKERS), and, as the control, runs with one marker and one 1 ms timer (a workflow task more),
// in batches whose order alternates, on a dev server of its own. Reports the server's CPU per run (and this process's:
// the worker and the starts), the least-squares slope per marker, and what the control's task added.
//   npm run bench:patches            (PATCH_RUNS=1000 per batch, PATCH_ROUNDS=3, PATCH_MARKERS=1,3,9 by default)
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { freePort } from '../../common/free-port.js';
import { workerTuning } from '../../worker/worker.js';
import { startDevServer } from '../stack/temporal.js';
import { treeCpuSeconds } from './proc.js';
import { startConcurrency } from './sections.js';
import { sleep } from './stats.js';

const runs = Number(process.env.PATCH_RUNS ?? 1000);
const rounds = Number(process.env.PATCH_ROUNDS ?? 3);
const markerCounts = (process.env.PATCH_MARKERS ?? '1,3,9').split(',').map(Number);
const taskQueue = 'bench-patches';

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startDevServer({ port: await freePort() });
const serverCpu = () => treeCpuSeconds({ server: server.process.pid }).server ?? 0;
const nativeConnection = await NativeConnection.connect({ address: server.address });
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });
const worker = await Worker.create({
  connection: nativeConnection,
  namespace: 'default',
  taskQueue,
  ...workerTuning,
  workflowsPath: fileURLToPath(new URL('./patch-workflows.ts', import.meta.url)),
});

/** The server's CPU per second (cores) over one quiet second: what it spends with nothing to do. */
async function idleRate(): Promise<number> {
  const before = serverCpu();
  await sleep(1000);
  return serverCpu() - before;
}

/** Waits until a second passes with the server close to its idle rate: every task and visibility write is done. */
async function untilQuiet(idle: number): Promise<void> {
  for (;;) {
    const before = serverCpu();
    await sleep(1000);
    if (serverCpu() - before <= idle + 0.03) return;
  }
}

interface Variant {
  markers: number;
  timers: number;
}
interface Cost {
  variant: Variant;
  server: number;
  worker: number;
}
const label = ({ markers, timers }: Variant) =>
  `${markers} marker${markers === 1 ? '' : 's'}${timers ? ` + ${timers} timer` : ''}`;

/** Core-milliseconds per run of the server and of this process (the worker and the starts), for one batch. */
async function batch(variant: Variant, round: number): Promise<Cost> {
  const idle = await idleRate();
  const started = performance.now();
  const [serverBefore, workerBefore] = [serverCpu(), process.cpuUsage()];
  for (let next = 0; next < runs; next += startConcurrency) {
    const ids = Array.from({ length: Math.min(startConcurrency, runs - next) }, (_, i) => next + i);
    await Promise.all(
      ids.map((i) =>
        client.workflow.start('benchPatches', {
          taskQueue,
          workflowId: `patches-${variant.markers}-${variant.timers}-${round}-${i}`,
          args: [variant],
        }),
      ),
    );
  }
  await untilQuiet(idle);
  // The quiet second that ended the wait is idle time too.
  const seconds = (performance.now() - started) / 1000;
  const worker = process.cpuUsage(workerBefore);
  return {
    variant,
    server: ((serverCpu() - serverBefore - idle * seconds) * 1000) / runs,
    worker: (worker.user + worker.system) / 1000 / runs,
  };
}

const average = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Least-squares slope of y on x. */
function slope(points: [number, number][]): number {
  const [mx, my] = [average(points.map(([x]) => x)), average(points.map(([, y]) => y))];
  const covariance = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  return covariance / points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
}
const fmt = (ms: number) => ms.toFixed(2);

try {
  const variants: Variant[] = [...markerCounts.map((markers) => ({ markers, timers: 0 })), { markers: 1, timers: 1 }];
  const costs: Cost[] = [];
  await worker.runUntil(async () => {
    await untilQuiet(await idleRate());
    for (let round = 0; round < rounds; round += 1) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const cost = await batch(variant, round);
        costs.push(cost);
        process.stdout.write(
          `round ${round + 1}, ${label(variant)}: server ${fmt(cost.server)}, worker ${fmt(cost.worker)} core-ms per run\n`,
        );
      }
    }
  });
  const mean = (variant: Variant, side: 'server' | 'worker') =>
    average(costs.filter((cost) => cost.variant === variant).map((cost) => cost[side]));
  const markerOnly = costs.filter((cost) => cost.variant.timers === 0);
  const perMarker = (side: 'server' | 'worker') =>
    slope(markerOnly.map((cost): [number, number] => [cost.variant.markers, cost[side]]));
  const [oneMarker, control] = [variants.find((v) => v.markers === 1 && v.timers === 0), variants.at(-1) as Variant];
  process.stdout.write(
    [
      `${runs} runs per batch, ${rounds} rounds; core-ms per run (mean), server / worker:`,
      ...variants.map(
        (variant) => `  ${label(variant)}: ${fmt(mean(variant, 'server'))} / ${fmt(mean(variant, 'worker'))}`,
      ),
      `  per marker (slope): ${fmt(perMarker('server'))} / ${fmt(perMarker('worker'))}`,
      ...(oneMarker
        ? [
            `  the control's timer (a workflow task more): ${fmt(mean(control, 'server') - mean(oneMarker, 'server'))} / ${fmt(mean(control, 'worker') - mean(oneMarker, 'worker'))}`,
          ]
        : []),
    ].join('\n') + '\n',
  );
} finally {
  await Promise.all([nativeConnection.close(), connection.close()]);
  await server.stop();
}
