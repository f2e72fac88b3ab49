import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const dataDir = path.resolve(projectRoot, process.env.DATA_DIR || '.data');
export const toolsDir = path.join(projectRoot, '.tools');
export const temporalCliPath = path.join(toolsDir, 'bin', 'temporal');
export const testServerPath = path.join(toolsDir, 'temporal-test-server', 'test-server');
export const migrationsDir = path.join(projectRoot, 'prisma', 'migrations');
export const schemaPath = path.join(projectRoot, 'prisma', 'schema.prisma');
