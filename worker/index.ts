import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { capacitySettings } from '../common/capacity/settings.js';
import { createSmsSender } from '../activities/sms-sender.js';
import { loadConfigOrExit, shortLinkBaseUrl, smsMode } from '../common/config.js';
import { createDb } from '../common/db.js';
import { createLogger } from '../common/logger.js';
import { repairTenantTimeZones } from '../common/tenant-time-zone.js';
import { freePort } from '../common/free-port.js';
import { createWorkerMetrics, startMetricsServer, type MetricsServer } from '../common/metrics.js';
import { describeTemporalConnection, temporalConnectionOptions } from '../common/temporal-connection.js';
import { createAlertRelay } from './alert-relay.js';
import { createClaimSettler } from './claim-settler.js';
import { routeTemporalLogsToPino } from './logging.js';
import { ensurePurgeSchedule, ensureWeeklyReportSchedules } from './schedules.js';
import { registerSearchAttributes } from './search-attributes.js';
import { createWebhookRelay } from './webhook-relay.js';
import { limitHeapGrowth } from './heap-growth.js';
import { registerThreadHeapGauge } from './thread-heaps.js';
import { createWorker, workerDatabasePoolSize } from './worker.js';

limitHeapGrowth();
const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });

// Metrics: this process's registry, plus the SDK's own exporter on a private loopback port that /metrics proxies.
const metrics = createWorkerMetrics({ defaultMetrics: true });
registerThreadHeapGauge(metrics.registry);
const metricsEnabled = config.WORKER_METRICS_PORT !== 0;
const sdkMetricsAddress = metricsEnabled ? `127.0.0.1:${await freePort()}` : undefined;
routeTemporalLogsToPino(logger, { prometheusBindAddress: sdkMetricsAddress });
let metricsServer: MetricsServer | undefined;
if (metricsEnabled) {
  try {
    metricsServer = await startMetricsServer({
      host: config.WORKER_METRICS_HOST,
      port: config.WORKER_METRICS_PORT,
      metrics,
      sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      logger,
    });
    logger.info({ url: metricsServer.url }, 'worker metrics listening');
  } catch (error) {
    // Sending messages matters more than being scraped: a second local worker on the default port still runs.
    logger.error(
      { err: error, host: config.WORKER_METRICS_HOST, port: config.WORKER_METRICS_PORT },
      'worker metrics server could not listen (set WORKER_METRICS_PORT); running without /metrics',
    );
  }
}

const temporalOptions = temporalConnectionOptions(config);
logger.info(
  { temporal: describeTemporalConnection(temporalOptions), namespace: config.TEMPORAL_NAMESPACE },
  'connecting to Temporal',
);
const connection = await NativeConnection.connect(temporalOptions);
const db = createDb(config.DATABASE_URL, { maxConnections: workerDatabasePoolSize });
// Start-up steps on whatever server this is (dev server, self-hosted, Cloud): all idempotent.
const clientConnection = await Connection.connect(temporalOptions);
const registered = await registerSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
if (registered.length) logger.info({ registered }, 'search attributes registered');
const scheduleClient = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
await ensurePurgeSchedule(scheduleClient, config.TEMPORAL_TASK_QUEUE);
// Tenants created or moved to another zone while no worker ran get their weekly report schedule here (after a zone
// saved under a name PostgreSQL and Temporal do not know is saved under its canonical one). Sending
// matters more: with PostgreSQL down at start the worker runs anyway, and the next start catches up.
await repairTenantTimeZones(db, logger).catch((error: unknown) =>
  logger.error({ err: error }, 'tenant time zones not checked; the next worker start does it'),
);
try {
  const reportSchedules = await ensureWeeklyReportSchedules(scheduleClient, db, config.TEMPORAL_TASK_QUEUE);
  if (reportSchedules.created || reportSchedules.updated) logger.info(reportSchedules, 'weekly report schedules');
} catch (error) {
  logger.error({ err: error }, 'weekly report schedules not checked; the next worker start does it');
}
await clientConnection.close();
const mode = smsMode(config);
const linkBase = shortLinkBaseUrl(config);
if (!linkBase)
  logger.warn(
    { publicBaseUrl: config.PUBLIC_BASE_URL ?? null },
    'PUBLIC_BASE_URL is unset or a loopback address: links in messages go out as they are, untracked (docs/links.md)',
  );
const sender = createSmsSender(mode);
const worker = await createWorker({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
  shutdownGraceSeconds: config.WORKER_SHUTDOWN_GRACE_SECONDS,
  db,
  sender,
  metrics,
  capacity: capacitySettings(config),
  shortLinkBaseUrl: linkBase,
});

// The SDK's runtime stops polling on SIGINT/SIGTERM; activities in flight get WORKER_SHUTDOWN_GRACE_SECONDS to finish,
// then a cancellation and a few seconds more. run() resolves once the worker is drained. The runtime listens for the
// first signal only; these listeners stay, so a second one (Ctrl-C reaches npm and the worker alike) cannot kill the
// process mid-drain.
let signalled = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (signalled) return logger.info({ signal }, 'worker already shutting down');
    signalled = true;
    logger.info(
      { signal, graceSeconds: config.WORKER_SHUTDOWN_GRACE_SECONDS },
      'worker shutting down: polling stops, activities in flight finish',
    );
  });
}
const tenantAlerts = createAlertRelay({ db, logger, allowPrivateUrls: config.WEBHOOK_ALLOW_PRIVATE_URLS });
tenantAlerts.start(5000);
const webhooks = createWebhookRelay({ db, logger, allowPrivateUrls: config.WEBHOOK_ALLOW_PRIVATE_URLS });
webhooks.start(1000);
const claims = createClaimSettler({ db, sender, logger, metrics });
claims.start(60_000);
if (config.WEBHOOK_ALLOW_PRIVATE_URLS)
  logger.warn('WEBHOOK_ALLOW_PRIVATE_URLS is on: webhooks may go to http and private addresses (development only)');
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, smsMode: mode.kind }, 'worker started');
let exitCode = 0;
try {
  await worker.run();
} catch (error) {
  exitCode = 1;
  logger.error({ err: error }, 'worker stopped with an error');
} finally {
  await tenantAlerts.stop();
  await webhooks.stop();
  await claims.stop();
  await metricsServer?.close();
  await db.$disconnect();
  await connection.close();
  logger.info({ exitCode }, 'worker stopped');
}
process.exit(exitCode);
