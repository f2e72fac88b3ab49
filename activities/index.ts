import type { Db } from '../common/db.js';
import type { MessageMetrics } from '../common/metrics.js';
import { createEnrollmentActivities } from './enrollments.js';
import { createMaintenanceActivities } from './maintenance.js';
import { createReminderActivities } from './reminders.js';
import { createSendStepMessage } from './send-step-message.js';
import type { SmsSender } from './sms-sender.js';

export interface ActivityDeps {
  db: Db;
  sender: SmsSender;
  /** Counts send outcomes, Twilio errors and opt-outs for the worker's /metrics; unset: nothing is counted. */
  metrics?: MessageMetrics | undefined;
}

export function createActivities(deps: ActivityDeps) {
  return {
    sendStepMessage: createSendStepMessage(deps),
    ...createEnrollmentActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createReminderActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
