// Migrations with Prisma's WebAssembly schema engine (Prisma's CLI would download a native engine, which fails here).
//   tsx scripts/migrate.ts deploy          apply pending migrations in prisma/migrations, then re-key opt-out hashes
//   tsx scripts/migrate.ts create <name>   write a migration for what schema.prisma adds
import { loadConfigOrExit } from '../common/config.js';
import { rekeyOptOutsAt } from './db/rekey-opt-outs.js';
import { applyMigrations, createMigration } from './db/schema-engine.js';
import { migrationsDir, schemaPath } from './stack/paths.js';

const [command, name] = process.argv.slice(2);
const { DATABASE_URL: databaseUrl } = loadConfigOrExit();

if (command === 'deploy') {
  const applied = await applyMigrations({ databaseUrl, migrationsDir });
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
  // Data that needs a setting no SQL migration knows (OPT_OUT_HASH_SECRET); idempotent, so every deploy runs it.
  const rekeyed = await rekeyOptOutsAt(databaseUrl);
  if (rekeyed.optOuts || rekeyed.consentEvents)
    process.stdout.write(`re-keyed opt-out hashes: ${JSON.stringify(rekeyed)}\n`);
} else if (command === 'create' && name && /^[a-z0-9_]+$/.test(name)) {
  const created = await createMigration({ databaseUrl, schemaPath, migrationsDir, name });
  process.stdout.write(
    created ? `created ${created}\n` : 'schema.prisma and the migrations agree: nothing to create\n',
  );
} else {
  process.stderr.write('usage: tsx scripts/migrate.ts deploy | create <snake_case_name>\n');
  process.exit(2);
}
