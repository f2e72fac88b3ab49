// The appointmentReminder run's message handlers, wired apart from its main loop: updates leave a move or a cancel for
// the loop and answer once it is recorded; signals from the lead's SMS change the run at once.
import { patched, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { ReminderRun } from './appointment-reminder.js';
import {
  appointmentOptOutSignal,
  appointmentReplySignal,
  cancelUpdate,
  rescheduleUpdate,
  statusQuery,
  updateRefusals,
  type CancelUpdateInput,
} from './appointment-reminder.messages.js';
import { withScheduledDropped } from './decisions/reminder-schedule.js';
import { refusal } from './run-lifecycle.js';
import { appointmentConfirmedKey } from './search-attributes.js';

/** A STOP reaches the appointment's run as a signal and ends it at once. */
const optOutEndsAppointmentPatch = 'opt-out-ends-appointment';
/** The lead's confirm and reschedule words reach the run; a confirmation may drop the reminders still to come. */
const appointmentRepliesPatch = 'appointment-replies';

export function wireReminderHandlers(run: ReminderRun): void {
  const { state } = run;
  const requireScheduled = () => {
    if (state.status !== 'scheduled' || run.beingCancelled) {
      const standing = run.beingCancelled ? 'being cancelled' : state.status;
      throw refusal(updateRefusals.notScheduled, `the appointment is ${standing}`);
    }
  };
  setHandler(statusQuery, () => state);
  setHandler(rescheduleUpdate, ({ startsAt, notify }) => run.reschedule(startsAt, notify === true), {
    validator: ({ startsAt }) => {
      requireScheduled();
      if (!(Date.parse(startsAt) > Date.now()))
        throw refusal(updateRefusals.invalidStart, 'the new start time must be in the future');
    },
  });
  setHandler(cancelUpdate, (request) => run.requestCancel(request), {
    validator: (_request: CancelUpdateInput) => requireScheduled(),
  });
  // The row and the event were written with the reply; the run keeps what it changes about the reminders.
  // Runs from before the patch never received it; with it, a STOP ends the appointment at once, not at its next send.
  setHandler(appointmentOptOutSignal, ({ source }) => {
    if (patched(optOutEndsAppointmentPatch)) run.close('opted_out', `recipient opted out (${source})`);
  });
  setHandler(appointmentReplySignal, ({ kind, at, skipReminders }) => {
    if (!patched(appointmentRepliesPatch) || state.status !== 'scheduled') return;
    if (kind === 'reschedule_requested') {
      state.rescheduleRequestedAt = at;
      return;
    }
    // One recorded before the start last moved was of an earlier start: the move withdrew it (and cleared the row's).
    if (state.leadConfirmedAt || (state.movedAt && Date.parse(at) < Date.parse(state.movedAt))) return;
    state.leadConfirmedAt = at;
    run.confirmationDropsReminders = skipReminders;
    upsertSearchAttributes([{ key: appointmentConfirmedKey, value: true }]);
    // A reminder in flight still records its outcome; a move plans reminders for the new time again.
    if (skipReminders) state.reminders = withScheduledDropped(state.reminders);
  });
}
