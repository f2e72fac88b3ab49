import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';

export type Db = PrismaClient;

export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  // Bounded waits: an activity must finish (or fail) well inside its 60 s start-to-close timeout, or Temporal starts
  // a second attempt while the first still runs.
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5000,
    statement_timeout: 15_000,
  });
  return new PrismaClient({ adapter });
}
