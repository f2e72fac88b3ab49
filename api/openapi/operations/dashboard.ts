// The dashboard's operations of the OpenAPI document (see ./operation.ts): HTML pages for a signed-in tenant.
import { z } from 'zod';
import { type Operation, area } from './operation.js';

const { operation, read } = area('Dashboard', 'none');
const html = (description: string) => ({ description, mediaType: 'text/html' });
const toPage = (description: string) => ({ description });

export const dashboardOperations: Operation[] = [
  operation(
    'get',
    '/dashboard',
    "The tenant's dashboard page (a session cookie from the sign-in; without one, 303 to it)",
    { ok: { 200: html('The page'), 303: toPage('To /dashboard/login') } },
  ),
  read('/dashboard/login', 'The sign-in form', html('The form')),
  operation(
    'post',
    '/dashboard/login',
    'Sign in with an API key: a session cookie (HttpOnly, SameSite=Strict), never the key itself',
    {
      ok: { 303: toPage('Signed in: to /dashboard'), 401: html('The form again, with the key refused') },
      body: z.object({ apiKey: z.string() }),
      bodyType: 'application/x-www-form-urlencoded',
      errors: [403, 429],
    },
  ),
  operation('post', '/dashboard/logout', 'Sign out: the session ends', {
    ok: { 303: toPage('To /dashboard/login') },
    errors: [403, 429],
  }),
  read('/dashboard/assets/chart.umd.min.js', 'Chart.js, served from this server', {
    description: 'JavaScript',
    mediaType: 'text/javascript',
  }),
];
