import {
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RecordEnrollmentStartedResult } from '../activities/enrollments.js';
import type { SendStepMessageResult } from '../activities/send-step-message.types.js';
import { recordActivityOptions, sendActivitiesUntil } from './activity-options.js';
import { haltedOutcome, planNextSend, rememberSend, waitingForHold, type NextSendPlan } from './decisions/next-send.js';
import type { SendingPolicy } from './decisions/send-time.js';
import { wireFollowUpHandlers } from './lead-follow-up.handlers.js';
import type {
  EnrollmentOutcome,
  FollowUpProgress,
  LeadFollowUpInput,
  LeadFollowUpState,
} from './lead-follow-up.messages.js';
import {
  closeOnce,
  continueInNewRun,
  historyIsLong,
  runToTheEnd,
  settledState,
  untilChangeOrTime,
  type WorkflowRun,
} from './run-lifecycle.js';
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
/** A hold that lasts past the expiry ends at the expiry: the run closes `expired` then, not at the hold's end. */
const holdUntilExpiryPatch = 'hold-until-expiry';
/**
 * A hold of the lead's window or caps brings the policy the gate judged by, and the run plans with it from then on:
 * with the policy it started with, a lead moved to a zone (or a tenant window moved) that never overlaps the old one
 * was planned into the old window, held by the gate till the new one, planned into the old one again, until it expired.
 */
const followGatePolicyPatch = 'follow-gate-policy';
/**
 * An enrollment halted before its run started (cancelled, replied or opted out while the API was starting it) ends at
 * once, as the send gate would end it at the first send: before, it stayed running until then, a delay away, and the
 * lead could not be enrolled again meanwhile.
 */
const haltedBeforeStartPatch = 'halted-before-start';
/**
 * A send Temporal gave up on because its next retry would come after the expiry (the activity's schedule-to-close)
 * ends the run `expired`, as one retried until the expiry does: before, it closed `failed` with the last error.
 */
const retryPastExpiryPatch = 'retry-past-expiry';
/**
 * A close, a pause or a skip that came while the send was in flight ends a hold it answers at once: before, the wait
 * counted changes from when the hold came back, so a reply during the send left the run asleep until the hold's end
 * (the next morning, for the window), its enrollment `running` and its CRM not told.
 */
const changeDuringSendPatch = 'change-during-held-send';

const { recordEnrollmentStarted, recordEnrollmentOutcome } = proxyActivities<Activities>(recordActivityOptions);
const local = proxyLocalActivities<Activities>(recordActivityOptions);
/** A retry past the window's close answers `deferred` (the activity checks `notAfter`), and the send is planned again. */
const sendActivity = (expiresAt: Date) => sendActivitiesUntil(expiresAt, '5 minutes').sendStepMessage;

type Plan<Kind extends NextSendPlan['kind']> = Extract<NextSendPlan, { kind: Kind }>;
type SendResult<Outcome extends SendStepMessageResult['outcome']> = Extract<
  SendStepMessageResult,
  { outcome: Outcome }
>;

/** Sends a sequence's steps in turn, each after its delay and within the lead's window and caps, until an outcome. */
export async function leadFollowUp(input: LeadFollowUpInput): Promise<LeadFollowUpState> {
  const run = new FollowUpRun(input);
  wireFollowUpHandlers(run);
  return runToTheEnd(run);
}

/** One enrollment's run: its state, what its handlers change, and the steps of its main loop. */
export class FollowUpRun implements WorkflowRun<LeadFollowUpState> {
  readonly state: LeadFollowUpState;
  readonly totalSteps: number;
  private readonly input: LeadFollowUpInput;
  private readonly expiresAt: Date;
  /** Bumped by every handler, so a wait wakes up and re-plans; `planned` catches up once it has. */
  private changes = 0;
  private planned = 0;
  private dueBase: Date;
  private skipDelay = false;
  /** The lead's window and caps as the run plans with them: the enrollment's, until a gate's hold brings newer. */
  private policy: SendingPolicy;

  constructor(input: LeadFollowUpInput) {
    const enrolledAt = new Date(input.enrolledAt);
    const carried = input.carriedOn;
    this.input = input;
    this.policy = input.policy;
    this.dueBase = carried ? new Date(carried.dueBase) : enrolledAt;
    this.skipDelay = carried?.skipDelay ?? false;
    this.expiresAt = new Date(enrolledAt.getTime() + input.expiresAfterSeconds * 1000);
    this.totalSteps = input.sequence.steps.length;
    this.state = {
      status: 'running',
      step: carried?.step ?? 0,
      totalSteps: this.totalSteps,
      paused: carried?.paused ?? false,
      nextSendAt: null,
      waitingFor: 'nothing',
      messagesSent: carried?.messagesSent ?? 0,
      recentSends: carried?.recentSends ?? [],
      expiresAt: this.expiresAt.toISOString(),
      closedReason: null,
      hold: null,
    };
  }

