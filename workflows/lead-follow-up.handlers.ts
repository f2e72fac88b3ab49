// The leadFollowUp run's message handlers, wired apart from its main loop: signals close it, updates change what the
// loop does next and answer once it has acted on them, each refused by type when it does not fit the run.
import { patched, setHandler } from '@temporalio/workflow';
import type { FollowUpRun } from './lead-follow-up.js';
import {
  appointmentBookedSignal,
  inboundReplySignal,
  optOutSignal,
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  statusQuery,
  updateRefusals,
} from './lead-follow-up.messages.js';
import { refusal } from './run-lifecycle.js';

// Signals naming another enrollment of the lead are ignored; runs from before it closed on any signal.
const enrollmentScopedSignalsPatch = 'enrollment-scoped-signals';

export function wireFollowUpHandlers(run: FollowUpRun): void {
  const { state } = run;
  const requireRunning = () => {
    if (state.status !== 'running') throw refusal(updateRefusals.notRunning, `the enrollment is ${state.status}`);
  };
  setHandler(statusQuery, () => state);
  // Meant for another enrollment of the lead (one that has closed since): nothing to do with this one.
  const forThisRun = (enrollmentId: string | undefined) =>
    enrollmentId === undefined || enrollmentId === run.enrollmentId || !patched(enrollmentScopedSignalsPatch);
  setHandler(optOutSignal, ({ source, enrollmentId }) => {
    if (forThisRun(enrollmentId)) run.close('opted_out', `opted out (${source})`);
  });
  setHandler(inboundReplySignal, ({ messageSid, enrollmentId }) => {
    if (forThisRun(enrollmentId)) run.close('replied', `lead replied (${messageSid})`);
  });
  setHandler(appointmentBookedSignal, ({ appointmentId, enrollmentId }) => {
    if (forThisRun(enrollmentId)) run.close('booked', `appointment booked (${appointmentId})`);
  });
  setHandler(pauseUpdate, () => run.setPaused(true), {
    validator: () => {
      requireRunning();
      if (state.paused) throw refusal(updateRefusals.alreadyPaused, 'the enrollment is already paused');
    },
  });
  setHandler(resumeUpdate, () => run.setPaused(false), {
    validator: () => {
      requireRunning();
      if (!state.paused) throw refusal(updateRefusals.notPaused, 'the enrollment is not paused');
    },
  });
  setHandler(skipToStepUpdate, ({ step }) => run.skipTo(step), {
    validator: ({ step }) => {
      requireRunning();
      if (!Number.isInteger(step) || step <= state.step || step >= run.totalSteps) {
        const message = `step must be after the current step ${state.step} and before ${run.totalSteps}`;
        throw refusal(updateRefusals.invalidStep, message);
      }
    },
  });
}
