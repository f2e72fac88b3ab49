// A weekly report's numbers read straight from the records: messages for sends and their outcomes, events for
// enrollments, replies, bookings and opt-outs. The analytics overview (GET /v1/analytics/overview) counts the same
// facts with click and cost figures beside them; the worker passes either to the report (activities/index.ts).
import type { Db } from '../db.js';
import { instantsOf, type DateRange } from './weekly.js';

export type RecordCounts = {
  enrolled: number;
  sent: number;
  delivered: number;
  failed: number;
  replied: number;
  booked: number;
  optedOut: number;
};

export function recordCounts(db: Db) {
  return async (tenantId: string, range: DateRange): Promise<RecordCounts> => {
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { defaultTimeZone: true } });
    const { start, end } = instantsOf(range, tenant.defaultTimeZone);
    const [messages, events] = await Promise.all([
      db.$queryRaw<Pick<RecordCounts, 'sent' | 'delivered' | 'failed'>[]>`
        SELECT count(*) FILTER (WHERE sent_at >= ${start} AND sent_at < ${end})::int AS sent,
               count(*) FILTER (WHERE sent_at >= ${start} AND sent_at < ${end} AND status = 'delivered')::int AS delivered,
               count(*) FILTER (WHERE created_at >= ${start} AND created_at < ${end}
                                  AND status IN ('failed', 'undelivered'))::int AS failed
        FROM messages
        WHERE tenant_id = ${tenantId}::uuid AND direction = 'outbound'
          AND ((sent_at >= ${start} AND sent_at < ${end}) OR (created_at >= ${start} AND created_at < ${end}))`,
      db.$queryRaw<Pick<RecordCounts, 'enrolled' | 'replied' | 'booked' | 'optedOut'>[]>`
        SELECT count(*) FILTER (WHERE type = 'enrollment.started')::int AS enrolled,
               count(*) FILTER (WHERE type = 'enrollment.closed' AND data->>'outcome' = 'replied')::int AS replied,
               count(*) FILTER (WHERE type = 'enrollment.closed' AND data->>'outcome' = 'booked')::int AS booked,
               count(*) FILTER (WHERE type = 'lead.opted_out')::int AS "optedOut"
        FROM events
        WHERE tenant_id = ${tenantId}::uuid AND created_at >= ${start} AND created_at < ${end}
          AND type IN ('enrollment.started', 'enrollment.closed', 'lead.opted_out')`,
    ]);
    const zero = { enrolled: 0, sent: 0, delivered: 0, failed: 0, replied: 0, booked: 0, optedOut: 0 };
    return { ...zero, ...messages[0], ...events[0] };
  };
}
