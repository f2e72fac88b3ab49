// Sending capacity end to end, in one worker: the kill switch and budgets hold sends and let them go on, losing none.
import { afterEach, describe, expect, it } from 'vitest';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { Prisma } from '../../generated/prisma/client.js';
import { capacityWaitOf, createsFrom, enrollFromNumber, freshSendingNumber } from '../support/capacity.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { until } from '../support/wait.js';

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every enrollment completed with its one message, and each lead got exactly one create call. */
async function expectAllSentOnce(
  running: TestStack,
  enrollments: { id: string; workflowId: string; phone: string }[],
  sender: string,
) {
  for (const enrollment of enrollments) {
    expect(await running.client.workflow.getHandle(enrollment.workflowId).result()).toMatchObject({
      status: 'completed',
      messagesSent: 1,
    });
  }
  const creates = createsFrom(running.fake, sender);
  expect(creates.map((call) => call.to).sort()).toEqual(enrollments.map((enrollment) => enrollment.phone).sort());
}

describe('the kill switch', () => {
  it('stops new sends within a second, holds them while on, and on resume every enrollment continues: none lost, none twice', async () => {
    stack = await startTestStack({
      capacity: { ...roomyCapacity, numberMaxPerSecond: 3, killSwitchRecheckSeconds: 1 },
    });
    const running = stack;
    const sender = freshSendingNumber();
    const { tenant, enrollments } = await enrollFromNumber(running.app, running.db, { sender, count: 15 });
    await until(() => createsFrom(running.fake, sender).length >= 3 || null, 'the first sends');

    await pauseSending(running.db, { scope: tenant.id, actor: 'test' });
    const pausedAt = Date.now();
    await sleep(3500);
    const whilePaused = createsFrom(running.fake, sender);
    // Calls already past the gate may land just after the switch; nothing starts once a second has passed.
    expect(whilePaused.filter((call) => call.at.getTime() > pausedAt + 1000)).toEqual([]);
    expect(whilePaused.length).toBeLessThan(15);
    const held = enrollments.find((enrollment) => !whilePaused.some((call) => call.to === enrollment.phone));
    // Rechecked every second, a held send is briefly back in the gate between holds: the hold shows between them.
    await expect
      .poll(async () => held && (await capacityWaitOf(running.client, held.workflowId)), { timeout: 10_000 })
      .toMatchObject({ reason: 'kill_switch' });

    await resumeSending(running.db, { scope: tenant.id, actor: 'test' });
    await expectAllSentOnce(running, enrollments, sender);
  });
});

describe('budgets', () => {
  it('sends over the daily budget wait for the next day and then go out, each exactly once', async () => {
    let offsetMs = 0;
    stack = await startTestStack({
      capacity: { ...roomyCapacity, costPerSegment: '0.01', recheckSeconds: 1 },
      clock: () => new Date(Date.now() + offsetMs),
    });
    const running = stack;
    const sender = freshSendingNumber();
    // Two one-segment messages a day.
    const { tenant, enrollments } = await enrollFromNumber(running.app, running.db, {
      sender,
      count: 5,
      tenant: { dailyBudget: new Prisma.Decimal('0.02'), defaultTimeZone: 'America/New_York' },
    });
    const sentCount = () => createsFrom(running.fake, sender).length;
    await until(() => sentCount() === 2 || null, "the first day's two sends");
    await sleep(2500); // two rechecks: still nothing more today
    expect(sentCount()).toBe(2);
    const waiting = enrollments.filter(
      (enrollment) => !createsFrom(running.fake, sender).some((call) => call.to === enrollment.phone),
    );
    const wait = await until(
      async () => (await capacityWaitOf(running.client, waiting[0]?.workflowId ?? '')) ?? null,
      'the budget wait to show',
    );
    expect(wait).toMatchObject({ reason: 'budget_daily', detail: 'the daily budget of 0.02 is spent' });
    expect(await running.db.budgetAlert.count({ where: { tenantId: tenant.id, budget: 'daily' } })).toBe(1);

    offsetMs += 86_400_000;
    await until(() => sentCount() === 4 || null, "the next day's two sends");
    offsetMs += 86_400_000;
    await expectAllSentOnce(running, enrollments, sender);
    const spent = await running.db.capacityUsage.findMany({
      where: { scope: `budget_daily:${tenant.id}` },
      orderBy: { period: 'asc' },
    });
    expect(spent.map((row) => row.used.toNumber())).toEqual([0.02, 0.02, 0.01]);
  });
});
