// The Leads operations of the OpenAPI document (see ./operation.ts).
import { conversationQuerySchema } from '../../routes/conversation.js';
import { createLeadSchema, listQuerySchema, updateLeadSchema } from '../../routes/leads.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Leads', 'tenant');

export const leadsOperations: Operation[] = [
  operation(
    'post',
    '/v1/leads',
    'Create a lead (the same phone answers the existing lead; 409 time_zone_conflict if given another zone than its own)',
    {
      ok: { 201: json(r.lead, 'Created'), 200: json(r.lead, 'The lead with this phone already existed') },
      body: createLeadSchema,
      errors: [409],
    },
  ),
  read('/v1/leads', 'List leads, newest first', json(r.leadPage, 'A page of leads'), listQuerySchema),
  read('/v1/leads/:leadId', 'One lead', json(r.lead, 'The lead')),
  operation('patch', '/v1/leads/:leadId', "Change a lead's name or time zone", {
    ok: { 200: json(r.lead, 'The lead as changed') },
    body: updateLeadSchema,
    errors: [409],
  }),
  operation('delete', '/v1/leads/:leadId', 'Erase a lead: halt its messages, scrub its data, keep it opted out', {
    ok: { 200: json(r.erasedLead, 'Erased') },
  }),
  read(
    '/v1/leads/:leadId/messages',
    "The lead's conversation, newest first",
    json(r.messagePage, 'A page of messages'),
    conversationQuerySchema,
  ),
];
