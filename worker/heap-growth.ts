// V8 lets a heap grow to up to four times what survived its last full collection before it collects again, and keeps
// the room it took. In the worker both isolates (the main thread: activities, Prisma; the SDK's workflow thread: the
// cached runs) hold 100-200 MiB live but reached 350-500 MiB each during a 10,000-enrollment burst and kept it, so
// the worker's memory followed the largest burst it had seen rather than what it holds (docs/benchmarks.md). A fixed
// factor of 1.5 keeps each heap near its live size.
import v8 from 'node:v8';

const heapGrowingPercent = 50;

/** The V8 flag to set, or null when the command line already chose a growing factor (an operator's choice wins). */
export function heapGrowthFlag(execArgv: readonly string[]): string | null {
  return execArgv.some((arg) => arg.startsWith('--heap-growing-percent') || arg.startsWith('--heap_growing_percent'))
    ? null
    : `--heap-growing-percent=${heapGrowingPercent}`;
}

/**
 * Sets the factor for every isolate in the process, the workflow threads' included: V8's flags are process-wide and
 * this one is read at each full collection, so setting it at start-up works like passing it to `node`.
 */
export function limitHeapGrowth(): void {
  const flag = heapGrowthFlag(process.execArgv);
  if (flag) v8.setFlagsFromString(flag);
}
