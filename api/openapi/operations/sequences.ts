// The Sequences operations of the OpenAPI document (see ./operation.ts).
import { createSequenceSchema } from '../../routes/sequences.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const sequencesOperations: Operation[] = [
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
];
