// The Sequences operations of the OpenAPI document (see ./operation.ts).
import { createSequenceSchema } from '../../routes/sequences.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Sequences', 'tenant');

export const sequencesOperations: Operation[] = [
  operation('post', '/v1/sequences', 'Save a sequence (a saved name gets its next version)', {
    ok: { 201: json(r.sequence, 'Saved') },
    body: createSequenceSchema,
  }),
  read('/v1/sequences/:sequenceId', 'One sequence version', json(r.sequence, 'The sequence')),
];
