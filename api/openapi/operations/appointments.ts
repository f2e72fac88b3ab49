// The Appointments operations of the OpenAPI document (see ./operation.ts).
import * as appointments from '../../routes/appointments.js';
import { liveReadQuery } from '../../params.js';
import * as r from '../resources.js';
import { type Operation, json, viaTemporal } from './operation.js';

export const appointmentsOperations: Operation[] = [
  {
    method: 'post',
    path: '/v1/appointments',
    summary: 'Book an appointment: a confirmation now and reminders before it',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.createSchema,
    ok: {
      201: json(r.appointment, 'Booked'),
      200: json(r.appointment, 'Already booked with this Idempotency-Key or from this enrollment'),
    },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'get',
    path: '/v1/appointments',
    summary: 'List appointments',
    tag: 'Appointments',
    auth: 'tenant',
    query: appointments.listSchema,
    ok: { 200: json(r.appointmentPage, 'Appointments') },
  },
  {
    method: 'get',
    path: '/v1/appointments/:appointmentId',
    summary: 'One appointment, with its workflow state',
    tag: 'Appointments',
    auth: 'tenant',
    query: liveReadQuery,
    ok: { 200: json(r.appointmentDetail, 'The appointment') },
  },
  {
    method: 'post',
    path: '/v1/appointments/:appointmentId/reschedule',
    summary: 'Move an appointment; reminders follow',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.rescheduleSchema,
    ok: { 200: json(r.appointmentDetail, 'Moved') },
    errors: [409, ...viaTemporal],
  },
  {
    method: 'post',
    path: '/v1/appointments/:appointmentId/cancel',
    summary: 'Cancel an appointment',
    tag: 'Appointments',
    auth: 'tenant',
    body: appointments.cancelSchema,
    ok: { 200: json(r.appointmentDetail, 'Cancelled') },
    errors: [409, ...viaTemporal],
  },
];
