// appointmentReminder's messages (signals, queries, updates), ID, input and state, for its callers (API, tests).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const appointmentReminderWorkflowType = 'appointmentReminder';

/** One workflow per appointment, ever: a repeated booking finds the run that is already there. */
export function appointmentReminderWorkflowId(tenantId: string, appointmentId: string): string {
  return `reminder:${tenantId}:${appointmentId}`;
}

export interface AppointmentReminderInput {
  tenantId: string;
  leadId: string;
  appointmentId: string;
  /** ISO instant. */
  startsAt: string;
  /** The zone the start was given in: offsets of whole days keep its wall-clock time across DST changes. */
  timeZone: string;
  durationMinutes: number;
  location: string | null;
  notes: string | null;
  /** Seconds before the start, one reminder each. */
  reminderOffsetsSeconds: number[];
  /** The follow-up the appointment was booked from: the workflow tells it `appointmentBooked`, which ends it. */
  bookedFrom: (FollowUpRun & { enrollmentId: string }) | null;
  /** Set only by the workflow when a run held for long continues as new: where the run before it had got to. */
  carriedOn?: AppointmentProgress;
}

/** A follow-up the booking ends. `enrollmentId` is absent from what runs from before it recorded. */
export interface FollowUpRun {
  enrollmentId?: string;
  workflowId: string;
  runId: string | null;
}

/**
 * What a run hands on when it continues as new: its state (the booking is recorded), and the cancellation whose
 * notice it was still sending, if any.
 */
export interface AppointmentProgress {
  state: AppointmentReminderState;
  cancel: CancelUpdateInput | null;
}

/** What became of one message about the appointment. */
export type SendOutcome = 'sent' | 'skipped' | 'missed' | 'opted_out' | 'failed';

/**
 * `passed`: its time had already gone when the appointment was booked or moved, so it was never due. `dropped`: the
 * reminders ended before its time (cancelled, opted out, failed, or confirmed by a tenant that skips the rest then).
 */
export type ReminderStatus = 'scheduled' | 'passed' | 'dropped' | SendOutcome;

/** A type, not an interface: the workflow records it in a JSON column as it is. */
export type Reminder = {
  offsetSeconds: number;
  /** ISO instant. */
  dueAt: string;
  status: ReminderStatus;
  sentAt: string | null;
};

export type AppointmentOutcome = 'completed' | 'cancelled' | 'opted_out' | 'failed';

export interface AppointmentReminderState {
  status: 'scheduled' | AppointmentOutcome;
  startsAt: string;
  /** For the current start time, earliest first. */
  reminders: Reminder[];
  confirmation: 'pending' | SendOutcome;
  /** Null unless cancelled; `off` when the tenant sends no cancellation notices. */
  cancellationNotice: SendOutcome | 'off' | null;
  reschedules: number;
  closedReason: string | null;
  /**
   * ISO instants of the lead's SMS answers: the first confirmation of the current start (a move withdraws one of an
   * earlier start), the latest reschedule request.
   */
  leadConfirmedAt: string | null;
  rescheduleRequestedAt: string | null;
  /**
   * A start the reschedule update accepted and the loop has yet to apply (it applies moves between sends): what the run
   * is going to. Absent from the state of runs from before it (and of a worker from before it).
   */
  movingTo?: string | null;
  /**
   * ISO instant the move to the current start was accepted (patch `move-withdraws-confirmation`): a confirmation
   * recorded before it was of an earlier start and no longer counts.
   */
  movedAt?: string | null;
  /**
   * The move a pending confirmation tells the lead of (patch `move-tells-lead`): it goes under a key naming the move.
   * Null otherwise, and absent from the state of runs from before it.
   */
  moveNotice?: number | null;
  /**
   * The start the lead's latest message that went out named (a confirmation, a notice of a move, a reminder): what the
   * lead expects. Absent from the state of runs from before it.
   */
  toldStartsAt?: string | null;
  /**
   * The run writes each move or cancel it accepts to the appointment row itself (patch `change-written-on-acceptance`),
   * so the API writes nothing from the update's answer. Absent from runs from before it, whose answers the API writes.
   */
  writesAcceptedChanges?: boolean;
}

/** A booking's state before anything happened to it: scheduled at `startsAt` with its reminders planned. */
export function bookedState(startsAt: string, reminders: Reminder[]): AppointmentReminderState {
  return {
    status: 'scheduled',
    startsAt,
    reminders,
    confirmation: 'pending',
    cancellationNotice: null,
    reschedules: 0,
    closedReason: null,
    leadConfirmedAt: null,
    rescheduleRequestedAt: null,
    movingTo: null,
    movedAt: null,
    moveNotice: null,
  };
}

export interface RescheduleUpdateInput {
  /** ISO instant; must be in the future. */
  startsAt: string;
  /** Whether the lead is told the new time (the tenant's sendRescheduleNotice then); updates from before it lack it. */
  notify?: boolean;
}
export interface CancelUpdateInput {
  /** Whether the lead is told (the tenant's setting when the cancellation was asked for). */
  notify: boolean;
  reason: string | null;
}

/**
 * A move or a cancel the run accepted, as the appointment row records it the moment it is accepted: a move only while
 * the row shows the start it moves `from` (one that lost the race to a newer write changes nothing). `at` is the ISO
 * instant it was accepted; a move's is the row's `movedAt`, null for a move back to the start the run holds when it
 * has never moved.
 */
export type AcceptedChange =
  { kind: 'move'; from: string; to: string; at: string | null } | { kind: 'cancel'; reason: string; at: string };

/** The lead answered a confirmation or reminder with a confirm or reschedule word (api/webhooks/appointment-replies.ts). */
export interface AppointmentReplySignalInput {
  kind: 'confirmed' | 'reschedule_requested';
  /** ISO instant the reply was recorded at. */
  at: string;
  /** The tenant's skipRemindersAfterConfirm when the reply came: a confirmation drops the reminders still to come. */
  skipReminders: boolean;
}

/** The closed reason of an appointment cancelled through the API without a reason of its own. */
export const cancelledThroughTheApi = 'cancelled through the API';
/** The closed reason of an appointment whose run was cancelled in Temporal (an operator, an erasure with no worker). */
export const cancelledInTemporal = 'workflow cancelled';

/** Failure types of refused updates, so callers can tell a bad request from a finished appointment. */
export const updateRefusals = { notScheduled: 'AppointmentNotScheduled', invalidStart: 'InvalidStartTime' } as const;

export interface AppointmentOptOutSignalInput {
  source: string;
}

export const statusQuery = defineQuery<AppointmentReminderState>('status');
/** The lead opted out (a STOP, the opt-out API): the appointment ends as opted_out and no more messages go out. */
export const appointmentOptOutSignal = defineSignal<[AppointmentOptOutSignalInput]>('optOut');
export const rescheduleUpdate = defineUpdate<AppointmentReminderState, [RescheduleUpdateInput]>('reschedule');
export const appointmentReplySignal = defineSignal<[AppointmentReplySignalInput]>('appointmentReply');
export const cancelUpdate = defineUpdate<AppointmentReminderState, [CancelUpdateInput]>('cancel');
