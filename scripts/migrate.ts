// Applies pending migrations in prisma/migrations with Prisma's WebAssembly schema engine (Prisma's CLI would download
// a native engine, which fails here), then re-keys opt-out hashes. `npm run db:migration` writes new ones
// (scripts/create-migration.ts).
//   tsx scripts/migrate.ts deploy
import { loadConfigOrExit } from '../common/config.js';
import { rekeyOptOutsAt } from './db/rekey-opt-outs.js';
import { applyMigrations } from './db/schema-engine.js';
import { migrationsDir } from './stack/paths.js';

if (process.argv[2] !== 'deploy') {
  process.stderr.write('usage: tsx scripts/migrate.ts deploy\n');
  process.exit(2);
}
const { DATABASE_URL: databaseUrl } = loadConfigOrExit();
const applied = await applyMigrations({ databaseUrl, migrationsDir });
process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
// Data that needs a setting no SQL migration knows (OPT_OUT_HASH_SECRET); idempotent, so every deploy runs it.
const rekeyed = await rekeyOptOutsAt(databaseUrl);
if (rekeyed.optOuts || rekeyed.consentEvents)
  process.stdout.write(`re-keyed opt-out hashes: ${JSON.stringify(rekeyed)}\n`);
