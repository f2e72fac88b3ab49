import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

export const purgeProcessedWebhooksWorkflowType = 'purgeProcessedWebhooks';

const { deleteProcessedWebhooks } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 10, nonRetryableErrorTypes: [] },
});

/** Run by a Temporal Schedule: Twilio retries a webhook within minutes, so a day of processed keys is plenty. */
export async function purgeProcessedWebhooks(): Promise<number> {
  return deleteProcessedWebhooks({ olderThanHours: 24 });
}
