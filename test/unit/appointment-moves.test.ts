// What a move writes to the row (api/routes/appointments.ts) and tells the CRM (activities/appointment-events.ts):
// pure functions of the workflow's answer and of the row before and after the write.
import { describe, expect, it } from 'vitest';
import { appointmentChanges } from '../../activities/appointment-events.js';
import { moveWritten } from '../../api/routes/appointments.js';
import { bookedState, type AppointmentReminderState } from '../../workflows/appointment-reminder.messages.js';

const held = '2026-06-10T09:00:00.000Z';
const asked = '2026-06-11T09:00:00.000Z';
const other = '2026-06-12T09:00:00.000Z';
const at = new Date('2026-06-01T10:00:00.000Z');
const answer = (state: Partial<AppointmentReminderState>): AppointmentReminderState => ({
  ...bookedState(held, []),
  confirmation: 'sent',
  ...state,
});

describe('moveWritten: the row takes what the workflow holds', () => {
  it('a move the workflow has yet to apply is written over the start it held when it answered', () => {
    expect(moveWritten(answer({ movingTo: asked }), asked, at)).toEqual({
      kind: 'move',
      from: held,
      to: asked,
      at: at.toISOString(),
    });
  });

  it('another request’s move, accepted after this one, is the one written', () => {
    expect(moveWritten(answer({ movingTo: other }), asked, at)).toMatchObject({ from: held, to: other });
  });

  it('a move the workflow applied needs no write (its run records the row), whichever start it holds', () => {
    expect(moveWritten(answer({ startsAt: asked }), asked)).toBeNull();
    expect(moveWritten(answer({ startsAt: other, reschedules: 2 }), asked)).toBeNull();
  });

  it('an appointment that ended meanwhile (a cancel, a STOP) is left to its run', () => {
    expect(moveWritten(answer({ status: 'cancelled', movingTo: asked }), asked)).toBeNull();
    expect(moveWritten(answer({ status: 'opted_out', movingTo: asked }), asked)).toBeNull();
  });

  it('a worker of the release before says nothing of where it is going: the request’s start, over the one held', () => {
    const { movingTo: _absent, ...before } = answer({});
    expect(moveWritten(before, asked, at)).toEqual({ kind: 'move', from: held, to: asked, at: at.toISOString() });
    expect(moveWritten({ ...before, startsAt: asked }, asked)).toBeNull();
  });
});

describe('appointmentChanges: a move withdraws the lead’s confirmation', () => {
  const confirmedAt = new Date('2026-06-01T12:00:00.000Z');
  const before = { startsAt: new Date(held), ended: false, reminders: [], confirmedAt };
  const after = { status: 'scheduled', startsAt: new Date(asked), reminders: [], closedReason: null };

  it('the rescheduled event names the confirmation the move cleared', () => {
    expect(appointmentChanges(before, { ...after, confirmedAt: null })).toEqual([
      {
        type: 'appointment.rescheduled',
        details: { previousStartsAt: held, startsAt: asked, previousConfirmedAt: confirmedAt.toISOString() },
      },
    ]);
  });

  it('a confirmation that stands (recorded after the move), or none, is not mentioned', () => {
    for (const change of [
      appointmentChanges(before, { ...after, confirmedAt }),
      appointmentChanges({ ...before, confirmedAt: null }, { ...after, confirmedAt: null }),
    ])
      expect(change).toEqual([
        { type: 'appointment.rescheduled', details: { previousStartsAt: held, startsAt: asked } },
      ]);
  });
});
