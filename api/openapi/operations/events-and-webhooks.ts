// The Events and webhooks operations of the OpenAPI document (see ./operation.ts).
import { feedQuerySchema } from '../../routes/events.js';
import * as webhookEndpoints from '../../routes/webhook-endpoints.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Events and webhooks', 'tenant');
const endpoint = '/v1/webhook-endpoints/:id';

export const eventsAndWebhooksOperations: Operation[] = [
  operation('get', '/v1/events', 'The event feed, in order, from a sequence number', {
    ok: { 200: json(r.eventFeed, 'Events after `after`') },
    query: feedQuerySchema,
    // An unknown `type`.
    errors: [422],
  }),
  operation('post', '/v1/webhook-endpoints', 'Add a webhook endpoint (signed with Standard Webhooks)', {
    ok: { 201: json(r.webhookEndpointCreated, 'Added; the secret is shown once') },
    body: webhookEndpoints.createSchema,
    errors: [409],
    errorNotes: { 409: 'The tenant has its 10 endpoints already (`details.limit`)' },
  }),
  read('/v1/webhook-endpoints', 'List webhook endpoints', json(r.webhookEndpointList, 'Endpoints')),
  read(endpoint, 'One webhook endpoint', json(r.webhookEndpoint, 'The endpoint')),
  operation('patch', endpoint, 'Change a webhook endpoint', {
    ok: { 200: json(r.webhookEndpoint, 'As changed') },
    body: webhookEndpoints.updateSchema,
  }),
  operation('delete', endpoint, 'Remove a webhook endpoint', { ok: { 204: { description: 'Removed' } } }),
  operation('post', `${endpoint}/rotate-secret`, 'A new signing secret; the old one signs too for 24 hours', {
    ok: { 200: json(r.rotatedSecret, 'Rotated') },
  }),
  operation('post', `${endpoint}/test`, 'Send a test event to the endpoint', {
    ok: { 202: json(r.delivery, 'Queued') },
  }),
  read(
    `${endpoint}/deliveries`,
    "The endpoint's deliveries, newest first",
    json(r.deliveryList, 'Deliveries with their attempts'),
    webhookEndpoints.deliveriesQuery,
  ),
  operation('post', `${endpoint}/deliveries/:deliveryId/retry`, 'Send a failed delivery again', {
    ok: { 200: json(r.delivery, 'Queued again') },
    errors: [409],
  }),
];
