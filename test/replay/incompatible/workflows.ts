// A deliberately incompatible leadFollowUp for the negative replay test: it schedules a timer where the committed
// histories show the enrollment-started activity, as an unguarded code change would.
import { sleep } from '@temporalio/workflow';
import type { LeadFollowUpInput, LeadFollowUpState } from '../../../workflows/lead-follow-up.messages.js';

export async function leadFollowUp(input: LeadFollowUpInput): Promise<LeadFollowUpState> {
  await sleep('1 minute');
  return { status: 'completed', step: input.sequence.steps.length, totalSteps: input.sequence.steps.length, paused: false, nextSendAt: null, waitingFor: 'nothing', messagesSent: 0, recentSends: [], expiresAt: input.enrolledAt, closedReason: null };
}
