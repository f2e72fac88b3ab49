import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { recordActivityOptions, sendActivityOptions } from './activity-options.js';
import type { AppointmentMessage, SendAppointmentMessageResult } from '../activities/reminders.js';
import {
  appointmentOptOutSignal,
  appointmentReplySignal,
  cancelledThroughTheApi,
  cancelUpdate,
  rescheduleUpdate,
  statusQuery,
  updateRefusals,
  type AppointmentOutcome,
  type AppointmentReminderInput,
  type AppointmentReminderState,
  type CancelUpdateInput,
  type SendOutcome,
} from './appointment-reminder.messages.js';
import {
  nextReminderAt,
  nextReminderMove,
  planReminders,
  withOutcome,
  withScheduledDropped,
} from './decisions/reminder-schedule.js';
import { appointmentBookedSignal } from './lead-follow-up.messages.js';
import { appointmentConfirmedKey, appointmentStatusKey, nextReminderAtKey } from './search-attributes.js';

const { recordAppointmentStarted, recordAppointmentProgress } = proxyActivities<Activities>(recordActivityOptions);
/** Transient faults are retried until the message is worthless; an attempt past `notAfter` answers `missed`. */
const sendActivity = (notAfter: Date) =>
  proxyActivities<Activities>(sendActivityOptions(notAfter, '1 minute')).sendAppointmentMessage;
/** The send gate's holds come back as results and the workflow waits itself, so a move or a cancel ends the wait at once. */
const sendGateHoldsPatch = 'send-gate-holds';
/** A STOP reaches the appointment's run as a signal and ends it at once. */
const optOutEndsAppointmentPatch = 'opt-out-ends-appointment';
/** A booking ends every running follow-up of its lead, not only the one it names (a booking by `leadId` named none). */
const bookingEndsLeadFollowUpsPatch = 'booking-ends-lead-follow-ups';
/** The lead's confirm and reschedule words reach the run; a confirmation may drop the reminders still to come. */
const appointmentRepliesPatch = 'appointment-replies';
/** Updates answer once the change is recorded, or after this long (a send in flight may take a while). */
const settleTimeout = '5 seconds';

