// The Operator operations of the OpenAPI document (see ./operation.ts).
import { assignSchema } from '../../routes/operator-senders.js';
import { operatorSchema } from '../../routes/sending.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const operatorOperations: Operation[] = [
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
