// The capacity gate against the real PostgreSQL: many sends asking at once get exactly what the limits allow.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCapacityGate, type CapacityDecision } from '../../common/capacity/gate.js';
import { releaseCapacity, type ReservedCapacity } from '../../common/capacity/usage.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { roomyCapacity, type CapacitySettings } from '../../common/capacity/settings.js';
import type { Db } from '../../common/db.js';
import { Prisma } from '../../generated/prisma/client.js';
import { freshSendingNumber, withGlobalSwitch } from '../support/capacity.js';
import { createTenant, randomUkMobile, testDb } from '../support/fixtures.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';

let db: Db;
beforeAll(() => {
  db = testDb();
});
afterAll(async () => {
  await db.$disconnect();
});

async function tenantWithMessages(count: number, settings: Partial<Prisma.TenantCreateInput> = {}) {
  const { tenant } = await createTenant(db, { defaultTimeZone: 'UTC', ...settings });
  const phone = randomUkMobile().e164;
  const lead = await db.lead.create({ data: { tenantId: tenant.id, phone, timeZone: 'UTC' } });
  const messages = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      db.message.create({
        data: {
          tenantId: tenant.id,
          leadId: lead.id,
          direction: 'outbound',
          toPhone: phone,
          body: `message ${i}`,
          status: 'pending',
          idempotencyKey: randomUUID(),
        },
      }),
    ),
  );
  return { tenant, messages };
}

function gate(settings: Partial<CapacitySettings>, clock?: () => Date) {
  return createCapacityGate({ db, settings: { ...roomyCapacity, ...settings }, ...(clock ? { clock } : {}) });
}

const request = (
  tenantId: string,
  messageId: string,
  sender: string,
  extra: { cost?: string; appointment?: boolean; previous?: ReservedCapacity[] } = {},
) => ({
  messageId,
  tenantId,
  sender,
  cost: extra.cost ?? '0.01',
  appointment: extra.appointment ?? false,
  previous: extra.previous ?? [],
});

const granted = (decisions: CapacityDecision[]) => decisions.filter((decision) => decision.ok).length;
const reasons = (decisions: CapacityDecision[]) =>
  new Set(decisions.flatMap((decision) => (decision.ok ? [] : [decision.wait.reason])));
const usage = async (scope: string) =>
  (await db.capacityUsage.findMany({ where: { scope } })).map((row) => ({
    period: row.period,
    used: row.used.toNumber(),
  }));

describe('warm-up: concurrent sends from one new number', () => {
  it("grants exactly the first day's allowance and names the end of the warm-up day", async () => {
    const { tenant, messages } = await tenantWithMessages(30);
    const number = freshSendingNumber();
    const limited = gate({ warmup: { firstDayLimit: 7, dailyIncrease: 50, days: 7, warmedUpDailyLimit: 1000 } });
    const decisions = await Promise.all(
      messages.map((message) => limited.reserve(request(tenant.id, message.id, number))),
    );
    expect(granted(decisions)).toBe(7);
    expect(reasons(decisions)).toEqual(new Set(['warmup']));
    expect(await usage(`warmup:${number}`)).toEqual([{ period: 'day-1', used: 7 }]);
    const { firstSentAt } = await db.sendingNumber.findUniqueOrThrow({ where: { value: number } });
    const refusal = decisions.find((decision) => !decision.ok);
    expect(refusal && !refusal.ok && refusal.wait.until).toBe(
      new Date(firstSentAt.getTime() + 86_400_000).toISOString(),
    );
    // Each granted row carries what it took, so a message that is not sent can give it back.
    expect(
      await db.message.count({ where: { id: { in: messages.map((m) => m.id) }, reservation: { not: Prisma.DbNull } } }),
    ).toBe(7);
  });

  it('the next warm-up day allows more (20 + 50) once a day has passed since the first send', async () => {
    const { tenant, messages } = await tenantWithMessages(25);
    const number = freshSendingNumber();
    let now = new Date('2026-06-01T10:00:00Z');
    const limited = gate(
      { warmup: { firstDayLimit: 20, dailyIncrease: 50, days: 7, warmedUpDailyLimit: 1000 } },
      () => now,
    );
    const first = await Promise.all(messages.map((message) => limited.reserve(request(tenant.id, message.id, number))));
    expect(granted(first)).toBe(20);
    now = new Date('2026-06-02T10:00:00Z');
    const waiting = messages.filter((_, i) => !first[i]?.ok);
    const second = await Promise.all(waiting.map((message) => limited.reserve(request(tenant.id, message.id, number))));
    expect(granted(second)).toBe(5);
    expect(await usage(`warmup:${number}`)).toEqual(
      expect.arrayContaining([
        { period: 'day-1', used: 20 },
        { period: 'day-2', used: 5 },
      ]),
    );
  });
});

