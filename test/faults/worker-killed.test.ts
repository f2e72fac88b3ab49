// The worker process killed with SIGKILL at the two moments that matter:
// - between Twilio's create call and the activity's completion: Twilio has created the message but the worker never
//   learns it. Temporal times the attempt out (startToCloseTimeout 60 s) and the retry, on a new worker process, must
//   adopt the created message (findSent) instead of creating a second one;
// - while the workflow sleeps on a timer, restarted after the due time: the overdue step goes out once.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { testDb } from '../support/fixtures.js';
import { until } from '../support/wait.js';
import {
  appFor,
  createdCalls,
  expectExactlyOnce,
  prepareEnrollment,
  sendAttempts,
  startWorker,
  startUntilSleeping,
  useFaultHarness,
} from './support.js';

const harness = useFaultHarness();
const db = testDb();
afterAll(() => db.$disconnect());

describe('worker SIGKILLed while the Twilio create call is in flight', () => {
  it('the retry on a new worker process adopts the created message: one create call, one row, completed', async () => {
    const taskQueue = `faults-${randomUUID()}`;
    const first = await startWorker({ taskQueue, fake: harness.fake });
    await first.logged('worker started');
    const enrollment = await prepareEnrollment(db, appFor(db, harness.temporal, taskQueue), [0]);
    // Twilio creates the message and never answers: the worker is killed while it waits (well inside its own 10 s
    // Twilio timeout, so the attempt dies with the process rather than failing by itself).
    harness.fake.inject({ kind: 'sentThenTimeout' }, { to: enrollment.phone });
    const started = await enrollment.start();

    const call = await until(
      () => harness.fake.calls.find((candidate) => candidate.to === enrollment.phone),
      'the Twilio create call',
    );
    expect(call.outcome).toBe('sentThenTimeout');
    const killedAt = Date.now();
    await first.kill();
    const pending = await db.message.findFirstOrThrow({ where: { enrollmentId: started.id } });
    expect(pending).toMatchObject({ status: 'pending', twilioSid: null });

    const second = await startWorker({ taskQueue, fake: harness.fake });
    await second.logged('worker started');
    // The lost attempt times out 60 s after it started; the retry reconciles with Twilio instead of sending.
    const adopted = await until(
      async () => {
        const row = await db.message.findFirstOrThrow({ where: { enrollmentId: started.id } });
        return row.twilioSid ? row : null;
      },
      'the retry to adopt the message',
      120_000,
    );
    const recoveredAfterMs = Date.now() - killedAt;
    expect(adopted.twilioSid).toBe(call.sid);

    const { created, rows } = await expectExactlyOnce(harness, db, {
      phone: enrollment.phone,
      enrollment: started,
      steps: 1,
    });
    expect(created[0]?.sid).toBe(call.sid);
    expect(rows[0]?.twilioSid).toBe(call.sid);
    expect(createdCalls(harness.fake, enrollment.phone)).toHaveLength(1);
    expect(await sendAttempts(harness.temporal, started)).toEqual([2]); // the killed attempt, then the one that adopted
    // startToCloseTimeout (60 s) + the first retry interval (2 s) + a margin for the poll.
    expect(recoveredAfterMs).toBeLessThan(75_000);
    console.log(
      `[faults] (a) SIGKILL in flight: create calls ${harness.fake.createCallsTo(enrollment.phone)}, rows ${rows.length}, adopted ${Math.round(recoveredAfterMs / 1000)} s after the kill`,
    );
  }, 150_000);
});

describe('worker SIGKILLed while the workflow sleeps, restarted after the due time', () => {
  it('sends the overdue step once, within 15 s of the new worker starting', async () => {
    const taskQueue = `faults-${randomUUID()}`;
    const first = await startWorker({ taskQueue, fake: harness.fake });
    await first.logged('worker started');
    const enrollment = await prepareEnrollment(db, appFor(db, harness.temporal, taskQueue), [0, 6]);
    const { started, dueAt } = await startUntilSleeping(harness, enrollment);
    expect(dueAt).toBeGreaterThan(Date.now());
    await first.kill();

    // Down until well past the due time (6 s after the first send): nothing can send meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAt - Date.now()) + 4_000));
    expect(harness.fake.createCallsTo(enrollment.phone)).toBe(1);

    const second = await startWorker({ taskQueue, fake: harness.fake });
    const readyAt = await second.logged('worker started');
    const call = await until(() => createdCalls(harness.fake, enrollment.phone)[1], 'the overdue message', 60_000);
    const fromSpawnMs = call.at.getTime() - second.spawnedAt;
    const fromReadyMs = call.at.getTime() - readyAt;
    const lateMs = call.at.getTime() - dueAt;

    await expectExactlyOnce(harness, db, { phone: enrollment.phone, enrollment: started, steps: 2 });
    // Counted from "worker started": how long a process takes to get there (bundling the workflows) is the machine's
    // load; what matters is that the overdue task does not wait for the dead worker (its sticky queue, a timeout).
    expect(fromReadyMs, `${fromSpawnMs} ms after the spawn`).toBeLessThan(15_000);
    console.log(
      `[faults] (b) SIGKILL during timer: create calls ${harness.fake.createCallsTo(enrollment.phone)}, overdue send ${fromSpawnMs} ms after the new worker was spawned (${fromReadyMs} ms after "worker started"), ${lateMs} ms after its due time`,
    );
  }, 90_000);
});
