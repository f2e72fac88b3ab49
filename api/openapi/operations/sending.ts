// The Sending operations of the OpenAPI document (see ./operation.ts).
import { reasonSchema } from '../../routes/sending.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const sendingOperations: Operation[] = [
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
];
