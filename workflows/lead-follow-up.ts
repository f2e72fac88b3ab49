import { condition, log, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  optOutSignal,
  statusQuery,
  type EnrollmentOutcome,
  type LeadFollowUpInput,
  type LeadFollowUpState,
} from './lead-follow-up.types.js';
import { enrollmentStatusKey, nextSendAtKey } from './search-attributes.js';

const { sendStepMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // Unlimited attempts: a message is never given up on while the enrollment lives; Twilio's final refusals are
  // returned as results, not thrown, so only transient faults (429, 5xx, timeouts, database down) come back here.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['NotFoundError'] },
});

const { recordEnrollmentStarted, recordEnrollmentOutcome } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['NotFoundError'] },
});

export async function leadFollowUp(input: LeadFollowUpInput): Promise<LeadFollowUpState> {
  const state: LeadFollowUpState = {
    status: 'running',
    step: 0,
    nextSendAt: null,
    waitingFor: 'nothing',
    messagesSent: 0,
    closedReason: null,
  };
  const close = (status: EnrollmentOutcome, reason: string) => {
    if (state.status !== 'running') return;
    state.status = status;
    state.closedReason = reason;
    state.waitingFor = 'nothing';
    state.nextSendAt = null;
  };
  setHandler(statusQuery, () => state);
  setHandler(optOutSignal, ({ source }) => close('opted_out', `opted out (${source})`));

  const { workflowId, runId } = workflowInfo();
  await recordEnrollmentStarted({
    enrollmentId: input.enrollmentId,
    tenantId: input.tenantId,
    leadId: input.leadId,
    sequenceId: input.sequence.id,
    workflowId,
    runId,
  });

  for (const step of input.sequence.steps) {
    const dueAt = new Date(Date.now() + step.delaySeconds * 1000);
    state.nextSendAt = dueAt.toISOString();
    state.waitingFor = 'delay';
    upsertSearchAttributes([{ key: nextSendAtKey, value: dueAt }]);
    if (await condition(() => state.status !== 'running', step.delaySeconds * 1000)) break;

    state.waitingFor = 'send';
    const result = await sendStepMessage({ ...input, step: state.step, template: step.template });
    log.info('step finished', { step: state.step, outcome: result.outcome });
    if (result.outcome === 'sent') state.messagesSent += 1;
    if (result.outcome === 'opted_out') close('opted_out', 'recipient opted out');
    if (result.outcome === 'failed') close('failed', `${result.kind}${result.errorCode ? ` (Twilio ${result.errorCode})` : ''}`);
    state.step += 1;
    if (state.status !== 'running') break;
  }
  close('completed', 'all steps done');

  upsertSearchAttributes([
    { key: enrollmentStatusKey, value: state.status },
    { key: nextSendAtKey, value: null },
  ]);
  await recordEnrollmentOutcome({
    enrollmentId: input.enrollmentId,
    tenantId: input.tenantId,
    leadId: input.leadId,
    status: state.status as EnrollmentOutcome,
    reason: state.closedReason ?? state.status,
  });
  return state;
}