describe("budgets: spending in money, per day and month in the tenant's zone", () => {
  it('grants sends until the daily budget is spent, alerts once at 80%, and resumes the next day', async () => {
    const { tenant, messages } = await tenantWithMessages(12, { dailyBudget: new Prisma.Decimal('0.05') });
    const number = freshSendingNumber();
    let now = new Date('2026-06-01T10:00:00Z');
    const limited = gate({}, () => now);
    const decisions = await Promise.all(
      messages.map((message) => limited.reserve(request(tenant.id, message.id, number))),
    );
    expect(granted(decisions)).toBe(5);
    expect(reasons(decisions)).toEqual(new Set(['budget_daily']));
    const refusal = decisions.find((decision) => !decision.ok);
    expect(refusal && !refusal.ok && refusal.wait.until).toBe('2026-06-02T00:00:00.000Z');
    expect(await usage(`budget_daily:${tenant.id}`)).toEqual([{ period: '2026-06-01', used: 0.05 }]);

    const alerts = await db.budgetAlert.findMany({ where: { tenantId: tenant.id } });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ budget: 'daily', period: '2026-06-01' });
    expect(alerts[0]?.spent.toNumber()).toBe(0.04);
    expect(await db.auditLog.count({ where: { tenantId: tenant.id, action: 'budget.alert' } })).toBe(1);
    expect(await db.event.findMany({ where: { tenantId: tenant.id }, select: { type: true, data: true } })).toEqual([
      { type: 'sending.budget_alert', data: { budget: 'daily', period: '2026-06-01', spent: '0.04', limit: '0.05' } },
    ]);
    expect(
      await db.tenantAlert.findMany({ where: { tenantId: tenant.id }, select: { type: true, facts: true } }),
    ).toEqual([
      {
        type: 'budget.alert',
        facts: { budget: 'daily', period: '2026-06-01', spent: '0.04', limit: '0.05', threshold: 0.8 },
      },
    ]);

    now = new Date('2026-06-02T00:00:01Z');
    const waiting = messages.filter((_, i) => !decisions[i]?.ok);
    const nextDay = await Promise.all(
      waiting.map((message) => limited.reserve(request(tenant.id, message.id, number))),
    );
    expect(granted(nextDay)).toBe(5);
  });

  it('a monthly budget holds across days; appointment messages pass it when the tenant allows, and are still counted', async () => {
    const { tenant, messages } = await tenantWithMessages(4, {
      monthlyBudget: new Prisma.Decimal('0.02'),
      remindersBypassBudget: true,
    });
    const number = freshSendingNumber();
    const limited = gate({}, () => new Date('2026-06-15T10:00:00Z'));
    const [a, b, c, d] = messages.map((message) => message.id) as [string, string, string, string];
    expect((await limited.reserve(request(tenant.id, a, number))).ok).toBe(true);
    expect((await limited.reserve(request(tenant.id, b, number))).ok).toBe(true);
    const refused = await limited.reserve(request(tenant.id, c, number));
    expect(refused.ok || refused.wait).toMatchObject({ reason: 'budget_monthly', until: '2026-07-01T00:00:00.000Z' });
    expect((await limited.reserve(request(tenant.id, d, number, { appointment: true }))).ok).toBe(true);
    expect(await usage(`budget_monthly:${tenant.id}`)).toEqual([{ period: '2026-06', used: 0.03 }]);
  });

  it('a retry replaces what its earlier attempt reserved instead of counting it twice, and a message not sent gives it back', async () => {
    const { tenant, messages } = await tenantWithMessages(1, { dailyBudget: new Prisma.Decimal('1') });
    const [message] = messages as [(typeof messages)[number]];
    const number = freshSendingNumber();
    const limited = gate({}, () => new Date('2026-06-01T10:00:00Z'));
    expect((await limited.reserve(request(tenant.id, message.id, number, { cost: '0.30' }))).ok).toBe(true);
    const previous = (await db.message.findUniqueOrThrow({ where: { id: message.id } }))
      .reservation as unknown as ReservedCapacity[];
    expect((await limited.reserve(request(tenant.id, message.id, number, { cost: '0.30', previous }))).ok).toBe(true);
    expect(await usage(`budget_daily:${tenant.id}`)).toEqual([{ period: '2026-06-01', used: 0.3 }]);
    expect(await usage(`warmup:${number}`)).toEqual([{ period: 'day-1', used: 1 }]);

    await db.$transaction((tx) => releaseCapacity(tx, message.id));
    expect(await usage(`budget_daily:${tenant.id}`)).toEqual([{ period: '2026-06-01', used: 0 }]);
    expect(await usage(`warmup:${number}`)).toEqual([{ period: 'day-1', used: 0 }]);
    expect((await db.message.findUniqueOrThrow({ where: { id: message.id } })).reservation).toBeNull();
  });
});

