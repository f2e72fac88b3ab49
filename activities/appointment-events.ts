// What changed between two recordings of an appointment, as the events a CRM hears: a pure function, so the
// activity that records progress can emit exactly the changes its write made.
import type { EventType } from '../common/events.js';
import type { Reminder } from '../workflows/appointment-reminder.types.js';

export interface AppointmentRecord {
  status: string;
  startsAt: Date;
  reminders: Reminder[];
  closedReason: string | null;
}

export interface AppointmentChange {
  type: Extract<EventType, `appointment.${string}`>;
  details: Record<string, string | number | null>;
}

/** Reminder outcomes that are events; the others (scheduled, passed, dropped, skipped...) are not. */
const reminderEvents = { sent: 'appointment.reminder_sent', missed: 'appointment.reminder_missed' } as const;
const isReminderEvent = (status: string): status is keyof typeof reminderEvents => status in reminderEvents;

/** A reminder is the same one while its offset and due time are: a moved appointment plans new ones. */
const sameReminder = (a: Reminder, b: Reminder) => a.offsetSeconds === b.offsetSeconds && a.dueAt === b.dueAt;

export function appointmentChanges(before: AppointmentRecord, after: AppointmentRecord): AppointmentChange[] {
  const changes: AppointmentChange[] = [];
  for (const reminder of after.reminders) {
    const earlier = before.reminders.find((candidate) => sameReminder(candidate, reminder));
    if (isReminderEvent(reminder.status) && earlier?.status !== reminder.status) {
      changes.push({ type: reminderEvents[reminder.status], details: { offsetSeconds: reminder.offsetSeconds, dueAt: reminder.dueAt, sentAt: reminder.sentAt } });
    }
  }
  if (after.status === 'scheduled' && before.status === 'scheduled' && after.startsAt.getTime() !== before.startsAt.getTime()) {
    changes.push({ type: 'appointment.rescheduled', details: { previousStartsAt: before.startsAt.toISOString(), startsAt: after.startsAt.toISOString() } });
  }
  if (before.status === 'scheduled' && (after.status === 'cancelled' || after.status === 'completed')) {
    changes.push({ type: after.status === 'cancelled' ? 'appointment.cancelled' : 'appointment.completed', details: { startsAt: after.startsAt.toISOString(), reason: after.closedReason } });
  }
  return changes;
}
