// A booking, recorded: the appointment's row, its `appointment.scheduled` event and funnel count, and the lead's running
// follow-ups halted, all under the conversation's lock. The API records it before it answers 201 (so the send gate
// refuses the next step from then on), and the appointment's first activity again, for an API that died after the
// start; whichever comes second finds everything written and changes nothing but the run ID (a follow-up started
// between the two is not the booking's to end).
import type { Prisma } from '../generated/prisma/client.js';
import type { AppointmentReminderInput, FollowUpRun, Reminder } from '../workflows/appointment-reminder.messages.js';
import { nextReminderAt } from '../workflows/decisions/reminder-schedule.js';
import { countEnrollmentFact, countLeadFact } from './analytics/aggregate.js';
import { haltEnrollments, lockConversation } from './conversation.js';
import { recordEventOnce } from './event-writers.js';

export interface BookingRecord extends AppointmentReminderInput {
  workflowId: string;
  /** Null when the start found the appointment's run already finished. */
  runId: string | null;
  reminders: Reminder[];
}

/**
 * Whether the follow-up a booking names is still there, held so until the commit (the key share its reference takes
 * anyway): a claim whose run never started may be removed meanwhile by the claim sweeper, and a booking then names no
 * follow-up rather than fail on the reference (a 500, and a run that could never record its row).
 */
async function stillThere(tx: Prisma.TransactionClient, enrollmentId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`SELECT 1 FROM enrollments WHERE id = ${enrollmentId}::uuid FOR KEY SHARE`;
  return rows.length > 0;
}

/**
 * The lead's follow-ups the booking ends (halted by it now, or by an earlier record of it), for the workflow to
 * signal; null when the lead has been erased, and nothing is written.
 */
export async function recordBooking(
  tx: Prisma.TransactionClient,
  { workflowId, runId, reminders, bookedFrom, appointmentId, ...appointment }: BookingRecord,
): Promise<FollowUpRun[] | null> {
  const scope = { tenantId: appointment.tenantId, leadId: appointment.leadId };
  const lead = await tx.lead.findFirstOrThrow({
    where: { id: scope.leadId, tenantId: scope.tenantId },
    select: { phone: true },
  });
  await lockConversation(tx, scope.tenantId, lead.phone);
  // Looked at again under the lock an erasure takes: one that committed meanwhile must not find its lead booked.
  const live = { id: scope.leadId, tenantId: scope.tenantId, status: { not: 'erased' as const } };
  if (!(await tx.lead.findFirst({ where: live, select: { id: true } }))) return null;
  const from = bookedFrom && (await stillThere(tx, bookedFrom.enrollmentId)) ? bookedFrom : null;
  const recordedBefore = await tx.appointment.findUnique({ where: { id: appointmentId }, select: { createdAt: true } });
  await tx.appointment.upsert({
    where: { id: appointmentId },
    create: {
      ...appointment,
      id: appointmentId,
      enrollmentId: from?.enrollmentId ?? null,
      startsAt: new Date(appointment.startsAt),
      reminders,
      nextReminderAt: nextReminderAt(reminders),
      workflowId,
      runId,
    },
    update: runId ? { runId } : {},
  });
  const data = {
    appointmentId,
    ...scope,
    enrollmentId: from?.enrollmentId ?? null,
    startsAt: appointment.startsAt,
    location: appointment.location,
  };
  if (await recordEventOnce(tx, { ...scope, type: 'appointment.scheduled', idKey: 'appointmentId', data })) {
    // The funnel's booking: for the follow-up it was booked from, else the lead's latest one.
    if (from) await countEnrollmentFact(tx, from.enrollmentId, 'booked');
    else await countLeadFact(tx, { ...scope, fact: 'booked' });
  }
  // One a STOP or a reply halted first is closed by that fact's signal, still on its way: the first fact stands.
  // Recorded again: the first record halted what ran then, and a follow-up the CRM started since is no longer its.
  const halted = await haltEnrollments(tx, { ...scope, startedBefore: recordedBefore?.createdAt }, 'booked');
  return halted
    .filter((run) => run.haltedBy === 'booked')
    .map((run) => ({ enrollmentId: run.id, workflowId: run.workflowId, runId: run.runId }));
}
