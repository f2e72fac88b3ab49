// 8. Analytics reads: a tenant with `messages` step messages (100,000 by default) over 90 days in four A/B sequences,
// and the p95 of GET /v1/analytics/overview and /v1/analytics/sequences/:id under load. The rows (leads, enrollments,
// messages) and the counters their facts make are written in bulk SQL (see countFacts): the write path itself is proven
// by the integration tests; what the reads cost depends on the counter rows, which are the same either way.
import { DateTime } from 'luxon';
import { generateApiKey } from '../../api/auth.js';
import type { Db } from '../../common/db.js';
import { Prisma } from '../../generated/prisma/client.js';
import { readLoad, type Ctx, type ReadResult } from './sections.js';
import { round } from './stats.js';

export interface AnalyticsResult {
  messages: number;
  enrollments: number;
  /** analytics_daily rows the facts made. */
  counterRows: number;
  seedSeconds: number;
  countSeconds: number;
  rangeDays: number;
  reads: ReadResult[];
}

const days = 90;
const sequences = 4;
const stepsPerEnrollment = 3;

/** Leads, enrollments (spread over the last 90 days) and their step messages, one statement each. */
async function seedRows(db: Db, tenantId: string, sequenceIds: string[], messages: number) {
  const enrollments = Math.ceil(messages / stepsPerEnrollment);
  // In chunks: each statement stays well within the pool's statement timeout on a busy machine.
  const chunk = 5000;
  for (let first = 0; first < enrollments; first += chunk)
    await db.$executeRaw`
    INSERT INTO leads (id, tenant_id, phone, first_name, time_zone, updated_at)
    SELECT md5(${tenantId} || ':lead:' || i)::uuid, ${tenantId}::uuid, '+1666' || lpad(i::text, 7, '0'), 'Bench',
           'America/New_York', now()
    FROM generate_series(${first}::int, ${Math.min(first + chunk, enrollments) - 1}::int) i`;
  for (let first = 0; first < enrollments; first += chunk)
    await db.$executeRaw`
    INSERT INTO enrollments (id, tenant_id, lead_id, sequence_id, workflow_id, status, started_at)
    SELECT md5(${tenantId} || ':enrollment:' || i)::uuid, ${tenantId}::uuid, md5(${tenantId} || ':lead:' || i)::uuid,
           (${sequenceIds}::uuid[])[1 + i % ${sequenceIds.length}::int], 'bench-analytics-' || i, 'completed',
           now() - make_interval(days => 3 + i % ${days - 3}::int, secs => i % 86400)
    FROM generate_series(${first}::int, ${Math.min(first + chunk, enrollments) - 1}::int) i`;
  for (let first = 0; first < messages; first += chunk)
    await db.$executeRaw`
    INSERT INTO messages (id, tenant_id, lead_id, enrollment_id, direction, to_phone, body, status, segments, cost,
                          variant, idempotency_key, created_at, updated_at, sent_at)
    SELECT md5(${tenantId} || ':message:' || k)::uuid, ${tenantId}::uuid, e.lead_id, e.id, 'outbound',
           '+1666' || lpad((k / ${stepsPerEnrollment}::int)::text, 7, '0'), 'Hi Bench', 'delivered', 1, 0.0083,
           CASE WHEN k % ${stepsPerEnrollment}::int = 0 THEN (ARRAY['A', 'B'])[1 + (k / ${stepsPerEnrollment}::int) % 2] END,
           e.id || ':' || (k % ${stepsPerEnrollment}::int), e.started_at, e.started_at,
           e.started_at + make_interval(days => k % ${stepsPerEnrollment}::int)
    FROM generate_series(${first}::int, ${Math.min(first + chunk, messages) - 1}::int) k
    JOIN enrollments e ON e.id = md5(${tenantId} || ':enrollment:' || (k / ${stepsPerEnrollment}::int))::uuid`;
  return enrollments;
}

/**
 * The counters those rows' facts make, in bulk: what the write path (common/analytics/aggregate.ts, proven by
 * test/integration/analytics*.test.ts) would count, one statement per kind of fact instead of one per fact. Every
 * message is sent and then delivered (one in twenty failed); every enrollment was enrolled, and ended completed or
 * expired; one in eight replied, one in twenty-four booked and one in forty opted out, an hour or two after its last
 * step, to which they are credited.
 */
