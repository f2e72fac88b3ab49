// Temporal's production engine on this machine: the `temporal-server` binary (built from its Go module by
// scripts/bootstrap.sh) with PostgreSQL persistence and SQL visibility, its schema set up by `temporal-sql-tool`, the
// namespace and search attributes registered with the CLI, as an operator would on a real cluster.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import YAML from 'yaml';
import { searchAttributeKeys } from '../../workflows/search-attributes.js';
import { temporalCliPath, temporalServerPath, temporalSqlToolPath } from './paths.js';
import { freePort } from '../../common/free-port.js';
import { freeLowPort } from './ports.js';
import { cliTypeName, superviseTemporal, type TemporalServer } from './temporal.js';

const run = promisify(execFile);

/** Temporal's two databases, as in the server's sample config and docker-compose.yml. */
const temporalDatabases = [
  { name: 'temporal', schema: 'postgresql/v12/temporal' },
  { name: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
] as const;

const namespace = 'default';

interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The server part of a postgresql:// URL (its database, if any, is ignored: Temporal's two have fixed names). */
function postgresServerOf(url: string): PostgresServer {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

async function sqlTool(server: PostgresServer, database: string, args: string[]): Promise<void> {
  // Connection settings through the tool's environment variables: the password stays off the process list.
  await run(temporalSqlToolPath, args, {
    env: {
      PATH: process.env.PATH ?? '',
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: server.host,
      SQL_PORT: String(server.port),
      SQL_USER: server.user,
      SQL_PASSWORD: server.password,
      SQL_DATABASE: database,
    },
  });
}

async function query<T extends pg.QueryResultRow>(
  server: PostgresServer,
  database: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ ...server, database });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The schema steps of Temporal's docs and docker-compose.yml, safe to repeat: each database is created and its
 * versioning set up only when missing; update-schema moves it to the binary's version and is a no-op once there.
 */
async function setUpTemporalSchema(postgresUrl: string): Promise<void> {
  if (!existsSync(temporalSqlToolPath))
    throw new Error(
      `temporal-sql-tool not found at ${temporalSqlToolPath}; run bash scripts/bootstrap.sh server first`,
    );
  const server = postgresServerOf(postgresUrl);
  for (const database of temporalDatabases) {
    const exists = await query(server, 'postgres', 'select 1 from pg_database where datname = $1', [database.name]);
    if (!exists.length) await sqlTool(server, database.name, ['create-database']);
    const [versioned] = await query<{ present: boolean }>(
      server,
      database.name,
      "select to_regclass('public.schema_version') is not null as present",
    );
    if (!versioned?.present) await sqlTool(server, database.name, ['setup-schema', '-v', '0.0']);
    await sqlTool(server, database.name, ['update-schema', '--schema-name', database.schema]);
  }
}

interface EnginePorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * Ports kept from the last start in `dir` when its frontend port is the one asked for: a restart then comes back at
 * the addresses the cluster membership table remembers, instead of waiting for the old entries to expire.
 */
async function enginePorts(configFile: string, frontend: number): Promise<EnginePorts> {
  if (existsSync(configFile)) {
    const saved = (YAML.parse(readFileSync(configFile, 'utf8')) as { ports?: EnginePorts }).ports;
    if (saved?.frontend === frontend) return saved;
  }
  const [frontendHttp, history, matching, worker] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const [frontendMembership, historyMembership, matchingMembership, workerMembership] = await Promise.all([
    freeLowPort(),
    freeLowPort(),
    freeLowPort(),
    freeLowPort(),
  ]);
  return {
    frontend,
    frontendHttp,
    frontendMembership,
    history,
    historyMembership,
    matching,
    matchingMembership,
    worker,
    workerMembership,
  };
}

/** The server's config: the sample development-postgres12.yaml's shape, with no archival, pprof or metrics. */
function serverConfig(server: PostgresServer, ports: EnginePorts) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${server.host}:${server.port}`,
      connectProtocol: 'tcp',
      user: server.user,
      password: server.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: {
        'postgres-default': store('temporal', 20),
        'postgres-visibility': store('temporal_visibility', 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: { rpc: { ...rpc(ports.frontend, ports.frontendMembership).rpc, httpPort: ports.frontendHttp } },
      history: rpc(ports.history, ports.historyMembership),
      matching: rpc(ports.matching, ports.matchingMembership),
      worker: rpc(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // Read back by enginePorts() on the next start; the server ignores keys it does not know.
    ports,
  };
}

async function cli(address: string, args: string[]): Promise<string> {
  const { stdout } = await run(temporalCliPath, [...args, '--address', address, '--namespace', namespace]);
  return stdout;
}

/** Every project search attribute in one visibility query: it fails until the frontend knows them all. */
const probeQuery = searchAttributeKeys
  .map((key) =>
    key.type === 'DATETIME'
      ? `${key.name} > '2000-01-01T00:00:00Z'`
      : key.type === 'BOOL'
        ? `${key.name} = true`
        : `${key.name} = 'probe'`,
  )
  .join(' AND ');

async function retry<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The namespace and the project's search attributes, registered with the CLI once, then waited for until usable. */
async function registerNamespace(address: string): Promise<void> {
  const namespaceExists = () =>
    cli(address, ['operator', 'namespace', 'describe', '--output', 'json']).then(
      () => true,
      () => false,
    );
  if (!(await namespaceExists()))
    await cli(address, ['operator', 'namespace', 'create', '--retention', '72h']).catch(async (error: unknown) => {
      // Another start may have created it meanwhile.
      if (!(await namespaceExists())) throw error;
    });
  const listed = JSON.parse(
    await retry('the namespace to be served', 30_000, () =>
      cli(address, ['operator', 'search-attribute', 'list', '--output', 'json']),
    ),
  ) as { customAttributes?: Record<string, unknown> };
  const missing = searchAttributeKeys.filter((key) => !(key.name in (listed.customAttributes ?? {})));
  if (missing.length)
    await cli(address, [
      'operator',
      'search-attribute',
      'create',
      ...missing.flatMap((key) => ['--name', key.name, '--type', cliTypeName[key.type] as string]),
    ]);
  await retry('the search attributes to be usable in visibility queries', 60_000, () =>
    cli(address, ['workflow', 'count', '--query', probeQuery]),
  );
}

/**
 * Starts temporal-server on a PostgreSQL (schema set up first), its config and logs under `dir`, and returns once the
 * namespace and search attributes are usable. `stop()` then `start` again on the same `dir` is a server restart.
 */
export async function startPostgresEngine(options: {
  postgresUrl: string;
  dir: string;
  port: number;
  log?: (line: string) => void;
  detached?: boolean;
}): Promise<TemporalServer> {
  if (!existsSync(temporalServerPath))
    throw new Error(`temporal-server not found at ${temporalServerPath}; run bash scripts/bootstrap.sh server first`);
  await setUpTemporalSchema(options.postgresUrl);
  const configDir = path.join(options.dir, 'config');
  const configFile = path.join(configDir, 'development.yaml');
  mkdirSync(configDir, { recursive: true });
  const ports = await enginePorts(configFile, options.port);
  writeFileSync(configFile, YAML.stringify(serverConfig(postgresServerOf(options.postgresUrl), ports)), {
    mode: 0o600,
  });
  const child = spawn(
    temporalServerPath,
    ['--root', options.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false },
  );
  const server = await superviseTemporal(child, `127.0.0.1:${ports.frontend}`, null, options.log);
  try {
    await registerNamespace(server.address);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
