// Issue 17: the weekly report. Each tenant's Temporal Schedule runs weeklyReport, which records one `report.weekly`
// event for the week just ended (and so sends it to the tenant's webhooks), compared with the week before.
import { DateTime } from 'luxon';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createWeeklyReportActivities } from '../../activities/weekly-report.js';
import { analyticsOverview } from '../../common/analytics/overview.js';
import { ensureWeeklyReportSchedule, weeklyReportScheduleId } from '../../worker/schedules.js';
import { createTenant } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';
import { until } from '../support/wait.js';

const stack = stackForFile();
const zone = 'Europe/London';

/** Wednesday noon of the week that ended last Sunday (weeksBack 1) or of the week before it (2), in the zone. */
const wednesdayOf = (weeksBack: number) =>
  DateTime.now().setZone(zone).startOf('week').minus({ weeks: weeksBack }).plus({ days: 2, hours: 12 }).toJSDate();

/**
 * Two messages sent and delivered and a reply last week; one sent and delivered the week before: the analytics
 * counters as the send, status and reply paths keep them (those paths are tested in analytics.test.ts).
 */
async function tenantWithTwoWeeks() {
  const tenant = await createTenant(stack.db, { defaultTimeZone: zone });
  const sequence = await stack.db.sequenceDefinition.create({
    data: { tenantId: tenant.tenant.id, name: 'welcome', version: 1, steps: [] },
  });
  const day = (weeksBack: number) =>
    new Date(`${DateTime.fromJSDate(wednesdayOf(weeksBack)).setZone(zone).toISODate()}T00:00:00Z`);
  const counters = { tenantId: tenant.tenant.id, sequenceId: sequence.id, step: 0, variant: '' };
  await stack.db.analyticsDaily.createMany({
    data: [
      { ...counters, day: day(1), sent: 2, delivered: 2, replied: 1 },
      { ...counters, day: day(2), sent: 1, delivered: 1 },
    ],
  });
  return tenant;
}

const weeklyEvents = (tenantId: string) =>
  stack.db.event.findMany({ where: { tenantId, type: 'report.weekly' }, orderBy: { sequence: 'asc' } });

describe('the weekly report', () => {
  it('is recorded by the tenant’s schedule as one report.weekly event with the week-over-week change', async () => {
    const { tenant, auth } = await tenantWithTwoWeeks();
    expect(await ensureWeeklyReportSchedule(stack.client, stack.taskQueue, tenant)).toBe('created');
    expect(await ensureWeeklyReportSchedule(stack.client, stack.taskQueue, tenant)).toBe('unchanged');
    const handle = stack.client.schedule.getHandle(weeklyReportScheduleId(tenant.id));
    const schedule = await handle.describe();
    expect(schedule.spec.timezone).toBe(zone);
    expect(schedule.spec.calendars?.[0]).toMatchObject({ dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }] });

    await handle.trigger();
    const [event] = await until(async () => {
      const events = await weeklyEvents(tenant.id);
      return events.length ? events : null;
    }, 'the report.weekly event');
    const lastMonday = DateTime.now().setZone(zone).startOf('week').minus({ weeks: 1 });
    expect(event?.data).toMatchObject({
      weekStart: lastMonday.toISODate(),
      weekEnd: lastMonday.plus({ days: 6 }).toISODate(),
      timeZone: zone,
      totals: { sent: 2, delivered: 2, replied: 1 },
      previous: { sent: 1, delivered: 1, replied: 0 },
      change: { sent: 1, delivered: 1, replied: null },
    });
    // The CRM reads it like any event (and its webhook endpoints receive it).
    const feed = await request(stack.app).get('/v1/events?type=report.weekly').set(auth);
    expect(feed.body.items.map((item: { type: string }) => item.type)).toEqual(['report.weekly']);

    // A second run for the same week (a manual trigger, a retry) records nothing new.
    await handle.trigger();
    await until(async () => {
      const runs = stack.client.workflow.list({ query: `WorkflowType = 'weeklyReport'` });
      let closed = 0;
      for await (const run of runs)
        if (run.workflowId.startsWith(weeklyReportScheduleId(tenant.id)) && run.closeTime) closed++;
      return closed >= 2;
    }, 'both scheduled runs to close');
    expect(await weeklyEvents(tenant.id)).toHaveLength(1);
    await handle.delete();
  });

  it('is recorded once when two attempts race for the same week', async () => {
    const { tenant } = await tenantWithTwoWeeks();
    const { recordWeeklyReport } = createWeeklyReportActivities({
      db: stack.db,
      totalsOf: async (zonedTenant, range) => ({
        sent: (await analyticsOverview(stack.db, zonedTenant, range)).totals.sent,
      }),
    });
    const at = new Date().toISOString();
    const results = await Promise.all([1, 2, 3].map(() => recordWeeklyReport({ tenantId: tenant.id, at })));
    expect(results.filter((result) => result.recorded)).toHaveLength(1);
    expect(new Set(results.map((result) => result.eventId)).size).toBe(1);
    expect(await weeklyEvents(tenant.id)).toHaveLength(1);
  });

  it('follows the tenant to a new time zone', async () => {
    const { tenant, auth } = await createTenant(stack.db, { defaultTimeZone: zone });
    await ensureWeeklyReportSchedule(stack.client, stack.taskQueue, tenant);
    const handle = stack.client.schedule.getHandle(weeklyReportScheduleId(tenant.id));
    const patched = await request(stack.app)
      .patch('/v1/settings')
      .set(auth)
      .send({ defaultTimeZone: 'America/Chicago' });
    expect(patched.status).toBe(200);
    await until(async () => (await handle.describe()).spec.timezone === 'America/Chicago', 'the schedule to move');
    await handle.delete();
  });
});
