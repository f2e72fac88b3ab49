import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { appointmentReminder } from '../workflows/appointment-reminder.js';
import {
  appointmentReminderWorkflowId,
  appointmentReminderWorkflowType,
  type AppointmentReminderInput,
} from '../workflows/appointment-reminder.messages.js';
import { startRun } from './workflow-start.js';
import { appointmentIdKey, appointmentStatusKey } from '../workflows/search-attributes.js';

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

/**
 * Temporal first: nothing is written before it accepted the start. The workflow ID is the appointment's, and a second
 * start finds the run already there (a finished one is never run again), so a repeated booking starts nothing new, and
 * a caller that heard "may have started" retries into the same run. `runId` is null when the appointment's run has
 * already finished.
 */
export async function startAppointmentReminder(
  temporal: Client,
  taskQueue: string,
  input: AppointmentReminderInput,
): Promise<{ workflowId: string; runId: string | null }> {
  const workflowId = appointmentReminderWorkflowId(input.tenantId, input.appointmentId);
  const runId = await startRun<typeof appointmentReminder>(temporal, appointmentReminderWorkflowType, {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    tenantId: input.tenantId,
    leadId: input.leadId,
    moreSearchAttributes: [
      { key: appointmentIdKey, value: input.appointmentId },
      { key: appointmentStatusKey, value: 'scheduled' },
    ],
  });
  return { workflowId, runId };
}
