import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { Db } from '../common/db.js';
import { purgeProcessedWebhooksWorkflowType } from '../workflows/purge-processed-webhooks.js';
import { weeklyReportWorkflowType, type WeeklyReportWorkflowInput } from '../workflows/weekly-report.js';

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

export const weeklyReportScheduleId = (tenantId: string) => `weekly-report:${tenantId}`;

/** Monday 08:00 in the tenant's zone; a run missed while Temporal was down is still taken within a day. */
function weeklyReportSchedule(taskQueue: string, tenant: { id: string; defaultTimeZone: string }) {
  return {
    spec: { calendars: [{ dayOfWeek: 'MONDAY' as const, hour: 8 }], timezone: tenant.defaultTimeZone },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    action: {
      type: 'startWorkflow' as const,
      workflowType: weeklyReportWorkflowType,
      taskQueue,
      workflowId: weeklyReportScheduleId(tenant.id),
      args: [{ tenantId: tenant.id } satisfies WeeklyReportWorkflowInput],
    },
  };
}

/**
 * A tenant's weekly report schedule, created if missing and moved to the tenant's current zone (and this task queue)
 * if it differs; otherwise left alone, so calling it at every start and every change is safe.
 */
export async function ensureWeeklyReportSchedule(
  client: Client,
  taskQueue: string,
  tenant: { id: string; defaultTimeZone: string },
): Promise<'created' | 'updated' | 'unchanged'> {
  const wanted = weeklyReportSchedule(taskQueue, tenant);
  try {
    await client.schedule.create({ scheduleId: weeklyReportScheduleId(tenant.id), ...wanted });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(weeklyReportScheduleId(tenant.id));
  const current = await handle.describe();
  const action = current.action.type === 'startWorkflow' ? current.action : undefined;
  if (current.spec.timezone === tenant.defaultTimeZone && action?.taskQueue === taskQueue) return 'unchanged';
  await handle.update((previous) => ({
    ...wanted,
    state: { paused: previous.state.paused, note: previous.state.note },
  }));
  return 'updated';
}

/** At worker start: every tenant's schedule, a few at a time (tenants are never deleted, so none is removed). */
export async function ensureWeeklyReportSchedules(client: Client, db: Db, taskQueue: string) {
  const tenants = await db.tenant.findMany({
    select: { id: true, defaultTimeZone: true },
    orderBy: { createdAt: 'asc' },
  });
  const limit = pLimit(4);
  // Every call settled before this returns: the caller closes the connection next, and a call still retrying on it
  // then threw from a timer ("Channel has been shut down") and ended the worker at start.
  const settled = await Promise.allSettled(
    tenants.map((tenant) => limit(() => ensureWeeklyReportSchedule(client, taskQueue, tenant))),
  );
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const outcomes = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  return {
    created: outcomes.filter((outcome) => outcome === 'created').length,
    updated: outcomes.filter((outcome) => outcome === 'updated').length,
  };
}
