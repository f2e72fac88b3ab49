// Every operation the API serves, with the zod schemas its handler parses and answers with. The OpenAPI test walks
// the Express app and fails on a route missing here, so this table cannot fall behind the routes.
import { type z } from 'zod';
import { inboundSchema, statusSchema } from '../routes/twilio-webhooks.js';
import * as appointments from '../routes/appointments.js';
import { conversationQuerySchema } from '../routes/conversation.js';
import { batchSchema, csvQuerySchema } from '../routes/enrollment-batch.js';
import * as enrollments from '../routes/enrollments.js';
import { feedQuerySchema } from '../routes/events.js';
import { createLeadSchema, listQuerySchema, updateLeadSchema } from '../routes/leads.js';
import { assignSchema } from '../routes/operator-senders.js';
import * as optOuts from '../routes/opt-outs.js';
import { querySchema as reportQuerySchema } from '../routes/reports.js';
import { operatorSchema, reasonSchema } from '../routes/sending.js';
import { createSequenceSchema } from '../routes/sequences.js';
import { settingsSchema } from '../routes/settings.js';
import * as webhookEndpoints from '../routes/webhook-endpoints.js';
import * as r from './resources.js';

/** Who may call: a tenant's API key, the operator key, Twilio (signed), or anyone. */
export type Auth = 'tenant' | 'operator' | 'twilio' | 'none';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Operation {
  method: Method;
  /** As Express routes it, with `:param`s. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body's media type; JSON unless said. */
  bodyType?: 'application/x-www-form-urlencoded';
  /** Success answers by status: a schema for JSON, or a media type for anything else. */
  ok: Record<number, { description: string; schema?: z.ZodType; mediaType?: string }>;
  /** Error statuses beyond those the auth, body and path parameters imply. */
  errors?: number[];
}

const json = (schema: z.ZodType, description: string) => ({ schema, description });
/** Updates and starts wait for Temporal; when it does not answer the caller hears 503 temporal_unavailable. */
const viaTemporal = [503];