  get enrollmentId(): string {
    return this.input.enrollmentId;
  }

  close(status: EnrollmentOutcome, reason: string): void {
    const closed = { status, closedReason: reason, waitingFor: 'nothing' as const, nextSendAt: null };
    if (closeOnce(this.state, 'running', closed)) this.changes += 1;
  }

  setPaused(paused: boolean): Promise<LeadFollowUpState> {
    this.state.paused = paused;
    return this.changed();
  }

  skipTo(step: number): Promise<LeadFollowUpState> {
    this.state.step = step;
    this.skipDelay = true;
    return this.changed();
  }

  /** The main loop: sends the steps in turn until an outcome; answers the cancellation that ended it, if one did. */
  async loop(): Promise<unknown> {
    try {
      // A run that continued from a long one: its enrollment was recorded by the first; the row only learns its run.
      if (this.input.carriedOn)
        await local.recordEnrollmentRun({
          enrollmentId: this.input.enrollmentId,
          tenantId: this.input.tenantId,
          runId: workflowInfo().runId,
        });
      else {
        const { haltedBy } = (await this.recordStart()) ?? { haltedBy: null };
        if (haltedBy && patched(haltedBeforeStartPatch)) this.close(...haltedOutcome(haltedBy));
      }
      while (this.state.status === 'running' && this.state.step < this.totalSteps) {
        stopIfCancelled();
        if (historyIsLong()) {
          await this.continueFromHere();
          continue;
        }
        const plan = this.planStep();
        if (plan.kind === 'expire') this.close('expired', `no outcome within ${this.expiryDays()} days`);
        else if (plan.kind === 'send') await this.sendStep(plan);
        else await this.waitFor(plan);
      }
      this.close('completed', 'all steps done');
    } catch (error) {
      if (isCancellation(error)) {
        this.close('cancelled', 'cancelled through the API');
        return error;
      }
      if (!(error instanceof ActivityFailure)) throw error;
      const retriesOutlived = error.retryState === 'TIMEOUT' && patched(retryPastExpiryPatch);
      if (new Date() >= this.expiresAt || retriesOutlived)
        this.close('expired', 'expired while a send was being retried');
      else this.close('failed', error.cause?.message ?? error.message);
    }
    return null;
  }

  /** The outcome reaches the search attributes and the enrollment's row (outside any cancellation: runToTheEnd). */
  async recordOutcome(): Promise<void> {
    upsertSearchAttributes([
      { key: enrollmentStatusKey, value: this.state.status },
      { key: nextSendAtKey, value: null },
      ...(patched(waitingForPatch) ? [{ key: waitingForKey, value: null }] : []),
    ]);
    await recordEnrollmentOutcome({
      enrollmentId: this.input.enrollmentId,
      tenantId: this.input.tenantId,
      leadId: this.input.leadId,
      status: this.state.status as EnrollmentOutcome,
      reason: this.state.closedReason ?? this.state.status,
      runId: workflowInfo().runId,
    });
  }

  /** Goes on in a new run from where this one is (never returns while the run is open). */
  private async continueFromHere(): Promise<void> {
    // An update waiting for the loop to act on it is answered now: the new run plans with what it changed.
    this.planned = this.changes;
    const carriedOn = (): FollowUpProgress => ({
      step: this.state.step,
      dueBase: this.dueBase.toISOString(),
      skipDelay: this.skipDelay,
      paused: this.state.paused,
      messagesSent: this.state.messagesSent,
      recentSends: this.state.recentSends,
    });
    await continueInNewRun<typeof leadFollowUp>(
      () => this.state.status === 'running',
      () => [{ ...this.input, policy: this.policy, carriedOn: carriedOn() }],
    );
  }

  /** Updates answer with the state after the loop has acted on them (e.g. what a resumed run waits for). */
  private changed(): Promise<LeadFollowUpState> {
    this.changes += 1;
    return settledState(() => this.planned >= this.changes || this.state.status !== 'running', this.state);
  }

  private untilNextChangeOr(until: Date): Promise<boolean> {
    const seen = this.changes;
    return untilChangeOrTime(() => this.changes !== seen, until);
  }

  private expiryDays(): number {
    return Math.round(this.input.expiresAfterSeconds / 86400);
  }

  /** Runs from before the activity answered get nothing back. */
  private async recordStart(): Promise<RecordEnrollmentStartedResult | undefined> {
    const { workflowId, runId } = workflowInfo();
    const recordStarted = patched(recordStartLocallyPatch) ? local.recordEnrollmentStarted : recordEnrollmentStarted;
    return recordStarted({
      enrollmentId: this.input.enrollmentId,
      tenantId: this.input.tenantId,
      leadId: this.input.leadId,
      sequenceId: this.input.sequence.id,
      workflowId,
      runId,
      idempotencyKey: this.input.idempotencyKey ?? null,
    });
  }

