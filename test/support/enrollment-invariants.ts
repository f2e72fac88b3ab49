// What must hold for a tenant's enrollments whatever raced: rows and workflows agree, one follow-up per lead, and
// no workflow stuck retrying its own bookkeeping.
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Db } from '../../common/db.js';
import { leadFollowUpWorkflowId } from '../../workflows/lead-follow-up.messages.js';
import { until } from './wait.js';

const describeOrNull = (client: Client, workflowId: string, runId?: string) =>
  client.workflow
    .getHandle(workflowId, runId)
    .describe()
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    });

const recordingStart = (description: WorkflowExecutionDescription) =>
  (description.raw.pendingActivities ?? []).filter(
    (activity) => activity.activityType?.name === 'recordEnrollmentStarted',
  );

/**
 * Runs with patch record-start-local-activity record their start in a local activity, which the server does not list
 * as pending: until its marker (or, in older runs, the activity) is in the history, the start is still being recorded.
 */
async function recordingStartLocally(client: Client, description: WorkflowExecutionDescription): Promise<boolean> {
  if (description.status.name !== 'RUNNING') return false;
  const { events } = await client.workflow.getHandle(description.workflowId, description.runId).fetchHistory();
  return !events?.some(
    (event) =>
      event.markerRecordedEventAttributes?.markerName === 'core_local_activity' ||
      event.activityTaskScheduledEventAttributes?.activityType?.name === 'recordEnrollmentStarted',
  );
}

/**
 * The lead's follow-up once its recordEnrollmentStarted has finished (null if none was ever started). A workflow
 * still retrying it after `timeoutMs` fails the wait, naming its attempt.
 */
export async function settledFollowUp(
  client: Client,
  tenantId: string,
  leadId: string,
  timeoutMs = 10_000,
): Promise<WorkflowExecutionDescription | null> {
  const workflowId = leadFollowUpWorkflowId(tenantId, leadId);
  let last: WorkflowExecutionDescription | null = null;
  try {
    return await until(
      async () => {
        last = await describeOrNull(client, workflowId);
        if (last && (recordingStart(last).length > 0 || (await recordingStartLocally(client, last)))) return null;
        return { description: last };
      },
      `${workflowId} to record its start`,
      timeoutMs,
    ).then(({ description }) => description);
  } catch (error) {
    const attempts = last ? recordingStart(last).map((activity) => activity.attempt) : [];
    throw new Error(`${(error as Error).message}: recordEnrollmentStarted pending, attempts ${attempts.join(', ')}`, {
      cause: error,
    });
  }
}

/** Every broken invariant among these leads' enrollments, described; empty when all hold. */
export async function enrollmentViolations(
  { db, client }: { db: Db; client: Client },
  tenantId: string,
  leadIds: string[],
): Promise<string[]> {
  const violations: string[] = [];
  const rows = await db.enrollment.findMany({ where: { tenantId, leadId: { in: leadIds } } });
  for (const leadId of leadIds) {
    const running = rows.filter((row) => row.leadId === leadId && row.status === 'running');
    if (running.length > 1) violations.push(`lead ${leadId} has ${running.length} running enrollments`);
    const followUp = await settledFollowUp(client, tenantId, leadId);
    if (
      followUp?.status.name === 'RUNNING' &&
      !rows.some((row) => row.workflowId === followUp.workflowId && row.runId === followUp.runId)
    ) {
      violations.push(`workflow ${followUp.workflowId} run ${followUp.runId} has no enrollment row`);
    }
  }
  for (const row of rows.filter((row) => row.idempotencyKey !== null)) {
    if (!row.runId || !(await describeOrNull(client, row.workflowId, row.runId)))
      violations.push(`enrollment ${row.id} (key ${row.idempotencyKey}) has no started workflow`);
  }
  return violations;
}