describe('throughput and the kill switch', () => {
  it('one send per second per number, whoever asks: the others are told how long until the next slot', async () => {
    const { tenant, messages } = await tenantWithMessages(6);
    const number = freshSendingNumber();
    const limited = gate({ numberMaxPerSecond: 1 });
    const decisions = await Promise.all(
      messages.map((message) => limited.reserve(request(tenant.id, message.id, number))),
    );
    expect(granted(decisions)).toBe(1);
    expect(reasons(decisions)).toEqual(new Set(['number_rate']));
    for (const decision of decisions) {
      if (!decision.ok) expect(Date.parse(decision.wait.until) - Date.now()).toBeLessThanOrEqual(1000);
    }
  });

  it("a tenant's rate spans its numbers", async () => {
    const { tenant, messages } = await tenantWithMessages(6);
    const limited = gate({ tenantMaxPerSecond: 2 });
    const decisions = await Promise.all(
      messages.map((message) => limited.reserve(request(tenant.id, message.id, freshSendingNumber()))),
    );
    expect(granted(decisions)).toBe(2);
    expect(reasons(decisions)).toEqual(new Set(['tenant_rate']));
  });

  it('a paused tenant gets nothing until it resumes; a global pause holds every tenant', async () => {
    const { tenant, messages } = await tenantWithMessages(2);
    const [first, second] = messages as [(typeof messages)[number], (typeof messages)[number]];
    const open = gate({});
    await pauseSending(db, { scope: tenant.id, actor: 'test', reason: 'complaint' });
    const held = await open.reserve(request(tenant.id, first.id, freshSendingNumber()));
    expect(held.ok || held.wait).toMatchObject({
      reason: 'kill_switch',
      detail: 'sending is paused for this tenant (by test)',
    });
    expect(await resumeSending(db, { scope: tenant.id, actor: 'test' })).toBe(true);
    expect((await open.reserve(request(tenant.id, first.id, freshSendingNumber()))).ok).toBe(true);
    expect(
      await db.auditLog.findMany({
        where: { tenantId: tenant.id, action: { startsWith: 'sending.' } },
        select: { action: true, actor: true },
        orderBy: { createdAt: 'asc' },
      }),
    ).toEqual([
      { action: 'sending.paused', actor: 'test' },
      { action: 'sending.resumed', actor: 'test' },
    ]);

    const other = await tenantWithMessages(1);
    await withGlobalSwitch(db, async () => {
      await pauseSending(db, { scope: 'global', actor: 'operator' });
      for (const [tenantId, messageId] of [
        [tenant.id, second.id],
        [other.tenant.id, other.messages[0]?.id ?? ''],
      ] as const) {
        const globallyHeld = await open.reserve(request(tenantId, messageId, freshSendingNumber()));
        expect(globallyHeld.ok || globallyHeld.wait.detail).toBe('sending is paused for every tenant (by operator)');
      }
    });
  });

  it("a pause that lands after a send's peek, while its reservation waits for the message's row, still holds it: nothing is counted", async () => {
    const { tenant, messages } = await tenantWithMessages(1);
    const [message] = messages as [(typeof messages)[number]];
    const sender = freshSendingNumber();
    // Another attempt's transaction holds the message's row, so the reservation waits right after the peek passed.
    const rowHeld = await heldTransaction(
      db,
      (tx) => tx.$executeRaw`SELECT 1 FROM messages WHERE id = ${message.id}::uuid FOR UPDATE`,
    );
    const asked = gate({}).reserve(request(tenant.id, message.id, sender));
    await untilWaitingBehind(db, rowHeld.pid, 1);
    await pauseSending(db, { scope: tenant.id, actor: 'test', reason: 'complaint' });
    rowHeld.release();
    await rowHeld.committed;

    const decision = await asked;
    expect(decision.ok || decision.wait.reason).toBe('kill_switch');
    expect(await usage(`warmup:${sender}`)).toEqual([]);
    expect(await usage(`budget_daily:${tenant.id}`)).toEqual([]);
    expect(await db.sendingNumber.findUnique({ where: { value: sender } })).toBeNull();
    expect((await db.message.findUniqueOrThrow({ where: { id: message.id } })).reservation).toBeNull();
    await resumeSending(db, { scope: tenant.id, actor: 'test' });
  });
});
