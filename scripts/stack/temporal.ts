import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { searchAttributeKeys } from '../../workflows/search-attributes.js';
import { temporalCliPath } from './paths.js';
import { stopChild } from './stop-child.js';

/** A running Temporal server of either engine (scripts/stack/engine.ts). */
export interface TemporalServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

export const cliTypeName: Record<string, string> = {
  KEYWORD: 'Keyword',
  TEXT: 'Text',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `--search-attribute` flags from the one module that defines the project's attributes. */
export function searchAttributeFlags(): string[] {
  return searchAttributeKeys.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeName[key.type]}`]);
}

export async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * The real Temporal server (the CLI's dev server: server, UI and SQLite in one Go binary built from its module).
 * With `dbFile` its state survives restarts, so sleeping workflows go on after the next start.
 */
export async function startDevServer(options: {
  port: number;
  uiPort?: number;
  dbFile?: string;
  log?: (line: string) => void;
  detached?: boolean;
  extraArgs?: string[];
}): Promise<TemporalServer> {
  if (!existsSync(temporalCliPath))
    throw new Error(`Temporal CLI not found at ${temporalCliPath}; run scripts/bootstrap.sh first`);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    '--log-level',
    'warn',
    // The SQLite store is a single connection; WAL keeps readers off the writer's back (the SDK's stress CI does the same).
    '--sqlite-pragma',
    'journal_mode=wal',
    // No fsync per commit (the SDK's stress CI does the same): a crash of the process loses nothing, only a crash of
    // the machine could lose the last commits. With the next flag, about 1.6x the workflow throughput on 2 cores
    // (docs/benchmarks.md).
    '--sqlite-pragma',
    'synchronous=off',
    // start-dev turns this on so search attributes added at run time show at once, at the price of a metadata read on
    // every start and upsert. Ours are all registered by the flags below when the server starts.
    '--dynamic-config-value',
    'system.forceSearchAttributesCacheRefreshOnRead=false',
    ...searchAttributeFlags(),
    // More flags for one caller (the benchmark tries pragmas and dynamic config this way).
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(temporalCliPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  return superviseTemporal(
    child,
    `127.0.0.1:${options.port}`,
    options.uiPort ? `http://127.0.0.1:${options.uiPort}` : null,
    options.log,
  );
}

/**
 * Forwards a just-spawned server's output, waits until its frontend answers, and stops it if it does not. Its
 * stop() asks for a graceful shutdown and kills the process after 10 s: temporal-server waits on its database, which
 * Ctrl-C may already have stopped (it reaches PostgreSQL directly).
 */
export async function superviseTemporal(
  child: ChildProcess,
  address: string,
  uiUrl: string | null,
  log?: (line: string) => void,
): Promise<TemporalServer> {
  const forward = (chunk: Buffer) => log?.(chunk.toString().trimEnd());
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, { graceMs: 10_000 });
  try {
    await Promise.race([
      waitForTemporal(address, 60_000),
      exited.then(() => {
        throw new Error(`Temporal server exited during start (exit code ${child.exitCode})`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, uiUrl, process: child, stop };
}
