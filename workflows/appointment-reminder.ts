import {
  ActivityFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AppointmentMessage, SendAppointmentMessageResult } from '../activities/reminders.js';
import { recordActivityOptions, sendActivitiesUntil, settleAfterDeadlineMs } from './activity-options.js';
import { wireReminderHandlers } from './appointment-reminder.handlers.js';
import {
  bookedState,
  cancelledInTemporal,
  cancelledThroughTheApi,
  type AcceptedChange,
  type AppointmentOutcome,
  type AppointmentReminderInput,
  type AppointmentReminderState,
  type CancelUpdateInput,
  type FollowUpRun,
  type SendOutcome,
} from './appointment-reminder.messages.js';
import {
  nextReminderAt,
  nextReminderMove,
  planReminders,
  withOutcome,
  withScheduledDropped,
  type ReminderMove,
} from './decisions/reminder-schedule.js';
import { appointmentBookedSignal } from './lead-follow-up.messages.js';
import {
  closeOnce,
  continueInNewRun,
  historyIsLong,
  runToTheEnd,
  settledState,
  untilChangeOrTime,
  type WorkflowRun,
} from './run-lifecycle.js';
import { appointmentConfirmedKey, appointmentStatusKey, nextReminderAtKey } from './search-attributes.js';

const { recordAppointmentStarted, recordAppointmentProgress, recordAcceptedChange } =
  proxyActivities<Activities>(recordActivityOptions);
/**
 * Transient faults are retried until the message is worthless; an attempt past `notAfter` answers `missed`, or `sent`
 * when it finds that an attempt still at Twilio then sent it (tried for a while past it: `settleAfterDeadlineMs`).
 */
const sendActivity = (notAfter: Date) =>
  sendActivitiesUntil(
    patched(settleAfterDeadlinePatch) ? new Date(notAfter.getTime() + settleAfterDeadlineMs) : notAfter,
    '1 minute',
  ).sendAppointmentMessage;
/** The send gate's holds come back as results and the workflow waits itself, so a move or a cancel ends the wait at once. */
const sendGateHoldsPatch = 'send-gate-holds';
/** A booking ends every running follow-up of its lead, not only the one it names (a booking by `leadId` named none). */
const bookingEndsLeadFollowUpsPatch = 'booking-ends-lead-follow-ups';
/**
 * The follow-up a booking was made from is told only when the booking halted it: one a STOP or a reply halted first is
 * closed by that fact's signal, as opted out or replied. Before, it was told whatever halted it, and whichever signal
 * came first won: an opted-out lead's follow-up could close `booked`.
 */
const bookedFromFirstFactPatch = 'booked-from-first-fact';
/** A reply that replaced the reminders while the row was being written ends the next wait, so the row hears of it. */
const replyDuringRecordPatch = 'reply-during-record';
/**
 * A move or a cancel accepted while the run was busy (recording the booking or the row) is acted on before the next
 * send, and a confirmation it held back or interrupted goes out for the new time once the row shows it.
 */
const changeBeforeSendPatch = 'change-before-send';
/**
 * A follow-up the booking ends is told by workflow ID and enrollment, not by the run named at booking: that run may
 * have continued as new since, and the signal missed it.
 */
const followUpByEnrollmentPatch = 'follow-up-by-enrollment';
/**
 * Send attempts may come for a while past the message's deadline, to settle one another attempt had at Twilio then;
 * before it, Temporal stopped at the deadline and the run said `missed` whatever that attempt did.
 */
const settleAfterDeadlinePatch = 'settle-after-deadline';
/**
 * A lead's confirmation is of a start: a move withdraws one recorded before it (the row's write clears it too), so
 * reminders for the new time go even where a confirmation stops them, and the lead can confirm again.
 */
const moveWithdrawsConfirmationPatch = 'move-withdraws-confirmation';
/**
 * A confirmation the send gate refused for a move the row already shows (the API writes one the run has yet to apply,
 * its loop busy with that send's retries) stays pending, and goes for the new time once the move is recorded.
 */
