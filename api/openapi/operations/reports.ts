// The Reports operations of the OpenAPI document (see ./operation.ts).
import { querySchema as reportQuerySchema } from '../../routes/reports.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const reportsOperations: Operation[] = [
  {
    method: 'get',
    path: '/v1/reports/messages',
    summary: 'Outbound messages by status and Twilio error code',
    tag: 'Reports',
    auth: 'tenant',
    query: reportQuerySchema,
    ok: { 200: json(r.messageReport, 'Counts') },
  },
];
