export { leadFollowUp } from './lead-follow-up.js';
export { purgeProcessedWebhooks } from './purge-processed-webhooks.js';
export { appointmentReminder } from './appointment-reminder.js';
export { weeklyReport } from './weekly-report.js';
