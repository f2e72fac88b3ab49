import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../common/db.js';
import { haltReasonOf, type HaltReason } from '../common/conversation.js';
import { Prisma } from '../generated/prisma/client.js';
import { closeEnrollment, recordStartedEvent, type EnrollmentClose } from '../common/enrollment-close.js';
import { isUniqueViolation } from '../common/db-errors.js';

export interface RecordEnrollmentStartedInput {
  enrollmentId: string;
  tenantId: string;
  leadId: string;
  sequenceId: string;
  workflowId: string;
  runId: string;
  idempotencyKey: string | null;
}

export type RecordEnrollmentOutcomeInput = EnrollmentClose;

/**
 * A claim halted before its run started (a cancel, a reply or a STOP while the API was starting it): the halt's reason,
 * so the run ends at once instead of at its first send, a delay away.
 */
export interface RecordEnrollmentStartedResult {
  haltedBy: HaltReason | null;
}

/** A run a long one continued in: the row names it while the enrollment runs, for the UI link and booking signals. */
export interface RecordEnrollmentRunInput {
  enrollmentId: string;
  tenantId: string;
  runId: string;
}

/** A row that is gone will not come back by retrying: fail the activity for good. */
async function rowsMustExist<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') {
      throw ApplicationFailure.create({ type: 'NotFoundError', message: error.message, nonRetryable: true });
    }
    throw error;
  }
}

/**
 * Locks the lead's row, whatever its status, and turns it active unless it is erased (an erased lead stays erased,
 * whatever run records itself late): one statement, where a plain update would lock nothing for an erased lead.
 */
const lockLeadTurningActive = (
  tx: Prisma.TransactionClient,
  { leadId, tenantId }: { leadId: string; tenantId: string },
) =>
  tx.$executeRaw`
    WITH lead AS (
      SELECT id, status FROM leads WHERE id = ${leadId}::uuid AND tenant_id = ${tenantId}::uuid FOR NO KEY UPDATE
    )
    UPDATE leads SET status = 'active', closed_reason = NULL, updated_at = now()
    FROM lead WHERE leads.id = lead.id AND lead.status <> 'erased'`;

/** Upserts and plain updates, so a retried activity leaves the same rows behind. */
export function createEnrollmentActivities({ db }: { db: Db }) {
  return {
    /**
     * The API claims the row before starting the workflow and records the run after; this records it too, covering
     * an API that died in between or removed its claim after a start that timed out but went through. The lead turns
     * active here, ordered before any outcome, so a fast outcome can never be overwritten by a late "active".
     * `enrollment.started` is recorded here, once: the transaction locks the lead's row first, so a concurrent
     * attempt (or a reset's new run) waits and then finds the event.
     */
    async recordEnrollmentStarted(input: RecordEnrollmentStartedInput): Promise<RecordEnrollmentStartedResult> {
      const { enrollmentId, ...row } = input;
      try {
        return await rowsMustExist(async () => {
          // The row in a statement of its own, committed at once: inside the transaction below, it stayed uncommitted
          // while that transaction queued for the tenant's event lock behind the tenant's other writers, and a batch
          // writing the same rows after its starts waited out the whole queue (a 1,000-lead batch: statement timeout,
          // 500).
          const recorded = await db.enrollment.upsert({
            where: { id: enrollmentId },
            create: { id: enrollmentId, ...row, status: 'running' },
            update: { runId: input.runId },
          });
          await db.$transaction(async (tx) => {
            // The lock recordStartedEvent needs, in common/lock-order.ts's order: the enrollment's row would come after
            // the event lock, which an opt-out takes before halting this enrollment.
            await lockLeadTurningActive(tx, input);
            await recordStartedEvent(tx, {
              enrollmentId,
              tenantId: input.tenantId,
              leadId: input.leadId,
              sequenceId: input.sequenceId,
              workflowId: input.workflowId,
              runId: input.runId,
            });
          });
          return { haltedBy: recorded.haltedAt ? haltReasonOf(recorded.haltedBy) : null };
        });
      } catch (error) {
        // Another enrollment holds this Idempotency-Key: retrying cannot free it, so the run closes as failed.
        if (isUniqueViolation(error)) {
          throw ApplicationFailure.create({ type: 'ConflictError', message: error.message, nonRetryable: true });
        }
        throw error;
      }
    },

    /** Only a running enrollment's row moves to the new run: an outcome recorded meanwhile names the run that closed. */
    async recordEnrollmentRun({ enrollmentId, tenantId, runId }: RecordEnrollmentRunInput): Promise<void> {
      await db.enrollment.updateMany({ where: { id: enrollmentId, tenantId, status: 'running' }, data: { runId } });
    },

    /** See closeEnrollment. */
    async recordEnrollmentOutcome(input: RecordEnrollmentOutcomeInput): Promise<void> {
      const closedAt = new Date();
      await rowsMustExist(() => db.$transaction((tx) => closeEnrollment(tx, input, closedAt)));
    },
  };
}
