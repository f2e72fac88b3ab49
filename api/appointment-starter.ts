import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { appointmentReminder } from '../workflows/appointment-reminder.js';
import {
  appointmentReminderWorkflowId,
  appointmentReminderWorkflowType,
  type AppointmentReminderInput,
} from '../workflows/appointment-reminder.messages.js';
import { appointmentIdKey, appointmentStatusKey, leadIdKey, tenantIdKey } from '../workflows/search-attributes.js';

/** This service's own namespace, so its derived IDs cannot collide with anyone else's name-based UUIDs. */
const idNamespace = Buffer.from('0b7d5c2e9f6a4e1b8c3d2a1f0e9b8c7d', 'hex');

/** An RFC 9562 version-5 UUID: the same name always gives the same ID, so a repeated booking names one appointment. */
export function nameBasedUuid(name: string): string {
  const bytes = createHash('sha1').update(idNamespace).update(name).digest().subarray(0, 16);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const startDeadlineMs = 10_000;

/**
 * Temporal first: nothing is written before it accepted the start. The workflow ID is the appointment's, and a second
 * start finds the run already there (a finished one is never run again), so a repeated booking starts nothing new.
 * `runId` is null when the appointment's run has already finished.
 */
export async function startAppointmentReminder(
  temporal: Client,
  taskQueue: string,
  input: AppointmentReminderInput,
): Promise<{ workflowId: string; runId: string | null }> {
  const workflowId = appointmentReminderWorkflowId(input.tenantId, input.appointmentId);
  try {
    // A bounded wait: past it the caller hears "may have started" and retries, which finds the same run.
    const handle = await temporal.connection.withDeadline(Date.now() + startDeadlineMs, () =>
      temporal.workflow.start<typeof appointmentReminder>(appointmentReminderWorkflowType, {
        workflowId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: tenantIdKey, value: input.tenantId },
          { key: leadIdKey, value: input.leadId },
          { key: appointmentIdKey, value: input.appointmentId },
          { key: appointmentStatusKey, value: 'scheduled' },
        ],
      }),
    );
    return { workflowId, runId: handle.firstExecutionRunId };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId: null };
    throw error;
  }
}
