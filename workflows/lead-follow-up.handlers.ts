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
  undeliverableSignal,
  updateRefusals,
} from './lead-follow-up.messages.js';
import { refusal } from './run-lifecycle.js';

// A booking naming another enrollment of the lead is ignored; runs from before it closed on any booking.
const bookingForThisEnrollmentPatch = 'enrollment-scoped-signals';
// Runs from before it left the signal buffered, unhandled, and learnt of the halt at their next send's gate.
const undeliverableSignalPatch = 'undeliverable-signal';

export function wireFollowUpHandlers(run: FollowUpRun): void {
  const { state } = run;
  const requireRunning = () => {
    if (state.status !== 'running') throw refusal(updateRefusals.notRunning, `the enrollment is ${state.status}`);
  };
  setHandler(statusQuery, () => state);
  const namesThisRun = (enrollmentId: string | undefined) =>
    enrollmentId === undefined || enrollmentId === run.enrollmentId;
  // A STOP or reply meant for another enrollment of the lead (one that has closed since) has nothing to do with this
  // one, on every release that read the name. The patch is still asked, its answer unused: one release recorded its
  // marker here, and replay needs the call wherever the marker is.
  const forThisRun = (enrollmentId: string | undefined) => {
    if (namesThisRun(enrollmentId)) return true;
    patched(bookingForThisEnrollmentPatch);
    return false;
  };
  setHandler(optOutSignal, ({ source, enrollmentId }) => {
    if (forThisRun(enrollmentId)) run.close('opted_out', `opted out (${source})`);
  });
  setHandler(inboundReplySignal, ({ messageSid, enrollmentId }) => {
    if (forThisRun(enrollmentId)) run.close('replied', `lead replied (${messageSid})`);
  });
  setHandler(undeliverableSignal, ({ errorCode, enrollmentId }) => {
    if (namesThisRun(enrollmentId) && patched(undeliverableSignalPatch))
      run.close('failed', `Twilio reported messages to this number undeliverable or filtered (${errorCode})`);
  });
  setHandler(appointmentBookedSignal, ({ appointmentId, enrollmentId }) => {
    if (namesThisRun(enrollmentId) || !patched(bookingForThisEnrollmentPatch)) {
      run.close('booked', `appointment booked (${appointmentId})`);
    }
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
