import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { recordActivityOptions, sendActivityOptions } from './activity-options.js';
import { haltedOutcome, planNextSend, rememberSend, waitingForHold } from './decisions/next-send.js';
import type { SendStepMessageResult } from '../activities/send-step-message.types.js';
import {
  appointmentBookedSignal,
  inboundReplySignal,
  optOutSignal,
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  statusQuery,
  updateRefusals,
  type EnrollmentOutcome,
  type LeadFollowUpInput,
  type LeadFollowUpState,
} from './lead-follow-up.messages.js';
import { enrollmentStatusKey, nextSendAtKey, waitingForKey } from './search-attributes.js';

/** patch → deprecatePatch → removal: see docs/versioning.md. */
const waitingForPatch = 'waiting-for-search-attribute';
/** The send gate's holds come back as results and the workflow waits itself, so a close ends the wait at once. */
const sendGateHoldsPatch = 'send-gate-holds';

/**
 * The start's record runs as a local activity in the first workflow task: the first send is scheduled in that same
 * task, one server round trip (a task and an activity dispatch) sooner. Runs from before it replay the activity.
 */
const recordStartLocallyPatch = 'record-start-local-activity';

const { recordEnrollmentStarted, recordEnrollmentOutcome } = proxyActivities<Activities>(recordActivityOptions);
const local = proxyLocalActivities<Activities>(recordActivityOptions);
/** A retry past the window's close answers `deferred` (the activity checks `notAfter`), and the send is planned again. */
const sendActivity = (expiresAt: Date) =>
  proxyActivities<Activities>(sendActivityOptions(expiresAt, '5 minutes')).sendStepMessage;
/** Updates answer once the workflow has acted on them, or after this long (a send in flight may take a while). */
const settleTimeout = '5 seconds';

