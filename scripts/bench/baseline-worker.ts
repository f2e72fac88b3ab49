// A worker process for the baseline: trivial workflows (scripts/bench/baseline-workflows.ts) with the same worker
// tuning as the service's worker, on a task queue of their own.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { workerTuning } from '../../worker/worker.js';
import type { BaselineActivities } from './baseline-workflows.js';

const activities: BaselineActivities = {
  async noop(): Promise<void> {},
};

const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const taskQueue = process.env.BENCH_TASK_QUEUE ?? 'bench-baseline';
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  namespace: 'default',
  taskQueue,
  ...workerTuning,
  activities,
  workflowsPath: fileURLToPath(new URL('./baseline-workflows.ts', import.meta.url)),
});
// The SDK's runtime stops the worker on SIGTERM; run() then resolves.
process.stdout.write('baseline worker ready\n');
await worker.run();
await connection.close();
process.exit(0);
