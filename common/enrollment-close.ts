// An enrollment's close, recorded: by its run's last activity, or, for a claim a fact halted before any run started for
// it, by whoever settles the claim (api/claim-runs.ts).
import { countEnrollmentFact, type EnrollmentFact } from './analytics/aggregate.js';
import { erasedClosedReason } from './conversation.js';
import { recordEventOnce } from './event-writers.js';
import { lockTenantEventsOf, recordEvent } from './events.js';
import { lockLead, lockUnclaimedMessagesOf } from './lock-order.js';
import { beginClosingUnclaimed } from './unclaimed-messages.js';
import { Prisma } from '../generated/prisma/client.js';
import type { EnrollmentOutcome } from '../workflows/lead-follow-up.messages.js';

export interface EnrollmentClose {
  enrollmentId: string;
  tenantId: string;
  leadId: string;
  status: EnrollmentOutcome;
  reason: string;
  /** The run that closed: after an operator's reset it is not the one the enrollment started with. */
  runId?: string;
}

export interface EnrollmentStarted {
  enrollmentId: string;
  tenantId: string;
  leadId: string;
  sequenceId: string;
  workflowId: string;
  /**
   * Null for a claim a fact halted before any run started for it: the CRM had its 202, then hears of its close. A run
   * closed before it recorded its start (a cancel in its first task, an operator's terminate) names the row's.
   */
  runId: string | null;
}

/**
 * `enrollment.started` and the funnel's `enrolled` (on the day of `at`), once per enrollment whichever writer comes
 * first: the run's start, or any close (closeEnrollment), so no enrollment is closed, nor counted replied, without
 * having started. The caller holds the lead's lock, and the enrollment's unclaimed messages' and their capacity's before
 * the tenant's event lock (common/lock-order.ts).
 */
export async function recordStartedEvent(
  tx: Prisma.TransactionClient,
  started: EnrollmentStarted,
  at?: Date,
): Promise<void> {
  const { tenantId, leadId } = started;
  if (
    await recordEventOnce(tx, {
      tenantId,
      leadId,
      type: 'enrollment.started',
      idKey: 'enrollmentId',
      data: { ...started },
    })
  )
    await countEnrollmentFact(tx, started.enrollmentId, 'enrolled', at);
}

/** The outcomes the funnel counts (cancelled and failed enrollments are not part of it). */
const countedOutcomes = new Set<EnrollmentOutcome>(['completed', 'expired', 'replied', 'booked', 'opted_out']);

/**
 * A send still held when the enrollment ends is closed with it, as skipped for the enrollment's outcome. Only the close
 * of a running enrollment is `enrollment.closed`; a retry (or a reset run) writes its outcome again silently.
 */
export async function closeEnrollment(
  tx: Prisma.TransactionClient,
  input: EnrollmentClose,
  closedAt: Date,
): Promise<void> {
  // The enrollment's row comes after the event lock (common/lock-order.ts), which its close may need, and the
  // messages it closes, with the capacity they give back, before it.
  await lockLead(tx, input.leadId);
  await lockUnclaimedMessagesOf(tx, { enrollmentId: input.enrollmentId });
  const unclaimed = await beginClosingUnclaimed(tx, { enrollmentId: input.enrollmentId }, input.status);
  await tx.$executeRaw(
    lockTenantEventsOf(
      Prisma.sql`SELECT tenant_id, 0 FROM enrollments WHERE id = ${input.enrollmentId}::uuid AND tenant_id = ${input.tenantId}::uuid`,
    ),
  );
  const where = { id: input.enrollmentId, tenantId: input.tenantId };
  // A close before its run recorded the start (a claim halted before any run, a cancel in the run's first task, an
  // operator's close of a terminated run): the CRM hears of the start first, and the funnel counts it on its day.
  const running = await tx.enrollment.findFirst({
    where: { ...where, status: 'running' },
    select: { sequenceId: true, workflowId: true, runId: true, startedAt: true },
  });
  if (running) {
    const { startedAt, ...run } = running;
    await recordStartedEvent(
      tx,
      { enrollmentId: input.enrollmentId, tenantId: input.tenantId, leadId: input.leadId, ...run },
      startedAt,
    );
  }
  const data = {
    status: input.status,
    closedReason: input.reason,
    closedAt,
    ...(input.runId ? { runId: input.runId } : {}),
  };
  const [closedNow] = await tx.enrollment.updateManyAndReturn({
    where: { ...where, status: 'running' },
    data,
    select: { sequenceId: true, haltedAt: true, haltedBy: true },
  });
  if (closedNow) {
    // Replies, bookings and opt-outs are counted where they are recorded; this catches any path that did not
    // (counted once either way), at the instant the fact halted the enrollment. An erasure's close (its run
    // hears it as an opt-out) is none of them.
    if (countedOutcomes.has(input.status) && closedNow.haltedBy !== erasedClosedReason)
      await countEnrollmentFact(tx, input.enrollmentId, input.status as EnrollmentFact, closedNow.haltedAt ?? closedAt);
    await recordEvent(tx, {
      tenantId: input.tenantId,
      type: 'enrollment.closed',
      leadId: input.leadId,
      data: {
        enrollmentId: input.enrollmentId,
        leadId: input.leadId,
        sequenceId: closedNow.sequenceId,
        outcome: input.status,
        reason: input.reason,
      },
    });
  } else await tx.enrollment.update({ where, data }); // a retry, or a reset's run: P2025 if the row is gone
  // Not while another enrollment of the lead runs (a later one, started while a halted claim of this one waited).
  await tx.lead.updateMany({
    where: {
      id: input.leadId,
      tenantId: input.tenantId,
      status: { not: 'erased' },
      enrollments: { none: { status: 'running', id: { not: input.enrollmentId } } },
    },
    data: { status: 'closed', closedReason: `${input.status}: ${input.reason}` },
  });
  await unclaimed.close();
}