const confirmationRefusedByMovePatch = 'confirmation-refused-by-move';
/**
 * A move the lead was not told of (their confirmation had gone for the old start) sends the confirmation again for the
 * new one, when the tenant tells leads of moves: they learn the time they are expected at, and a confirm word answers it.
 */
const moveTellsLeadPatch = 'move-tells-lead';
/**
 * A cancellation's notice names the start the lead was last told (a move they never heard of, its notice held or cut
 * short by the cancel, is not news to give with it), while that start is still ahead.
 */
const cancellationNamesToldStartPatch = 'cancellation-names-told-start';
/**
 * The run writes a move or a cancel to the row as it accepts it, before the update answers: a reminder in Twilio's
 * retries is refused for the start it left even when the request that asked died before writing the answer (before,
 * only the API wrote it, and once its 20 s stamp expired the retry went for the old start).
 */
const changeWrittenOnAcceptancePatch = 'change-written-on-acceptance';
/**
 * A cancel the run accepted is recorded (the row's reminders dropped, `appointment.cancelled` for the CRM) before its
 * notice goes: a notice held by the kill switch, a budget or Twilio's retries kept the CRM from hearing of the cancel
 * for as long, hours or till the start.
 */
const cancelRecordedBeforeNoticePatch = 'cancel-recorded-before-notice';
/**
 * A move to the start the run is at, or already going to (a CRM's retry of a move that landed), changes nothing: before,
 * it interrupted a reminder held (or due that moment) and planned the reminders again, which marked that reminder
 * `passed`, so it never went.
 */
const sameStartMovesNothingPatch = 'same-start-moves-nothing';

/**
 * What a send came to: `interrupted`, a move or a cancel ended its hold; `moved`, the send gate refused it for a start
 * the row no longer shows. Both are recorded as skipped, unless the loop sends the message again.
 */
type SendResult = SendOutcome | 'interrupted' | 'moved';
const asRecorded = (outcome: SendResult): SendOutcome =>
  outcome === 'interrupted' || outcome === 'moved' ? 'skipped' : outcome;

/** Confirms an appointment at once, reminds before it, follows it when it moves, and ends when it starts. */
export async function appointmentReminder(input: AppointmentReminderInput): Promise<AppointmentReminderState> {
  const run = new ReminderRun(input);
  wireReminderHandlers(run);
  return runToTheEnd(run);
}

/** One appointment's run: its state, the requests its updates leave for the main loop, and the loop's steps. */
export class ReminderRun implements WorkflowRun<AppointmentReminderState> {
  readonly state: AppointmentReminderState;
  private readonly input: AppointmentReminderInput;
  /** Bumped by every update; `recorded` catches up once the appointment row shows the change. */
  private changes = 0;
  private recorded = 0;
  /** The cancel was recorded before its notice (cancelRecordedBeforeNoticePatch): its update waits for the notice. */
  private noticeAfterRecord = false;
  private lastRecord = '';
  /** The reminders as the row last showed them (the plan a wait must differ from to be recorded). */
  private recordedReminders: AppointmentReminderState['reminders'] | null = null;
  // Requests wait here until the loop is between sends, so an outcome always lands on the plan it was sent from.
  private moveTo: string | null = null;
  /** When the pending move was accepted (a confirmation recorded before it was of an earlier start). */
  private moveAcceptedAt = '';
  /** Whether the lead is told of the pending move. */
  private moveNotify = false;
  private cancel: CancelUpdateInput | null = null;
  /** The row writes of accepted changes, chained so they land in the order the run accepted them. */
  private acceptedWrites: Promise<void> = Promise.resolve();
  /** Whether the lead's confirmation dropped the reminders (the tenant's setting then): a move keeps them dropped. */
  confirmationDropsReminders = false;

  constructor(input: AppointmentReminderInput) {
    this.input = input;
    this.cancel = input.carriedOn?.cancel ?? null;
    this.state = input.carriedOn?.state ?? bookedState(input.startsAt, this.plan(input.startsAt, []));
  }

  get beingCancelled(): boolean {
    return this.cancel !== null;
  }

