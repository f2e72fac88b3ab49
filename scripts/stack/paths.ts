import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The folder holding package.json above `from`: the checkout, or the image's /app when compiled code runs from dist/. */
function projectRootAbove(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const projectRoot = projectRootAbove(path.dirname(fileURLToPath(import.meta.url)));
export const dataDir = path.resolve(projectRoot, process.env.DATA_DIR || '.data');
export const toolsDir = path.join(projectRoot, '.tools');
export const temporalCliPath = path.join(toolsDir, 'bin', 'temporal');
export const testServerPath = path.join(toolsDir, 'temporal-test-server', 'test-server');
export const migrationsDir = path.join(projectRoot, 'prisma', 'migrations');
export const schemaPath = path.join(projectRoot, 'prisma', 'schema.prisma');
export const temporalServerPath = path.join(toolsDir, 'bin', 'temporal-server');
export const temporalSqlToolPath = path.join(toolsDir, 'bin', 'temporal-sql-tool');
