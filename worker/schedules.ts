import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
} from '@temporalio/client';
import pLimit from 'p-limit';
import type { Db } from '../common/db.js';
import { purgeProcessedWebhooksWorkflowType } from '../workflows/purge-processed-webhooks.js';
import { weeklyReportWorkflowType, type WeeklyReportWorkflowInput } from '../workflows/weekly-report.js';

export const purgeScheduleId = 'purge-processed-webhooks';

/**
 * A schedule created if missing and updated to `wanted` when `isCurrent` says the one there is not (its pause and note
 * kept); otherwise left alone, so calling it at every start and every change is safe.
 */
async function ensureSchedule(
  client: Client,
  scheduleId: string,
  wanted: Omit<ScheduleOptions, 'scheduleId'>,
  isCurrent: (current: ScheduleDescription) => boolean,
): Promise<'created' | 'updated' | 'unchanged'> {
  try {
    await client.schedule.create({ scheduleId, ...wanted });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(scheduleId);
  if (isCurrent(await handle.describe())) return 'unchanged';
  await handle.update((previous) => ({
    ...wanted,
    state: { paused: previous.state.paused, note: previous.state.note },
  }));
  return 'updated';
}

const taskQueueOf = (schedule: ScheduleDescription) =>
  schedule.action.type === 'startWorkflow' ? schedule.action.taskQueue : undefined;

/**
 * Once per namespace, on this task queue: every worker start asks, and moves it to its queue if another is named (a
 * run started on a queue nobody polls would wait there for good, and hold back every later one). A run ends within the
 * hour whatever happens, so one stuck that way makes room for the next.
 */
export async function ensurePurgeSchedule(client: Client, taskQueue: string) {
  const wanted = {
    spec: { intervals: [{ every: '1 hour' }] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
    action: {
      type: 'startWorkflow' as const,
      workflowType: purgeProcessedWebhooksWorkflowType,
      taskQueue,
      workflowId: purgeScheduleId,
      workflowExecutionTimeout: '50 minutes',
    },
  };
  const outcome = await ensureSchedule(
    client,
    purgeScheduleId,
    wanted,
    (current) =>
      current.action.type === 'startWorkflow' &&
      current.action.taskQueue === taskQueue &&
      current.action.workflowExecutionTimeout !== undefined,
  );
  if (outcome === 'updated') await endRunsOfOldAction(client);
  return outcome;
}

/**
 * A run the schedule's old action started may wait on a queue nobody polls, with no timeout, holding back every later
 * one: the purge repeats itself whole, so it is ended, and the next hourly run does its work.
 */
async function endRunsOfOldAction(client: Client): Promise<void> {
  const { info } = await client.schedule.getHandle(purgeScheduleId).describe();
  // Its running list can lag a run it just started: the recent ones that have ended answer "not found".
  const runs = new Map(
    [...info.runningActions, ...info.recentActions.map(({ action }) => action)].map((action) => [
      action.workflow.workflowId,
      action,
    ]),
  );
  await Promise.all(
    [...runs.values()].map(({ workflow }) =>
      client.workflow
        .getHandle(workflow.workflowId, undefined, { firstExecutionRunId: workflow.firstExecutionRunId })
        .terminate('the purge schedule moved to another task queue')
        .catch((error: unknown) => {
          // Ended meanwhile: nothing left to end.
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }),
    ),
  );
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

/** A tenant's weekly report schedule, in the tenant's current zone and on this task queue. */
export const ensureWeeklyReportSchedule = (
  client: Client,
  taskQueue: string,
  tenant: { id: string; defaultTimeZone: string },
) =>
  ensureSchedule(
    client,
    weeklyReportScheduleId(tenant.id),
    weeklyReportSchedule(taskQueue, tenant),
    (current) => current.spec.timezone === tenant.defaultTimeZone && taskQueueOf(current) === taskQueue,
  );

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
