// The Settings operations of the OpenAPI document (see ./operation.ts).
import { settingsSchema } from '../../routes/settings.js';
import * as r from '../resources.js';
import { type Operation, json } from './operation.js';

export const settingsOperations: Operation[] = [
  {
    method: 'get',
    path: '/v1/settings',
    summary: "The tenant's settings",
    tag: 'Settings',
    auth: 'tenant',
    ok: { 200: json(r.settings, 'The settings') },
  },
  {
    method: 'patch',
    path: '/v1/settings',
    summary: 'Change settings (window, caps, templates, budgets…)',
    tag: 'Settings',
    auth: 'tenant',
    body: settingsSchema,
    ok: { 200: json(r.settings, 'The settings as changed') },
    errors: [403],
  },
];
