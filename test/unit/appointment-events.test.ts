import { describe, expect, it } from 'vitest';
import {
  appointmentChanges,
  type AnnouncedAppointment,
  type AppointmentProgress,
} from '../../activities/appointment-events.js';
import type { Reminder } from '../../workflows/appointment-reminder.messages.js';

const reminder = (status: Reminder['status'], dueAt = '2026-06-09T09:00:00.000Z'): Reminder => ({
  offsetSeconds: 86_400,
  dueAt,
  status,
  sentAt: status === 'sent' ? dueAt : null,
});
const start = new Date('2026-06-10T09:00:00Z');
const announced: AnnouncedAppointment = { startsAt: start, ended: false, reminders: [reminder('scheduled')] };
const recorded: AppointmentProgress = {
  status: 'scheduled',
  startsAt: start,
  reminders: [reminder('scheduled')],
  closedReason: null,
};
const types = (after: Partial<AppointmentProgress>, before: Partial<AnnouncedAppointment> = {}) =>
  appointmentChanges({ ...announced, ...before }, { ...recorded, ...after }).map((change) => change.type);

describe('appointmentChanges: what a progress write tells the CRM', () => {
  it('a reminder that becomes sent or missed is one event; the same status recorded again is none', () => {
    expect(types({ reminders: [reminder('sent')] })).toEqual(['appointment.reminder_sent']);
    expect(types({ reminders: [reminder('missed')] })).toEqual(['appointment.reminder_missed']);
    expect(types({ reminders: [reminder('sent')] }, { reminders: [reminder('sent')] })).toEqual([]);
    expect(types({ reminders: [reminder('skipped')] })).toEqual([]);
    expect(types({})).toEqual([]);
  });

  it('a start other than the one announced is rescheduled, with both times, even when the API wrote it to the row first', () => {
    const moved = appointmentChanges(announced, {
      ...recorded,
      startsAt: new Date('2026-06-11T09:00:00Z'),
      reminders: [reminder('scheduled', '2026-06-10T09:00:00.000Z')],
    });
    expect(moved).toEqual([
      {
        type: 'appointment.rescheduled',
        details: { previousStartsAt: '2026-06-10T09:00:00.000Z', startsAt: '2026-06-11T09:00:00.000Z' },
      },
    ]);
  });

  it('a reminder already sent that a move keeps sent (its time for the new start has passed too) is not sent again', () => {
    const sent = reminder('sent');
    const later = new Date(start.getTime() + 2 * 3_600_000);
    const kept: Reminder = { ...sent, dueAt: '2026-06-09T11:00:00.000Z' };
    expect(types({ startsAt: later, reminders: [kept] }, { reminders: [sent] })).toEqual(['appointment.rescheduled']);
    // Sent again for the new start: a send of its own.
    const again: Reminder = { ...kept, sentAt: '2026-06-09T11:00:00.000Z' };
    expect(types({ startsAt: later, reminders: [again] }, { reminders: [sent] })).toEqual([
      'appointment.reminder_sent',
      'appointment.rescheduled',
    ]);
  });

  it('the end is cancelled or completed once: nothing more once an end was announced', () => {
    expect(
      appointmentChanges(announced, { ...recorded, status: 'cancelled', closedReason: 'by the business' }),
    ).toEqual([
      { type: 'appointment.cancelled', details: { startsAt: '2026-06-10T09:00:00.000Z', reason: 'by the business' } },
    ]);
    expect(types({ status: 'completed' })).toEqual(['appointment.completed']);
    expect(types({ status: 'cancelled' }, { ended: true })).toEqual([]);
  });

  it('a run that ends with the appointment still on (the lead opted out, the number refused) says no reminder will come', () => {
    expect(
      appointmentChanges(announced, { ...recorded, status: 'opted_out', closedReason: 'recipient opted out' }),
    ).toEqual([
      {
        type: 'appointment.reminders_stopped',
        details: { startsAt: '2026-06-10T09:00:00.000Z', status: 'opted_out', reason: 'recipient opted out' },
      },
    ]);
    expect(types({ status: 'failed' })).toEqual(['appointment.reminders_stopped']);
    expect(types({ status: 'failed' }, { ended: true })).toEqual([]);
  });
});
