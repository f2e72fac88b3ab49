// The dashboard's operations of the OpenAPI document (see ./operation.ts): HTML pages for a signed-in tenant.
import { z } from 'zod';
import type { Operation } from './operation.js';

const html = (description: string) => ({ description, mediaType: 'text/html' });
const toPage = (description: string) => ({ description });

export const dashboardOperations: Operation[] = [
  {
    method: 'get',
    path: '/dashboard',
    summary: "The tenant's dashboard page (a session cookie from the sign-in; without one, 303 to it)",
    tag: 'Dashboard',
    auth: 'none',
    ok: { 200: html('The page'), 303: toPage('To /dashboard/login') },
  },
  {
    method: 'get',
    path: '/dashboard/login',
    summary: 'The sign-in form',
    tag: 'Dashboard',
    auth: 'none',
    ok: { 200: html('The form') },
  },
  {
    method: 'post',
    path: '/dashboard/login',
    summary: 'Sign in with an API key: a session cookie (HttpOnly, SameSite=Strict), never the key itself',
    tag: 'Dashboard',
    auth: 'none',
    body: z.object({ apiKey: z.string() }),
    bodyType: 'application/x-www-form-urlencoded',
    ok: { 303: toPage('Signed in: to /dashboard'), 401: html('The form again, with the key refused') },
    errors: [403, 429],
  },
  {
    method: 'post',
    path: '/dashboard/logout',
    summary: 'Sign out: the session ends',
    tag: 'Dashboard',
    auth: 'none',
    ok: { 303: toPage('To /dashboard/login') },
    errors: [403, 429],
  },
  {
    method: 'get',
    path: '/dashboard/assets/chart.umd.min.js',
    summary: 'Chart.js, served from this server',
    tag: 'Dashboard',
    auth: 'none',
    ok: { 200: { description: 'JavaScript', mediaType: 'text/javascript' } },
  },
];
