import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';

export interface WorkerDeps extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (production); without it the worker bundles workflows/ at start (development, tests). */
  workflowBundlePath?: string | undefined;
  /**
   * After a shutdown starts (SIGTERM), in-flight activities get this long to finish before they are told to cancel;
   * the worker waits a few seconds more for them and then gives up (its `run()` rejects). Unset: the SDK's default.
   */
  shutdownGraceSeconds?: number | undefined;
}

/** workflows/index.ts beside this source file, or index.js beside the compiled one in dist/. */
export const workflowsPath = fileURLToPath(
  new URL(`../workflows/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/**
 * Worker options measured with `npm run bench` (docs/benchmarks.md). The SDK sizes its sticky cache from the heap
 * limit (about 2,300 workflows on a 4 GiB heap), and each cached run holds about 0.4 MiB: memory grew with every
 * sleeping enrollment up to that. A smaller cache keeps memory flat; a run that is not cached is replayed from its
 * (short) history when its timer fires or a signal or query comes.
 */
export const workerTuning = { maxCachedWorkflows: 500 } as const;

/**
 * The worker's PostgreSQL pool. Up to 100 activities (the SDK's default slots) plus local activities run at once and
 * most open a transaction: with 10 connections, a burst of first sends waited past Prisma's 2 s transaction wait
 * (P2028) and was retried 2 s later (docs/benchmarks.md, issue 15).
 */
export const workerDatabasePoolSize = 30;

/** How long after the grace time a worker whose activities ignore cancellation keeps waiting before it gives up. */
export const shutdownForceMarginSeconds = 5;

export function createWorker({
  connection,
  namespace,
  taskQueue,
  workflowBundlePath,
  shutdownGraceSeconds,
  ...activityDeps
}: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...workerTuning,
    activities: createActivities(activityDeps),
    ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : { workflowsPath }),
    ...(shutdownGraceSeconds === undefined
      ? {}
      : {
          shutdownGraceTime: shutdownGraceSeconds * 1000,
          shutdownForceTime: (shutdownGraceSeconds + shutdownForceMarginSeconds) * 1000,
        }),
  });
}