  close(status: AppointmentOutcome, reason: string): void {
    const closed = {
      status,
      closedReason: reason,
      reminders: withScheduledDropped(this.state.reminders),
      // Ended before the confirmation went (a change while the booking was recorded): it never will.
      ...(this.state.confirmation === 'pending' ? { confirmation: 'skipped' as const } : {}),
    };
    closeOnce(this.state, 'scheduled', closed);
  }

  async reschedule(startsAt: string, notify: boolean): Promise<AppointmentReminderState> {
    // The start the row shows once the changes accepted before this one are written.
    const from = this.state.movingTo ?? this.state.startsAt;
    // Answered once the changes accepted before it are recorded, as a move would be.
    if (Date.parse(startsAt) === Date.parse(from) && patched(sameStartMovesNothingPatch))
      return this.settled(this.changes);
    // Back to the start the run holds (a move undone before the loop applied it): no move happened, and the row says
    // so again, as the run last recorded it.
    const undone = Date.parse(startsAt) === Date.parse(this.state.startsAt);
    this.moveTo = startsAt;
    this.moveAcceptedAt = new Date().toISOString();
    this.moveNotify = notify;
    // The answer says where the run is going even before the loop applies it.
    this.state.movingTo = startsAt;
    const change = ++this.changes;
    if (this.writesAcceptedChanges() && Date.parse(from) !== Date.parse(startsAt))
      await this.writeAccepted({
        kind: 'move',
        from,
        to: startsAt,
        at: undone ? (this.state.movedAt ?? null) : this.moveAcceptedAt,
      });
    return this.settled(change);
  }

  async requestCancel(request: CancelUpdateInput): Promise<AppointmentReminderState> {
    this.cancel = request;
    const change = ++this.changes;
    if (this.writesAcceptedChanges())
      await this.writeAccepted({
        kind: 'cancel',
        reason: request.reason ?? cancelledThroughTheApi,
        at: new Date().toISOString(),
      });
    // The answer says what became of the notice, as it did when the cancel was recorded only after it. Runs that record
    // it after (no patch, or a run another fact closed first) answer as they always did: replays issue the same commands.
    return settledState(
      () => this.recorded >= change && (!this.noticeAfterRecord || this.state.cancellationNotice !== null),
      this.state,
    );
  }

  /** Whether the run writes the changes it accepts to the row; its state tells the API, which then writes nothing. */
  private writesAcceptedChanges(): boolean {
    if (!patched(changeWrittenOnAcceptancePatch)) return false;
    this.state.writesAcceptedChanges = true;
    return true;
  }

  /**
   * Puts an accepted change on the row after the ones accepted before it. One whose write fails for good (a
   * non-retryable error) leaves the row to the loop's next record; the update still answers what the run holds.
   */
  private writeAccepted(change: AcceptedChange): Promise<void> {
    const { tenantId, leadId, appointmentId } = this.input;
    const written = this.acceptedWrites
      .then(() => recordAcceptedChange({ tenantId, leadId, appointmentId, change }))
      .catch((error: unknown) => {
        if (isCancellation(error)) throw error;
        log.warn('an accepted change was not written to the row', { kind: change.kind, error: String(error) });
      });
    this.acceptedWrites = written.catch(() => undefined);
    return written;
  }

  /** The main loop: reminds until the appointment ends; answers the cancellation that ended it, if one did. */
  async loop(): Promise<unknown> {
    try {
      // A run that continued from a long one goes on where it was: the booking is recorded, a pending confirmation
      // goes from the loop, and a cancellation's notice still to send goes now.
      if (!this.input.carriedOn) {
        await this.start();
        if (!this.changedBeforeConfirmation()) await this.sendConfirmation();
      } else if (this.cancel && this.state.cancellationNotice === null) await this.closeAsCancelled(this.cancel);
      while (this.state.status === 'scheduled') {
        this.applyMove();
        if (this.cancel) {
          await this.closeAsCancelled(this.cancel);
          break;
        }
        await this.record();
        // Only a change before it leaves the confirmation pending here: it goes for the start just recorded.
        if (this.state.confirmation === 'pending') {
          await this.sendConfirmation();
          continue;
        }
        const move = nextReminderMove(this.state.reminders, new Date(this.state.startsAt), new Date());
        if (move.kind === 'end') this.close('completed', 'the appointment time came');
        else if (move.kind === 'wait') await this.waitForReminder(move.until);
        else await this.sendReminder(move);
      }
    } catch (error) {
      if (!isCancellation(error)) throw error;
      this.close('cancelled', cancelledInTemporal);
      return error;
    }
    return null;
  }

