// The engine's ceiling: the smallest useful workflow, one no-op activity. Bundled by the baseline worker only.
import { proxyActivities } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<BaselineActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [] },
});

export async function benchNoop(): Promise<void> {
  await noop();
}
