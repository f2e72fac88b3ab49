// Writes a migration for what prisma/schema.prisma adds, diffed in a throwaway embedded PostgreSQL of its own (only
// the server matters: the diff runs in a shadow database), so it needs no running stack. Development only: the
// production image applies migrations with scripts/migrate.ts.
//   tsx scripts/create-migration.ts <snake_case_name>     (npm run db:migration -- <name>)
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createMigration } from './db/schema-engine.js';
import { dataDir, migrationsDir, schemaPath } from './stack/paths.js';
import { freePort } from '../common/free-port.js';
import { startEmbeddedPostgres } from './stack/postgres.js';

const [name] = process.argv.slice(2);
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write('usage: npm run db:migration -- <snake_case_name>\n');
  process.exit(2);
}

// Under .data, not the OS temp dir: the cluster runs as the postgres user, who cannot enter a private temp dir.
const dir = path.join(dataDir, `migration-${process.pid}`);
const database = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'scratch' });
try {
  const created = await createMigration({ databaseUrl: database.url, schemaPath, migrationsDir, name });
  process.stdout.write(
    created ? `created ${created}\n` : 'schema.prisma and the migrations agree: nothing to create\n',
  );
} finally {
  await database.stop();
  await rm(dir, { recursive: true, force: true });
}
