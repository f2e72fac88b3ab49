// The Analytics operations of the OpenAPI document (see ./operation.ts).
import { rangeSchema } from '../../routes/analytics.js';
import * as a from '../analytics-resources.js';
import { type Operation, area, json } from './operation.js';

const { read } = area('Analytics', 'tenant');

export const analyticsOperations: Operation[] = [
  read(
    '/v1/analytics/overview',
    "The tenant's funnel, per sequence and per day, over a range of dates in its zone",
    json(a.analyticsOverview, 'The overview'),
    rangeSchema,
  ),
  read(
    '/v1/analytics/sequences/:sequenceId',
    "A sequence's funnel per version, step and A/B variant, with the variants compared",
    json(a.sequenceAnalytics, 'The sequence report'),
    rangeSchema,
  ),
];
