import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { schemaDrift } from '../../scripts/db/schema-engine.js';
import { migrationsDir, schemaPath } from '../../scripts/stack/paths.js';

describe('prisma/schema.prisma and prisma/migrations', () => {
  it('agree: applying the migrations yields exactly the schema', async () => {
    expect(await schemaDrift({ databaseUrl: inject('databaseUrl'), schemaPath, migrationsDir })).toBe('');
  });

  it('a model added to the schema without a migration is reported as drift', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'drift-'));
    const drifted = path.join(dir, 'schema.prisma');
    copyFileSync(schemaPath, drifted);
    writeFileSync(drifted, `${readFileSync(drifted, 'utf8')}\nmodel Drifted {\n  id Int @id\n}\n`);
    expect(await schemaDrift({ databaseUrl: inject('databaseUrl'), schemaPath: drifted, migrationsDir })).toMatch(
      /CREATE TABLE "Drifted"/,
    );
  });
});
