// Definitions shared by the leadFollowUp workflow and its callers (API, tests). No workflow logic here.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const leadFollowUpWorkflowType = 'leadFollowUp';

/** One active follow-up per lead: the ID is the lead's, so Temporal itself refuses a second one while one runs. */
export function leadFollowUpWorkflowId(tenantId: string, leadId: string): string {
  return `followup:${tenantId}:${leadId}`;
}

export interface SequenceStep {
  delaySeconds: number;
  template: string;
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
}

export type EnrollmentOutcome = 'completed' | 'replied' | 'opted_out' | 'booked' | 'expired' | 'cancelled' | 'failed';

export type WaitingFor = 'delay' | 'send' | 'nothing';

export interface LeadFollowUpState {
  status: 'running' | EnrollmentOutcome;
  /** Index of the next step to send (equals steps.length once all are sent). */
  step: number;
  nextSendAt: string | null;
  waitingFor: WaitingFor;
  messagesSent: number;
  closedReason: string | null;
}

export interface OptOutSignalInput {
  source: string;
}

export const statusQuery = defineQuery<LeadFollowUpState>('status');
export const optOutSignal = defineSignal<[OptOutSignalInput]>('optOut');