export const operations: Operation[] = [
  {
    method: 'get',
    path: '/health',
    summary: 'Whether Temporal and PostgreSQL answer',
    tag: 'Operations',
    auth: 'none',
    ok: { 200: json(r.health, 'Both answer'), 503: json(r.health, 'One is down') },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this API process',
    tag: 'Operations',
    auth: 'none',
    ok: { 200: { description: 'Prometheus text format', mediaType: 'text/plain' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'Operations',
    auth: 'none',
    ok: { 200: { description: 'OpenAPI 3.1', mediaType: 'application/json' } },
  },
  {
    method: 'get',
    path: '/docs/start.js',
    summary: 'The script that starts the reference page',
    tag: 'Operations',
    auth: 'none',
    ok: { 200: { description: 'JavaScript', mediaType: 'text/javascript' } },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'An interactive reference of this document',
    tag: 'Operations',
    auth: 'none',
    ok: { 200: { description: 'HTML page', mediaType: 'text/html' } },
  },

  {
    method: 'post',
    path: '/webhooks/twilio/inbound',
    summary: "Twilio's incoming-message webhook (STOP, replies, confirmations)",
    tag: 'Twilio webhooks',
    auth: 'twilio',
    body: inboundSchema,
    bodyType: 'application/x-www-form-urlencoded',
    ok: { 200: { description: 'TwiML (an auto-reply, or empty)', mediaType: 'text/xml' } },
  },
  {
    method: 'post',
    path: '/webhooks/twilio/status',
    summary: "Twilio's message status callback",
    tag: 'Twilio webhooks',
    auth: 'twilio',
    body: statusSchema,
    bodyType: 'application/x-www-form-urlencoded',
    ok: { 200: { description: 'TwiML (empty)', mediaType: 'text/xml' } },
  },

  {
    method: 'get',
    path: '/v1/settings',
    summary: "The tenant's settings",
    tag: 'Settings',
    auth: 'tenant',
    ok: { 200: json(r.settings, 'The settings') },
  },
  {
    method: 'patch',
    path: '/v1/settings',
    summary: 'Change settings (window, caps, templates, budgets…)',
    tag: 'Settings',
    auth: 'tenant',
    body: settingsSchema,
    ok: { 200: json(r.settings, 'The settings as changed') },
    errors: [403],
  },

  {
    method: 'post',
    path: '/v1/leads',
    summary: 'Create a lead (the same phone answers the existing lead)',
    tag: 'Leads',
    auth: 'tenant',
    body: createLeadSchema,
    ok: { 201: json(r.lead, 'Created'), 200: json(r.lead, 'The lead with this phone already existed') },
    errors: [409],
  },
  {
    method: 'get',
    path: '/v1/leads',
    summary: 'List leads, newest first',
    tag: 'Leads',
    auth: 'tenant',
    query: listQuerySchema,
    ok: { 200: json(r.leadPage, 'A page of leads') },
  },
  {
    method: 'get',
    path: '/v1/leads/:leadId',
    summary: 'One lead',
    tag: 'Leads',
    auth: 'tenant',
    ok: { 200: json(r.lead, 'The lead') },
  },
  {
    method: 'patch',
    path: '/v1/leads/:leadId',
    summary: "Change a lead's name or time zone",
    tag: 'Leads',
    auth: 'tenant',
    body: updateLeadSchema,
    ok: { 200: json(r.lead, 'The lead as changed') },
    errors: [409],
  },
  {
    method: 'delete',
    path: '/v1/leads/:leadId',
    summary: 'Erase a lead: halt its messages, scrub its data, keep it opted out',
    tag: 'Leads',
    auth: 'tenant',
    ok: { 200: json(r.erasedLead, 'Erased') },
  },
  {
    method: 'get',
    path: '/v1/leads/:leadId/messages',
    summary: "The lead's conversation, newest first",
    tag: 'Leads',
    auth: 'tenant',
    query: conversationQuerySchema,
    ok: { 200: json(r.messagePage, 'A page of messages') },
  },

  {
    method: 'post',
    path: '/v1/sequences',
    summary: 'Save a sequence (a saved name gets its next version)',
    tag: 'Sequences',
    auth: 'tenant',
    body: createSequenceSchema,
    ok: { 201: json(r.sequence, 'Saved') },
  },
  {
    method: 'get',
    path: '/v1/sequences/:sequenceId',
    summary: 'One sequence version',
    tag: 'Sequences',
    auth: 'tenant',
    ok: { 200: json(r.sequence, 'The sequence') },
  },

  {
    method: 'post',
    path: '/v1/enrollments',
    summary: 'Enroll a lead in a sequence (Idempotency-Key honoured)',
    tag: 'Enrollments',
    auth: 'tenant',
    body: enrollments.enrollSchema,
    ok: { 202: json(r.enrollment, 'Started') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/batch',
    summary: 'Enroll up to 10,000 leads from JSON or CSV (text/csv with ?sequenceId=)',
    tag: 'Enrollments',
    auth: 'tenant',
    query: csvQuerySchema.partial(),
    body: batchSchema,
    ok: { 200: json(r.enrollmentBatch, 'One result per row') },
    errors: [413],
  },
  {
    method: 'get',
    path: '/v1/enrollments',
    summary: 'List enrollments, newest first',
    tag: 'Enrollments',
    auth: 'tenant',
    query: enrollments.listSchema,
    ok: { 200: json(r.enrollmentPage, 'Enrollments') },
  },
  {
    method: 'get',
    path: '/v1/enrollments/:enrollmentId',
    summary: 'One enrollment, with its workflow state',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 200: json(r.enrollmentDetail, 'The enrollment') },
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/pause',
    summary: 'Pause a running follow-up',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 200: json(r.enrollmentChange, 'Paused') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/resume',
    summary: 'Resume a paused follow-up',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 200: json(r.enrollmentChange, 'Resumed') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/skip',
    summary: 'Skip ahead to a step, now',
    tag: 'Enrollments',
    auth: 'tenant',
    body: enrollments.skipSchema,
    ok: { 200: json(r.enrollmentChange, 'Skipped') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/cancel',
    summary: 'Cancel a follow-up; no step is sent from now on',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 202: json(r.enrollmentCancel, 'Cancellation requested') },
    errors: [409, ...viaTemporal],
  },

  {
    method: 'post',
    path: '/v1/appointments',
    summary: 'Book an appointment: a confirmation now and reminders before it',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.createSchema,
    ok: {
      201: json(r.appointment, 'Booked'),
      200: json(r.appointment, 'Already booked with this Idempotency-Key or from this enrollment'),
    },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'get',
    path: '/v1/appointments',
    summary: 'List appointments',
    tag: 'Appointments',
    auth: 'tenant',
    query: appointments.listSchema,
    ok: { 200: json(r.appointmentPage, 'Appointments') },
  },
  {
    method: 'get',
    path: '/v1/appointments/:appointmentId',
    summary: 'One appointment, with its workflow state',
    tag: 'Appointments',
    auth: 'tenant',
    ok: { 200: json(r.appointmentDetail, 'The appointment') },
  },
  {
    method: 'post',
    path: '/v1/appointments/:appointmentId/reschedule',
    summary: 'Move an appointment; reminders follow',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.rescheduleSchema,
    ok: { 200: json(r.appointmentDetail, 'Moved') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/appointments/:appointmentId/cancel',
    summary: 'Cancel an appointment',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.cancelSchema,
    ok: { 200: json(r.appointmentDetail, 'Cancelled') },
    errors: [409, ...viaTemporal],
  },

  {
    method: 'get',
    path: '/v1/opt-outs',
    summary: 'List opt-outs, newest first',
    tag: 'Opt-outs',
    auth: 'tenant',
    query: optOuts.listSchema,
    ok: { 200: json(r.optOutPage, 'A page of opt-outs') },
  },
  {
    method: 'post',
    path: '/v1/opt-outs',
    summary: 'Record an opt-out from another channel',
    tag: 'Opt-outs',
    auth: 'tenant',
    body: optOuts.addSchema,
    ok: { 201: json(r.optOut, 'Recorded'), 200: json(r.optOut, 'Already opted out') },
  },
  {
    method: 'delete',
    path: '/v1/opt-outs/:phone',
    summary: 'Remove an opt-out, with the consent that allows it',
    tag: 'Opt-outs',
    auth: 'tenant',
    body: optOuts.removeSchema,
    ok: { 200: json(r.optOutRemoved, 'Removed') },
  },
  {
    method: 'get',
    path: '/v1/opt-outs/:phone/consent',
    summary: "The phone's consent history",
    tag: 'Opt-outs',
    auth: 'tenant',
    ok: { 200: json(r.consentLog, 'Consent events, oldest first') },
  },

  {
    method: 'get',
    path: '/v1/events',
    summary: 'The event feed, in order, from a sequence number',
    tag: 'Events and webhooks',
    auth: 'tenant',
    query: feedQuerySchema,
    ok: { 200: json(r.eventFeed, 'Events after `after`') },
  },
  {
    method: 'post',
    path: '/v1/webhook-endpoints',
    summary: 'Add a webhook endpoint (signed with Standard Webhooks)',
    tag: 'Events and webhooks',
    auth: 'tenant',
    body: webhookEndpoints.createSchema,
    ok: { 201: json(r.webhookEndpointCreated, 'Added; the secret is shown once') },
  },
  {
    method: 'get',
    path: '/v1/webhook-endpoints',
    summary: 'List webhook endpoints',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 200: json(r.webhookEndpointList, 'Endpoints') },
  },
  {
    method: 'get',
    path: '/v1/webhook-endpoints/:id',
    summary: 'One webhook endpoint',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 200: json(r.webhookEndpoint, 'The endpoint') },
  },
  {
    method: 'patch',
    path: '/v1/webhook-endpoints/:id',
    summary: 'Change a webhook endpoint',
    tag: 'Events and webhooks',
    auth: 'tenant',
    body: webhookEndpoints.updateSchema,
    ok: { 200: json(r.webhookEndpoint, 'As changed') },
  },
  {
    method: 'delete',
    path: '/v1/webhook-endpoints/:id',
    summary: 'Remove a webhook endpoint',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 204: { description: 'Removed' } },
  },
  {
    method: 'post',
    path: '/v1/webhook-endpoints/:id/rotate-secret',
    summary: 'A new signing secret; the old one signs too for 24 hours',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 200: json(r.rotatedSecret, 'Rotated') },
  },
  {
    method: 'post',
    path: '/v1/webhook-endpoints/:id/test',
    summary: 'Send a test event to the endpoint',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 202: json(r.delivery, 'Queued') },
  },
  {
    method: 'get',
    path: '/v1/webhook-endpoints/:id/deliveries',
    summary: "The endpoint's deliveries, newest first",
    tag: 'Events and webhooks',
    auth: 'tenant',
    query: webhookEndpoints.deliveriesQuery,
    ok: { 200: json(r.deliveryList, 'Deliveries with their attempts') },
  },
  {
    method: 'post',
    path: '/v1/webhook-endpoints/:id/deliveries/:deliveryId/retry',
    summary: 'Send a failed delivery again',
    tag: 'Events and webhooks',
    auth: 'tenant',
    ok: { 200: json(r.delivery, 'Queued again') },
    errors: [409],
  },

  {
    method: 'get',
    path: '/v1/reports/messages',
    summary: 'Outbound messages by status and Twilio error code',
    tag: 'Reports',
    auth: 'tenant',
    query: reportQuerySchema,
    ok: { 200: json(r.messageReport, 'Counts') },
  },
  {
    method: 'get',
    path: '/v1/sending',
    summary: 'Sending capacity, messages waiting for it, and the kill switch',
    tag: 'Sending',
    auth: 'tenant',
    ok: { 200: json(r.sendingStatus, 'Status') },
  },
  {
    method: 'post',
    path: '/v1/sending/pause',
    summary: "Turn the tenant's kill switch on",
    tag: 'Sending',
    auth: 'tenant',
    body: reasonSchema,
    ok: { 200: json(r.sendingStatus, 'Paused') },
  },
  {
    method: 'post',
    path: '/v1/sending/resume',
    summary: "Turn the tenant's kill switch off",
    tag: 'Sending',
    auth: 'tenant',
    body: reasonSchema,
    ok: { 200: json(r.sendingStatus, 'Resumed') },
  },

  {
    method: 'get',
    path: '/v1/operator/senders',
    summary: 'Every sender and the tenant it belongs to',
    tag: 'Operator',
    auth: 'operator',
    ok: { 200: json(r.senders, 'Senders') },
  },
  {
    method: 'put',
    path: '/v1/operator/senders/:value',
    summary: 'Assign a sender (number or Messaging Service) to a tenant',
    tag: 'Operator',
    auth: 'operator',
    body: assignSchema,
    ok: { 200: json(r.senderAssigned, 'Assigned') },
    errors: [409],
  },
  {
    method: 'delete',
    path: '/v1/operator/senders/:value',
    summary: 'Unassign a sender',
    tag: 'Operator',
    auth: 'operator',
    ok: { 200: json(r.senderRemoved, 'Unassigned') },
  },
  {
    method: 'get',
    path: '/v1/operator/sending',
    summary: 'Every kill switch in force',
    tag: 'Operator',
    auth: 'operator',
    ok: { 200: json(r.pauses, 'Pauses') },
  },
  {
    method: 'post',
    path: '/v1/operator/sending/pause',
    summary: 'Pause all sending, or one tenant',
    tag: 'Operator',
    auth: 'operator',
    body: operatorSchema,
    ok: { 200: json(r.pauses, 'Pauses') },
  },
  {
    method: 'post',
    path: '/v1/operator/sending/resume',
    summary: 'Resume all sending, or one tenant',
    tag: 'Operator',
    auth: 'operator',
    body: operatorSchema,
    ok: { 200: json(r.pauses, 'Pauses') },
  },
];
