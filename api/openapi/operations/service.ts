// The OpenAPI document's operations for the service itself: health, metrics, this document and its page.
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const serviceOperations: Operation[] = [
  {
    method: 'get',
    path: '/l/:code',
    summary: 'A tracked link in a message (also HEAD): 302 to its URL, recording the click; a plain 404 otherwise',
    tag: 'Operations',
    auth: 'none',
    ok: {
      302: { description: 'To the link’s URL (Location)' },
      404: { description: 'Unknown or expired: a plain page', mediaType: 'text/html' },
    },
    errors: [429],
  },
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
];
