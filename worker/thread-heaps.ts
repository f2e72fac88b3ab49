// The V8 heaps of the worker's other threads (the Temporal SDK's workflow threads, where cached runs live), which
// prom-client's nodejs_heap_* leave out: those are the main thread's isolate only. Read at scrape time through an
// in-process inspector session (no port is opened, and it is closed again after each read), so the worker's RSS can
// be split into the main heap, the workflow threads' heaps, and native memory (the SDK's core, allocator arenas).
import { Session } from 'node:inspector/promises';
import { Gauge, type Registry } from 'prom-client';

export interface ThreadHeaps {
  /** The threads that answered within the timeout. */
  threads: number;
  usedBytes: number;
  totalBytes: number;
}

interface HeapReply {
  id: number;
  result?: { result?: { value?: string } };
}

const heapOfThread = 'JSON.stringify(process.memoryUsage())';

/** Every worker thread's `process.memoryUsage()`, which in a thread describes that thread's own isolate. */
export async function readThreadHeaps(timeoutMs = 2000): Promise<ThreadHeaps> {
  const session = new Session();
  session.connect();
  const threads: string[] = [];
  const replies = new Map<number, (reply: HeapReply) => void>();
  session.on('NodeWorker.attachedToWorker', ({ params }) => threads.push(params.sessionId));
  session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
    const reply = JSON.parse(params.message) as HeapReply;
    replies.get(reply.id)?.(reply);
  });
  try {
    // The attach events of the threads already running arrive before enable answers.
    await session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    const heaps = await Promise.all(
      threads.map(async (sessionId, index) => {
        const answered = new Promise<HeapReply>((resolve) => replies.set(index + 1, resolve));
        const message = { id: index + 1, method: 'Runtime.evaluate', params: { expression: heapOfThread } };
        await session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify(message) });
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = new Promise<null>((resolve) => (timer = setTimeout(resolve, timeoutMs, null)));
        const reply = await Promise.race([answered, gaveUp]).finally(() => clearTimeout(timer));
        const value = reply?.result?.result?.value;
        return value ? (JSON.parse(value) as NodeJS.MemoryUsage) : null;
      }),
    );
    const answered = heaps.filter((heap): heap is NodeJS.MemoryUsage => heap !== null);
    return {
      threads: answered.length,
      usedBytes: answered.reduce((sum, heap) => sum + heap.heapUsed, 0),
      totalBytes: answered.reduce((sum, heap) => sum + heap.heapTotal, 0),
    };
  } finally {
    await session.post('NodeWorker.disable').catch(() => undefined);
    session.disconnect();
  }
}

/** `leadfollowup_worker_threads_heap_bytes{kind="used"|"total"}`, read at each scrape. */
export function registerThreadHeapGauge(registry: Registry): void {
  new Gauge({
    name: 'leadfollowup_worker_threads_heap_bytes',
    help: "V8 heap of the threads besides the main one (the Temporal SDK's workflow threads), summed: used, and total (reserved); nodejs_heap_* is the main thread's",
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const heaps = await readThreadHeaps();
      this.set({ kind: 'used' }, heaps.usedBytes);
      this.set({ kind: 'total' }, heaps.totalBytes);
    },
  });
}
