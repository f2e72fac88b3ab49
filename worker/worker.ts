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

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** How long after the grace time a worker whose activities ignore cancellation keeps waiting before it gives up. */
export const shutdownForceMarginSeconds = 5;

export function createWorker({ connection, namespace, taskQueue, workflowBundlePath, shutdownGraceSeconds, ...activityDeps }: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    activities: createActivities(activityDeps),
    ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : { workflowsPath }),
    ...(shutdownGraceSeconds === undefined
      ? {}
      : { shutdownGraceTime: shutdownGraceSeconds * 1000, shutdownForceTime: (shutdownGraceSeconds + shutdownForceMarginSeconds) * 1000 }),
  });
}
