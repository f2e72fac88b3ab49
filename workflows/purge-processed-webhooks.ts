import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { recordActivityOptions } from './activity-options.js';

export const purgeProcessedWebhooksWorkflowType = 'purgeProcessedWebhooks';

// The next hourly run picks up whatever a failed one left, so a few attempts are enough.
const { deleteProcessedWebhooks } = proxyActivities<Activities>({
  ...recordActivityOptions,
  retry: { ...recordActivityOptions.retry, maximumAttempts: 10 },
});

/** Run by a Temporal Schedule: Twilio retries a webhook within minutes, so a day of processed keys is plenty. */
export async function purgeProcessedWebhooks(): Promise<number> {
  return deleteProcessedWebhooks({ olderThanHours: 24 });
}
