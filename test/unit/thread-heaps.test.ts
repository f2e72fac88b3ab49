// The workflow threads' heaps are read from inside the process, each thread's own isolate, not the main thread's.
import { Worker } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import { readThreadHeaps } from '../../worker/thread-heaps.js';

const mib = 1024 * 1024;
let thread: Worker | undefined;

afterEach(async () => {
  await thread?.terminate();
});

/** A thread that keeps `objects` small objects alive and says so once they exist. */
async function threadHolding(objects: number): Promise<Worker> {
  const started = new Worker(
    `const { parentPort } = require('node:worker_threads');
     globalThis.kept = Array.from({ length: ${objects} }, (_, i) => ({ i }));
     parentPort.postMessage('ready');
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  await new Promise((resolve) => started.once('message', resolve));
  return started;
}

it("reads another thread's V8 heap, which the main thread's figures leave out", async () => {
  const mainHeapBefore = process.memoryUsage().heapUsed;
  thread = await threadHolding(2_000_000);
  const heaps = await readThreadHeaps();
  expect(heaps.threads).toBeGreaterThanOrEqual(1);
  // Two million small objects take well over 40 MiB, all of it in the thread's isolate.
  expect(heaps.usedBytes).toBeGreaterThan(40 * mib);
  expect(heaps.totalBytes).toBeGreaterThanOrEqual(heaps.usedBytes);
  expect(process.memoryUsage().heapUsed - mainHeapBefore).toBeLessThan(20 * mib);
});

it('counts the threads running at the time of each read', async () => {
  const without = await readThreadHeaps();
  thread = await threadHolding(1000);
  expect((await readThreadHeaps()).threads).toBe(without.threads + 1);
  await thread.terminate();
  thread = undefined;
  expect((await readThreadHeaps()).threads).toBe(without.threads);
});
