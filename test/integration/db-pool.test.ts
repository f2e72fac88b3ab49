// The Db's pool serves Prisma and the statements sent past it (the throughput windows): one set of connections, one
// place that hears a connection drop, one statement log.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, inject, it } from 'vitest';
import { createDb, databaseNow, sqlQueriesOf, type Db } from '../../common/db.js';

const opened: Db[] = [];
const open = (options: Parameters<typeof createDb>[1]) => {
  const db = createDb(inject('databaseUrl'), options);
  opened.push(db);
  return db;
};
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.$disconnect()));
});

it('keeps running when the server closes an idle connection that only direct statements used, then opens another', async () => {
  const db = open({ maxConnections: 1 });
  const queries = sqlQueriesOf(db);
  const first = await queries.query({ text: 'SELECT pg_backend_pid() AS pid' });
  const pid = (first.rows[0] as { pid: number }).pid;

  await open({ maxConnections: 1 }).$executeRaw`SELECT pg_terminate_backend(${pid}::int)`;
  await sleep(200);

  const next = await queries.query({ text: 'SELECT pg_backend_pid() AS pid' });
  expect((next.rows[0] as { pid: number }).pid).not.toBe(pid);
  expect(await db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
});

it("logs Prisma's statements and the direct ones alike", async () => {
  const statements: string[] = [];
  const db = open({ maxConnections: 1, onStatement: (sql) => statements.push(sql) });
  await db.tenant.count();
  await sqlQueriesOf(db).query({ text: 'SELECT 2 AS two' });
  expect(statements).toHaveLength(2);
  expect(statements[0]).toMatch(/FROM "public"."tenants"/);
  expect(statements[1]).toBe('SELECT 2 AS two');
});

it('refuses to share the pool of a client it did not make', async () => {
  const { PrismaClient } = await import('../../generated/prisma/client.js');
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const stranger = new PrismaClient({ adapter: new PrismaPg({ connectionString: inject('databaseUrl') }) });
  expect(() => sqlQueriesOf(stranger)).toThrow(/not made by createDb/);
});

it("reads and writes instants alike whatever the server's time zone: the adapter sends a Date with no zone", async () => {
  const url = new URL(inject('databaseUrl'));
  url.searchParams.set('options', '-c TimeZone=Europe/Berlin');
  const db = createDb(url.toString(), { maxConnections: 1 });
  opened.push(db);
  // What Prisma writes is compared with PostgreSQL's now() (webhook backoff, claims) and filed into days by it.
  const [row] = await db.$queryRaw<{ skewSeconds: number }[]>`
    SELECT extract(epoch FROM ${new Date()}::timestamptz - now())::float AS "skewSeconds"`;
  expect(Math.abs(row!.skewSeconds)).toBeLessThan(5);
  expect(Math.abs((await databaseNow(db)).getTime() - Date.now())).toBeLessThan(5_000);
});
