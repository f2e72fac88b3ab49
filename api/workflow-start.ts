import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { SearchAttributePair, Workflow } from '@temporalio/common';
import { leadIdKey, tenantIdKey } from '../workflows/search-attributes.js';

/** How long a start may wait on Temporal; past it the caller hears "may have started" and retries safely. */
export const startDeadlineMs = 10_000;

/** Every run is about one lead of one tenant, and found by them; `moreSearchAttributes` adds what else it is found by. */
export type RunStart<T extends Workflow> = Omit<
  WorkflowStartOptions<T>,
  'typedSearchAttributes' | 'searchAttributes'
> & {
  tenantId: string;
  leadId: string;
  moreSearchAttributes: SearchAttributePair[];
};

/**
 * Starts a run with a bounded wait. The answer is the new run's ID, or null when the workflow ID's conflict and reuse
 * policies found a run already there: what that means (a lead already enrolled, a booking repeated) is the caller's.
 */
export async function startRun<T extends Workflow>(
  temporal: Client,
  workflowType: string,
  { tenantId, leadId, moreSearchAttributes, ...options }: RunStart<T>,
): Promise<string | null> {
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: tenantIdKey, value: tenantId },
    { key: leadIdKey, value: leadId },
    ...moreSearchAttributes,
  ];
  // Omit<> over WorkflowStartOptions' conditional `args` hides from TypeScript that this is those options again.
  const startOptions = { ...options, typedSearchAttributes } as WorkflowStartOptions<T>;
  try {
    const handle = await temporal.connection.withDeadline(Date.now() + startDeadlineMs, () =>
      temporal.workflow.start<T>(workflowType, startOptions),
    );
    return handle.firstExecutionRunId;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return null;
    throw error;
  }
}
