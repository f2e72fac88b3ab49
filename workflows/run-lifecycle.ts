// What both long-lived workflows do the same way: wait for a change or a time, answer an update once the main loop has
// acted on it, refuse one by type, close once, and end: outcome recorded, every handler finished.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  makeContinueAsNewFunc,
  patched,
  workflowInfo,
  type Workflow,
} from '@temporalio/workflow';

/**
 * A send held for long (the kill switch, a spent budget) is looked at again every few seconds to minutes, a dozen
 * history events each time; Temporal terminates a run whose history passes 51,200 events. Past this many, or when
 * Temporal suggests it, the run goes on in a new one with what it has to remember.
 */
const eventsBeforeContinuing = 2_500;
/** Runs from before it never continue as new (see docs/versioning.md). */
const continueAsNewPatch = 'continue-as-new';

/** Whether the run should go on in a new run before its next step (checked only where nothing is in flight). */
export function historyIsLong(): boolean {
  const { continueAsNewSuggested, historyLength } = workflowInfo();
  return (continueAsNewSuggested || historyLength >= eventsBeforeContinuing) && patched(continueAsNewPatch);
}

/**
 * Goes on in a new run of the same workflow ID with `argsNow()`, once updates in flight have answered; returns only when a
 * handler closed the run meanwhile (nothing to continue). The new run keeps this one's search attributes and memo, so
 * the operators' queries and the UI find it as before.
 */
export async function continueInNewRun<W extends Workflow>(
  isOpen: () => boolean,
  argsNow: () => Parameters<W>,
): Promise<void> {
  await condition(allHandlersFinished);
  if (!isOpen()) return;
  const { typedSearchAttributes, memo } = workflowInfo();
  await makeContinueAsNewFunc<W>({ typedSearchAttributes, ...(memo ? { memo } : {}) })(...argsNow());
}

/** Updates answer once the run has acted on them, or after this long (a send in flight may take a while). */
const settleTimeout = '5 seconds';

/**
 * Waits until `changed` comes true or `until` passes; true when a change ended the wait. Every `until` the workflows
 * pass lies ahead; the floor keeps a late one a 1 ms timer (a 0 would make the SDK record a patch marker).
 */
export function untilChangeOrTime(changed: () => boolean, until: Date): Promise<boolean> {
  return condition(changed, Math.max(until.getTime() - Date.now(), 1));
}

/** An update's answer: the state once `actedOn` comes true, or as it is when the settle timeout passes. */
export async function settledState<State>(actedOn: () => boolean, state: State): Promise<State> {
  await condition(actedOn, settleTimeout);
  return state;
}

/** What an update's validator throws: callers tell a finished run from a request that does not fit it by `type`. */
export function refusal(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message });
}

/** The first outcome stands: closing a run that is no longer `open` changes nothing. True when this call closed it. */
export function closeOnce<State extends { status: string }>(
  state: State,
  open: State['status'],
  closed: Partial<State>,
): boolean {
  if (state.status !== open) return false;
  Object.assign(state, closed);
  return true;
}

/** A run's main loop, which answers the cancellation that ended it (if one did), and the record of how it ended. */
export interface WorkflowRun<State> {
  readonly state: State;
  loop(): Promise<unknown>;
  recordOutcome(): Promise<void>;
}

/**
 * Runs the loop, records the outcome even when the run was cancelled, and lets an update still in flight answer before
 * the run closes (a condition without a timeout adds no command: histories from before this wait replay unchanged).
 * A cancellation is rethrown once recorded, so Temporal shows the run as Canceled too.
 */
export async function runToTheEnd<State>(run: WorkflowRun<State>): Promise<State> {
  const cancelled = await run.loop();
  await CancellationScope.nonCancellable(async () => {
    await run.recordOutcome();
    await condition(allHandlersFinished);
  });
  if (cancelled) throw cancelled;
  return run.state;
}
