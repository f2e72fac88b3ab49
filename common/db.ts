import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, type Prisma } from '../generated/prisma/client.js';

export type Db = PrismaClient;

/** Statements sent straight through `pg`, past Prisma's client: for libraries that speak SQL (rate-limiter-flexible). */
export interface SqlQueries {
  query(statement: pg.QueryConfig): Promise<pg.QueryResult>;
}

export interface DbOptions {
  maxConnections?: number;
  /** Sees every statement's text, Prisma's and the direct ones (tests and benches count them). */
  onStatement?: (sql: string) => void;
}

const directQueries = new WeakMap<Db, SqlQueries>();

export function createDb(databaseUrl: string, { maxConnections = 10, onStatement }: DbOptions = {}): Db {
  // Bounded waits: an activity must finish (or fail) well inside its 60 s start-to-close timeout, or Temporal starts
  // a second attempt while the first still runs.
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: maxConnections,
    connectionTimeoutMillis: 5000,
    statement_timeout: 15_000,
    // Prisma's pg adapter sends a Date as a timestamp with no zone, which PostgreSQL reads in the session's: on a
    // server set to Europe/Berlin, every instant written was an hour early against now() (webhook backoff, claims, the
    // days analytics are filed in). Awaited before the connection is handed out; one where it fails is closed.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- pg-pool 3.14 awaits it; @types/pg says void
    onConnect: async (client) => {
      await client.query("SET TIME ZONE 'UTC'");
    },
  });
  // A connection the server closed while idle (a restart, a failover) is dropped from the pool and the next statement
  // opens another; the statement that fails says why. Unheard, the pool's error event would end the process.
  pool.on('error', () => undefined);
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const db = new PrismaClient({ adapter, log: onStatement ? [{ emit: 'event', level: 'query' }] : [] });
  if (onStatement) db.$on('query', (event) => onStatement(event.query));
  directQueries.set(db, {
    query: (statement) => {
      onStatement?.(statement.text);
      return pool.query(statement);
    },
  });
  return db;
}

/** The pool under a Db, for statements that need no Prisma: one made by createDb shares its connections. */
export function sqlQueriesOf(db: Db): SqlQueries {
  const queries = directQueries.get(db);
  if (!queries) throw new Error('this PrismaClient was not made by createDb: it has no pool of its own to share');
  return queries;
}

/**
 * PostgreSQL's clock, for instants compared across processes: a claim written by one worker is judged live or expired
 * by another, whose own clock may be a minute off; judged against the clock that wrote it, it is not.
 */
export async function databaseNow(db: Db | Prisma.TransactionClient): Promise<Date> {
  const [row] = await db.$queryRaw<{ now: Date }[]>`SELECT clock_timestamp() AS now`;
  return row!.now;
}
