// Migrations with Prisma's WebAssembly schema engine (Prisma's CLI would download a native engine, which fails here).
//   tsx scripts/migrate.ts deploy          apply pending migrations in prisma/migrations, then re-key opt-out hashes
//   tsx scripts/migrate.ts create <name>   write a migration for what schema.prisma adds (in a throwaway PostgreSQL)
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigOrExit } from '../common/config.js';
import { rekeyOptOutsAt } from './db/rekey-opt-outs.js';
import { applyMigrations, createMigration } from './db/schema-engine.js';
import { dataDir, migrationsDir, schemaPath } from './stack/paths.js';
import { freePort } from './stack/ports.js';
import { startEmbeddedPostgres } from './stack/postgres.js';

const [command, name] = process.argv.slice(2);

/** Only the server matters to `create` (it diffs in a shadow database): one of its own needs no running stack. */
async function withScratchPostgres<T>(use: (databaseUrl: string) => Promise<T>): Promise<T> {
  // Under .data, not the OS temp dir: the cluster runs as the postgres user, who cannot enter a private temp dir.
  const dir = path.join(dataDir, `migration-${process.pid}`);
  const database = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'scratch' });
  try {
    return await use(database.url);
  } finally {
    await database.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (command === 'deploy') {
  const { DATABASE_URL: databaseUrl } = loadConfigOrExit();
  const applied = await applyMigrations({ databaseUrl, migrationsDir });
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
  // Data that needs a setting no SQL migration knows (OPT_OUT_HASH_SECRET); idempotent, so every deploy runs it.
  const rekeyed = await rekeyOptOutsAt(databaseUrl);
  if (rekeyed.optOuts || rekeyed.consentEvents)
    process.stdout.write(`re-keyed opt-out hashes: ${JSON.stringify(rekeyed)}\n`);
} else if (command === 'create' && name && /^[a-z0-9_]+$/.test(name)) {
  const created = await withScratchPostgres((databaseUrl) =>
    createMigration({ databaseUrl, schemaPath, migrationsDir, name }),
  );
  process.stdout.write(
    created ? `created ${created}\n` : 'schema.prisma and the migrations agree: nothing to create\n',
  );
} else {
  process.stderr.write('usage: tsx scripts/migrate.ts deploy | create <snake_case_name>\n');
  process.exit(2);
}
