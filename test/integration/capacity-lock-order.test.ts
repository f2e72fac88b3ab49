// The capacity counts in common/lock-order.ts: between message rows and the tenant's event lock. Staged worst
// interleavings of an enrollment's close (which gives back its unclaimed message's capacity) with sends that reserve or
// give back counts on the same rows while the close waits for the event lock. Taken in opposite orders, PostgreSQL
// ends one of the two with a deadlock (the close's activity retried, the send failed); here both commit, and what the
// counts hold is what the messages' rows say they reserved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnrollmentActivities } from '../../activities/enrollments.js';
import { closeUnsent } from '../../activities/unsent-messages.js';
import { MessageClosedError } from '../../common/capacity/gate.js';
import type { ReservedCapacity } from '../../common/capacity/usage.js';
import type { Db } from '../../common/db.js';
import { lockTenantEventsOf } from '../../common/events.js';
import { Prisma } from '../../generated/prisma/client.js';
import { sendsFromNewNumber } from '../support/capacity.js';
import { createTenant, enrolledLead, randomUkMobile, testDb } from '../support/fixtures.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';

let db: Db;
beforeAll(() => {
  db = testDb();
});
afterAll(async () => {
  await db.$disconnect();
});

/**
 * A tenant's enrolled lead and another lead, each with a pending message from the same new number, nothing reserved
 * yet: the first closes with its enrollment, the second is sent (or refused) meanwhile.
 */
async function twoSendsFromOneNumber(dailyBudget: string) {
  const { tenant } = await createTenant(db, { defaultTimeZone: 'UTC', dailyBudget: new Prisma.Decimal(dailyBudget) });
  const { sender, pendingMessage, reserve } = sendsFromNewNumber(db, tenant.id);
  const enrolled = await enrolledLead(db, tenant.id);
  const closing = { ...enrolled, message: await pendingMessage(enrolled.lead, enrolled.enrollment.id) };
  const other = await db.lead.create({ data: { tenantId: tenant.id, phone: randomUkMobile().e164, timeZone: 'UTC' } });
  const sending = { message: await pendingMessage(other, null) };
  const closeEnrollment = () =>
    createEnrollmentActivities({ db }).recordEnrollmentOutcome({
      enrollmentId: closing.enrollment.id,
      tenantId: tenant.id,
      leadId: closing.lead.id,
      status: 'opted_out',
      reason: 'STOP',
    });
  // Another writer of the tenant's events (a STOP, a send's record) holding the lock until released. It locks the
  // counter's row without writing a new version of it, so the writers behind it go on in the order they came.
  await db.$executeRaw(lockTenantEventsOf(Prisma.sql`SELECT ${tenant.id}::uuid, 0`));
  const eventsHeld = () =>
    heldTransaction(
      db,
      (tx) => tx.$executeRaw`SELECT 1 FROM event_counters WHERE tenant_id = ${tenant.id}::uuid FOR UPDATE`,
    );
  return { tenant, sender, closing, sending, reserve, closeEnrollment, eventsHeld };
}

/** Each count's usage, and the same counts summed over what the tenant's messages hold reserved. */
async function countsAndReservations(tenantId: string, sender: string) {
  const scopes = [`warmup:${sender}`, `budget_daily:${tenantId}`, `budget_monthly:${tenantId}`];
  const usage = await db.capacityUsage.findMany({ where: { scope: { in: scopes } } });
  const messages = await db.message.findMany({ where: { tenantId }, select: { reservation: true } });
  const reserved = new Map<string, number>();
  for (const { reservation } of messages)
    for (const { scope, amount } of (reservation as unknown as ReservedCapacity[] | null) ?? [])
      reserved.set(scope, (reserved.get(scope) ?? 0) + Number(amount));
  return {
    used: Object.fromEntries(usage.map((row) => [row.scope, row.used.toNumber()])),
    reserved: Object.fromEntries(usage.map((row) => [row.scope, reserved.get(row.scope) ?? 0])),
  };
}

type Scene = Awaited<ReturnType<typeof twoSendsFromOneNumber>>;

describe('capacity counts in the lock order', () => {
  // Every case: the closing lead's message holds 0.50 reserved by an attempt that died before its claim.
  it.each([
    [
      'a refused send gives back its own 0.50',
      {
        dailyBudget: '10',
        before: (scene: Scene) => scene.reserve(scene.sending.message.id, '0.50'),
        meanwhile: (scene: Scene) =>
          closeUnsent(db, scene.sending.message, { status: 'skipped', skipReason: 'replied' }),
        used: { warmup: 0, budget: 0 },
        statuses: ['skipped', 'skipped'],
      },
    ],
    [
      "a send's reservation of 0.35 reaches 80% of the budget, so its alert's event needs the event lock",
      {
        dailyBudget: '1.00',
        meanwhile: (scene: Scene) => scene.reserve(scene.sending.message.id, '0.35'),
        used: { warmup: 1, budget: 0.35 },
        statuses: ['skipped', 'pending'],
      },
    ],
    [
      // Its row is skipped once the close commits: nothing would give back a reservation left on it (send-message.ts
      // then looks again, and answers from the closed row).
      "a retry of the closing message's send finds it closed and reserves nothing",
      {
        dailyBudget: '10',
        meanwhile: (scene: Scene) =>
          expect(scene.reserve(scene.closing.message.id, '0.50')).rejects.toBeInstanceOf(MessageClosedError),
        used: { warmup: 0, budget: 0 },
        statuses: ['skipped', 'pending'],
      },
    ],
  ] as const)(
    "while an enrollment's close, holding its reserved message, waits for the event lock, %s: both commit",
    async (_what, { dailyBudget, meanwhile, used, statuses, ...rest }) => {
      const scene = await twoSendsFromOneNumber(dailyBudget);
      await scene.reserve(scene.closing.message.id, '0.50');
      if ('before' in rest) await rest.before(scene);
      const events = await scene.eventsHeld();
      const close = scene.closeEnrollment();
      await untilWaitingBehind(db, events.pid, 1);
      const other = meanwhile(scene);
      await untilWaitingBehind(db, events.pid, 2);
      events.release();
      await Promise.all([events.committed, close, other]);

      const messages = [scene.closing.message.id, scene.sending.message.id];
      const rows = await Promise.all(messages.map((id) => db.message.findUniqueOrThrow({ where: { id } })));
      expect(rows.map((row) => row.status)).toEqual(statuses);
      const counts = await countsAndReservations(scene.tenant.id, scene.sender);
      expect(counts.used).toEqual({
        [`warmup:${scene.sender}`]: used.warmup,
        [`budget_daily:${scene.tenant.id}`]: used.budget,
      });
      expect(counts.reserved).toEqual(counts.used);
    },
  );
});