  /** The row shows how the appointment ended (outside any cancellation: runToTheEnd). */
  recordOutcome(): Promise<void> {
    return this.record();
  }

  /** The appointment row and the search attributes follow the state; unchanged state writes nothing. */
  private async record(): Promise<void> {
    const upTo = this.changes;
    const { status, startsAt, reminders, closedReason } = this.state;
    const snapshot = JSON.stringify([status, startsAt, reminders, closedReason]);
    if (snapshot !== this.lastRecord) {
      upsertSearchAttributes([
        { key: appointmentStatusKey, value: status },
        { key: nextReminderAtKey, value: nextReminderAt(reminders) },
      ]);
      await recordAppointmentProgress({
        appointmentId: this.input.appointmentId,
        tenantId: this.input.tenantId,
        runId: workflowInfo().runId,
        startsAt,
        reminders,
        status,
        closedReason,
        ...(this.state.movedAt ? { movedAt: this.state.movedAt } : {}),
      });
      this.lastRecord = snapshot;
    }
    this.recordedReminders = reminders;
    this.recorded = upTo;
  }

  private plan(startsAt: string, previous: AppointmentReminderState['reminders']) {
    return planReminders({
      startsAt: new Date(startsAt),
      timeZone: this.input.timeZone,
      offsetsSeconds: this.input.reminderOffsetsSeconds,
      now: new Date(),
      previous,
    });
  }

  /** Updates answer once the row shows their change (or after the settle timeout). */
  private settled(change: number): Promise<AppointmentReminderState> {
    return settledState(() => this.recorded >= change, this.state);
  }

  /** What interrupts a send the gate holds: nothing went out, and the loop acts on the move or the cancel. */
  private readonly movedOrCancelled = () =>
    this.moveTo !== null || this.cancel !== null || this.state.status !== 'scheduled';

  /** Records the appointment and ends the follow-ups its booking ends. */
  private async start(): Promise<void> {
    const { workflowId, runId } = workflowInfo();
    const started = await CancellationScope.nonCancellable(() =>
      recordAppointmentStarted({ ...this.input, workflowId, runId, reminders: this.state.reminders }),
    );
    // Activities from before `bookedFromEnds` answer nothing about it: the follow-up is told, as it was then.
    if (this.input.bookedFrom && (!patched(bookedFromFirstFactPatch) || started.bookedFromEnds !== false))
      await this.endFollowUp(this.input.bookedFrom);
    // Runs from before the patch ended only the follow-up named at booking (and their activity answered nothing).
    if (patched(bookingEndsLeadFollowUpsPatch))
      for (const followUp of started.followUpsToEnd) await this.endFollowUp(followUp);
  }

