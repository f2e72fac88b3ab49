import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll } from 'vitest';
import { DefaultLogger, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../../activities/index.js';
import { testServerPath } from '../../scripts/stack/paths.js';
import { registerSearchAttributes } from '../../worker/search-attributes.js';
import { workflowsPath } from '../../worker/worker.js';

/**
 * Temporal's Java time-skipping test server, resolved from Maven Central by scripts/bootstrap.sh. Passing its path
 * keeps the SDK from trying to download a test server, which cannot work on these machines.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** Bundled once per test file: bundling is the slow part of creating a worker. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
}

export interface TimeSkippingSuite {
  env: TestWorkflowEnvironment;
  workflowBundle: WorkflowBundleWithSourceMap;
  /** Runs `body` while a worker with these (fake) activities polls a task queue of its own, then stops the worker. */
  withWorker<T>(activities: Partial<Activities>, body: (taskQueue: string) => Promise<T>): Promise<T>;
}

/** One time-skipping server and one workflow bundle for a whole test file; read them inside tests, not at load. */
export function useTimeSkippingEnv(): TimeSkippingSuite {
  const suite = {
    async withWorker(activities, body) {
      const taskQueue = `test-${randomUUID()}`;
      const worker = await Worker.create({
        connection: suite.env.nativeConnection,
        taskQueue,
        workflowBundle: suite.workflowBundle,
        activities,
      });
      return worker.runUntil(body(taskQueue));
    },
  } as TimeSkippingSuite;
  beforeAll(async () => {
    [suite.env, suite.workflowBundle] = await Promise.all([createTimeSkippingEnv(), bundleWorkflows()]);
  });
  afterAll(async () => {
    await suite.env?.teardown();
  });
  return suite;
}
