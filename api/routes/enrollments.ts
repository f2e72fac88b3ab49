import { Router, type Request } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { haltEnrollments, lockConversation } from '../../common/conversation.js';
import type { Db } from '../../common/db.js';
import type { Enrollment } from '../../generated/prisma/client.js';
import { EnrollmentStatus } from '../../generated/prisma/enums.js';
import {
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  statusQuery,
  type LeadFollowUpState,
} from '../../workflows/lead-follow-up.types.js';
import { tenantOf } from '../auth.js';
import { capacityHoldOf, capacityHoldOfState, type CapacityHold } from '../capacity-hold.js';
import { createEnrollmentStarter } from '../enrollment-starter.js';
import { ApiError, notFound, parseBody, parseQuery } from '../errors.js';
import { idempotencyKeyOf, idParam, workflowListQuery } from '../params.js';
import { asTemporalUnavailable } from '../temporal-errors.js';

export interface EnrollmentsDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl: string;
}

export const enrollSchema = z.strictObject({ leadId: z.uuid(), sequenceId: z.uuid() });
export const skipSchema = z.strictObject({ step: z.number().int().min(0) });
export const listSchema = workflowListQuery(EnrollmentStatus);

export function enrollmentsRouter(deps: EnrollmentsDeps): Router {
  const { db, temporal, temporalUiUrl } = deps;
  const router = Router();
  const { startEnrollment } = createEnrollmentStarter(deps);
  const runUrl = (workflowId: string, runId: string | null) =>
    `${temporalUiUrl}/namespaces/${encodeURIComponent(temporal.options.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
  const view = (enrollment: Enrollment) => ({
    id: enrollment.id,
    leadId: enrollment.leadId,
    sequenceId: enrollment.sequenceId,
    status: enrollment.status,
    closedReason: enrollment.closedReason,
    workflowId: enrollment.workflowId,
    runId: enrollment.runId,
    temporalUiUrl: runUrl(enrollment.workflowId, enrollment.runId),
    startedAt: enrollment.startedAt.toISOString(),
    closedAt: enrollment.closedAt?.toISOString() ?? null,
  });
  const findEnrollment = async (req: Request) => {
    const enrollment = await db.enrollment.findFirst({
      where: { id: idParam(req.params.enrollmentId, 'Enrollment'), tenantId: tenantOf(req) },
    });
    if (!enrollment) throw notFound('Enrollment');
    return enrollment;
  };
  /**
   * A running enrollment is its workflow ID's current run (one follow-up per lead at a time), which also follows an
   * operator's reset to the new run; a closed one is the run it recorded.
   */
  const handleOf = (enrollment: Enrollment): WorkflowHandle =>
    temporal.workflow.getHandle(
      enrollment.workflowId,
      enrollment.status === 'running' ? undefined : (enrollment.runId ?? undefined),
    );

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
    const query = parseQuery(listSchema, req.query);
    const { leadId, status, limit } = query;
    const enrollments = await db.enrollment.findMany({
      where: { tenantId: tenantOf(req), ...(leadId ? { leadId } : {}), ...(status ? { status } : {}) },
      orderBy: { startedAt: 'desc' },
      take: limit,
    });
    res.json({ items: enrollments.map(view) });
  });

  router.get('/enrollments/:enrollmentId', async (req, res) => {
    const enrollment = await findEnrollment(req);
    const handle = handleOf(enrollment);
    const live = await handle.query(statusQuery).then(
      (state): { live: LeadFollowUpState | null; liveError?: string } => ({ live: state }),
      (error: unknown) => ({
        live: null,
        liveError: asTemporalUnavailable(error) ? 'temporal_unavailable' : 'query_failed',
      }),
    );
    const capacityHold = live.live?.hold
      ? capacityHoldOfState(live.live.hold)
      : await capacityHoldFor(enrollment, handle);
    res.json({ ...view(enrollment), ...live, ...(capacityHold === undefined ? {} : { capacityHold }) });
  });

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
      return capacityHoldOf((await handle.describe()).raw.pendingActivities);
    } catch {
      return undefined;
    }
  }

  /** Updates are validated by the workflow itself; a refusal leaves it as it was. */
  async function changeRunning(req: Request, change: (handle: WorkflowHandle) => Promise<LeadFollowUpState>) {
    const enrollment = await findEnrollment(req);
    try {
      return { ...view(enrollment), live: await change(handleOf(enrollment)) };
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError)
        throw new ApiError(409, 'conflict', error.cause?.message ?? error.message);
      if (error instanceof WorkflowNotFoundError)
        throw new ApiError(409, 'conflict', `The enrollment is ${enrollment.status}, not running`);
      throw asTemporalUnavailable(error) ?? error;
    }
  }
  router.post('/enrollments/:enrollmentId/pause', async (req, res) => {
    res.json(await changeRunning(req, (handle) => handle.executeUpdate(pauseUpdate)));
  });
  router.post('/enrollments/:enrollmentId/resume', async (req, res) => {
    res.json(await changeRunning(req, (handle) => handle.executeUpdate(resumeUpdate)));
  });
  router.post('/enrollments/:enrollmentId/skip', async (req, res) => {
    const body = parseBody(skipSchema, req.body);
    res.json(await changeRunning(req, (handle) => handle.executeUpdate(skipToStepUpdate, { args: [body] })));
  });

  /**
   * A workflow cancellation: the workflow lets a send in flight finish, then records `cancelled`. The cancel is
   * recorded first, under the conversation's lock, so from the moment this answers the send gate refuses any step
   * (even if Temporal is down and the cancellation itself must be retried).
   */
  router.post('/enrollments/:enrollmentId/cancel', async (req, res) => {
    const enrollment = await findEnrollment(req);
    if (enrollment.status !== 'running')
      throw new ApiError(409, 'conflict', `The enrollment is ${enrollment.status}, not running`);
    const { phone } = await db.lead.findUniqueOrThrow({ where: { id: enrollment.leadId } });
    await db.$transaction(async (tx) => {
      await lockConversation(tx, enrollment.tenantId, phone);
      await haltEnrollments(tx, { tenantId: enrollment.tenantId, enrollmentId: enrollment.id }, 'cancelled');
    });
    try {
      await handleOf(enrollment).cancel();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new ApiError(409, 'conflict', 'The enrollment is no longer running');
      throw asTemporalUnavailable(error) ?? error;
    }
    res.status(202).json({ ...view(enrollment), cancelRequested: true });
  });

  return router;
}
