// Starts the real services the suite runs against, once: PostgreSQL (embedded) and the Temporal dev server.
// Time-skipping workflow tests start Temporal's Java test server themselves (see temporal-test-env.ts).
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { rekeyOptOutsAt } from '../../scripts/db/rekey-opt-outs.js';
import { applyMigrations } from '../../scripts/db/schema-engine.js';
import { dataDir, migrationsDir } from '../../scripts/stack/paths.js';
import { startEmbeddedPostgres } from '../../scripts/stack/postgres.js';
import { startDevServer } from '../../scripts/stack/temporal.js';
import { freePort } from '../../common/free-port.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = path.join(dataDir, `test-postgres-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const [postgresPort, temporalPort] = await Promise.all([freePort(), freePort()]);
  const [database, temporal] = await Promise.all([
    startEmbeddedPostgres({ dir, port: postgresPort, database: 'leadfollowup_test' }),
    startDevServer({ port: temporalPort }),
  ]);
  await applyMigrations({ databaseUrl: database.url, migrationsDir });
  await rekeyOptOutsAt(database.url);
  project.provide('databaseUrl', database.url);
  project.provide('temporalAddress', temporal.address);
  return async () => {
    await temporal.stop();
    await database.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