/** Confirms an appointment at once, reminds before it, follows it when it moves, and ends when it starts. */
export async function appointmentReminder(input: AppointmentReminderInput): Promise<AppointmentReminderState> {
  const { tenantId, leadId, appointmentId } = input;
  const plan = (startsAt: string, previous: AppointmentReminderState['reminders']) =>
    planReminders({
      startsAt: new Date(startsAt),
      timeZone: input.timeZone,
      offsetsSeconds: input.reminderOffsetsSeconds,
      now: new Date(),
      previous,
    });
  const state: AppointmentReminderState = {
    status: 'scheduled',
    startsAt: input.startsAt,
    reminders: plan(input.startsAt, []),
    confirmation: 'pending',
    cancellationNotice: null,
    reschedules: 0,
    closedReason: null,
    leadConfirmedAt: null,
    rescheduleRequestedAt: null,
  };
  /** Bumped by every update; `recorded` catches up once the appointment row shows the change. */
  let changes = 0;
  let recorded = 0;
  let lastRecord = '';
  // Requests wait here until the loop is between sends, so an outcome always lands on the plan it was sent from.
  let moveTo = null as string | null;
  let cancel = null as CancelUpdateInput | null;
  let cancelled: unknown = null;

  const close = (status: AppointmentOutcome, reason: string) => {
    if (state.status !== 'scheduled') return;
    Object.assign(state, { status, closedReason: reason, reminders: withScheduledDropped(state.reminders) });
  };
  const settled = async (change: number) => {
    await condition(() => recorded >= change, settleTimeout);
    return state;
  };
  const requireScheduled = () => {
    if (state.status !== 'scheduled' || cancel) {
      throw ApplicationFailure.create({
        type: updateRefusals.notScheduled,
        message: `the appointment is ${cancel ? 'being cancelled' : state.status}`,
      });
    }
  };
  setHandler(statusQuery, () => state);
  setHandler(
    rescheduleUpdate,
    ({ startsAt }) => {
      moveTo = startsAt;
      return settled(++changes);
    },
    {
      validator: ({ startsAt }) => {
        requireScheduled();
        if (!(Date.parse(startsAt) > Date.now()))
          throw ApplicationFailure.create({
            type: updateRefusals.invalidStart,
            message: 'the new start time must be in the future',
          });
      },
    },
  );
  setHandler(
    cancelUpdate,
    (request) => {
      cancel = request;
      return settled(++changes);
    },
    { validator: (_request: CancelUpdateInput) => requireScheduled() },
  );
  // The row and the event were written with the reply; the run keeps what it changes about the reminders.
  // Runs from before the patch never received it; with it, a STOP ends the appointment at once, not at its next send.
  setHandler(appointmentOptOutSignal, ({ source }) => {
    if (patched(optOutEndsAppointmentPatch)) close('opted_out', `recipient opted out (${source})`);
  });
  setHandler(appointmentReplySignal, ({ kind, at, skipReminders }) => {
    if (!patched(appointmentRepliesPatch) || state.status !== 'scheduled') return;
    if (kind === 'reschedule_requested') {
      state.rescheduleRequestedAt = at;
      return;
    }
    if (state.leadConfirmedAt) return;
    state.leadConfirmedAt = at;
    upsertSearchAttributes([{ key: appointmentConfirmedKey, value: true }]);
    // A reminder in flight still records its outcome; a move plans reminders for the new time again.
    if (skipReminders) state.reminders = withScheduledDropped(state.reminders);
  });

  /** The appointment row and the search attributes follow the state; unchanged state writes nothing. */
  const record = async () => {
    const upTo = changes;
    const snapshot = JSON.stringify([state.status, state.startsAt, state.reminders, state.closedReason]);
    if (snapshot !== lastRecord) {
      upsertSearchAttributes([
        { key: appointmentStatusKey, value: state.status },
        { key: nextReminderAtKey, value: nextReminderAt(state.reminders) },
      ]);
      await recordAppointmentProgress({
        appointmentId,
        tenantId,
        startsAt: state.startsAt,
        reminders: state.reminders,
        status: state.status,
        closedReason: state.closedReason,
      });
      lastRecord = snapshot;
    }
    recorded = upTo;
  };

  /**
   * Twilio's final refusals end the reminders; a send cut off by its deadline was missed. A send the gate holds is
   * tried again when the hold ends, unless `interrupted` comes true first (a move or a cancel): then nothing went out.
   */
  const send = async (
    message: AppointmentMessage,
    notAfter: Date,
    interrupted: () => boolean = () => false,
  ): Promise<SendOutcome | 'interrupted'> => {
    const request = {
      tenantId,
      leadId,
      appointmentId,
      message,
      startsAt: state.startsAt,
      location: input.location,
      notAfter: notAfter.toISOString(),
      ...(patched(sendGateHoldsPatch) ? { holdAsResult: true } : {}),
    };
    for (;;) {
      let result: SendAppointmentMessageResult;
      try {
        // Not cancellable: a send in flight finishes (and is recorded) before a cancellation takes effect.
        result = await CancellationScope.nonCancellable(() => sendActivity(notAfter)(request));
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        // Temporal gives up as soon as the next retry would come after the deadline: that is a miss, not a failure.
        if (error.retryState === 'TIMEOUT') return 'missed';
        close('failed', error.cause?.message ?? error.message);
        return 'failed';
      }
      log.info('appointment message finished', { kind: message.kind, outcome: result.outcome });
      if (result.outcome === 'held') {
        if (await condition(interrupted, Math.max(Date.parse(result.retryAt) - Date.now(), 1))) return 'interrupted';
        continue;
      }
      if (result.outcome === 'opted_out') close('opted_out', 'recipient opted out');
      if (result.outcome === 'failed')
        close('failed', `${result.kind}${result.errorCode ? ` (Twilio ${result.errorCode})` : ''}`);
      return result.outcome === 'halted' ? 'skipped' : result.outcome;
    }
  };
  const movedOrCancelled = () => moveTo !== null || cancel !== null || state.status !== 'scheduled';

  /** Ends the follow-up the appointment was booked from; one that has already ended has nothing left to stop. */
  const endFollowUp = async ({ workflowId, runId }: { workflowId: string; runId: string | null }) => {
    try {
      await getExternalWorkflowHandle(workflowId, runId ?? undefined).signal(appointmentBookedSignal, {
        appointmentId,
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.info('the follow-up had already ended', {
        workflowId,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  };

  const { workflowId, runId } = workflowInfo();
  try {
    const started = await CancellationScope.nonCancellable(() =>
      recordAppointmentStarted({ ...input, workflowId, runId, reminders: state.reminders }),
    );
    if (input.bookedFrom) await endFollowUp(input.bookedFrom);
    // Runs from before the patch ended only the follow-up named at booking (and their activity answered nothing).
    if (patched(bookingEndsLeadFollowUpsPatch))
      for (const followUp of started.followUpsToEnd) await endFollowUp(followUp);
    const confirmation = await send({ kind: 'confirmation' }, new Date(state.startsAt), movedOrCancelled);
    state.confirmation = confirmation === 'interrupted' ? 'skipped' : confirmation;
    while (state.status === 'scheduled') {
      if (moveTo) {
        Object.assign(state, {
          startsAt: moveTo,
          reminders: plan(moveTo, state.reminders),
          reschedules: state.reschedules + 1,
        });
        moveTo = null;
      }
      if (cancel) {
        close('cancelled', cancel.reason ?? cancelledThroughTheApi);
        const notice = cancel.notify ? await send({ kind: 'cancellation' }, new Date(state.startsAt)) : 'off';
        state.cancellationNotice = notice === 'interrupted' ? 'skipped' : notice;
        break;
      }
      await record();
      const move = nextReminderMove(state.reminders, new Date(state.startsAt), new Date());
      if (move.kind === 'end') close('completed', 'the appointment time came');
      else if (move.kind === 'wait') {
        // Only a reply signal replaces the plan during a wait: then the loop records the dropped reminders at once.
        const waitingOn = state.reminders;
        await condition(
          () => moveTo !== null || cancel !== null || state.reminders !== waitingOn,
          move.until.getTime() - Date.now(),
        );
      } else {
        const outcome =
          move.kind === 'miss'
            ? 'missed'
            : await send({ kind: 'reminder', offsetSeconds: move.offsetSeconds }, move.notAfter, movedOrCancelled);
        // An interrupted reminder stays scheduled: the move plans it again, the cancel drops it.
        if (outcome !== 'interrupted')
          state.reminders = withOutcome(state.reminders, move.offsetSeconds, outcome, new Date());
      }
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    close('cancelled', 'workflow cancelled');
    cancelled = error;
  }

  await CancellationScope.nonCancellable(record);
  await condition(allHandlersFinished);
  // Rethrown once recorded, so Temporal shows the run as Canceled too.
  if (cancelled) throw cancelled;
  return state;
}
