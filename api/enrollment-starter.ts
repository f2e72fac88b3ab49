import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import type { Enrollment, Lead, SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import type { leadFollowUp } from '../workflows/lead-follow-up.js';
import { leadFollowUpWorkflowId, leadFollowUpWorkflowType, type LeadFollowUpInput, type SequenceStep } from '../workflows/lead-follow-up.types.js';
import { enrollmentStatusKey, leadIdKey, sequenceIdKey, tenantIdKey } from '../workflows/search-attributes.js';

export type StartOutcome = { kind: 'started'; enrollment: Enrollment } | { kind: 'already_enrolled'; workflowId: string; enrollmentId: string | null; idempotencyKey: string | null };

export function workflowInput(tenant: Tenant, lead: Lead, sequence: SequenceDefinition, enrollmentId: string, idempotencyKey: string | null = null): LeadFollowUpInput {
  return {
    tenantId: tenant.id,
    leadId: lead.id,
    enrollmentId,
    enrolledAt: new Date().toISOString(),
    idempotencyKey,
    sequence: { id: sequence.id, name: sequence.name, version: sequence.version, steps: sequence.steps as unknown as SequenceStep[] },
    policy: { timeZone: lead.timeZone, window: { start: tenant.windowStart, end: tenant.windowEnd }, minGapSeconds: tenant.minGapSeconds, maxPerDay: tenant.maxPerDay },
    expiresAfterSeconds: tenant.expiryDays * 86_400,
  };
}

const startDeadlineMs = 10_000;

export type WorkflowStart = { kind: 'started'; workflowId: string; runId: string } | { kind: 'already_running'; workflowId: string };

/**
 * Starting is Temporal first: if it refuses or is down, nothing has been written anywhere. The workflow records
 * its enrollment row itself too, so a crash right after the start leaves no half-written state either.
 */
export function createEnrollmentStarter({ db, temporal, taskQueue }: { db: Db; temporal: Client; taskQueue: string }) {
  async function startWorkflow(tenant: Tenant, lead: Lead, sequence: SequenceDefinition, enrollmentId: string, idempotencyKey: string | null = null): Promise<WorkflowStart> {
    const workflowId = leadFollowUpWorkflowId(tenant.id, lead.id);
    try {
      // A bounded wait: past it the caller hears "may have started" and retries with its Idempotency-Key.
      const handle = await temporal.connection.withDeadline(Date.now() + startDeadlineMs, () => temporal.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
        workflowId,
        taskQueue,
        args: [workflowInput(tenant, lead, sequence, enrollmentId, idempotencyKey)],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: tenantIdKey, value: tenant.id },
          { key: leadIdKey, value: lead.id },
          { key: sequenceIdKey, value: sequence.id },
          { key: enrollmentStatusKey, value: 'running' },
        ],
        memo: { phone: maskPhone(lead.phone), sequence: `${sequence.name} v${sequence.version}` },
      }));
      return { kind: 'started', workflowId, runId: handle.firstExecutionRunId };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'already_running', workflowId };
      throw error;
    }
  }

  async function startEnrollment(tenant: Tenant, lead: Lead, sequence: SequenceDefinition, idempotencyKey?: string): Promise<StartOutcome> {
    const enrollmentId = randomUUID();
    const started = await startWorkflow(tenant, lead, sequence, enrollmentId, idempotencyKey ?? null);
    if (started.kind === 'already_running') {
      const running = await db.enrollment.findFirst({ where: { tenantId: tenant.id, workflowId: started.workflowId, status: 'running' }, orderBy: { startedAt: 'desc' } });
      return { kind: 'already_enrolled', workflowId: started.workflowId, enrollmentId: running?.id ?? null, idempotencyKey: running?.idempotencyKey ?? null };
    }
    const enrollment = await db.enrollment.upsert({
      where: { id: enrollmentId },
      create: { id: enrollmentId, tenantId: tenant.id, leadId: lead.id, sequenceId: sequence.id, workflowId: started.workflowId, runId: started.runId, idempotencyKey: idempotencyKey ?? null },
      update: { runId: started.runId },
    });
    return { kind: 'started', enrollment };
  }

  return { startWorkflow, startEnrollment };
}
