// The Enrollments operations of the OpenAPI document (see ./operation.ts).
import { batchSchema, csvQuerySchema } from '../../routes/enrollment-batch.js';
import * as enrollments from '../../routes/enrollments.js';
import { liveReadQuery } from '../../params.js';
import * as r from '../resources.js';
import { type Operation, json, viaTemporal } from './operation.js';

export const enrollmentsOperations: Operation[] = [
  {
    method: 'post',
    path: '/v1/enrollments',
    summary: 'Enroll a lead in a sequence (Idempotency-Key honoured)',
    tag: 'Enrollments',
    auth: 'tenant',
    body: enrollments.enrollSchema,
    ok: { 202: json(r.enrollment, 'Started') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/batch',
    summary: 'Enroll up to 10,000 leads from JSON or CSV (text/csv with ?sequenceId=)',
    tag: 'Enrollments',
    auth: 'tenant',
    query: csvQuerySchema.partial(),
    body: batchSchema,
    ok: { 200: json(r.enrollmentBatch, 'One result per row') },
    errors: [413],
  },
  {
    method: 'get',
    path: '/v1/enrollments',
    summary: 'List enrollments, newest first',
    tag: 'Enrollments',
    auth: 'tenant',
    query: enrollments.listSchema,
    ok: { 200: json(r.enrollmentPage, 'Enrollments') },
  },
  {
    method: 'get',
    path: '/v1/enrollments/:enrollmentId',
    summary: 'One enrollment, with its workflow state',
    tag: 'Enrollments',
    auth: 'tenant',
    query: liveReadQuery,
    ok: { 200: json(r.enrollmentDetail, 'The enrollment') },
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/pause',
    summary: 'Pause a running follow-up',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 200: json(r.enrollmentChange, 'Paused') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/resume',
    summary: 'Resume a paused follow-up',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 200: json(r.enrollmentChange, 'Resumed') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/skip',
    summary: 'Skip ahead to a step, now',
    tag: 'Enrollments',
    auth: 'tenant',
    body: enrollments.skipSchema,
    ok: { 200: json(r.enrollmentChange, 'Skipped') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/enrollments/:enrollmentId/cancel',
    summary: 'Cancel a follow-up; no step is sent from now on',
    tag: 'Enrollments',
    auth: 'tenant',
    ok: { 202: json(r.enrollmentCancel, 'Cancellation requested') },
    errors: [409, ...viaTemporal],
  },
];
