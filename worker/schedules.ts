import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { purgeProcessedWebhooksWorkflowType } from '../workflows/purge-processed-webhooks.js';

export const purgeScheduleId = 'purge-processed-webhooks';

/** Created once per namespace; every worker start asks, and the ones after the first find it there. */
export async function ensurePurgeSchedule(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: purgeScheduleId,
      spec: { intervals: [{ every: '1 hour' }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      action: {
        type: 'startWorkflow',
        workflowType: purgeProcessedWebhooksWorkflowType,
        taskQueue,
        workflowId: purgeScheduleId,
      },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
}
