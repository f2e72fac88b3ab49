import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMaintenanceActivities } from '../../activities/maintenance.js';
import type { Db } from '../../common/db.js';
import { ensurePurgeSchedule, purgeScheduleId } from '../../worker/schedules.js';
import { testDb } from '../support/fixtures.js';

let db: Db;
let connection: Connection;
beforeAll(async () => {
  db = testDb();
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await Promise.all([db?.$disconnect(), connection?.close()]);
});

describe('processed-webhook records expire after 24 hours', () => {
  it('through a Temporal Schedule that every worker start ensures exists, once', async () => {
    const client = new Client({ connection });
    await ensurePurgeSchedule(client, 'lead-followup');
    await ensurePurgeSchedule(client, 'lead-followup');
    const schedule = await client.schedule.getHandle(purgeScheduleId).describe();
    expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'purgeProcessedWebhooks' });
    expect(schedule.spec.intervals?.[0]?.every).toBe(3_600_000);
  });

  it('moved to the task queue a worker starts on, its runs ending within the hour', async () => {
    const client = new Client({ connection });
    try {
      expect(await ensurePurgeSchedule(client, 'another-queue')).toBe('updated');
      // Before: it stayed on the queue it was created with, where no worker polls once the operator renamed it.
      expect((await client.schedule.getHandle(purgeScheduleId).describe()).action).toMatchObject({
        taskQueue: 'another-queue',
        workflowExecutionTimeout: 50 * 60_000,
      });
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