  /**
   * Ends a follow-up of the lead; one that has already ended has nothing left to stop. Its workflow ID is the lead's,
   * so a later enrollment's run may answer to it: the signal names the enrollment, and that run ignores it.
   */
  private async endFollowUp({ enrollmentId, workflowId, runId }: FollowUpRun): Promise<void> {
    const byEnrollment = enrollmentId !== undefined && patched(followUpByEnrollmentPatch);
    try {
      const followUp = getExternalWorkflowHandle(workflowId, byEnrollment ? undefined : (runId ?? undefined));
      const { appointmentId } = this.input;
      await followUp.signal(
        appointmentBookedSignal,
        byEnrollment ? { appointmentId, enrollmentId } : { appointmentId },
      );
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.info('the follow-up had already ended', {
        workflowId,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /**
   * A move or a cancel accepted while the booking was being recorded: the loop applies and records it first, so the
   * lead is told the time the row shows (the send gate refuses any other), or nothing of a cancelled appointment.
   */
  private changedBeforeConfirmation(): boolean {
    return (this.moveTo !== null || this.cancel !== null) && patched(changeBeforeSendPatch);
  }

  private async sendConfirmation(): Promise<void> {
    const confirmation = await this.send(
      {
        kind: 'confirmation',
        ...(this.state.reschedules > 0 ? { afterMove: true as const, ...this.moveOfKey() } : {}),
      },
      new Date(this.state.startsAt),
      this.movedOrCancelled,
    );
    // Held, then moved: it stays pending for the new time (runs from before the patch recorded it skipped).
    if (confirmation === 'interrupted' && this.moveTo !== null && !this.cancel && patched(changeBeforeSendPatch))
      return;
    // Refused for the move the loop is about to apply: pending too (runs from before the patch recorded it skipped).
    // A cancel, or a STOP that closed the run meanwhile, still wins: it is recorded skipped.
    const movedFirst = this.moveTo !== null && !this.cancel && this.state.status === 'scheduled';
    if (confirmation === 'moved' && movedFirst && patched(confirmationRefusedByMovePatch)) return;
    this.state.confirmation = asRecorded(confirmation);
    if (this.state.moveNotice) this.state.moveNotice = null;
  }

  /**
   * The move a confirmation after one names in its key, so a start told (or held back, and closed) before is told
   * again. Runs from before `moveNotice` (their state lacks it) keep the keys they had: the start alone.
   */
  private moveOfKey(): { move?: number } {
    if (this.state.moveNotice === undefined) return {};
    return { move: this.state.moveNotice ?? this.state.reschedules };
  }

  /** A move accepted by the reschedule update takes effect between sends: the reminders are planned for it. */
  private applyMove(): void {
    if (!this.moveTo) return;
    const moved = Date.parse(this.moveTo) !== Date.parse(this.state.startsAt);
    Object.assign(this.state, {
      startsAt: this.moveTo,
      reminders: this.plan(this.moveTo, this.state.reminders),
      reschedules: this.state.reschedules + 1,
      movingTo: null,
    });
    this.moveTo = null;
    if (moved && patched(moveWithdrawsConfirmationPatch)) this.withdrawConfirmation(this.moveAcceptedAt);
    // Pending, the loop sends it for the start the row now shows (as for a confirmation a move held back); one still
    // telling of an earlier move tells of this one.
    const told =
      this.state.confirmation === 'sent' || (this.state.confirmation === 'pending' && !!this.state.moveNotice);
    if (moved && this.moveNotify && told && patched(moveTellsLeadPatch))
      Object.assign(this.state, { confirmation: 'pending', moveNotice: this.state.reschedules });
  }

  /**
   * The start moved at `movedAt`: a confirmation recorded before it was of an earlier start and no longer counts (the
   * row's next write clears it). One recorded since stands, and keeps the new reminders dropped if it dropped any.
   */
  private withdrawConfirmation(movedAt: string): void {
    this.state.movedAt = movedAt;
    const { leadConfirmedAt } = this.state;
    if (!leadConfirmedAt) return;
    if (Date.parse(leadConfirmedAt) >= Date.parse(movedAt)) {
      if (this.confirmationDropsReminders) this.state.reminders = withScheduledDropped(this.state.reminders);
      return;
    }
    this.state.leadConfirmedAt = null;
    upsertSearchAttributes([{ key: appointmentConfirmedKey, value: false }]);
  }

  private async closeAsCancelled(cancel: CancelUpdateInput): Promise<void> {
    this.close('cancelled', cancel.reason ?? cancelledThroughTheApi);
    if (cancel.notify && patched(cancelRecordedBeforeNoticePatch)) {
      this.noticeAfterRecord = true;
      await this.record();
    }
    // Worth sending until the start it names: the one the lead expects to come to.
    const named = cancel.notify ? this.startToNameInCancellation() : this.state.startsAt;
    const notice = cancel.notify ? await this.send({ kind: 'cancellation' }, new Date(named), undefined, named) : 'off';
    this.state.cancellationNotice = notice === 'off' ? 'off' : asRecorded(notice);
  }

  private startToNameInCancellation(): string {
    const told = this.state.toldStartsAt;
    if (!told || Date.parse(told) <= Date.now() || !patched(cancellationNamesToldStartPatch))
      return this.state.startsAt;
    return told;
  }

  /**
   * Only a reply signal replaces the plan during a wait: then the loop records the dropped reminders at once. One that
   * came while the row was being written replaced it before the wait began; runs from before the patch wait it out.
   */
  private async waitForReminder(until: Date): Promise<void> {
    const waitingOn = patched(replyDuringRecordPatch) ? this.recordedReminders : this.state.reminders;
    await untilChangeOrTime(
      () => this.moveTo !== null || this.cancel !== null || this.state.reminders !== waitingOn,
      until,
    );
  }

  private async sendReminder(move: Extract<ReminderMove, { kind: 'send' | 'miss' }>): Promise<void> {
    const outcome =
      move.kind === 'miss'
        ? 'missed'
        : await this.send(
            { kind: 'reminder', offsetSeconds: move.offsetSeconds },
            move.notAfter,
            this.movedOrCancelled,
          );
    // An interrupted reminder stays scheduled: the move plans it again, the cancel drops it.
    if (outcome !== 'interrupted')
      this.state.reminders = withOutcome(this.state.reminders, move.offsetSeconds, asRecorded(outcome), new Date());
  }

  /**
   * Twilio's final refusals end the reminders; a send cut off by its deadline was missed. A send the gate holds is
   * tried again when the hold ends, unless `interrupted` comes true first (a move or a cancel): then nothing went out.
   */
  private async send(
    message: AppointmentMessage,
    notAfter: Date,
    interrupted: () => boolean = () => false,
    startsAt = this.state.startsAt,
  ): Promise<SendResult> {
    const request = {
      tenantId: this.input.tenantId,
      leadId: this.input.leadId,
      appointmentId: this.input.appointmentId,
      message,
      startsAt,
      location: this.input.location,
      notAfter: notAfter.toISOString(),
      ...(patched(sendGateHoldsPatch) ? { holdAsResult: true } : {}),
    };
    // A change accepted while the run recorded the row: nothing of the old plan goes out, the loop acts on it first.
    if (interrupted() && patched(changeBeforeSendPatch)) return 'interrupted';
    for (;;) {
      let result: SendAppointmentMessageResult;
      try {
        // Not cancellable: a send in flight finishes (and is recorded) before a cancellation takes effect.
        result = await CancellationScope.nonCancellable(() => sendActivity(notAfter)(request));
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        // Temporal gives up as soon as the next retry would come after the deadline: that is a miss, not a failure.
        if (error.retryState === 'TIMEOUT') return 'missed';
        this.close('failed', error.cause?.message ?? error.message);
        return 'failed';
      }
      log.info('appointment message finished', { kind: message.kind, outcome: result.outcome });
      if (result.outcome === 'held') {
        if (await untilChangeOrTime(interrupted, new Date(result.retryAt))) return 'interrupted';
        // Held for long: the send goes on in a new run (which sends the same message), unless a change came first.
        if (historyIsLong()) {
          await continueInNewRun<typeof appointmentReminder>(
            () => !interrupted(),
            () => [{ ...this.input, carriedOn: { state: this.state, cancel: this.cancel } }],
          );
          return 'interrupted';
        }
        continue;
      }
      if (result.outcome === 'opted_out') this.close('opted_out', 'recipient opted out');
      if (result.outcome === 'failed')
        this.close('failed', `${result.kind}${result.errorCode ? ` (Twilio ${result.errorCode})` : ''}`);
      if (result.outcome === 'skipped' && result.reason === 'appointment_moved') return 'moved';
      if (result.outcome === 'sent') this.state.toldStartsAt = startsAt;
      return result.outcome === 'halted' ? 'skipped' : result.outcome;
    }
  }
}
