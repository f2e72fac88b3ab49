import { Client, Connection, type ScheduleDescription } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMaintenanceActivities } from '../../activities/maintenance.js';
import type { Db } from '../../common/db.js';
import { ensurePurgeSchedule, purgeScheduleId } from '../../worker/schedules.js';
import { testDb } from '../support/fixtures.js';
import { until } from '../support/wait.js';

let db: Db;
let connection: Connection;
beforeAll(async () => {
  db = testDb();
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await Promise.all([db?.$disconnect(), connection?.close()]);
});

/** The runs a schedule started lately (its last ten actions). */
function runsOf(description: ScheduleDescription) {
  return description.info.recentActions.map(({ action }) => action.workflow);
}

describe('processed-webhook records expire after 24 hours', () => {
  it('through a Temporal Schedule that every worker start ensures exists, once', async () => {
    const client = new Client({ connection });
    await ensurePurgeSchedule(client, 'lead-followup');
    await ensurePurgeSchedule(client, 'lead-followup');
    const schedule = await client.schedule.getHandle(purgeScheduleId).describe();
    expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'purgeProcessedWebhooks' });
    expect(schedule.spec.intervals?.[0]?.every).toBe(3_600_000);
  });

  it('moved to the task queue a worker starts on, ending a run its old action left waiting; its runs end within the hour', async () => {
    const client = new Client({ connection });
    const schedule = client.schedule.getHandle(purgeScheduleId);
    try {
      await ensurePurgeSchedule(client, 'nobody-polls-this');
      const earlierRuns = new Set(runsOf(await schedule.describe()).map((run) => run.firstExecutionRunId));
      await schedule.trigger();
      // Recent actions come oldest first, and the schedule may have started a run of its own on the hour before this.
      const waiting = await until(
        async () => runsOf(await schedule.describe()).find((run) => !earlierRuns.has(run.firstExecutionRunId)) ?? null,
        'the run started on the queue nobody polls',
      );
      // Before: it stayed on the queue it was created with, and that run waited there for good, every later one skipped.
      expect(await ensurePurgeSchedule(client, 'lead-followup')).toBe('updated');
      expect((await schedule.describe()).action).toMatchObject({
        taskQueue: 'lead-followup',
        workflowExecutionTimeout: 50 * 60_000,
      });
      const { workflowId, firstExecutionRunId } = waiting;
      expect((await client.workflow.getHandle(workflowId, firstExecutionRunId).describe()).status.name).toBe(
        'TERMINATED',
      );
    } finally {
      await ensurePurgeSchedule(client, 'lead-followup');
    }
  });

  it('whose activity deletes only the records older than the cut-off', async () => {
    const stamp = Date.now();
    await db.processedWebhook.createMany({
      data: [
        { key: `inbound:old-${stamp}`, kind: 'inbound', processedAt: new Date(stamp - 25 * 3_600_000) },
        { key: `inbound:new-${stamp}`, kind: 'inbound', processedAt: new Date(stamp - 23 * 3_600_000) },
      ],
    });
    await createMaintenanceActivities({ db }).deleteProcessedWebhooks({ olderThanHours: 24 });
    const left = await db.processedWebhook.findMany({
      where: { key: { in: [`inbound:old-${stamp}`, `inbound:new-${stamp}`] } },
    });
    expect(left.map((row) => row.key)).toEqual([`inbound:new-${stamp}`]);
  });
});
