import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { WeeklyReportResult } from '../activities/weekly-report.js';
import { recordActivityOptions } from './activity-options.js';

export const weeklyReportWorkflowType = 'weeklyReport';

export interface WeeklyReportWorkflowInput {
  tenantId: string;
}

// Counting a week of a large tenant's records may take a while; a week's report is worth retrying for a day.
const { recordWeeklyReport } = proxyActivities<Activities>({
  ...recordActivityOptions,
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '1 day',
});

/**
 * Run by the tenant's Temporal Schedule every Monday at 08:00 in its zone (worker/schedules.ts): the week that just
 * ended, compared with the week before, as a `report.weekly` event. The week is the one before the run's start, so
 * a late retry still reports the same week.
 */
export async function weeklyReport({ tenantId }: WeeklyReportWorkflowInput): Promise<WeeklyReportResult> {
  return recordWeeklyReport({ tenantId, at: new Date().toISOString() });
}
