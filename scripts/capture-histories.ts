// Captures real histories of every workflow type from a throwaway dev server into test/histories/<workflowType>/,
// personal data redacted. The replay test replays each one against the current workflow code.
//   npm run capture:histories            (all scenarios; existing files are kept unless --overwrite)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { roomyCapacity } from '../common/capacity/settings.js';
import { createSmsSender } from '../activities/sms-sender.js';
import { createDb } from '../common/db.js';
import { appointmentReminderWorkflowType } from '../workflows/appointment-reminder.messages.js';
import { purgeProcessedWebhooksWorkflowType } from '../workflows/purge-processed-webhooks.js';
import { weeklyReportWorkflowType } from '../workflows/weekly-report.js';
import { createWorker } from '../worker/worker.js';
import { applyMigrations } from './db/schema-engine.js';
import { appointmentReminderScenarios } from './histories/appointment-reminder-scenarios.js';
import { leadFollowUpScenarios, scenarioLeadName, type Scenario } from './histories/lead-follow-up-scenarios.js';
import { redactHistory } from './histories/redact.js';
import { dataDir, migrationsDir, projectRoot, temporalCliPath } from './stack/paths.js';
import { freePort } from '../common/free-port.js';
import { startEmbeddedPostgres } from './stack/postgres.js';
import { startDevServer } from './stack/temporal.js';

const scenariosByType: Record<string, Scenario[]> = {
  leadFollowUp: leadFollowUpScenarios,
  [appointmentReminderWorkflowType]: appointmentReminderScenarios,
  [purgeProcessedWebhooksWorkflowType]: [
    {
      name: 'completed',
      async run({ client, taskQueue }) {
        const handle = await client.workflow.start(purgeProcessedWebhooksWorkflowType, {
          taskQueue,
          workflowId: 'purge-history-capture',
          args: [],
        });
        await handle.result();
        return handle.workflowId;
      },
    },
  ],
  [weeklyReportWorkflowType]: [
    {
      name: 'completed',
      async run({ client, db, taskQueue }) {
        const tenant = await db.tenant.create({ data: { name: 'history-capture', businessName: 'Acme Dental' } });
        const handle = await client.workflow.start(weeklyReportWorkflowType, {
          taskQueue,
          workflowId: `weekly-report:${tenant.id}`,
          args: [{ tenantId: tenant.id }],
        });
        await handle.result();
        return handle.workflowId;
      },
    },
  ],
};

const overwrite = process.argv.includes('--overwrite');
// Inside the data folder: PostgreSQL runs as its own OS user and must be able to reach the directory.
const scratch = path.join(dataDir, `capture-${process.pid}`);
const [postgresPort, temporalPort] = await Promise.all([freePort(), freePort()]);
const [database, server] = await Promise.all([
  startEmbeddedPostgres({ dir: path.join(scratch, 'pg'), port: postgresPort, database: 'capture' }),
  // A run held for long continues as new well before Temporal's own suggestion: here after 100 events, so a capture
  // sees it within a minute.
  startDevServer({
    port: temporalPort,
    extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=100'],
  }),
]);
const db = createDb(database.url);
const nativeConnection = await NativeConnection.connect({ address: server.address });
const connection = await Connection.connect({ address: server.address });
try {
  await applyMigrations({ databaseUrl: database.url, migrationsDir });
  const taskQueue = 'capture';
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    db,
    sender: createSmsSender({ kind: 'outbox' }),
    capacity: roomyCapacity,
  });
  const client = new Client({ connection });
  await worker.runUntil(async () => {
    for (const [workflowType, scenarios] of Object.entries(scenariosByType)) {
      const dir = path.join(projectRoot, 'test', 'histories', workflowType);
      mkdirSync(dir, { recursive: true });
      for (const scenario of scenarios) {
        const file = path.join(dir, `${scenario.name}.json`);
        if (existsSync(file) && !overwrite) continue;
        const captured = await scenario.run({ client, db, taskQueue });
        const run = typeof captured === 'string' ? { workflowId: captured } : captured;
        // The CLI writes the same proto JSON `temporal workflow show --output json` gives operators in production.
        const history = execFileSync(
          temporalCliPath,
          [
            'workflow',
            'show',
            '--workflow-id',
            run.workflowId,
            ...('runId' in run ? ['--run-id', run.runId] : []),
            ...['--output', 'json', '--address', server.address],
          ],
          { encoding: 'utf8' },
        );
        writeFileSync(file, redactHistory(history, [scenarioLeadName]));
        process.stdout.write(
          `captured ${path.relative(projectRoot, file)} (${(JSON.parse(history) as { events: unknown[] }).events.length} events)\n`,
        );
      }
    }
    // Runs still sleeping were captured mid-flight; end them so the worker can stop.
    for await (const run of client.workflow.list({ query: 'ExecutionStatus = "Running"' }))
      await client.workflow.getHandle(run.workflowId).terminate('capture finished');
  });
} finally {
  await Promise.all([nativeConnection.close(), connection.close(), db.$disconnect()]);
  await server.stop();
  await database.stop();
  rmSync(scratch, { recursive: true, force: true });
}
