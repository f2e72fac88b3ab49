// The OpenAPI document's operations for the service itself: health, metrics, this document and its page.
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Operations', 'none');
const javascript = { description: 'JavaScript', mediaType: 'text/javascript' };

export const serviceOperations: Operation[] = [
  operation(
    'get',
    '/l/:code',
    'A tracked link in a message (also HEAD): 302 to its URL, recording the click; a plain 404 otherwise',
    {
      ok: {
        302: { description: 'To the link’s URL (Location)' },
        404: { description: 'Unknown or expired: a plain page', mediaType: 'text/html' },
      },
      errors: [429],
    },
  ),
  operation('get', '/health', 'Whether Temporal and PostgreSQL answer', {
    ok: { 200: json(r.health, 'Both answer'), 503: json(r.health, 'One is down') },
  }),
  read('/metrics', 'Prometheus metrics of this API process', {
    description: 'Prometheus text format',
    mediaType: 'text/plain',
  }),
  read('/openapi.json', 'This document', { description: 'OpenAPI 3.1', mediaType: 'application/json' }),
  read('/docs/start.js', 'The script that starts the reference page', javascript),
  read('/docs', 'An interactive reference of this document', { description: 'HTML page', mediaType: 'text/html' }),
];
