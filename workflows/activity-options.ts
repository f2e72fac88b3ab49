import { proxyActivities, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const nonRetryableErrorTypes = ['NotFoundError'];

/** Database writes: retried with backoff for as long as the database is down; a row that is gone is final. */
export const recordActivityOptions: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
};

/**
 * The send activities: Twilio's final refusals come back as results, transient faults are thrown and retried, and no
 * attempt is scheduled past `deadline`. The start-to-close timeout leaves room for the activity's own bounded waits
 * (Twilio 10 s, database 5 s to connect and 15 s per statement) so a second attempt never overlaps a first one still
 * running.
 */
export function sendActivitiesUntil(deadline: Date, maximumInterval: string): ActivityInterfaceFor<Activities> {
  return proxyActivities<Activities>({
    startToCloseTimeout: '60 seconds',
    scheduleToCloseTimeout: Math.max(1000, deadline.getTime() - Date.now()),
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval, nonRetryableErrorTypes },
  });
}
