// The Sending operations of the OpenAPI document (see ./operation.ts).
import { reasonSchema } from '../../routes/sending.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Sending', 'tenant');

export const sendingOperations: Operation[] = [
  read(
    '/v1/sending',
    'Sending capacity, messages waiting for it, and the kill switch',
    json(r.sendingStatus, 'Status'),
  ),
  operation('post', '/v1/sending/pause', "Turn the tenant's kill switch on", {
    ok: { 200: json(r.sendingStatus, 'Paused') },
    body: reasonSchema,
  }),
  operation('post', '/v1/sending/resume', "Turn the tenant's kill switch off", {
    ok: { 200: json(r.sendingStatus, 'Resumed') },
    body: reasonSchema,
    errors: [409],
    errorNotes: { 409: "The operator paused the tenant's sending: only the operator resumes it" },
  }),
];
