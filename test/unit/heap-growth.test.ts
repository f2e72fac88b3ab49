// The worker keeps each V8 heap near what it holds: a process that holds 50 MiB and churns through 1.5 GiB of garbage
// stays well under the room V8's own factor would let each heap take.
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { heapGrowthFlag } from '../../worker/heap-growth.js';

const churnWithTheFactorSet = `
  import { limitHeapGrowth } from './worker/heap-growth.ts';
  import { Worker } from 'node:worker_threads';
  limitHeapGrowth();
  // The same load on the main thread and on a thread started afterwards, as the SDK starts its workflow thread.
  const load = \`
    const live = Array.from({ length: 50 }, (_, i) => new Array(128 * 1024).fill(i));
    let peak = 0, garbage;
    for (let round = 0; round < 1500; round += 1) {
      garbage = [new Array(128 * 1024).fill(round)];
      if (round % 10 === 0) live[round % 50] = new Array(128 * 1024).fill(round);
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    peak / 2 ** 20\`;
  const mainPeak = eval(load);
  const thread = new Worker(
    \`import('node:worker_threads').then(({ parentPort }) => parentPort.postMessage(eval(\${JSON.stringify(load)})))\`,
    { eval: true },
  );
  const threadPeak = await new Promise((resolve) => thread.once('message', resolve));
  console.log(JSON.stringify({ mainPeak, threadPeak }));
`;

function peaksMiB(): { mainPeak: number; threadPeak: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', churnWithTheFactorSet], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as { mainPeak: number; threadPeak: number };
}

it('keeps the main heap and a heap of a thread started afterwards near what they hold', () => {
  const limited = peaksMiB();
  // 50 MiB live (each array of 128 Ki numbers is 1 MiB): each heap peaked at 155-165 MiB with the factor set here,
  // and at 290-300 MiB without limitHeapGrowth (three runs each).
  expect(limited.mainPeak).toBeLessThan(220);
  expect(limited.threadPeak).toBeLessThan(220);
});

it('leaves a growing factor given on the command line alone', () => {
  expect(heapGrowthFlag(['--heap-growing-percent=20'])).toBeNull();
  expect(heapGrowthFlag(['--heap_growing_percent=20'])).toBeNull();
  expect(heapGrowthFlag(['--import', 'tsx'])).toBe('--heap-growing-percent=50');
});
