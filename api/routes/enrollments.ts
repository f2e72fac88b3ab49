import { Router, type Request } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { haltEnrollments, lockConversation } from '../../common/conversation.js';
import type { Db } from '../../common/db.js';
import { lockUnclaimedMessagesOf } from '../../common/lock-order.js';
import { beginClosingUnclaimed } from '../../common/unclaimed-messages.js';
import type { Enrollment, Prisma } from '../../generated/prisma/client.js';
import { EnrollmentStatus } from '../../generated/prisma/enums.js';
import {
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  statusQuery,
  type LeadFollowUpState,
  type SendingPolicy,
} from '../../workflows/lead-follow-up.messages.js';
import { tenantOf } from '../auth.js';
import { capacityHoldOf, capacityHoldOfState, type CapacityHold } from '../capacity-hold.js';
import { progressOf, type ProgressMessage } from '../enrollment-progress.js';
import { createSequenceSteps } from '../sequence-steps.js';
import { createEnrollmentStarter, enrollmentSnapshot, sendingPolicyOf } from '../enrollment-starter.js';
import { ApiError, notFound, parseBody, parseQuery } from '../errors.js';
import { liveFailure, readLive, liveReadDeadlineMs } from '../live-read.js';
import { claimedRun } from '../claim-runs.js';
import {
  idempotencyKeyOf,
  idParam,
  liveReadQuery,
  orderedBefore,
  pageAnswer,
  uuidField,
  workflowListQuery,
  workflowListWhere,
} from '../params.js';
import { asTemporalUnavailable } from '../temporal-errors.js';

export interface EnrollmentsDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl: string;
  /** What the tenant's leads hear from when it has no number of its own (config's defaultSenderOf). */
  defaultSender: string;
}

export const enrollSchema = z.strictObject({ leadId: uuidField, sequenceId: uuidField });
export const skipSchema = z.strictObject({ step: z.number().int().min(0) });
export const listSchema = workflowListQuery(EnrollmentStatus);

/**
 * The rows of the steps before the one skipped to that no attempt has claimed (a step the send gate held for the
 * window, a cap or sending capacity): the run has moved on, so they will never go out. They close `skipped`
 * (`skipped_by_api`), with their events and the capacity they held, rather than wait as held until the enrollment ends
 * and close then under its reason. A send the run has in flight for one and has not claimed yet finds it closed.
 */
async function closePassedOver(db: Db, enrollment: { id: string; tenantId: string }, toStep: number): Promise<void> {
  const keys = Array.from({ length: toStep }, (_, step) => `${enrollment.id}:${step}`);
  if (keys.length === 0) return;
  await db.$transaction(async (tx) => {
    // Locked before their capacity goes back, as an enrollment's close does (common/lock-order.ts): a claim waits.
    await lockUnclaimedMessagesOf(tx, { enrollmentId: enrollment.id });
    const where = { tenantId: enrollment.tenantId, enrollmentId: enrollment.id, idempotencyKey: { in: keys } };
    await (await beginClosingUnclaimed(tx, where, 'skipped_by_api')).close();
  });
}

