// One command for the whole local stack: Temporal (the dev server with its UI, or with TEMPORAL_ENGINE=postgres the
// production server on PostgreSQL), PostgreSQL, migrations, worker and API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig, orExit, parseSettings, smsMode } from '../common/config.js';
import { createDb } from '../common/db.js';
import { rekeyOptOutsAt } from './db/rekey-opt-outs.js';
import { applyMigrations } from './db/schema-engine.js';
import { ensureDevTenant } from './stack/dev-tenant.js';
import { dataDir, migrationsDir, projectRoot } from './stack/paths.js';
import { startTemporalEngine, temporalEngine } from './stack/engine.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './stack/postgres.js';
import { stopChild } from './stack/stop-child.js';
import type { TemporalServer } from './stack/temporal.js';

/**
 * Twilio's magic test sender, the development tenant's own number in outbox mode, so `npm run webhook -- inbound …`
 * to it reaches that tenant. With real Twilio the deployment's sender is shared and nobody owns it: inbound messages
 * to it reach the tenant that texted the phone.
 */
const devSenderNumber = '+15005550006';
const say = (message: string) => process.stdout.write(`[start] ${message}\n`);

const stackSettings = z.object({
  DEV_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  DEV_TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(5488),
  TEMPORAL_ENGINE: temporalEngine.default('dev'),
  /** The PostgreSQL server of the postgres engine; by default the embedded one. */
  TEMPORAL_POSTGRES_URL: z.url().optional(),
});

const settings = orExit(() => parseSettings(stackSettings));

const env: NodeJS.ProcessEnv = { ...process.env };
let temporal: TemporalServer | undefined;
let database: EmbeddedDatabase | undefined;
const children: ChildProcess[] = [];
let stopping = false;
/** The start-up step under way; a stop waits for it so nothing it is starting is left running. */
let startup: Promise<unknown> = Promise.resolve();
/** Longer than the worker's own grace for in-flight activities (WORKER_SHUTDOWN_GRACE_SECONDS, 30 s, plus 5 s). */
const shutdownGraceMs = 45_000;

async function stopAll(exitCode: number): Promise<never> {
  if (stopping) return new Promise<never>(() => {});
  stopping = true;
  say('stopping…');
  await startup.catch(() => undefined);
  // Worker and API first, so in-flight activities and requests finish while Temporal and the database are up.
  // Each child leads its own process group (startChild), so whatever it started stops with it.
  await Promise.all(children.map((child) => stopChild(child, { graceMs: shutdownGraceMs, group: true })));
  await temporal?.stop();
  await database?.stop();
  say('stopped');
  process.exit(exitCode);
}
// This script owns shutdown order: worker and API first, then Temporal, then PostgreSQL (scripts/stack/postgres.ts
// keeps embedded-postgres from exiting the process on its own).
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

