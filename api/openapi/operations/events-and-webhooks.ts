// The Events and webhooks operations of the OpenAPI document (see ./operation.ts).
import { feedQuerySchema } from '../../routes/events.js';
import * as webhookEndpoints from '../../routes/webhook-endpoints.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const eventsAndWebhooksOperations: Operation[] = [
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
];
