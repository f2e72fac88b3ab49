// `?live=true` on a read: the run's own state beside what the rows say, asked within a deadline.
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { asTemporalUnavailable } from './temporal-errors.js';

/** How long a live read waits for Temporal; past it the rows still answer. */
export const liveReadDeadlineMs = 5_000;

/** `no_run`: no run is this enrollment's now (its start still unsettled, or the lead's current run another's). */
export type LiveError = 'temporal_unavailable' | 'query_failed' | 'no_run';
export type LiveRead<State> = { live: State } | { live: null; liveError: LiveError };

/** What a failed call to Temporal makes of a live read. */
export const liveFailure = (error: unknown): { live: null; liveError: LiveError } => ({
  live: null,
  liveError: asTemporalUnavailable(error) ? 'temporal_unavailable' : 'query_failed',
});

/** The run's state from its query; a query needs the server and a worker (even for a finished run), so it may fail. */
export function readLive<State>(
  temporal: Client,
  handle: WorkflowHandle,
  query: QueryDefinition<State, []>,
): Promise<LiveRead<State>> {
  return temporal.connection
    .withDeadline(Date.now() + liveReadDeadlineMs, () => handle.query(query))
    .then((state): LiveRead<State> => ({ live: state }), liveFailure);
}
