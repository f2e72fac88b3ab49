// The Analytics operations of the OpenAPI document (see ./operation.ts).
import { rangeSchema } from '../../routes/analytics.js';
import * as a from '../analytics-resources.js';
import { type Operation, json } from './operation.js';

export const analyticsOperations: Operation[] = [
  {
    method: 'get',
    path: '/v1/analytics/overview',
    summary: "The tenant's funnel, per sequence and per day, over a range of dates in its zone",
    tag: 'Analytics',
    auth: 'tenant',
    query: rangeSchema,
    ok: { 200: json(a.analyticsOverview, 'The overview') },
  },
  {
    method: 'get',
    path: '/v1/analytics/sequences/:sequenceId',
    summary: "A sequence's funnel per version, step and A/B variant, with the variants compared",
    tag: 'Analytics',
    auth: 'tenant',
    query: rangeSchema,
    ok: { 200: json(a.sequenceAnalytics, 'The sequence report') },
  },
];
