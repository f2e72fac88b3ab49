import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';

export interface WorkerDeps extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (production); without it the worker bundles workflows/ at start (development, tests). */
  workflowBundlePath?: string | undefined;
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export function createWorker({ connection, namespace, taskQueue, workflowBundlePath, ...activityDeps }: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    activities: createActivities(activityDeps),
    ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : { workflowsPath }),
  });
}
