// The funnel's counters (analytics_daily), kept as the facts happen: every writer calls one of these in the
// transaction that records its fact, and only when the fact is new (a status that moved, a SID written once), so a
// retried activity or a repeated Twilio callback counts nothing twice. Facts that several writers may report (an
// enrollment's outcome, a click) are counted once through their key in analytics_counted.
// The day is the fact's date in the tenant's zone at the time of the fact; a sequence step's message carries its step
// in its idempotency key "<enrollmentId>:<step>" and its A/B variant in `variant`.
import { Prisma } from '../../generated/prisma/client.js';
import { recordMessageEvent, type MessageEventType, type MessageRef } from '../event-writers.js';
import { lockTenantEventsOf } from '../events.js';

type Tx = Prisma.TransactionClient;

/** Facts about one outbound step message. `sent` also adds the message's segments and cost. */
export type MessageFact = 'sent' | 'delivered' | 'failed';
/** Facts about one enrollment, each counted once per enrollment. */
export type EnrollmentFact = 'enrolled' | 'replied' | 'booked' | 'opted_out' | 'expired' | 'completed';

const factColumn: Record<MessageFact | EnrollmentFact | 'clicked', Prisma.Sql> = {
  sent: Prisma.raw('sent'),
  delivered: Prisma.raw('delivered'),
  failed: Prisma.raw('failed'),
  clicked: Prisma.raw('clicked'),
  enrolled: Prisma.raw('enrolled'),
  replied: Prisma.raw('replied'),
  booked: Prisma.raw('booked'),
  opted_out: Prisma.raw('opted_out'),
  expired: Prisma.raw('expired'),
  completed: Prisma.raw('completed'),
};

/** A step message's step: the number after "<enrollmentId>:" in its key (-1 for anything else). */
const stepOf = (m: string) =>
  Prisma.raw(
    `CASE WHEN ${m}.idempotency_key ~ ('^' || ${m}.enrollment_id::text || ':[0-9]+$') THEN split_part(${m}.idempotency_key, ':', 2)::int ELSE -1 END`,
  );

/** Adds one to `column` (and segments and cost) in the row of the selected key, creating it. */
const upsertCounters = (column: Prisma.Sql, select: Prisma.Sql) => Prisma.sql`
  INSERT INTO analytics_daily (tenant_id, sequence_id, step, variant, day, ${column}, segments, cost)
  ${select}
  ON CONFLICT (tenant_id, sequence_id, step, variant, day) DO UPDATE SET
    ${column} = analytics_daily.${column} + 1,
    segments = analytics_daily.segments + EXCLUDED.segments,
    cost = analytics_daily.cost + EXCLUDED.cost`;

// The writers of these counters record events in the same transactions, before or after counting, and recordEvent
// locks the tenant's event counter. Each count holds that lock first (a message's fact records its event before it
// counts; the others take it with lockTenantEventsOf), so no two transactions ever hold a counter row and the event
// lock each while waiting for the other's: a deadlock PostgreSQL would end by failing one of them (a status callback
// answered 500, say).

/**
 * Records a message's event and counts its fact, in that order: the event takes the tenant's event lock, which the
 * count must hold before it touches a counter row. A message outside any enrollment (an appointment's) counts nowhere.
 */
export async function recordMessageFact(
  tx: Tx,
  {
    type,
    message,
    details,
    fact,
    at = new Date(),
  }: { type: MessageEventType; message: MessageRef; details: Prisma.InputJsonObject; fact: MessageFact; at?: Date },
): Promise<void> {
  await recordMessageEvent(tx, type, message, details);
  const withCost = fact === 'sent';
  await tx.$executeRaw(
    upsertCounters(
      factColumn[fact],
      Prisma.sql`
      SELECT m.tenant_id, e.sequence_id, ${stepOf('m')}, coalesce(m.variant, ''),
             (${at}::timestamptz AT TIME ZONE t.default_time_zone)::date, 1,
             ${withCost ? Prisma.sql`coalesce(m.segments, 0)` : Prisma.sql`0`},
             ${withCost ? Prisma.sql`coalesce(m.cost, 0)` : Prisma.sql`0`}
      FROM messages m
      JOIN enrollments e ON e.id = m.enrollment_id
      JOIN tenants t ON t.id = m.tenant_id
      WHERE m.id = ${message.id}::uuid AND m.direction = 'outbound'`,
    ),
  );
}