async function countFacts(db: Db, tenantId: string): Promise<number> {
  const zone = Prisma.sql`(SELECT default_time_zone FROM tenants WHERE id = ${tenantId}::uuid)`;
  const upsert = (columns: string[]) =>
    Prisma.raw(
      `ON CONFLICT (tenant_id, sequence_id, step, variant, day) DO UPDATE SET ${columns
        .map((column) => `${column} = analytics_daily.${column} + EXCLUDED.${column}`)
        .join(', ')}`,
    );
  const messageFacts = await db.$executeRaw`
    INSERT INTO analytics_daily (tenant_id, sequence_id, step, variant, day, sent, delivered, failed, segments, cost)
    SELECT m.tenant_id, e.sequence_id, split_part(m.idempotency_key, ':', 2)::int, coalesce(m.variant, ''),
           (m.sent_at AT TIME ZONE ${zone})::date, count(*),
           count(*) FILTER (WHERE hashtext(m.id::text) % 20 <> 0), count(*) FILTER (WHERE hashtext(m.id::text) % 20 = 0),
           sum(m.segments), sum(m.cost)
    FROM messages m JOIN enrollments e ON e.id = m.enrollment_id
    WHERE m.tenant_id = ${tenantId}::uuid
    GROUP BY 1, 2, 3, 4, 5
    ${upsert(['sent', 'delivered', 'failed', 'segments', 'cost'])}`;
  const enrollmentFacts = await db.$executeRaw`
    INSERT INTO analytics_daily (tenant_id, sequence_id, step, variant, day, enrolled)
    SELECT tenant_id, sequence_id, -1, '', (started_at AT TIME ZONE ${zone})::date, count(*)
    FROM enrollments WHERE tenant_id = ${tenantId}::uuid GROUP BY 1, 2, 3, 4, 5
    ${upsert(['enrolled'])}`;
  const outcomeFacts = await db.$executeRaw`
    WITH last AS (
      SELECT DISTINCT ON (e.id) e.tenant_id, e.sequence_id, split_part(m.idempotency_key, ':', 2)::int AS step,
             coalesce(m.variant, '') AS variant, m.sent_at, abs(hashtext(e.id::text)) AS h
      FROM enrollments e JOIN messages m ON m.enrollment_id = e.id
      WHERE e.tenant_id = ${tenantId}::uuid ORDER BY e.id, m.sent_at DESC
    )
    INSERT INTO analytics_daily (tenant_id, sequence_id, step, variant, day, replied, booked, opted_out, expired, completed)
    SELECT tenant_id, sequence_id, step, variant, ((sent_at + interval '1 hour') AT TIME ZONE ${zone})::date,
           count(*) FILTER (WHERE h % 8 = 0), count(*) FILTER (WHERE h % 24 = 0), count(*) FILTER (WHERE h % 40 = 1),
           count(*) FILTER (WHERE h % 3 = 0), count(*) FILTER (WHERE h % 3 <> 0)
    FROM last GROUP BY 1, 2, 3, 4, 5
    ${upsert(['replied', 'booked', 'opted_out', 'expired', 'completed'])}`;
  return messageFacts + enrollmentFacts + outcomeFacts;
}

export async function analyticsReads(
  ctx: Ctx,
  options: { messages: number; seconds: number; connections: number },
): Promise<AnalyticsResult> {
  const { db } = ctx.stack;
  const key = generateApiKey();
  const tenant = await db.tenant.create({
    data: {
      name: `bench-analytics-${key.prefix}`,
      businessName: 'Analytics Bench Ltd',
      defaultTimeZone: 'America/New_York',
      apiKeys: { create: { name: 'bench', prefix: key.prefix, hash: key.hash } },
    },
  });
  const sequenceIds: string[] = [];
  for (let i = 0; i < sequences; i += 1) {
    const variants = [
      { template: 'Hi {{firstName}}, A', weight: 1 },
      { template: 'Hi {{firstName}}, B', weight: 1 },
    ];
    const steps = [
      { delaySeconds: 0, template: variants[0]?.template ?? '', variants },
      { delaySeconds: 86_400, template: 'Still there?' },
      { delaySeconds: 86_400, template: 'Last one' },
    ];
    const sequence = await db.sequenceDefinition.create({
      data: { tenantId: tenant.id, name: `bench-ab-${i}`, version: 1, steps },
    });
    sequenceIds.push(sequence.id);
  }

  ctx.log(`analytics: seeding ${options.messages} step messages over ${days} days in ${sequences} A/B sequences`);
  let started = performance.now();
  const enrollments = await seedRows(db, tenant.id, sequenceIds, options.messages);
  const seedSeconds = round((performance.now() - started) / 1000, 1);
  started = performance.now();
  ctx.log('analytics: counting their facts in bulk');
  await countFacts(db, tenant.id);
  const countSeconds = round((performance.now() - started) / 1000, 1);
  const counterRows = await db.analyticsDaily.count({ where: { tenantId: tenant.id } });

  const today = DateTime.now().setZone(tenant.defaultTimeZone);
  const range = `from=${today.minus({ days: days - 1 }).toISODate()}&to=${today.toISODate()}`;
  const load = { seconds: options.seconds, connections: options.connections, apiKey: key.key };
  const reads: ReadResult[] = [];
  const endpoints: [string, () => string][] = [
    [`GET /v1/analytics/overview (${days} days)`, () => `/v1/analytics/overview?${range}`],
    [
      `GET /v1/analytics/sequences/:id (${days} days)`,
      () => `/v1/analytics/sequences/${sequenceIds[Math.floor(Math.random() * sequenceIds.length)]}?${range}`,
    ],
  ];
  for (const [endpoint, paths] of endpoints) {
    ctx.log(`analytics: ${endpoint}, ${options.connections} connections for ${options.seconds} s`);
    reads.push(await readLoad(ctx, endpoint, paths, load));
  }
  return {
    messages: options.messages,
    enrollments,
    counterRows,
    seedSeconds,
    countSeconds,
    rangeDays: days,
    reads,
  };
}
