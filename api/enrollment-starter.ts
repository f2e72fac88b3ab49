import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { lockConversation } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import { findNumberBlock, findOptOut } from '../common/opt-outs.js';
import {
  Prisma,
  type Enrollment,
  type Lead,
  type SequenceDefinition,
  type Tenant,
} from '../generated/prisma/client.js';
import type { leadFollowUp } from '../workflows/lead-follow-up.js';
import {
  leadFollowUpWorkflowId,
  leadFollowUpWorkflowType,
  type LeadFollowUpInput,
  type SendingPolicy,
  type SequenceStep,
} from '../workflows/lead-follow-up.messages.js';
import { enrollmentStatusKey, sequenceIdKey } from '../workflows/search-attributes.js';
import { refuseNothingSendable, refuseUnsendableSequence } from './unsendable-sequence.js';
import { ApiError, leadErased } from './errors.js';
import { savedZoneOr } from '../common/phone.js';
import { leadWindow } from '../common/state-windows.js';
import { isUniqueViolation } from '../common/db-errors.js';
import { startDeadlineMs, startRun } from './workflow-start.js';
import { mayHaveHappened } from './temporal-errors.js';
import { runOfClaim, settleUnstartedClaim } from './claim-runs.js';

/** `replayed`: an earlier request with the same Idempotency-Key and the same body started it. */
export type StartOutcome =
  | { kind: 'started' | 'replayed'; enrollment: Enrollment }
  | { kind: 'already_enrolled'; workflowId: string; enrollmentId: string | null };

/**
 * As the send gate judges it: a lead's zone that is no IANA name is judged in the tenant's, and its window is within
 * its state's.
 */
export function sendingPolicyOf(tenant: Tenant, lead: Lead): SendingPolicy {
  return {
    timeZone: savedZoneOr(lead.timeZone, tenant.defaultTimeZone),
    window: leadWindow({ start: tenant.windowStart, end: tenant.windowEnd }, lead.phone),
    minGapSeconds: tenant.minGapSeconds,
    maxPerDay: tenant.maxPerDay,
  };
}

/**
 * What the run is started with that its row keeps too (start, policy, expiry), so GET /v1/enrollments/:id can tell
 * what the run waits for from PostgreSQL alone.
 */
export function enrollmentSnapshot(tenant: Tenant, lead: Lead, enrolledAt: Date) {
  return {
    startedAt: enrolledAt,
    policy: sendingPolicyOf(tenant, lead) as unknown as Prisma.InputJsonObject,
    expiresAt: new Date(enrolledAt.getTime() + tenant.expiryDays * 86_400_000),
  };
}

/** An enrollment's row as its claim writes it: running, no run ID yet. */
export function claimRow(
  tenant: Tenant,
  lead: Lead,
  sequence: SequenceDefinition,
  enrollmentId: string,
  enrolledAt: Date,
) {
  return {
    id: enrollmentId,
    tenantId: tenant.id,
    leadId: lead.id,
    sequenceId: sequence.id,
    workflowId: leadFollowUpWorkflowId(tenant.id, lead.id),
    ...enrollmentSnapshot(tenant, lead, enrolledAt),
  };
}

export function workflowInput(
  tenant: Tenant,
  lead: Lead,
  sequence: SequenceDefinition,
  enrollmentId: string,
  idempotencyKey: string | null = null,
  enrolledAt = new Date(),
): LeadFollowUpInput {
  return {
    tenantId: tenant.id,
    leadId: lead.id,
    enrollmentId,
    enrolledAt: enrolledAt.toISOString(),
    idempotencyKey,
    sequence: {
      id: sequence.id,
      name: sequence.name,
      version: sequence.version,
      steps: sequence.steps as unknown as SequenceStep[],
    },
    policy: sendingPolicyOf(tenant, lead),
    expiresAfterSeconds: tenant.expiryDays * 86_400,
  };
}

const stillStarting = () =>
  new ApiError(409, 'conflict', 'Another request with this Idempotency-Key is still starting; retry later', {
    reason: 'in_progress',
  });

/** What an Idempotency-Key stands for: the same key sent with another lead or sequence is refused. */
export function enrollmentRequestHash({ leadId, sequenceId }: { leadId: string; sequenceId: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ leadId: leadId.toLowerCase(), sequenceId: sequenceId.toLowerCase() }))
    .digest('hex');
}

