// PostgreSQL unavailable for a while during sends: a database of its own (stopped and started again on the same
// data directory and port), a real worker process on it, and a step that falls due while the database is down. The
// send activity's attempts fail on their bounded database waits and Temporal retries them (2 s, doubling); once the
// database is back the next attempt sends the message once.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db.js';
import { applyMigrations } from '../../scripts/db/schema-engine.js';
import { dataDir, migrationsDir } from '../../scripts/stack/paths.js';
import { freePort } from '../../common/free-port.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../scripts/stack/postgres.js';
import { until } from '../support/wait.js';
import {
  appFor,
  createdCalls,
  expectExactlyOnce,
  killAllWorkers,
  prepareEnrollment,
  sendAttempts,
  startWorker,
  startUntilSleeping,
  useFaultHarness,
} from './support.js';

const outageMs = 15_000;
// Under .data: PostgreSQL runs as its own OS user, which cannot reach a mkdtemp directory.
const dir = path.join(dataDir, `fault-postgres-${process.pid}-${randomUUID().slice(0, 8)}`);
let port: number;
let database: EmbeddedDatabase | undefined;
const harness = useFaultHarness();
const clients: Db[] = [];

function openDb(url: string): Db {
  const db = createDb(url, { maxConnections: 3 });
  clients.push(db);
  return db;
}

beforeAll(async () => {
  port = await freePort();
  database = await startEmbeddedPostgres({ dir, port, database: 'leadfollowup_faults' });
  await applyMigrations({ databaseUrl: database.url, migrationsDir });
});

afterAll(async () => {
  await killAllWorkers();
  await Promise.allSettled(clients.map((db) => db.$disconnect()));
  await database?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL down when a step falls due', () => {
  it(`sends the step once after a ${outageMs / 1000} s outage, within 20 s of the database coming back`, async () => {
    const url = database!.url;
    const taskQueue = `faults-${randomUUID()}`;
    const worker = await startWorker({ taskQueue, fake: harness.fake, databaseUrl: url });
    await worker.logged('worker started');
    const setupDb = openDb(url);
    const enrollment = await prepareEnrollment(setupDb, appFor(setupDb, harness.temporal, taskQueue), [0, 5]);
    const { started, dueAt } = await startUntilSleeping(harness, enrollment);
    await setupDb.$disconnect();

    // Down from before the due time until well after it.
    await database!.stop();
    database = undefined;
    const stoppedAt = Date.now();
    expect(dueAt).toBeGreaterThan(stoppedAt);
    await new Promise((resolve) => setTimeout(resolve, outageMs));
    expect(harness.fake.createCallsTo(enrollment.phone)).toBe(1); // nothing goes out while the row cannot be written first
    expect(worker.child.exitCode).toBeNull(); // the worker rode out the outage

    database = await startEmbeddedPostgres({ dir, port, database: 'leadfollowup_faults' });
    const backAt = Date.now();
    const call = await until(() => createdCalls(harness.fake, enrollment.phone)[1], 'the overdue message', 60_000);
    const afterRecoveryMs = call.at.getTime() - backAt;

    const db = openDb(url);
    await expectExactlyOnce(harness, db, { phone: enrollment.phone, enrollment: started, steps: 2 });
    expect(worker.child.exitCode).toBeNull();
    // The first step went out on its first attempt; the second only after attempts that failed on the database.
    const attempts = await sendAttempts(harness.temporal, started);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toBe(1);
    expect(attempts[1]).toBeGreaterThanOrEqual(3);
    // The attempt before recovery was at most ~15 s earlier: the next one (backoff 2 s doubling) comes within ~16 s.
    expect(afterRecoveryMs).toBeLessThan(20_000);
    console.log(
      `[faults] (d) PostgreSQL down ${Math.round((backAt - stoppedAt) / 1000)} s: create calls ${harness.fake.createCallsTo(enrollment.phone)}, overdue send ${afterRecoveryMs} ms after the database was back, ${call.at.getTime() - dueAt} ms after its due time, on send attempt ${attempts[1]}`,
    );
  }, 120_000);
});
