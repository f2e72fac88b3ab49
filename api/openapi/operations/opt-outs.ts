// The Opt-outs operations of the OpenAPI document (see ./operation.ts).
import * as optOuts from '../../routes/opt-outs.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Opt-outs', 'tenant');

export const optOutsOperations: Operation[] = [
  read('/v1/opt-outs', 'List opt-outs, newest first', json(r.optOutPage, 'A page of opt-outs'), optOuts.listSchema),
  operation('post', '/v1/opt-outs', 'Record an opt-out from another channel', {
    ok: { 201: json(r.optOut, 'Recorded'), 200: json(r.optOut, 'Already opted out') },
    body: optOuts.addSchema,
  }),
  operation('delete', '/v1/opt-outs/:phone', 'Remove an opt-out, with the consent that allows it', {
    ok: { 200: json(r.optOutRemoved, 'Removed, or the number block passed for this tenant') },
    body: optOuts.removeSchema,
  }),
  operation('get', '/v1/opt-outs/:phone/consent', "The phone's consent history", {
    ok: { 200: json(r.consentLog, 'Consent events, oldest first') },
    // Not a possible phone number in the tenant's region.
    errors: [422],
  }),
];
