// The Settings operations of the OpenAPI document (see ./operation.ts).
import { settingsSchema } from '../../routes/settings.js';
import * as r from '../resources.js';
import { type Operation, area, json } from './operation.js';

const { operation, read } = area('Settings', 'tenant');

export const settingsOperations: Operation[] = [
  read('/v1/settings', "The tenant's settings", json(r.settings, 'The settings')),
  operation('patch', '/v1/settings', 'Change settings (window, caps, templates, budgets…)', {
    ok: { 200: json(r.settings, 'The settings as changed') },
    body: settingsSchema,
    errors: [403],
  }),
];
