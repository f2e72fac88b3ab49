// The Reports operations of the OpenAPI document (see ./operation.ts).
import { querySchema as reportQuerySchema } from '../../routes/reports.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { read } = area('Reports', 'tenant');

export const reportsOperations: Operation[] = [
  read(
    '/v1/reports/messages',
    'Outbound messages by status and Twilio error code',
    json(r.messageReport, 'Counts'),
    reportQuerySchema,
  ),
];
