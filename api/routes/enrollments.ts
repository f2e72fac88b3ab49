import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { maskPhone } from '../../common/logger.js';
import type { Enrollment } from '../../generated/prisma/client.js';
import type { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { leadFollowUpWorkflowId, leadFollowUpWorkflowType, statusQuery, type LeadFollowUpState, type SequenceStep } from '../../workflows/lead-follow-up.types.js';
import { enrollmentStatusKey, leadIdKey, sequenceIdKey, tenantIdKey } from '../../workflows/search-attributes.js';
import { tenantOf } from '../auth.js';
import { ApiError, notFound, parseBody } from '../errors.js';
import { idParam } from '../params.js';
import { asTemporalUnavailable } from '../temporal-errors.js';

export interface EnrollmentsDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl: string;
}

const enrollSchema = z.strictObject({ leadId: z.uuid(), sequenceId: z.uuid() });

export function enrollmentsRouter({ db, temporal, taskQueue, temporalUiUrl }: EnrollmentsDeps): Router {
  const router = Router();
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

  router.post('/enrollments', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(enrollSchema, req.body);
    const [lead, sequence] = await Promise.all([
      db.lead.findFirst({ where: { id: body.leadId, tenantId } }),
      db.sequenceDefinition.findFirst({ where: { id: body.sequenceId, tenantId } }),
    ]);
    if (!lead) throw notFound('Lead');
    if (!sequence) throw notFound('Sequence');
    const optOut = await db.optOut.findUnique({ where: { tenantId_phone: { tenantId, phone: lead.phone } } });
    if (optOut) throw new ApiError(409, 'conflict', 'The lead has opted out of messages', { reason: 'opted_out', optedOutAt: optOut.createdAt.toISOString(), source: optOut.source });

    const enrollmentId = randomUUID();
    const workflowId = leadFollowUpWorkflowId(tenantId, lead.id);
    let runId: string;
    try {
      // Temporal first: if it refuses or is down, nothing has been written anywhere. The workflow records the
      // enrollment row itself too, so a crash right after this call leaves no half-written enrollment either.
      const handle = await temporal.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
        workflowId,
        taskQueue,
        args: [{ tenantId, leadId: lead.id, enrollmentId, sequence: { id: sequence.id, name: sequence.name, version: sequence.version, steps: sequence.steps as unknown as SequenceStep[] } }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: tenantIdKey, value: tenantId },
          { key: leadIdKey, value: lead.id },
          { key: sequenceIdKey, value: sequence.id },
          { key: enrollmentStatusKey, value: 'running' },
        ],
        memo: { phone: maskPhone(lead.phone), sequence: `${sequence.name} v${sequence.version}` },
      });
      runId = handle.firstExecutionRunId;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        const running = await db.enrollment.findFirst({ where: { tenantId, workflowId, status: 'running' }, orderBy: { startedAt: 'desc' } });
        throw new ApiError(409, 'conflict', 'The lead already has a running follow-up', { reason: 'already_enrolled', enrollmentId: running?.id ?? null, workflowId });
      }
      throw asTemporalUnavailable(error) ?? error;
    }
    const enrollment = await db.enrollment.upsert({
      where: { id: enrollmentId },
      create: { id: enrollmentId, tenantId, leadId: lead.id, sequenceId: sequence.id, workflowId, runId },
      update: { runId },
    });
    await db.lead.update({ where: { id: lead.id }, data: { status: 'active', closedReason: null } });
    res.status(202).location(`/v1/enrollments/${enrollment.id}`).json(view(enrollment));
  });

  router.get('/enrollments/:enrollmentId', async (req, res) => {
    const enrollment = await db.enrollment.findFirst({ where: { id: idParam(req.params.enrollmentId, 'Enrollment'), tenantId: tenantOf(req) } });
    if (!enrollment) throw notFound('Enrollment');
    let live: LeadFollowUpState | null = null;
    let liveError: string | null = null;
    try {
      live = await temporal.workflow.getHandle(enrollment.workflowId, enrollment.runId ?? undefined).query(statusQuery);
    } catch (error) {
      liveError = asTemporalUnavailable(error) ? 'temporal_unavailable' : 'query_failed';
    }
    res.json({ ...view(enrollment), live, ...(liveError ? { liveError } : {}) });
  });

  return router;
}
