// Which run an enrollment claim (its row written before its workflow starts) belongs to: the lead's workflow ID names
// the lead, not the enrollment, so the run's memo says which enrollment started it.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

export type Claim = { id: string; workflowId: string; startedAt: Date };

/** Clocks differ between the API that wrote a claim and Temporal, which stamped its run's start. */
const clockSkewMs = 60_000;

/**
 * The lead's current run when it is the claim's (its memo names the enrollment), null when it is not, and undefined
 * when it cannot be told: a run whose memo names no enrollment (started before memos did) that started after the claim
 * was written. One that started before it belongs to an earlier enrollment of the lead.
 */
export function claimedRun(
  run: { runId: string; memo?: Record<string, unknown>; startTime: Date },
  claim: { id: string; startedAt: Date },
): string | null | undefined {
  const named = run.memo?.enrollmentId;
  if (typeof named === 'string') return named === claim.id ? run.runId : null;
  return run.startTime.getTime() < claim.startedAt.getTime() - clockSkewMs ? null : undefined;
}

/** The claim's run, as claimedRun judges the lead's current one; null when the lead has no run at all. */
export async function runOfClaim(
  temporal: Client,
  { id, workflowId, startedAt }: Claim,
): Promise<string | null | undefined> {
  try {
    return claimedRun(await temporal.workflow.getHandle(workflowId).describe(), { id, startedAt });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}
