import type { Db } from '../common/db.js';
import type { EnrollmentOutcome } from '../workflows/lead-follow-up.types.js';

export interface RecordEnrollmentStartedInput {
  enrollmentId: string;
  tenantId: string;
  leadId: string;
  sequenceId: string;
  workflowId: string;
  runId: string;
}

export interface RecordEnrollmentOutcomeInput {
  enrollmentId: string;
  tenantId: string;
  leadId: string;
  status: EnrollmentOutcome;
  reason: string;
}

/** Both writes are upserts or plain updates, so a retried activity leaves the same rows behind. */
export function createEnrollmentActivities({ db }: { db: Db }) {
  return {
    /** The API writes the row after starting the workflow; this covers an API that died in between. */
    async recordEnrollmentStarted(input: RecordEnrollmentStartedInput): Promise<void> {
      const { enrollmentId, ...row } = input;
      await db.enrollment.upsert({
        where: { id: enrollmentId },
        create: { id: enrollmentId, ...row, status: 'running' },
        update: { runId: input.runId },
      });
    },

    async recordEnrollmentOutcome(input: RecordEnrollmentOutcomeInput): Promise<void> {
      const closedAt = new Date();
      await db.$transaction([
        db.enrollment.update({
          where: { id: input.enrollmentId, tenantId: input.tenantId },
          data: { status: input.status, closedReason: input.reason, closedAt },
        }),
        db.lead.update({
          where: { id: input.leadId, tenantId: input.tenantId },
          data: { status: 'closed', closedReason: `${input.status}: ${input.reason}` },
        }),
      ]);
    },
  };
}
