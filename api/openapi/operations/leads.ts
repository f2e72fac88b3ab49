// The Leads operations of the OpenAPI document (see ./operation.ts).
import { conversationQuerySchema } from '../../routes/conversation.js';
import { createLeadSchema, listQuerySchema, updateLeadSchema } from '../../routes/leads.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const leadsOperations: Operation[] = [
  {
    method: 'post',
    path: '/v1/leads',
    summary: 'Create a lead (the same phone answers the existing lead)',
    tag: 'Leads',
    auth: 'tenant',
    body: createLeadSchema,
    ok: { 201: json(r.lead, 'Created'), 200: json(r.lead, 'The lead with this phone already existed') },
    errors: [409],
  },
  {
    method: 'get',
    path: '/v1/leads',
    summary: 'List leads, newest first',
    tag: 'Leads',
    auth: 'tenant',
    query: listQuerySchema,
    ok: { 200: json(r.leadPage, 'A page of leads') },
  },
  {
    method: 'get',
    path: '/v1/leads/:leadId',
    summary: 'One lead',
    tag: 'Leads',
    auth: 'tenant',
    ok: { 200: json(r.lead, 'The lead') },
  },
  {
    method: 'patch',
    path: '/v1/leads/:leadId',
    summary: "Change a lead's name or time zone",
    tag: 'Leads',
    auth: 'tenant',
    body: updateLeadSchema,
    ok: { 200: json(r.lead, 'The lead as changed') },
    errors: [409],
  },
  {
    method: 'delete',
    path: '/v1/leads/:leadId',
    summary: 'Erase a lead: halt its messages, scrub its data, keep it opted out',
    tag: 'Leads',
    auth: 'tenant',
    ok: { 200: json(r.erasedLead, 'Erased') },
  },
  {
    method: 'get',
    path: '/v1/leads/:leadId/messages',
    summary: "The lead's conversation, newest first",
    tag: 'Leads',
    auth: 'tenant',
    query: conversationQuerySchema,
    ok: { 200: json(r.messagePage, 'A page of messages') },
  },
];