export function enrollmentsRouter(deps: EnrollmentsDeps): Router {
  const { db, temporal, temporalUiUrl } = deps;
  const router = Router();
  const { startEnrollment } = createEnrollmentStarter(deps);
  const sequenceStepsOf = createSequenceSteps(db);
  const runUrl = (workflowId: string, runId: string | null) =>
    `${temporalUiUrl}/namespaces/${encodeURIComponent(temporal.options.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
  const view = (enrollment: Enrollment) => ({
    id: enrollment.id,
    leadId: enrollment.leadId,
    sequenceId: enrollment.sequenceId,
    status: enrollment.status,
    closedReason: enrollment.closedReason,
    haltedBy: enrollment.haltedAt ? enrollment.haltedBy : null,
    haltedAt: enrollment.haltedAt?.toISOString() ?? null,
    workflowId: enrollment.workflowId,
    runId: enrollment.runId,
    temporalUiUrl: runUrl(enrollment.workflowId, enrollment.runId),
    startedAt: enrollment.startedAt.toISOString(),
    closedAt: enrollment.closedAt?.toISOString() ?? null,
  });
  const enrollmentOf = (req: Request) => ({
    id: idParam(req.params.enrollmentId, 'Enrollment'),
    tenantId: tenantOf(req),
  });
  const findEnrollment = async (req: Request) => {
    const enrollment = await db.enrollment.findFirst({ where: enrollmentOf(req) });
    if (!enrollment) throw notFound('Enrollment');
    return enrollment;
  };
  /**
   * For a live read: a closed enrollment is the run it recorded; a running one its workflow ID's current run (one
   * follow-up per lead at a time, which also follows an operator's reset to the new run) when that run is this
   * enrollment's (its memo names it). Null while its start is unsettled (or it closed with none), or when the current
   * run is a later enrollment's (this one's run terminated without its row learning so): that run's state is not this
   * enrollment's.
   */
  async function liveHandleOf(enrollment: Enrollment): Promise<WorkflowHandle | null> {
    const { workflowId, runId, status } = enrollment;
    // A claim closed or still starting with no run: the workflow ID's runs are other enrollments'.
    if (runId === null) return null;
    if (status !== 'running') return temporal.workflow.getHandle(workflowId, runId);
    const current = await temporal.connection.withDeadline(Date.now() + liveReadDeadlineMs, () =>
      temporal.workflow.getHandle(workflowId).describe(),
    );
    return claimedRun(current, enrollment) === null ? null : temporal.workflow.getHandle(workflowId, current.runId);
  }
  /**
   * For a change: the current run of the chain the enrollment's recorded run is in (a continuation or an operator's
   * reset stays in it). The workflow ID's current run may be a later enrollment's, once this one's run ended without
   * its row learning so (terminated by an operator, say); Temporal refuses a change aimed at another chain.
   */
  async function changeHandleOf(workflowId: string, recordedRunId: string): Promise<WorkflowHandle> {
    const { raw } = await temporal.workflow.getHandle(workflowId, recordedRunId).describe();
    const firstExecutionRunId = raw.workflowExecutionInfo?.firstRunId || recordedRunId;
    return temporal.workflow.getHandle(workflowId, undefined, { firstExecutionRunId });
  }

  router.post('/enrollments', async (req, res) => {
    const tenantId = tenantOf(req);
    const idempotencyKey = idempotencyKeyOf(req);
    const body = parseBody(enrollSchema, req.body);
    const [tenant, lead, sequence] = await Promise.all([
      db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
      db.lead.findFirst({ where: { id: body.leadId, tenantId } }),
      db.sequenceDefinition.findFirst({ where: { id: body.sequenceId, tenantId } }),
    ]);
    if (!lead) throw notFound('Lead');
    if (!sequence) throw notFound('Sequence');

    const outcome = await startEnrollment(tenant, lead, sequence, idempotencyKey ?? null).catch((error: unknown) => {
      throw asTemporalUnavailable(error) ?? error;
    });
    if (outcome.kind === 'already_enrolled') {
      throw new ApiError(409, 'conflict', 'The lead already has a running follow-up', {
        reason: 'already_enrolled',
        enrollmentId: outcome.enrollmentId,
        workflowId: outcome.workflowId,
      });
    }
    res.status(202).location(`/v1/enrollments/${outcome.enrollment.id}`).json(view(outcome.enrollment));
  });

  router.get('/enrollments', async (req, res) => {
    const { limit, before, ...narrowedBy } = parseQuery(listSchema, req.query);
    const enrollments = await db.enrollment.findMany({
      where: { ...workflowListWhere(tenantOf(req), narrowedBy), ...orderedBefore('startedAt', before) },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    res.json(pageAnswer(enrollments, limit, view, 'startedAt'));
  });

  /**
   * The rows answer (see enrollment-progress.ts), so a read costs no workflow task and works with Temporal down.
   * `?live=true` also asks the run itself: `live` is then its state, and `capacityHold` comes from it.
   */
  router.get('/enrollments/:enrollmentId', async (req, res) => {
    const { live: askLive } = parseQuery(liveReadQuery, req.query);
    // Both statements are scoped by the tenant: another tenant's enrollment finds no messages and answers 404.
    const { id, tenantId } = enrollmentOf(req);
    const [enrollment, messages] = await Promise.all([findEnrollment(req), outboundMessagesOf(id, tenantId)]);
    const fromRows = await progressFromRows(enrollment, messages);
    if (askLive !== 'true') return void res.json({ ...view(enrollment), ...fromRows, live: null });
    const handle = await liveHandleOf(enrollment).catch(liveFailure);
    if (!handle || 'liveError' in handle)
      return void res.json({ ...view(enrollment), ...fromRows, ...(handle ?? { live: null, liveError: 'no_run' }) });
    const live = await readLive(temporal, handle, statusQuery);
    const capacityHold = live.live?.hold
      ? capacityHoldOfState(live.live.hold)
      : await capacityHoldFor(enrollment, handle);
    res.json({
      ...view(enrollment),
      ...fromRows,
      ...live,
      ...(capacityHold === undefined ? {} : { capacityHold }),
    });
  });

  function outboundMessagesOf(enrollmentId: string, tenantId: string) {
    return db.message.findMany({
      where: { enrollmentId, tenantId, direction: 'outbound' },
      select: {
        enrollmentId: true,
        idempotencyKey: true,
        status: true,
        sentAt: true,
        updatedAt: true,
        claimedAt: true,
        heldReason: true,
        heldUntil: true,
        heldDetail: true,
        heldRetryAt: true,
      },
    });
  }

  async function progressFromRows(enrollment: Enrollment, messages: ProgressMessage[]) {
    const [steps, timing] = await Promise.all([sequenceStepsOf(enrollment.sequenceId), policyOf(enrollment)]);
    return progressOf({ enrollment, steps, messages, ...timing, now: new Date() });
  }

  /**
   * The window and caps as the send gate judges them, the tenant's settings and the lead's zone as they are now (the
   * policy the row was started with is the run's first plan: the run follows the gate's since); the expiry the run
   * keeps, or for rows from before it was kept, the one it was started with.
   */
  async function policyOf(enrollment: Enrollment): Promise<{ policy: SendingPolicy; expiresAt: Date }> {
    const { tenant, ...lead } = await db.lead.findUniqueOrThrow({
      where: { id: enrollment.leadId },
      include: { tenant: true },
    });
    return {
      policy: sendingPolicyOf(tenant, lead),
      expiresAt: enrollment.expiresAt ?? enrollmentSnapshot(tenant, lead, enrollment.startedAt).expiresAt,
    };
  }

  /**
   * A send held by the send gate shows in the workflow's own state (above). Runs from before the gate's holds wait in
   * a pending activity retried later, visible only in the workflow's description. Undefined when that cannot be read:
   * the row and the query answer anyway.
   */
  async function capacityHoldFor(
    enrollment: Enrollment,
    handle: WorkflowHandle,
  ): Promise<CapacityHold | null | undefined> {
    if (enrollment.status !== 'running') return null;
    try {
      const description = await temporal.connection.withDeadline(Date.now() + liveReadDeadlineMs, () =>
        handle.describe(),
      );
      return capacityHoldOf(description.raw.pendingActivities);
    } catch {
      return undefined;
    }
  }

  /**
   * Updates are validated by the workflow itself; a refusal leaves it as it was. What the run accepted goes to the row
   * (its pause, the step it skipped to), where the default read finds it.
   */
  async function changeRunning(
    req: Request,
    change: (handle: WorkflowHandle) => Promise<LeadFollowUpState>,
    recorded: (live: LeadFollowUpState) => Prisma.EnrollmentUpdateManyMutationInput,
    /**
     * Written once the run is found and before it is asked; undone when the change may not have reached it (Temporal
     * did not answer), not when it refused: `ahead` must be harmless for a change the run refuses.
     */
    ahead?: { write: (enrollment: Enrollment) => Promise<unknown>; undo: (enrollment: Enrollment) => Promise<unknown> },
  ) {
    const enrollment = await findEnrollment(req);
    if (enrollment.status !== 'running' || enrollment.runId === null)
      throw new ApiError(
        409,
        'conflict',
        `The enrollment is ${enrollment.runId ? enrollment.status : 'starting'}, not running`,
      );
    let live: LeadFollowUpState;
    let written = false;
    try {
      const handle = await changeHandleOf(enrollment.workflowId, enrollment.runId);
      written = Boolean(await ahead?.write(enrollment));
      live = await change(handle);
    } catch (error) {
      const refused = error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError;
      if (written && !refused) await ahead?.undo(enrollment);
      if (error instanceof WorkflowUpdateFailedError)
        throw new ApiError(409, 'conflict', error.cause?.message ?? error.message);
      if (error instanceof WorkflowNotFoundError)
        throw new ApiError(409, 'conflict', `The enrollment is ${enrollment.status}, not running`);
      throw asTemporalUnavailable(error) ?? error;
    }
    await db.enrollment.updateMany({
      where: { id: enrollment.id, tenantId: enrollment.tenantId },
      data: recorded(live),
    });
    return { ...view(enrollment), live };
  }
  const recordPause = (live: LeadFollowUpState) => ({ paused: live.paused, pausedAt: live.paused ? new Date() : null });
  router.post('/enrollments/:enrollmentId/pause', async (req, res) => {
    res.json(await changeRunning(req, (handle) => handle.executeUpdate(pauseUpdate), recordPause));
  });
  router.post('/enrollments/:enrollmentId/resume', async (req, res) => {
    res.json(await changeRunning(req, (handle) => handle.executeUpdate(resumeUpdate), recordPause));
  });
  router.post('/enrollments/:enrollmentId/skip', async (req, res) => {
    const body = parseBody(skipSchema, req.body);
    // Past the last step is refused before anything is written: recorded, it would hold back every step left.
    const { sequenceId } = await findEnrollment(req);
    const stepCount = (await sequenceStepsOf(sequenceId)).length;
    if (body.step >= stepCount)
      throw new ApiError(409, 'conflict', `step must be before ${stepCount}, the sequence's number of steps`);
    const skipped = await changeRunning(
      req,
      (handle) => handle.executeUpdate(skipToStepUpdate, { args: [body] }),
      (live) => ({ skippedToStep: live.step }),
      {
        // Before the run hears of it, the send gate does: a step before it whose send is on its way and not yet
        // claimed (its row not written yet, or a retry's) is refused `skipped_by_api`, as closePassedOver closes rows.
        // A skip the run refuses is to a step it has reached already (the last step is checked above), so the write
        // holds back no step it will still send.
        write: ({ id, tenantId }) =>
          db.$executeRaw`UPDATE enrollments SET skipped_to_step = greatest(skipped_to_step, ${body.step})
            WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`,
        // Temporal did not answer: as it was, unless another request moved it since, or the steps up to it would be
        // refused one by one while the run, which may never have heard of the skip, waits each one's delay.
        undo: ({ id, tenantId, skippedToStep }) =>
          db.enrollment.updateMany({ where: { id, tenantId, skippedToStep: body.step }, data: { skippedToStep } }),
      },
    );
    // The skip stands either way: a row left open stays held until the enrollment's close closes it.
    await closePassedOver(db, { id: skipped.id, tenantId: tenantOf(req) }, body.step).catch((error: unknown) =>
      req.log.warn({ err: error, enrollmentId: skipped.id }, 'skipped steps’ held messages not closed'),
    );
    res.json(skipped);
  });

  /**
   * A workflow cancellation: the workflow lets a send in flight finish, then records `cancelled`. The cancel is
   * recorded first, under the conversation's lock, so from the moment this answers the send gate refuses any step
   * (even if Temporal is down and the cancellation itself must be retried). A claim not started yet needs no more: its
   * run, once started, reads the halt as it records its start and ends at once.
   */
  router.post('/enrollments/:enrollmentId/cancel', async (req, res) => {
    const enrollment = await findEnrollment(req);
    const notRunning = (status: string) => new ApiError(409, 'conflict', `The enrollment is ${status}, not running`);
    if (enrollment.status !== 'running') throw notRunning(enrollment.status);
    const { phone } = await db.lead.findUniqueOrThrow({ where: { id: enrollment.leadId } });
    // What the lock saw: the row may have closed, or learnt its run, since it was read above.
    const [halted] = await db.$transaction(async (tx) => {
      await lockConversation(tx, enrollment.tenantId, phone);
      return haltEnrollments(tx, { tenantId: enrollment.tenantId, enrollmentId: enrollment.id }, 'cancelled');
    });
    if (!halted) throw notRunning('closed');
    // A reply, a STOP or a booking halted it first, its signal on the way: it ends as that, not cancelled.
    if (halted.haltedBy !== 'cancelled')
      throw new ApiError(409, 'conflict', `The enrollment is ending: ${halted.haltedBy ?? 'halted'} came first`, {
        reason: halted.haltedBy,
      });
    const answer = { ...view({ ...enrollment, runId: halted.runId }), cancelRequested: true };
    if (halted.runId === null) return void res.status(202).json(answer);
    try {
      await (await changeHandleOf(halted.workflowId, halted.runId)).cancel();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new ApiError(409, 'conflict', 'The enrollment is no longer running');
      throw asTemporalUnavailable(error) ?? error;
    }
    res.status(202).json(answer);
  });

  return router;
}