const settlePollMs = 100;
/** How long a start that went unanswered waits on asking Temporal whether its run is there after all. */
const landedProbeMs = 3_000;
/** A follow-up records its outcome a moment before its run closes; a new enrollment waits out that moment. */
const closingRunWaitMs = 5_000;
/**
 * A claimant settles its claim within its slowest start (records the run or removes the row): a start and its probe,
 * the wait for a closing run (its describe and its result), and the second start. Past this, with a margin, it died.
 */
export const claimSettledWithinMs = 2 * (startDeadlineMs + landedProbeMs + closingRunWaitMs) + 5_000;
/** How long a request with the key waits for another's claim to settle before answering that it is still starting. */
const settleWaitMs = startDeadlineMs;
/** Each round ends with a settled answer unless the claim it waited for was removed; three such removals in a row are a storm. */
const claimRounds = 3;

export type WorkflowStart =
  { kind: 'started'; workflowId: string; runId: string } | { kind: 'already_running'; workflowId: string };

/**
 * An enrollment is claimed in PostgreSQL before its workflow starts: the row (status running, no run ID yet) is
 * written under the conversation's lock, after the last look at erasure and opt-out, and (tenant, Idempotency-Key)
 * is unique, so of two requests with one key exactly one gets to start a workflow. The claimant then records the
 * run, or removes its row if Temporal refused or failed, so nothing is left half-written (a start whose answer was
 * lost but whose run is there, its memo naming the enrollment, counts as started); the workflow records its row itself
 * too (recordEnrollmentStarted), which covers an API that died after the start.
 */