function startChild(name: string, entry: string): ChildProcess {
  // Own process groups: Ctrl-C reaches this script only, which then stops everything in order.
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: projectRoot,
    env,
    stdio: 'inherit',
    detached: true,
  });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} exited (${signal ?? `code ${code}`}); stopping the stack`);
    void stopAll(code || 1);
  });
  children.push(child);
  return child;
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

try {
  mkdirSync(dataDir, { recursive: true });
  const embeddedAppDatabase = !env.DATABASE_URL;
  const engine = settings.TEMPORAL_ENGINE;
  const temporalOnEmbedded = !env.TEMPORAL_ADDRESS && engine === 'postgres' && !settings.TEMPORAL_POSTGRES_URL;
  if (embeddedAppDatabase || temporalOnEmbedded) {
    say('starting the embedded PostgreSQL (data in .data/postgres)…');
    const starting = startEmbeddedPostgres({
      dir: path.join(dataDir, 'postgres'),
      port: settings.EMBEDDED_POSTGRES_PORT,
      database: 'leadfollowup',
    });
    startup = starting;
    database = await starting;
    if (embeddedAppDatabase) env.DATABASE_URL = database.url;
  }
  if (!env.TEMPORAL_ADDRESS) {
    say(
      engine === 'dev'
        ? 'starting the Temporal dev server (SQLite in .data/temporal.db)…'
        : `starting temporal-server on PostgreSQL (${settings.TEMPORAL_POSTGRES_URL ? 'TEMPORAL_POSTGRES_URL' : 'the embedded one'}, databases temporal and temporal_visibility)…`,
    );
    const starting = startTemporalEngine(engine, {
      port: settings.DEV_TEMPORAL_PORT,
      uiPort: settings.DEV_TEMPORAL_UI_PORT,
      dir: dataDir,
      postgresUrl: settings.TEMPORAL_POSTGRES_URL ?? database?.url,
      // Once stopping, the server's lines are the shutdown's (with the postgres engine, PostgreSQL often goes first:
      // Ctrl-C reaches it directly, scripts/stack/postgres.ts).
      log: (line) => stopping || process.stdout.write(`[temporal] ${line}\n`),
      detached: true,
    });
    startup = starting;
    temporal = await starting;
    env.TEMPORAL_ADDRESS = temporal.address;
    if (!env.TEMPORAL_UI_URL && temporal.uiUrl) env.TEMPORAL_UI_URL = temporal.uiUrl;
  }
  // Local development: webhook endpoints may be http and on this machine (a receiver on localhost); never in production.
  env.WEBHOOK_ALLOW_PRIVATE_URLS ??= 'true';
  const config = loadConfig(env);
  const applied = await applyMigrations({ databaseUrl: config.DATABASE_URL, migrationsDir });
  say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
  const rekeyed = await rekeyOptOutsAt(config.DATABASE_URL);
  if (rekeyed.optOuts || rekeyed.consentEvents) say(`re-keyed opt-out hashes: ${JSON.stringify(rekeyed)}`);

  let devKey: string | null = null;
  if (embeddedAppDatabase) {
    const db = createDb(config.DATABASE_URL, { maxConnections: 1 });
    devKey = (await ensureDevTenant(db, dataDir, smsMode(config).kind === 'outbox' ? devSenderNumber : null)).apiKey;
    await db.$disconnect();
  }

  startChild('worker', 'worker/index.ts');
  startChild('api', 'api/index.ts');
  const apiUrl = `http://${config.API_HOST}:${config.API_PORT}`;
  await waitForHealth(`${apiUrl}/health`, 60_000);

  const auth = `-H "Authorization: Bearer ${devKey ?? '<your tenant API key>'}"`;
  say(`ready.
  API:          ${apiUrl}   (health: ${apiUrl}/health)
  Temporal UI:  ${temporal && !temporal.uiUrl ? 'none with TEMPORAL_ENGINE=postgres (use the temporal CLI; docs/engines.md)' : config.TEMPORAL_UI_URL}
  Temporal:     ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE})
  SMS mode:     ${config.TWILIO_ACCOUNT_SID ? 'twilio' : 'outbox (messages are recorded, not sent)'}
  Webhooks:     ${config.WEBHOOK_ALLOW_PRIVATE_URLS ? 'WEBHOOK_ALLOW_PRIVATE_URLS=true: endpoints may be http and on localhost or private networks (development only)' : 'https and public addresses only'}
${devKey ? `  Dev API key:  ${devKey}\n` : ''}
  Try it (a lead, a one-step sequence, an enrollment):
    LEAD=$(curl -s ${apiUrl}/v1/leads ${auth} -H 'Content-Type: application/json' -d '{"phone":"07700 900123","firstName":"Ada"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
    SEQ=$(curl -s ${apiUrl}/v1/sequences ${auth} -H 'Content-Type: application/json' -d '{"name":"welcome","steps":[{"delaySeconds":0,"template":"Hi {{firstName}}, thanks for contacting {{businessName}}!"}]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
    curl -s ${apiUrl}/v1/enrollments ${auth} -H 'Content-Type: application/json' -d "{\\"leadId\\":\\"$LEAD\\",\\"sequenceId\\":\\"$SEQ\\"}"
  Press Ctrl-C to stop everything; data stays in .data/.`);
} catch (error) {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`${problem}\n`);
  } else {
    process.stderr.write(`[start] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  await stopAll(1);
}
