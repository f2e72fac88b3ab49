// Migrations with Prisma's WebAssembly schema engine (Prisma's CLI would download a native engine, which fails here).
//   tsx scripts/migrate.ts deploy          apply pending migrations in prisma/migrations
//   tsx scripts/migrate.ts create <name>   write a migration for what schema.prisma adds
import { loadConfigOrExit } from '../common/config.js';
import { applyMigrations, createMigration } from './db/schema-engine.js';
import { migrationsDir, schemaPath } from './stack/paths.js';

const [command, name] = process.argv.slice(2);
const { DATABASE_URL: databaseUrl } = loadConfigOrExit();

if (command === 'deploy') {
  const applied = await applyMigrations({ databaseUrl, migrationsDir });
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
} else if (command === 'create' && name && /^[a-z0-9_]+$/.test(name)) {
  const created = await createMigration({ databaseUrl, schemaPath, migrationsDir, name });
  process.stdout.write(created ? `created ${created}\n` : 'schema.prisma and the migrations agree: nothing to create\n');
} else {
  process.stderr.write('usage: tsx scripts/migrate.ts deploy | create <snake_case_name>\n');
  process.exit(2);
}
