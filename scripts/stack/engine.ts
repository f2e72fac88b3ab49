// Which Temporal runs the stack: `dev`, the CLI's dev server (SQLite, UI included, starts in seconds), or `postgres`,
// the production server binary on PostgreSQL with SQL visibility (what a deployment runs; no UI). docs/engines.md.
import path from 'node:path';
import { z } from 'zod';
import { startPostgresEngine } from './temporal-postgres.js';
import { startDevServer, type TemporalServer } from './temporal.js';

export const temporalEngine = z.enum(['dev', 'postgres']);
export type TemporalEngine = z.infer<typeof temporalEngine>;

export interface EngineOptions {
  port: number;
  /** Where the engine keeps its state: the dev server's SQLite file, the production server's config. */
  dir: string;
  /** The PostgreSQL server for the `postgres` engine (its databases `temporal` and `temporal_visibility`). */
  postgresUrl?: string;
  uiPort?: number;
  log?: (line: string) => void;
  detached?: boolean;
  /** More `temporal server start-dev` flags (dev engine only). */
  devServerArgs?: string[];
}

export function startTemporalEngine(engine: TemporalEngine, options: EngineOptions): Promise<TemporalServer> {
  if (engine === 'dev')
    return startDevServer({
      port: options.port,
      uiPort: options.uiPort,
      dbFile: path.join(options.dir, 'temporal.db'),
      log: options.log,
      detached: options.detached,
      extraArgs: options.devServerArgs,
    });
  if (!options.postgresUrl) throw new Error('the postgres engine needs a PostgreSQL URL');
  return startPostgresEngine({
    postgresUrl: options.postgresUrl,
    dir: path.join(options.dir, 'temporal-server'),
    port: options.port,
    log: options.log,
    detached: options.detached,
  });
}