export function createEnrollmentStarter({
  db,
  temporal,
  taskQueue,
  defaultSender,
}: {
  db: Db;
  temporal: Client;
  taskQueue: string;
  /** What the tenant's leads hear from when it has no number of its own: a STOP to it may block a phone. */
  defaultSender: string;
}) {
  async function startOnce(
    tenant: Tenant,
    lead: Lead,
    sequence: SequenceDefinition,
    enrollmentId: string,
    idempotencyKey: string | null,
    enrolledAt: Date,
  ): Promise<WorkflowStart> {
    const workflowId = leadFollowUpWorkflowId(tenant.id, lead.id);
    const runId = await startRun<typeof leadFollowUp>(temporal, leadFollowUpWorkflowType, {
      workflowId,
      taskQueue,
      args: [workflowInput(tenant, lead, sequence, enrollmentId, idempotencyKey, enrolledAt)],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      tenantId: tenant.id,
      leadId: lead.id,
      moreSearchAttributes: [
        { key: sequenceIdKey, value: sequence.id },
        { key: enrollmentStatusKey, value: 'running' },
      ],
      // enrollmentId: which claim a run belongs to, for the claim sweeper (api/claim-sweeper.ts) and operators.
      memo: { phone: maskPhone(lead.phone), sequence: `${sequence.name} v${sequence.version}`, enrollmentId },
    }).catch(async (error: unknown) => {
      // The answer was lost, not necessarily the start: once asked, a run whose memo names this enrollment is its own.
      if (!mayHaveHappened(error)) throw error;
      const landed = await temporal.connection
        .withDeadline(Date.now() + landedProbeMs, () =>
          runOfClaim(temporal, { id: enrollmentId, workflowId, startedAt: enrolledAt }),
        )
        .catch(() => null);
      if (!landed) throw error;
      return landed;
    });
    return runId === null ? { kind: 'already_running', workflowId } : { kind: 'started', workflowId, runId };
  }

  /** Null when another request holds the key: it is answered from that request's row instead. */
  async function claim(
    tenant: Tenant,
    lead: Lead,
    sequence: SequenceDefinition,
    idempotencyKey: string | null,
    requestHash: string,
  ): Promise<Enrollment | null> {
    try {
      return await db.$transaction(async (tx) => {
        // The same lock as an opt-out or an erasure: either it committed before (and is seen here) or it halts this row.
        await lockConversation(tx, tenant.id, lead.phone);
        const { status, phone } = await tx.lead.findUniqueOrThrow({ where: { id: lead.id } });
        if (status === 'erased') throw leadErased();
        const optOut = await findOptOut(tx, tenant.id, phone);
        if (optOut)
          throw new ApiError(409, 'conflict', 'The lead has opted out of messages', {
            reason: 'opted_out',
            optedOutAt: optOut.createdAt.toISOString(),
            source: optOut.source,
          });
        const numberBlock = await findNumberBlock(tx, tenant.id, phone, defaultSender);
        if (numberBlock)
          throw new ApiError(
            409,
            'conflict',
            'The lead has opted out of messages from the number it would be texted from',
            {
              reason: 'opted_out',
              optedOutOf: numberBlock.sender,
            },
          );
        return tx.enrollment.create({
          data: {
            ...claimRow(tenant, lead, sequence, randomUUID(), new Date()),
            idempotencyKey,
            requestHash: idempotencyKey ? requestHash : null,
          },
        });
      });
    } catch (error) {
      if (idempotencyKey && isUniqueViolation(error)) return null;
      throw error;
    }
  }

  /**
   * Removes a claim nobody started (one a reply or a cancel halted meanwhile is closed as that, so a retry with its key
   * starts nothing): a run recorded meanwhile (by the workflow, after a start that timed out) stays.
   */
  const release = (enrollmentId: string) => settleUnstartedClaim(db, enrollmentId);

  /**
   * True once the run in the way has closed (or the wait ran out) when its enrollment has already recorded how it
   * ended (booked, replied, …): that run is finishing, not a follow-up the lead is still in.
   */
  async function waitedForClosingRun(tenantId: string, workflowId: string): Promise<boolean> {
    const handle = temporal.workflow.getHandle(workflowId);
    // Unanswered, the run in the way is taken for running: the start was refused, and nothing may have landed.
    const described = await temporal.connection
      .withDeadline(Date.now() + closingRunWaitMs, () => handle.describe())
      .catch(() => null);
    if (!described) return false;
    const { runId } = described;
    const recorded = await db.enrollment.findFirst({
      where: { tenantId, workflowId, runId },
      select: { status: true },
    });
    if (!recorded || recorded.status === 'running') return false;
    await temporal.connection.withDeadline(Date.now() + closingRunWaitMs, () => handle.result()).catch(() => undefined);
    return true;
  }

  /**
   * Starts the lead's follow-up; a run in the way that has recorded how it ended is waited out (a moment), and the start
   * asked again: a single enrollment and a batch's row alike.
   */
  async function startWorkflow(...start: Parameters<typeof startOnce>): Promise<WorkflowStart> {
    const started = await startOnce(...start);
    if (started.kind === 'already_running' && (await waitedForClosingRun(start[0].id, started.workflowId)))
      return startOnce(...start);
    return started;
  }

  async function startClaimed(
    tenant: Tenant,
    lead: Lead,
    sequence: SequenceDefinition,
    claimed: Enrollment,
  ): Promise<StartOutcome> {
    let started: WorkflowStart;
    try {
      started = await startWorkflow(tenant, lead, sequence, claimed.id, claimed.idempotencyKey, claimed.startedAt);
    } catch (error) {
      // A start that went unanswered may still land: its claim stays (a halt recorded on it meanwhile, a cancel or a
      // reply, stays with it), and a retry with the key, or the claim sweeper, settles it by the run Temporal has.
      if (!mayHaveHappened(error)) await release(claimed.id);
      throw error;
    }
    if (started.kind === 'already_running') {
      await release(claimed.id);
      const running = await db.enrollment.findFirst({
        where: { tenantId: tenant.id, workflowId: started.workflowId, status: 'running', runId: { not: null } },
        orderBy: { startedAt: 'desc' },
      });
      return { kind: 'already_enrolled', workflowId: started.workflowId, enrollmentId: running?.id ?? null };
    }
    // An upsert: a claim taken for abandoned while this start was slow comes back with its run.
    return {
      kind: 'started',
      enrollment: await db.enrollment.upsert({
        where: { id: claimed.id },
        create: { ...claimed, policy: claimed.policy ?? Prisma.DbNull, runId: started.runId },
        update: { runId: started.runId },
      }),
    };
  }

  /**
   * The key's row once its claimant has settled it: with its run, or null if it was removed (the start was refused
   * or failed, so the caller may claim the key itself). A claim whose run Temporal has (its memo names the claim) is
   * settled with it; one still unsettled past any start deadline with no such run is removed the same way.
   */
  async function settledClaim(enrollmentId: string): Promise<Enrollment | null> {
    const waitUntil = Date.now() + settleWaitMs;
    for (let look = 0; ; look += 1) {
      const row = await db.enrollment.findUnique({ where: { id: enrollmentId } });
      // A claim closed as the fact that halted it before any run started is final too: Temporal has nothing to add.
      if (!row || row.runId !== null || row.status !== 'running') return row;
      // Counted from the claim: one kept after a start that went unanswered is already a start deadline old.
      const givingUp = Date.now() > row.startedAt.getTime() + claimSettledWithinMs;
      // First and last: a start that timed out at its client may have a run that has not recorded itself yet. When
      // Temporal cannot be asked, the first look waits on, and the last answers 503 rather than give up a live claim.
      if (look === 0 || givingUp) {
        const asked = () => runOfClaim(temporal, row);
        const runId = await temporal.connection
          .withDeadline(Date.now() + landedProbeMs, asked)
          .catch((error: unknown) => {
            if (givingUp) throw error;
            return undefined;
          });
        if (runId) {
          await db.enrollment.updateMany({ where: { id: row.id, runId: null }, data: { runId } });
          return db.enrollment.findUnique({ where: { id: row.id } });
        }
      }
      if (givingUp) {
        // A claim a reply or a cancel halted meanwhile is closed as that, and answered: a retry starts no follow-up.
        if ((await settleUnstartedClaim(db, enrollmentId)) === 'removed') return null;
        return db.enrollment.findUnique({ where: { id: enrollmentId } });
      }
      if (Date.now() > waitUntil) throw stillStarting();
      await sleep(settlePollMs);
    }
  }

  /**
   * Binds the key to this request unless an earlier one has it (enrollment_request_keys): whether it stands for this
   * request. One statement, so two requests with one key at once agree on the first.
   */
  async function keyBoundTo(tenantId: string, key: string, requestHash: string): Promise<boolean> {
    const [bound] = await db.$queryRaw<{ requestHash: string }[]>`
      INSERT INTO enrollment_request_keys (tenant_id, key, request_hash) VALUES (${tenantId}::uuid, ${key}, ${requestHash})
      ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = enrollment_request_keys.request_hash
      RETURNING request_hash AS "requestHash"`;
    return bound?.requestHash === requestHash;
  }

  async function startEnrollment(
    tenant: Tenant,
    lead: Lead,
    sequence: SequenceDefinition,
    idempotencyKey: string | null = null,
  ): Promise<StartOutcome> {
    const requestHash = enrollmentRequestHash({ leadId: lead.id, sequenceId: sequence.id });
    for (let round = 0; round < claimRounds; round += 1) {
      const earlier = idempotencyKey
        ? await db.enrollment.findUnique({
            where: { tenantId_idempotencyKey: { tenantId: tenant.id, idempotencyKey } },
          })
        : null;
      if (earlier) {
        // Rows claimed before request hashes were kept stand for their own lead and sequence.
        if ((earlier.requestHash ?? enrollmentRequestHash(earlier)) !== requestHash) {
          throw new ApiError(409, 'idempotency_key_reused', 'This Idempotency-Key was used for another request', {
            enrollmentId: earlier.id,
          });
        }
        const settled = await settledClaim(earlier.id);
        if (settled) return { kind: 'replayed', enrollment: settled };
        continue;
      }
      // Only a new enrollment: a retry of one already made answers what it made, whatever the tenant changed since.
      refuseUnsendableSequence(sequence, tenant);
      refuseNothingSendable(sequence, lead);
      if (idempotencyKey && !(await keyBoundTo(tenant.id, idempotencyKey, requestHash)))
        throw new ApiError(409, 'idempotency_key_reused', 'This Idempotency-Key was used for another request');
      const claimed = await claim(tenant, lead, sequence, idempotencyKey, requestHash);
      if (claimed) return startClaimed(tenant, lead, sequence, claimed);
    }
    throw stillStarting();
  }

  return { startWorkflow, startEnrollment };
}
