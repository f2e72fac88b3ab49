import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.js';
import type { WeeklyReportInput, WeeklyReportResult } from '../../activities/weekly-report.js';
import { weeklyReport } from '../../workflows/weekly-report.js';
import { useTimeSkippingEnv } from '../support/temporal-test-env.js';

const suite = useTimeSkippingEnv();

function run(recordWeeklyReport: Activities['recordWeeklyReport']) {
  return suite.withWorker({ recordWeeklyReport }, (taskQueue) =>
    suite.env.client.workflow.execute(weeklyReport, {
      taskQueue,
      workflowId: `weekly-report:${randomUUID()}`,
      args: [{ tenantId: 'tenant-1' }],
    }),
  );
}

describe('weeklyReport', () => {
  it('asks for the week before the run started, again with the same time on every retry', async () => {
    const calls: WeeklyReportInput[] = [];
    const startedAt = Date.now();
    const result = await run(async (input): Promise<WeeklyReportResult> => {
      calls.push(input);
      if (calls.length < 3) throw new Error('database unavailable');
      return { weekStart: '2026-11-23', eventId: 'event-1', recorded: true };
    });
    expect(result).toEqual({ weekStart: '2026-11-23', eventId: 'event-1', recorded: true });
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((call) => call.at)).size).toBe(1);
    expect(calls[0]).toMatchObject({ tenantId: 'tenant-1' });
    expect(Math.abs(Date.parse(calls[0]?.at ?? '') - startedAt)).toBeLessThan(60_000);
  });

  it('ends at once when the tenant is gone', async () => {
    await expect(
      run(async () => {
        throw ApplicationFailure.create({ type: 'NotFoundError', message: 'No tenant', nonRetryable: true });
      }),
    ).rejects.toThrow(/Workflow execution failed/);
  });
});
