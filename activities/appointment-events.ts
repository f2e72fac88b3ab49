// What a progress write of an appointment tells the CRM, as events: a pure function of what the CRM was told before
// and the row as now recorded. The API writes a cancel or a new start to the row before the workflow records it (so
// the send gate sees it at once); comparing with the events already recorded, not with that row, still sees the change.
import type { EventType } from '../common/events.js';
import type { Reminder } from '../workflows/appointment-reminder.messages.js';

export interface AnnouncedAppointment {
  /** The start the latest appointment.scheduled or appointment.rescheduled event gave. */
  startsAt: Date;
  /** Whether an event that ends it was recorded (`endingEvents`). */
  ended: boolean;
  /** The reminders as recorded before this write (only the workflow records them). */
  reminders: Reminder[];
  /** The lead's confirmation as the row held it before this write. */
  confirmedAt?: Date | null;
}

export interface AppointmentProgress {
  status: string;
  startsAt: Date;
  reminders: Reminder[];
  closedReason: string | null;
  /** The lead's confirmation as this write leaves it: a move withdraws one of the start before it. */
  confirmedAt?: Date | null;
}

export interface AppointmentChange {
  type: Extract<EventType, `appointment.${string}`>;
  details: Record<string, string | number | null>;
}

/** The events after which an appointment's run records nothing more about it. */
export const endingEvents = [
  'appointment.cancelled',
  'appointment.completed',
  'appointment.reminders_stopped',
] as const satisfies EventType[];

/** Reminder outcomes that are events; the others (scheduled, passed, dropped, skipped...) are not. */
const reminderEvents = { sent: 'appointment.reminder_sent', missed: 'appointment.reminder_missed' } as const;
const isReminderEvent = (status: string): status is keyof typeof reminderEvents => status in reminderEvents;

/**
 * A reminder is the same one while its offset and due time are: a moved appointment plans new ones. One a move keeps
 * `sent` (its time for the new start gone too) is given the new due time but is the same send, by its `sentAt`.
 */
const sameReminder = (a: Reminder, b: Reminder) =>
  a.offsetSeconds === b.offsetSeconds && (a.dueAt === b.dueAt || (a.sentAt !== null && a.sentAt === b.sentAt));

export function appointmentChanges(before: AnnouncedAppointment, after: AppointmentProgress): AppointmentChange[] {
  const changes: AppointmentChange[] = [];
  for (const reminder of after.reminders) {
    const earlier = before.reminders.find((candidate) => sameReminder(candidate, reminder));
    if (isReminderEvent(reminder.status) && earlier?.status !== reminder.status) {
      changes.push({
        type: reminderEvents[reminder.status],
        details: { offsetSeconds: reminder.offsetSeconds, dueAt: reminder.dueAt, sentAt: reminder.sentAt },
      });
    }
  }
  if (!before.ended && after.startsAt.getTime() !== before.startsAt.getTime()) {
    // The confirmation the move withdrew, if there was one: the lead has yet to confirm the new start.
    const withdrawn = before.confirmedAt && !after.confirmedAt ? before.confirmedAt : null;
    changes.push({
      type: 'appointment.rescheduled',
      details: {
        previousStartsAt: before.startsAt.toISOString(),
        startsAt: after.startsAt.toISOString(),
        ...(withdrawn ? { previousConfirmedAt: withdrawn.toISOString() } : {}),
      },
    });
  }
  if (!before.ended && (after.status === 'cancelled' || after.status === 'completed')) {
    changes.push({
      type: after.status === 'cancelled' ? 'appointment.cancelled' : 'appointment.completed',
      details: { startsAt: after.startsAt.toISOString(), reason: after.closedReason },
    });
  }
  // The run ended with the appointment still on: the CRM learns why no reminder will come.
  if (!before.ended && (after.status === 'opted_out' || after.status === 'failed')) {
    changes.push({
      type: 'appointment.reminders_stopped',
      details: { startsAt: after.startsAt.toISOString(), status: after.status, reason: after.closedReason },
    });
  }
  return changes;
}