  /** What the current step does now; every change made so far is taken into this plan. */
  private planStep(): NextSendPlan {
    const delayMs = this.skipDelay ? 0 : (this.input.sequence.steps[this.state.step]?.delaySeconds ?? 0) * 1000;
    const plan = planNextSend({
      now: new Date(),
      dueAt: new Date(this.dueBase.getTime() + delayMs),
      expiresAt: this.expiresAt,
      paused: this.state.paused,
      policy: this.policy,
      recentSends: this.state.recentSends,
    });
    this.planned = this.changes;
    return plan;
  }

  /** Waits for the plan's time; a change (a close, a pause, a skip) ends it early, and the step is planned again. */
  private async waitFor(plan: Plan<'wait' | 'pause'>): Promise<void> {
    const waitingFor = plan.kind === 'pause' ? 'pause' : plan.waitingFor;
    upsertSearchAttributes([
      { key: nextSendAtKey, value: plan.kind === 'pause' ? null : plan.until },
      // Added after runs existed: histories recorded before it must replay without this attribute.
      ...(patched(waitingForPatch) ? [{ key: waitingForKey, value: waitingFor }] : []),
    ]);
    Object.assign(this.state, { waitingFor, nextSendAt: plan.kind === 'pause' ? null : plan.until.toISOString() });
    await this.untilNextChangeOr(plan.until);
  }

  private async sendStep(plan: Plan<'send'>): Promise<void> {
    this.state.waitingFor = 'send';
    const step = this.state.step;
    const send = {
      tenantId: this.input.tenantId,
      leadId: this.input.leadId,
      enrollmentId: this.input.enrollmentId,
      step,
      template: this.input.sequence.steps[step]?.template ?? '',
      notAfter: plan.notAfter.toISOString(),
      ...(patched(sendGateHoldsPatch) ? { holdAsResult: true } : {}),
    };
    const changesBeforeSend = this.changes;
    // Not cancellable: a send in flight finishes (and is recorded) before a cancellation takes effect.
    const result = await CancellationScope.nonCancellable(() => sendActivity(this.expiresAt)(send));
    log.info('step finished', { step, outcome: result.outcome });
    if (result.outcome === 'deferred') return;
    if (result.outcome === 'held') return this.waitOutHold(result, changesBeforeSend);
    if (result.outcome === 'halted') return this.close(...haltedOutcome(result.reason));
    this.recordSendOutcome(step, result);
  }

  /** A held send comes back when its hold ends, or at once when anything changes (a close, a pause, a skip). */
  private async waitOutHold(hold: SendResult<'held'>, changesBeforeSend: number): Promise<void> {
    if (hold.policy && patched(followGatePolicyPatch)) this.policy = hold.policy;
    // A close, a pause or a skip came while the send was in flight: the loop acts on it now, the hold never shown.
    if (patched(changeDuringSendPatch) && this.changes !== changesBeforeSend) return;
    const waitingFor = waitingForHold(hold.reason);
    upsertSearchAttributes([
      { key: nextSendAtKey, value: new Date(hold.retryAt) },
      { key: waitingForKey, value: waitingFor },
    ]);
    Object.assign(this.state, {
      waitingFor,
      nextSendAt: hold.retryAt,
      hold: { reason: hold.reason, until: hold.until, retryAt: hold.retryAt, detail: hold.detail },
    });
    // A hold past the expiry (a window or cap days away) ends at the expiry, which the next plan then closes.
    const retryAt = new Date(hold.retryAt);
    const lastLook = retryAt > this.expiresAt && patched(holdUntilExpiryPatch) ? this.expiresAt : retryAt;
    await this.untilNextChangeOr(lastLook);
    this.state.hold = null;
  }

  /** A step that went out (or was skipped, refused or failed) is done; the next one's delay counts from now. */
  private recordSendOutcome(step: number, result: SendResult<'sent' | 'skipped' | 'opted_out' | 'failed'>): void {
    if (result.outcome === 'sent') {
      this.state.messagesSent += 1;
      this.state.recentSends = rememberSend(this.state.recentSends, new Date(), this.policy.maxPerDay);
    }
    if (result.outcome === 'opted_out') this.close('opted_out', 'recipient opted out');
    if (result.outcome === 'failed')
      this.close('failed', `${result.kind}${result.errorCode ? ` (Twilio ${result.errorCode})` : ''}`);
    // A skip that arrived during the send already chose the next step (and waived its delay).
    if (this.state.step === step) {
      this.state.step += 1;
      this.skipDelay = false;
    }
    this.dueBase = new Date();
  }
}

/** A cancellation that arrived during a (non-cancellable) send stops the loop before anything else goes out. */
function stopIfCancelled(): void {
  if (CancellationScope.current().consideredCancelled)
    throw new CancelledFailure('cancelled while a send was in flight');
}
