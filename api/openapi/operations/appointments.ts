// The Appointments operations of the OpenAPI document (see ./operation.ts).
import * as appointments from '../../routes/appointments.js';
import { idempotencyKeyHeader, liveReadQuery } from '../../params.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read, viaWorkflow } = area('Appointments', 'tenant');

export const appointmentsOperations: Operation[] = [
  operation('post', '/v1/appointments', 'Book an appointment: a confirmation now and reminders before it', {
    ok: {
      201: json(r.appointment, 'Booked'),
      200: json(r.appointment, 'Already booked with this Idempotency-Key or from this enrollment'),
    },
    headers: idempotencyKeyHeader,
    body: appointments.createSchema,
    // 409: another booking under the key, or the lead erased; 503: Temporal does not answer.
    errors: [409, 503],
    errorNotes: {
      503:
        'Temporal did not answer around the start (temporal_unavailable): the appointment may have been booked, and ' +
        'details.appointmentId names it. With an Idempotency-Key (or an enrollmentId), retry the same request for its ' +
        'answer. Without either, do not book again: read GET /v1/appointments/{appointmentId}?live=true, which ' +
        'answers 404 only when Temporal has no run for it (read it a minute after the 503: a start that timed out ' +
        'can still land)',
    },
  }),
  read('/v1/appointments', 'List appointments', json(r.appointmentPage, 'Appointments'), appointments.listSchema),
  operation('get', '/v1/appointments/:appointmentId', 'One appointment, with its workflow state', {
    ok: { 200: json(r.appointmentDetail, 'The appointment') },
    query: liveReadQuery,
    errors: [409, 503],
    errorNotes: {
      404:
        'No such appointment; with live=true, Temporal also says no booking run for this ID is running (a booking ' +
        'answered 503 may have started one)',
      409:
        'live=true only: no row yet, but a booking run is there and records it once a worker runs it (conflict, ' +
        'details.recorded false; read again), or its lead was erased (erased)',
      503: 'live=true only: no row, and Temporal did not answer whether a booking run is there (temporal_unavailable)',
    },
  }),
  viaWorkflow(
    '/v1/appointments/:appointmentId/reschedule',
    'Move an appointment; reminders follow',
    { 200: json(r.appointmentDetail, 'Moved') },
    appointments.rescheduleSchema,
  ),
  viaWorkflow(
    '/v1/appointments/:appointmentId/cancel',
    'Cancel an appointment',
    { 200: json(r.appointmentDetail, 'Cancelled') },
    appointments.cancelSchema,
  ),
];
