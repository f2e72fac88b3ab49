// Every operation the API serves, by area. The OpenAPI test walks the Express app and fails on a route missing here,
// so this table cannot fall behind the routes.
import { serviceOperations } from './operations/service.js';
import { twilioWebhooksOperations } from './operations/twilio-webhooks.js';
import { settingsOperations } from './operations/settings.js';
import { leadsOperations } from './operations/leads.js';
import { sequencesOperations } from './operations/sequences.js';
import { enrollmentsOperations } from './operations/enrollments.js';
import { appointmentsOperations } from './operations/appointments.js';
import { optOutsOperations } from './operations/opt-outs.js';
import { eventsAndWebhooksOperations } from './operations/events-and-webhooks.js';
import { reportsOperations } from './operations/reports.js';
import { sendingOperations } from './operations/sending.js';
import { operatorOperations } from './operations/operator.js';
import { analyticsOperations } from './operations/analytics.js';
import { dashboardOperations } from './operations/dashboard.js';
import type { Operation } from './operations/operation.js';

export type { Auth, Method, Operation } from './operations/operation.js';

export const operations: Operation[] = [
  ...serviceOperations,
  ...twilioWebhooksOperations,
  ...settingsOperations,
  ...leadsOperations,
  ...sequencesOperations,
  ...enrollmentsOperations,
  ...appointmentsOperations,
  ...optOutsOperations,
  ...eventsAndWebhooksOperations,
  ...reportsOperations,
  ...sendingOperations,
  ...analyticsOperations,
  ...dashboardOperations,
  ...operatorOperations,
];
