import { describe, expect, it } from 'vitest';
import { appointmentChanges, type AppointmentRecord } from '../../activities/appointment-events.js';
import type { Reminder } from '../../workflows/appointment-reminder.types.js';

const reminder = (status: Reminder['status'], dueAt = '2026-06-09T09:00:00.000Z'): Reminder => ({ offsetSeconds: 86_400, dueAt, status, sentAt: status === 'sent' ? dueAt : null });
const booked: AppointmentRecord = { status: 'scheduled', startsAt: new Date('2026-06-10T09:00:00Z'), reminders: [reminder('scheduled')], closedReason: null };
const types = (after: Partial<AppointmentRecord>, before = booked) => appointmentChanges(before, { ...booked, ...after }).map((change) => change.type);

describe('appointmentChanges: what a progress write changed, as events', () => {
  it('a reminder that becomes sent or missed is one event; the same status recorded again is none', () => {
    expect(types({ reminders: [reminder('sent')] })).toEqual(['appointment.reminder_sent']);
    expect(types({ reminders: [reminder('missed')] })).toEqual(['appointment.reminder_missed']);
    expect(types({ reminders: [reminder('sent')] }, { ...booked, reminders: [reminder('sent')] })).toEqual([]);
    expect(types({ reminders: [reminder('skipped')] })).toEqual([]);
  });

  it('a new start is rescheduled, with both times; the moved reminders are new ones', () => {
    const moved = appointmentChanges(booked, { ...booked, startsAt: new Date('2026-06-11T09:00:00Z'), reminders: [reminder('scheduled', '2026-06-10T09:00:00.000Z')] });
    expect(moved).toEqual([{ type: 'appointment.rescheduled', details: { previousStartsAt: '2026-06-10T09:00:00.000Z', startsAt: '2026-06-11T09:00:00.000Z' } }]);
  });

  it('the end of a scheduled appointment is cancelled or completed once; nothing again after it', () => {
    expect(appointmentChanges(booked, { ...booked, status: 'cancelled', closedReason: 'by the business' })).toEqual([
      { type: 'appointment.cancelled', details: { startsAt: '2026-06-10T09:00:00.000Z', reason: 'by the business' } },
    ]);
    expect(types({ status: 'completed' })).toEqual(['appointment.completed']);
    expect(types({ status: 'cancelled' }, { ...booked, status: 'cancelled' })).toEqual([]);
  });
});
