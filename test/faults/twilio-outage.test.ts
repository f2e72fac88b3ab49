// Twilio answering 429 and then 5xx for a while, through a real worker process: every failed attempt goes back to
// Temporal's retry policy (twilio-node's own retry is off), a 5xx (which may come after Twilio took the message) keeps
// every retry off Twilio until its claim expires and is reconciled before any resend, and the message goes out exactly
// once when Twilio recovers.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { testDb } from '../support/fixtures.js';
import { until } from '../support/wait.js';
import { appFor, createdCalls, prepareEnrollment, sendAttempts, startWorker, useFaultHarness } from './support.js';

const harness = useFaultHarness();
const db = testDb();
afterAll(() => db.$disconnect());

describe('Twilio failing for a while', () => {
  it('429, 429, then a 503: one message created after recovery, on the fifth attempt', async () => {
    const taskQueue = `faults-${randomUUID()}`;
    const worker = await startWorker({ taskQueue, fake: harness.fake });
    await worker.logged('worker started');
    const enrollment = await prepareEnrollment(db, appFor(db, harness.temporal, taskQueue), [0]);
    const to = { to: enrollment.phone };
    harness.fake.inject({ kind: 'http', status: 429 }, { ...to, times: 2 });
    harness.fake.inject({ kind: 'http', status: 503 }, to);
    const started = await enrollment.start();

    // Attempts at about 0, 2 and 6 s; the third's 503 keeps its claim, which keeps the fourth (~8 s later) off Twilio
    // until it expires (a minute after it was taken); the fifth asks Twilio, then sends.
    await until(
      () => harness.fake.calls.filter((call) => call.to === enrollment.phone && call.status === 503).length === 1,
      'the 503',
      60_000,
    );
    const outageEndedAt = Date.now();
    await until(() => createdCalls(harness.fake, enrollment.phone).length === 1, 'the message after recovery', 90_000);
    const recoveredAfterMs = Date.now() - outageEndedAt;

    // The refused attempts created nothing: exactly one message exists, and exactly one row carries its SID.
    expect(await harness.temporal.workflow.getHandle(started.workflowId, started.runId).result()).toMatchObject({
      status: 'completed',
      messagesSent: 1,
    });
    const [created] = createdCalls(harness.fake, enrollment.phone);
    const rows = await db.message.findMany({ where: { enrollmentId: started.id } });
    expect(rows).toEqual([expect.objectContaining({ twilioSid: created?.sid, status: 'queued' })]);
    expect(harness.fake.calls.filter((call) => call.to === enrollment.phone).map((call) => call.outcome)).toEqual([
      'error',
      'error',
      'error',
      'created',
    ]);
    expect(await sendAttempts(harness.temporal, started)).toEqual([5]);
    // The 503's claim expires 60 s after it was taken: the create comes about a minute after that call.
    expect(recoveredAfterMs).toBeGreaterThanOrEqual(55_000);
    expect(recoveredAfterMs).toBeLessThan(80_000);
    console.log(
      `[faults] (e) Twilio 429/429/503: calls ${harness.fake.calls.filter((call) => call.to === enrollment.phone).length}, created 1, ${Math.round(recoveredAfterMs / 1000)} s after the last failure began`,
    );
  }, 150_000);
});