/**
 * Counts an enrollment's fact once, on the last step sent to the lead in that enrollment at `at` (step -1 when none
 * was): a reply, booking or opt-out is credited to the message it answers.
 */
export async function countEnrollmentFact(
  tx: Tx,
  enrollmentId: string,
  fact: EnrollmentFact,
  at = new Date(),
): Promise<boolean> {
  await tx.$executeRaw(
    lockTenantEventsOf(Prisma.sql`SELECT tenant_id, 0 FROM enrollments WHERE id = ${enrollmentId}::uuid`),
  );
  const counted = await tx.$executeRaw(Prisma.sql`
    WITH fresh AS (
      INSERT INTO analytics_counted (subject_id, fact, at) VALUES (${enrollmentId}::uuid, ${fact}, ${at})
      ON CONFLICT DO NOTHING RETURNING subject_id
    )
    ${upsertCounters(
      factColumn[fact],
      Prisma.sql`
      SELECT e.tenant_id, e.sequence_id, coalesce(last.step, -1), coalesce(last.variant, ''),
             (${at}::timestamptz AT TIME ZONE t.default_time_zone)::date, 1, 0, 0
      FROM fresh
      JOIN enrollments e ON e.id = fresh.subject_id
      JOIN tenants t ON t.id = e.tenant_id
      LEFT JOIN LATERAL (
        SELECT ${stepOf('m')} AS step, m.variant FROM messages m
        WHERE m.enrollment_id = e.id AND m.direction = 'outbound' AND m.sent_at IS NOT NULL AND m.sent_at <= ${at}
        ORDER BY m.sent_at DESC LIMIT 1
      ) last ON true`,
    )}`);
  return counted > 0;
}

/** A reply, an opt-out or a booking of a lead still counts for an enrollment that ended this recently. */
export const attributionWindowDays = 7;

/**
 * Counts a lead's reply, opt-out or booking for the enrollment it answers: the lead's latest enrollment started before
 * it, while running or closed within the attribution window. Nothing is counted for a lead with no such enrollment.
 */
export async function countLeadFact(
  tx: Tx,
  { tenantId, leadId, fact, at = new Date() }: { tenantId: string; leadId: string; fact: EnrollmentFact; at?: Date },
): Promise<void> {
  const enrollment = await tx.enrollment.findFirst({
    where: {
      tenantId,
      leadId,
      startedAt: { lte: at },
      OR: [{ closedAt: null }, { closedAt: { gte: new Date(at.getTime() - attributionWindowDays * 86_400_000) } }],
    },
    orderBy: { startedAt: 'desc' },
    select: { id: true },
  });
  if (enrollment) await countEnrollmentFact(tx, enrollment.id, fact, at);
}

/**
 * For the short-links work: counts a human click (link previews excluded by the caller) on a step message, at most
 * once per message, on the sequence, step and variant its link keeps: the message itself is gone once its lead was
 * erased, and the click still counts. Call it in the transaction that records the click.
 */
export async function recordClick(
  tx: Tx,
  click: {
    tenantId: string;
    messageId: string;
    enrollmentId: string | null;
    step: number | null;
    variant: string | null;
    at?: Date;
  },
): Promise<boolean> {
  const { tenantId, messageId, enrollmentId, step, variant, at = new Date() } = click;
  if (!enrollmentId) return false;
  await tx.$executeRaw(lockTenantEventsOf(Prisma.sql`VALUES (${tenantId}::uuid, 0)`));
  const counted = await tx.$executeRaw(Prisma.sql`
    WITH fresh AS (
      INSERT INTO analytics_counted (subject_id, fact, at)
      SELECT ${messageId}::uuid, 'clicked', ${at} FROM enrollments
      WHERE id = ${enrollmentId}::uuid AND tenant_id = ${tenantId}::uuid
      ON CONFLICT DO NOTHING RETURNING subject_id
    )
    ${upsertCounters(
      factColumn.clicked,
      Prisma.sql`
      SELECT e.tenant_id, e.sequence_id, ${step ?? -1}::int, ${variant ?? ''},
             (${at}::timestamptz AT TIME ZONE t.default_time_zone)::date, 1, 0, 0
      FROM fresh
      JOIN enrollments e ON e.id = ${enrollmentId}::uuid
      JOIN tenants t ON t.id = e.tenant_id`,
    )}`);
  return counted > 0;
}
