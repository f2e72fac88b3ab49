// leadFollowUp's messages (signals, queries, updates), ID, input and state, for its callers (API, tests).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SendingPolicy } from './decisions/send-time.js';
import type { HoldReason } from '../activities/send-step-message.types.js';

export type { SendingPolicy };

export const leadFollowUpWorkflowType = 'leadFollowUp';

/** One active follow-up per lead: the ID is the lead's, so Temporal itself refuses a second one while one runs. */
export function leadFollowUpWorkflowId(tenantId: string, leadId: string): string {
  return `followup:${tenantId}:${leadId}`;
}

export interface SequenceStep {
  /** Wait after the previous step went out (after enrollment for the first step). */
  delaySeconds: number;
  /** With variants: the first variant's, which the send activity replaces by the enrollment's own variant. */
  template: string;
  /** A/B variants (2 to 4), labelled A to D in this order (common/analytics/variants.ts). */
  variants?: { template: string; weight: number }[];
}

/** The definition as it was when the enrollment started: later edits never reach a running enrollment. */
export interface SequenceSnapshot {
  id: string;
  name: string;
  version: number;
  steps: SequenceStep[];
}

export interface LeadFollowUpInput {
  tenantId: string;
  leadId: string;
  enrollmentId: string;
  sequence: SequenceSnapshot;
  /** When the API enrolled the lead: the expiry and the first step's delay count from here, not from a (reset) run's start. */
  enrolledAt: string;
  /** The caller's Idempotency-Key, recorded on the enrollment row by the workflow too. */
  idempotencyKey?: string | null;
  /** The tenant's window and caps in the lead's zone, as they were at enrollment. */
  policy: SendingPolicy;
  /** The enrollment ends as `expired` this long after it started, whatever it waits on. */
  expiresAfterSeconds: number;
  /** Set only by the workflow when a long run continues as new: where the run before it had got to. */
  carriedOn?: FollowUpProgress;
}

/** What a run hands on when it continues as new (its enrollment is recorded already; the expiry counts on). */
export interface FollowUpProgress {
  step: number;
  /** The instant the current step's delay counts from. */
  dueBase: string;
  skipDelay: boolean;
  paused: boolean;
  messagesSent: number;
  recentSends: string[];
}

export type EnrollmentOutcome = 'completed' | 'replied' | 'opted_out' | 'booked' | 'expired' | 'cancelled' | 'failed';

/**
 * What the next send waits for: its step's delay, the sending window, a cap, sending capacity (the kill switch, a
 * budget, warm-up, throughput), an operator's pause, or the send itself.
 */
export type WaitingFor = 'delay' | 'window' | 'cap_gap' | 'cap_daily' | 'capacity' | 'pause' | 'send' | 'nothing';

export interface LeadFollowUpState {
  status: 'running' | EnrollmentOutcome;
  /** Index of the next step to send (equals totalSteps once all are done). */
  step: number;
  totalSteps: number;
  paused: boolean;
  nextSendAt: string | null;
  waitingFor: WaitingFor;
  messagesSent: number;
  /** Instants of the latest sends, enough to apply the daily cap. */
  recentSends: string[];
  expiresAt: string;
  closedReason: string | null;
  /** The send gate's hold on the current step: why, until when, and when it is tried again (absent in runs from before the gate). */
  hold?: { reason: HoldReason; until: string; retryAt: string; detail: string } | null;
}

/**
 * `enrollmentId`: the enrollment the signal was queued for. A follow-up's workflow ID is the lead's, reused by their
 * next enrollment, so a signal delivered late to a later run names another enrollment, and that run ignores it.
 */
export interface OptOutSignalInput {
  source: string;
  enrollmentId?: string;
}
/** Twilio's status callback said the lead's number cannot get messages (30005, 30006) or filters them as spam (30007). */
export interface UndeliverableSignalInput {
  errorCode: number;
  messageSid: string;
  enrollmentId?: string;
}
export interface InboundReplySignalInput {
  messageSid: string;
  enrollmentId?: string;
}
export interface AppointmentBookedSignalInput {
  appointmentId: string;
  enrollmentId?: string;
}
export interface SkipToStepUpdateInput {
  step: number;
}

/** Failure types of refused updates, so callers can tell a finished enrollment from a request that does not fit it. */
export const updateRefusals = {
  notRunning: 'EnrollmentNotRunning',
  alreadyPaused: 'EnrollmentAlreadyPaused',
  notPaused: 'EnrollmentNotPaused',
  invalidStep: 'InvalidSkipStep',
} as const;

export const statusQuery = defineQuery<LeadFollowUpState>('status');
export const optOutSignal = defineSignal<[OptOutSignalInput]>('optOut');
export const inboundReplySignal = defineSignal<[InboundReplySignalInput]>('inboundReply');
export const undeliverableSignal = defineSignal<[UndeliverableSignalInput]>('undeliverable');
export const appointmentBookedSignal = defineSignal<[AppointmentBookedSignalInput]>('appointmentBooked');
export const pauseUpdate = defineUpdate<LeadFollowUpState>('pause');
export const resumeUpdate = defineUpdate<LeadFollowUpState>('resume');
export const skipToStepUpdate = defineUpdate<LeadFollowUpState, [SkipToStepUpdateInput]>('skipToStep');
