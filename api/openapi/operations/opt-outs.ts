// The Opt-outs operations of the OpenAPI document (see ./operation.ts).
import * as optOuts from '../../routes/opt-outs.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const optOutsOperations: Operation[] = [
  {
    method: 'get',
    path: '/v1/opt-outs',
    summary: 'List opt-outs, newest first',
    tag: 'Opt-outs',
    auth: 'tenant',
    query: optOuts.listSchema,
    ok: { 200: json(r.optOutPage, 'A page of opt-outs') },
  },
  {
    method: 'post',
    path: '/v1/opt-outs',
    summary: 'Record an opt-out from another channel',
    tag: 'Opt-outs',
    auth: 'tenant',
    body: optOuts.addSchema,
    ok: { 201: json(r.optOut, 'Recorded'), 200: json(r.optOut, 'Already opted out') },
  },
  {
    method: 'delete',
    path: '/v1/opt-outs/:phone',
    summary: 'Remove an opt-out, with the consent that allows it',
    tag: 'Opt-outs',
    auth: 'tenant',
    body: optOuts.removeSchema,
    ok: { 200: json(r.optOutRemoved, 'Removed') },
  },
  {
    method: 'get',
    path: '/v1/opt-outs/:phone/consent',
    summary: "The phone's consent history",
    tag: 'Opt-outs',
    auth: 'tenant',
    ok: { 200: json(r.consentLog, 'Consent events, oldest first') },
  },
];
