import type { Db } from '../common/db.js';
import { createEnrollmentActivities } from './enrollments.js';
import { createMaintenanceActivities } from './maintenance.js';
import { createSendStepMessage } from './send-step-message.js';
import type { SmsSender } from './sms-sender.js';

export interface ActivityDeps {
  db: Db;
  sender: SmsSender;
}

export function createActivities(deps: ActivityDeps) {
  return {
    sendStepMessage: createSendStepMessage(deps),
    ...createEnrollmentActivities(deps),
    ...createMaintenanceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
