import { proxyActivities, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const nonRetryableErrorTypes = ['NotFoundError'];

/** Database writes: retried with backoff for as long as the database is down; a row that is gone is final. */
export const recordActivityOptions: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
};

/** The longest one send attempt runs. */
export const sendAttemptTimeoutMs = 60_000;

/**
 * How long past a hard deadline attempts may still come: none sends, but one may settle a send another attempt had at
 * Twilio when the deadline passed (waiting out that attempt's claim, which expires after
 * `claimExpiredAfterMs` in activities/send-gate.ts, then asking Twilio what became of it), so the row and the run
 * agree on whether it went, and a claim left by a crashed attempt does not stay pending for ever.
 */
export const settleAfterDeadlineMs = 120_000;

/**
 * The send activities: Twilio's final refusals come back as results, transient faults are thrown and retried, and no
 * attempt is scheduled past `deadline`. The start-to-close timeout leaves room for the activity's own bounded waits
 * (Twilio 10 s, database 5 s to connect and 15 s per statement), so a second attempt rarely overlaps a first one still
 * running; when one does (a lookup of many pages, a stalled process), the claim on the row keeps the two apart.
 */
export function sendActivitiesUntil(deadline: Date, maximumInterval: string): ActivityInterfaceFor<Activities> {
  return proxyActivities<Activities>({
    startToCloseTimeout: sendAttemptTimeoutMs,
    scheduleToCloseTimeout: Math.max(1000, deadline.getTime() - Date.now()),
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval, nonRetryableErrorTypes },
  });
}
