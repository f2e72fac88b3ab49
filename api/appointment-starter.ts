import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Db } from '../common/db.js';
import type { appointmentReminder } from '../workflows/appointment-reminder.js';
import {
  appointmentReminderWorkflowId,
  appointmentReminderWorkflowType,
  type AppointmentReminderInput,
} from '../workflows/appointment-reminder.messages.js';
import { ApiError, leadErased, notFound } from './errors.js';
import { liveReadDeadlineMs } from './live-read.js';
import { startDeadlineMs, startRun } from './workflow-start.js';
import {
  appointmentConfirmedKey,
  appointmentIdKey,
  appointmentStatusKey,
  leadIdKey,
} from '../workflows/search-attributes.js';

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
 * What a booking asked for, as a digest kept in its run's memo: a second request for the same appointment ID (one
 * Idempotency-Key, or one follow-up) that asked for something else is told apart from a repeat, even when both started
 * at once and neither has written the row yet. The run named at booking is left out: it is the follow-up's, not the
 * booking's, and may change between two requests.
 */
function bookingDigest({ bookedFrom, ...booking }: AppointmentReminderInput): string {
  const asked = { ...booking, bookedFrom: bookedFrom?.enrollmentId ?? null };
  return createHash('sha256').update(JSON.stringify(asked)).digest('base64url');
}

/** Temporal accepted the start, but what the run there was started for could not be read: it may be this booking. */
export class BookingUnconfirmed extends Error {
  override name = 'BookingUnconfirmed';
}

/**
 * Temporal first: nothing is written before it accepted the start. The workflow ID is the appointment's, and a second
 * start finds the run already there (a finished one is never run again), so a repeated booking starts nothing new, and
 * a caller that heard "may have started" retries into the same run. `runId` is null when the appointment's run has
 * already finished. `sameBooking` is false when the run there was started for other details (by a concurrent
 * request): this request must not record its own.
 */
export async function startAppointmentReminder(
  temporal: Client,
  taskQueue: string,
  input: AppointmentReminderInput,
): Promise<{ workflowId: string; runId: string | null; sameBooking: boolean }> {
  const workflowId = appointmentReminderWorkflowId(input.tenantId, input.appointmentId);
  const booking = bookingDigest(input);
  const runId = await startRun<typeof appointmentReminder>(temporal, appointmentReminderWorkflowType, {
    workflowId,
    taskQueue,
    args: [input],
    memo: { booking },
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    tenantId: input.tenantId,
    leadId: input.leadId,
    moreSearchAttributes: [
      { key: appointmentIdKey, value: input.appointmentId },
      { key: appointmentStatusKey, value: 'scheduled' },
      // Set from the start: a query for `AppointmentConfirmed=false` matches no run that lacks the attribute.
      { key: appointmentConfirmedKey, value: false },
    ],
  });
  // USE_EXISTING answers with the run already there as if it were new: its memo says what it was started for. Runs
  // started before the memo was kept have none, and count as this booking (the row's check still applies).
  const { memo } = await temporal.connection
    .withDeadline(Date.now() + startDeadlineMs, () =>
      temporal.workflow.getHandle(workflowId, runId ?? undefined).describe(),
    )
    .catch((error: unknown) => {
      throw new BookingUnconfirmed(`the run ${workflowId} was started but could not be read`, { cause: error });
    });
  return { workflowId, runId, sameBooking: memo?.booking === undefined || memo.booking === booking };
}

/**
 * An appointment with no row yet, asked about live: Temporal says whether a booking's run is there (a booking
 * answered 503 may have started one, which records the row once a worker runs it). Always an error: 404 when there is
 * no run or it ended without recording one, 409 `erased` when its lead was erased (the run then records nothing), 409
 * `conflict` while its run has yet to record it, 503 when Temporal does not answer.
 */
export async function unrecordedBooking(
  { temporal, db }: { temporal: Client; db: Db },
  tenantId: string,
  appointmentId: string,
): Promise<ApiError> {
  const workflowId = appointmentReminderWorkflowId(tenantId, appointmentId);
  let description: WorkflowExecutionDescription;
  try {
    description = await temporal.connection.withDeadline(Date.now() + liveReadDeadlineMs, () =>
      temporal.workflow.getHandle(workflowId).describe(),
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return notFound('Appointment');
    return new ApiError(
      503,
      'temporal_unavailable',
      'Temporal did not say whether a booking run is there; read again shortly',
      undefined,
      { cause: error },
    );
  }
  if (description.status.name !== 'RUNNING') return notFound('Appointment');
  const leadId = description.typedSearchAttributes.get(leadIdKey);
  const lead = leadId ? await db.lead.findFirst({ where: { id: leadId, tenantId }, select: { status: true } }) : null;
  if (lead?.status === 'erased') return leadErased();
  return new ApiError(
    409,
    'conflict',
    'The appointment is being booked: its run is there and records it as soon as a worker runs it; read it again',
    { workflowId, recorded: false },
  );
}
