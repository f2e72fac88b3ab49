// The Operator operations of the OpenAPI document (see ./operation.ts).
import { assignSchema } from '../../routes/operator-senders.js';
import { operatorSchema } from '../../routes/sending.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Operator', 'operator');
const pauses = json(r.pauses, 'Pauses');

export const operatorOperations: Operation[] = [
  read('/v1/operator/senders', 'Every sender and the tenant it belongs to', json(r.senders, 'Senders')),
  operation('put', '/v1/operator/senders/:value', 'Assign a sender (number or Messaging Service) to a tenant', {
    ok: { 200: json(r.senderAssigned, 'Assigned') },
    body: assignSchema,
    errors: [409],
  }),
  operation('delete', '/v1/operator/senders/:value', 'Unassign a sender', {
    ok: { 200: json(r.senderRemoved, 'Unassigned') },
  }),
  read('/v1/operator/sending', 'Every kill switch in force', pauses),
  operation('post', '/v1/operator/sending/pause', 'Pause all sending, or one tenant', {
    ok: { 200: pauses },
    body: operatorSchema,
    errors: [404],
    errorNotes: { 404: 'No tenant has that `tenantId`' },
  }),
  operation('post', '/v1/operator/sending/resume', 'Resume all sending, or one tenant', {
    ok: { 200: pauses },
    body: operatorSchema,
    errors: [404],
    errorNotes: { 404: 'No tenant has that `tenantId`' },
  }),
];
