// A cancel for an appointment no reminder run can take any more: its reminders stopped (the lead opted out, the number
// cannot take messages) and the run ended, or an operator terminated the run before it recorded an end. The booking
// system still cancels the appointment, so the cancel is recorded here as a run would have recorded it.
import { underLeadConversationLock } from '../common/appointment-changes.js';
import type { Db } from '../common/db.js';
import { lockTenantEventsOf, recordEvent } from '../common/events.js';
import { lockAppointment, lockUnclaimedMessagesOf } from '../common/lock-order.js';
import { beginClosingUnclaimed } from '../common/unclaimed-messages.js';
import { Prisma, type Appointment } from '../generated/prisma/client.js';
import type { AppointmentStatus } from '../generated/prisma/enums.js';
import type { Reminder } from '../workflows/appointment-reminder.messages.js';

/** The reminders as a run's cancel leaves them: those still to come will not. */
const dropped = (reminders: Reminder[]): Reminder[] =>
  reminders.map((reminder) => (reminder.status === 'scheduled' ? { ...reminder, status: 'dropped' } : reminder));

/** Statuses a cancel without a run records over: the appointment still stands, though no reminder goes about it. */
const standingWithoutReminders: AppointmentStatus[] = ['scheduled', 'opted_out', 'failed'];

/**
 * The row cancelled (no notice: no run is there to send one), its messages no attempt has claimed closed with what they
 * reserved given back, and `appointment.cancelled` for the CRM; under the conversation's lock, so the send gate refuses
 * whatever may still come for it. Null, with nothing written, when it no longer stands (completed, cancelled).
 */
export async function cancelWithoutRun(db: Db, appointment: Appointment, reason: string): Promise<Appointment | null> {
  const { id, tenantId, leadId } = appointment;
  return underLeadConversationLock(db, { tenantId, leadId }, async (tx) => {
    // In common/lock-order.ts's order: the appointment's row (read as it is once locked: a run's last record may have
    // just landed), its messages and the capacity they give back, then the tenant's events.
    await lockAppointment(tx, id);
    const current = await tx.appointment.findUniqueOrThrow({ where: { id } });
    if (!standingWithoutReminders.includes(current.status)) return null;
    await lockUnclaimedMessagesOf(tx, { appointmentId: id });
    const unclaimed = await beginClosingUnclaimed(tx, { tenantId, appointmentId: id }, 'appointment_closed');
    await tx.$executeRaw(lockTenantEventsOf(Prisma.sql`VALUES (${tenantId}::uuid, 0)`));
    const cancelled = await tx.appointment.update({
      where: { id },
      data: {
        status: 'cancelled',
        closedReason: reason,
        closedAt: new Date(),
        nextReminderAt: null,
        reminders: dropped(current.reminders as unknown as Reminder[]),
      },
    });
    await recordEvent(tx, {
      tenantId,
      type: 'appointment.cancelled',
      leadId,
      data: { appointmentId: id, leadId, startsAt: current.startsAt.toISOString(), reason },
    });
    await unclaimed.close();
    return cancelled;
  });
}
