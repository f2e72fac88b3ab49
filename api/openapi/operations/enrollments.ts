// The Enrollments operations of the OpenAPI document (see ./operation.ts).
import { batchSchema, csvBodySchema, csvQuerySchema } from '../../routes/enrollment-batch.js';
import * as enrollments from '../../routes/enrollments.js';
import { idempotencyKeyHeader, liveReadQuery } from '../../params.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read, viaWorkflow } = area('Enrollments', 'tenant');
const change = (description: string) => ({ 200: json(r.enrollmentChange, description) });

export const enrollmentsOperations: Operation[] = [
  operation('post', '/v1/enrollments', 'Enroll a lead in a sequence (Idempotency-Key honoured)', {
    ok: { 202: json(r.enrollment, 'Started') },
    headers: idempotencyKeyHeader,
    body: enrollments.enrollSchema,
    // 404: the lead or the sequence is not the tenant's.
    errors: [404, 409, 503],
  }),
  operation(
    'post',
    '/v1/enrollments/batch',
    'Enroll up to 10,000 leads from JSON or CSV (text/csv with ?sequenceId=; a JSON body with a query is a 400)',
    {
      ok: { 200: json(r.enrollmentBatch, 'One result per row') },
      query: csvQuerySchema.partial(),
      body: batchSchema,
      otherBodies: { 'text/csv': csvBodySchema },
      // 404: the sequence is not the tenant's; 415: a CSV not in its charset (UTF-8 unless named); 503: Temporal does
      // not answer.
      errors: [404, 413, 415, 503],
    },
  ),
  read(
    '/v1/enrollments',
    'List enrollments, newest first',
    json(r.enrollmentPage, 'Enrollments'),
    enrollments.listSchema,
  ),
  read(
    '/v1/enrollments/:enrollmentId',
    'One enrollment, with its workflow state',
    json(r.enrollmentDetail, 'The enrollment'),
    liveReadQuery,
  ),
  viaWorkflow('/v1/enrollments/:enrollmentId/pause', 'Pause a running follow-up', change('Paused')),
  viaWorkflow('/v1/enrollments/:enrollmentId/resume', 'Resume a paused follow-up', change('Resumed')),
  viaWorkflow(
    '/v1/enrollments/:enrollmentId/skip',
    'Skip ahead to a step, now',
    change('Skipped'),
    enrollments.skipSchema,
  ),
  viaWorkflow('/v1/enrollments/:enrollmentId/cancel', 'Cancel a follow-up; no step is sent from now on', {
    202: json(r.enrollmentCancel, 'Cancellation requested'),
  }),
];
