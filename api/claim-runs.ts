// Which run an enrollment claim (its row written before its workflow starts) belongs to: the lead's workflow ID names
// the lead, not the enrollment, so the run's memo says which enrollment started it.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { haltReasonOf } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { closeEnrollment } from '../common/enrollment-close.js';
import { lockLead } from '../common/lock-order.js';
import { haltedOutcome } from '../workflows/decisions/next-send.js';

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

/**
 * A claim no run was started for, settled: removed, unless a fact halted it meanwhile (a reply, a STOP, a cancel
 * answered 202): then closed as that fact, with its `enrollment.closed`, so a retry with its key answers it and starts
 * no follow-up the fact has ended. A run that recorded itself meanwhile keeps the row; so does a row with messages.
 */
export async function settleUnstartedClaim(db: Db, id: string): Promise<'removed' | 'closed' | 'kept'> {
  const row = await db.enrollment.findUnique({
    where: { id },
    select: { tenantId: true, leadId: true, haltedAt: true, haltedBy: true },
  });
  if (!row) return 'removed';
  if (!row.haltedAt) {
    const { count } = await db.enrollment.deleteMany({
      where: { id, runId: null, haltedAt: null, messages: { none: {} } },
    });
    return count ? 'removed' : 'kept';
  }
  const haltedBy = haltReasonOf(row.haltedBy);
  return db.$transaction(async (tx) => {
    // The lead's lock, which a run recording its start takes too: it either recorded itself first or reads the close.
    await lockLead(tx, row.leadId);
    if (!(await tx.enrollment.findFirst({ where: { id, runId: null, status: 'running' }, select: { id: true } })))
      return 'kept';
    const [status] = haltedOutcome(haltedBy);
    const reason = `halted (${haltedBy}) before its run started`;
    // Its `enrollment.started` (runId null) comes with the close.
    await closeEnrollment(
      tx,
      { enrollmentId: id, tenantId: row.tenantId, leadId: row.leadId, status, reason },
      new Date(),
    );
    return 'closed';
  });
}