export async function leadFollowUp(input: LeadFollowUpInput): Promise<LeadFollowUpState> {
  const enrolledAt = new Date(input.enrolledAt);
  const expiresAt = new Date(enrolledAt.getTime() + input.expiresAfterSeconds * 1000);
  const steps = input.sequence.steps;
  const state: LeadFollowUpState = {
    status: 'running',
    step: 0,
    totalSteps: steps.length,
    paused: false,
    nextSendAt: null,
    waitingFor: 'nothing',
    messagesSent: 0,
    recentSends: [],
    expiresAt: expiresAt.toISOString(),
    closedReason: null,
    hold: null,
  };
  /** Bumped by every handler, so a wait wakes up and re-plans; `planned` catches up once it has. */
  let changes = 0;
  let planned = 0;
  let dueBase = enrolledAt;
  let skipDelay = false;
  let cancelled: unknown = null;

  const close = (status: EnrollmentOutcome, reason: string) => {
    if (state.status !== 'running') return;
    Object.assign(state, { status, closedReason: reason, waitingFor: 'nothing', nextSendAt: null });
    changes += 1;
  };
  /** Updates answer with the state after the workflow has acted on them (e.g. what a resumed run waits for). */
  const settled = async () => {
    await condition(() => planned >= changes || state.status !== 'running', settleTimeout);
    return state;
  };
  /** A cancellation that arrived during a (non-cancellable) send stops the loop before anything else goes out. */
  const stopIfCancelled = () => {
    if (CancellationScope.current().consideredCancelled)
      throw new CancelledFailure('cancelled while a send was in flight');
  };
  const requireRunning = () => {
    if (state.status !== 'running')
      throw ApplicationFailure.create({
        type: updateRefusals.notRunning,
        message: `the enrollment is ${state.status}`,
      });
  };
  setHandler(statusQuery, () => state);
  setHandler(optOutSignal, ({ source }) => close('opted_out', `opted out (${source})`));
  setHandler(inboundReplySignal, ({ messageSid }) => close('replied', `lead replied (${messageSid})`));
  setHandler(appointmentBookedSignal, ({ appointmentId }) => close('booked', `appointment booked (${appointmentId})`));
  setHandler(
    pauseUpdate,
    () => {
      state.paused = true;
      changes += 1;
      return settled();
    },
    {
      validator: () => {
        requireRunning();
        if (state.paused)
          throw ApplicationFailure.create({
            type: updateRefusals.alreadyPaused,
            message: 'the enrollment is already paused',
          });
      },
    },
  );
  setHandler(
    resumeUpdate,
    () => {
      state.paused = false;
      changes += 1;
      return settled();
    },
    {
      validator: () => {
        requireRunning();
        if (!state.paused)
          throw ApplicationFailure.create({ type: updateRefusals.notPaused, message: 'the enrollment is not paused' });
      },
    },
  );
  setHandler(
    skipToStepUpdate,
    ({ step }) => {
      state.step = step;
      skipDelay = true;
      changes += 1;
      return settled();
    },
    {
      validator: ({ step }) => {
        requireRunning();
        if (!Number.isInteger(step) || step <= state.step || step >= steps.length) {
          throw ApplicationFailure.create({
            type: updateRefusals.invalidStep,
            message: `step must be after the current step ${state.step} and before ${steps.length}`,
          });
        }
      },
    },
  );

  /** A held send comes back when its hold ends, or at once when anything changes (a close, a pause, a skip). */
  const waitOutHold = async (hold: Extract<SendStepMessageResult, { outcome: 'held' }>) => {
    const waitingFor = waitingForHold(hold.reason);
    upsertSearchAttributes([
      { key: nextSendAtKey, value: new Date(hold.retryAt) },
      { key: waitingForKey, value: waitingFor },
    ]);
    Object.assign(state, {
      waitingFor,
      nextSendAt: hold.retryAt,
      hold: { reason: hold.reason, until: hold.until, retryAt: hold.retryAt, detail: hold.detail },
    });
    const seen = changes;
    await condition(() => changes !== seen, Math.max(Date.parse(hold.retryAt) - Date.now(), 1));
    state.hold = null;
  };

  const { workflowId, runId } = workflowInfo();
  try {
    const recordStarted = patched(recordStartLocallyPatch) ? local.recordEnrollmentStarted : recordEnrollmentStarted;
    await recordStarted({
      enrollmentId: input.enrollmentId,
      tenantId: input.tenantId,
      leadId: input.leadId,
      sequenceId: input.sequence.id,
      workflowId,
      runId,
      idempotencyKey: input.idempotencyKey ?? null,
    });
    while (state.status === 'running' && state.step < steps.length) {
      stopIfCancelled();
      const delayMs = skipDelay ? 0 : (steps[state.step]?.delaySeconds ?? 0) * 1000;
      const plan = planNextSend({
        now: new Date(),
        dueAt: new Date(dueBase.getTime() + delayMs),
        expiresAt,
        paused: state.paused,
        policy: input.policy,
        recentSends: state.recentSends,
      });
      planned = changes;
      if (plan.kind === 'expire') {
        close('expired', `no outcome within ${Math.round(input.expiresAfterSeconds / 86400)} days`);
      } else if (plan.kind !== 'send') {
        const waitingFor = plan.kind === 'pause' ? 'pause' : plan.waitingFor;
        const nextSendAt = plan.kind === 'pause' ? null : plan.until.toISOString();
        upsertSearchAttributes([
          { key: nextSendAtKey, value: plan.kind === 'pause' ? null : plan.until },
          // Added after runs existed: histories recorded before it must replay without this attribute.
          ...(patched(waitingForPatch) ? [{ key: waitingForKey, value: waitingFor }] : []),
        ]);
        Object.assign(state, { waitingFor, nextSendAt });
        const seen = changes;
        await condition(() => changes !== seen, plan.until.getTime() - Date.now());
      } else {
        state.waitingFor = 'send';
        const step = state.step;
        // Not cancellable: a send in flight finishes (and is recorded) before a cancellation takes effect.
        const send = {
          tenantId: input.tenantId,
          leadId: input.leadId,
          enrollmentId: input.enrollmentId,
          step,
          template: steps[step]?.template ?? '',
          notAfter: plan.notAfter.toISOString(),
          ...(patched(sendGateHoldsPatch) ? { holdAsResult: true } : {}),
        };
        const result = await CancellationScope.nonCancellable(() => sendActivity(expiresAt)(send));
        log.info('step finished', { step, outcome: result.outcome });
        if (result.outcome === 'deferred') continue;
        if (result.outcome === 'held') {
          await waitOutHold(result);
          continue;
        }
        if (result.outcome === 'halted') {
          close(...haltedOutcome(result.reason));
          continue;
        }
        if (result.outcome === 'sent') {
          state.messagesSent += 1;
          state.recentSends = rememberSend(state.recentSends, new Date(), input.policy.maxPerDay);
        }
        if (result.outcome === 'opted_out') close('opted_out', 'recipient opted out');
        if (result.outcome === 'failed')
          close('failed', `${result.kind}${result.errorCode ? ` (Twilio ${result.errorCode})` : ''}`);
        // A skip that arrived during the send already chose the next step (and waived its delay).
        if (state.step === step) {
          state.step += 1;
          skipDelay = false;
        }
        dueBase = new Date();
      }
    }
    close('completed', 'all steps done');
  } catch (error) {
    if (isCancellation(error)) {
      close('cancelled', 'cancelled through the API');
      cancelled = error;
    } else if (error instanceof ActivityFailure && new Date() >= expiresAt)
      close('expired', 'expired while a send was being retried');
    else if (error instanceof ActivityFailure) close('failed', error.cause?.message ?? error.message);
    else throw error;
  }

  await CancellationScope.nonCancellable(async () => {
    upsertSearchAttributes([
      { key: enrollmentStatusKey, value: state.status },
      { key: nextSendAtKey, value: null },
      ...(patched(waitingForPatch) ? [{ key: waitingForKey, value: null }] : []),
    ]);
    await recordEnrollmentOutcome({
      enrollmentId: input.enrollmentId,
      tenantId: input.tenantId,
      leadId: input.leadId,
      status: state.status as EnrollmentOutcome,
      reason: state.closedReason ?? state.status,
      runId: workflowInfo().runId,
    });
  });
  // Rethrown once recorded, so Temporal shows the run as Canceled too.
  if (cancelled) throw cancelled;
  return state;
}
