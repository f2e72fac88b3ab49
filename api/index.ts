import { Client, Connection } from '@temporalio/client';
import { capacitySettings } from '../common/capacity/settings.js';
import { defaultSenderOf, loadConfigOrExit, shortLinkBaseUrl, smsMode } from '../common/config.js';
import { createDb } from '../common/db.js';
import { createLogger } from '../common/logger.js';
import { createApiMetrics } from '../common/metrics.js';
import { describeTemporalConnection, temporalConnectionOptions } from '../common/temporal-connection.js';
import { createApp } from './app.js';
import { createClaimSweeper } from './claim-sweeper.js';
import { createSignalRelay } from './signal-relay.js';
import { createInboundSpool } from './webhooks/inbound-spool.js';

const config = loadConfigOrExit();
const mode = smsMode(config);
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
const temporalOptions = temporalConnectionOptions(config);
logger.info(
  { temporal: describeTemporalConnection(temporalOptions), namespace: config.TEMPORAL_NAMESPACE },
  'Temporal connection',
);
// Lazy: the API starts (and /health reports it) even while Temporal is down.
const connection = Connection.lazy(temporalOptions);
const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
const db = createDb(config.DATABASE_URL);
const signalRelay = createSignalRelay({ db, temporal, logger });
signalRelay.start(2000);
const claimSweeper = createClaimSweeper({ db, temporal, logger });
claimSweeper.start(60_000);
const metrics = createApiMetrics({ defaultMetrics: true });
const inboundSpool = createInboundSpool({
  dir: config.INBOUND_SPOOL_DIR,
  db,
  logger,
  signalRelay,
  options: { sharedSenders: [defaultSenderOf(mode)], shortLinkBaseUrl: shortLinkBaseUrl(config) },
  metrics,
});
inboundSpool.start(2000);
const app = createApp({
  db,
  temporal,
  logger,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  temporalUiUrl: config.TEMPORAL_UI_URL,
  smsMode: mode.kind,
  signalRelay,
  inboundSpool,
  twilioAuthToken: config.TWILIO_AUTH_TOKEN,
  publicBaseUrl: config.PUBLIC_BASE_URL,
  shortLinkBaseUrl: shortLinkBaseUrl(config),
  metrics,
  requestsPerMinute: config.API_RATE_LIMIT_PER_MINUTE,
  capacity: capacitySettings(config),
  defaultSender: defaultSenderOf(mode),
  operatorApiKey: config.OPERATOR_API_KEY,
  allowPrivateWebhookUrls: config.WEBHOOK_ALLOW_PRIVATE_URLS,
  trustProxy: config.TRUST_PROXY,
});

const server = app.listen(config.API_PORT, config.API_HOST, () => {
  logger.info({ url: `http://${config.API_HOST}:${config.API_PORT}` }, 'API listening');
});

let stopping = false;
// A keep-alive client is told to reconnect (and so finds the next instance) instead of reusing this connection.
server.on('request', (_req, res) => {
  if (stopping) res.setHeader('Connection', 'close');
});

/**
 * Stop accepting, let requests in flight finish, then release the database and Temporal connections and exit 0.
 * Requests still running after API_SHUTDOWN_GRACE_SECONDS are cut off and the process exits 1.
 */
function shutdown(signal: string): void {
  if (stopping) {
    logger.info({ signal }, 'API already shutting down');
    return;
  }
  stopping = true;
  const graceMs = config.API_SHUTDOWN_GRACE_SECONDS * 1000;
  logger.info(
    { signal, graceSeconds: config.API_SHUTDOWN_GRACE_SECONDS },
    'API shutting down: no new connections, requests in flight finish',
  );
  void signalRelay.stop();
  void claimSweeper.stop();
  void inboundSpool.stop();
  // A keep-alive connection whose request finishes becomes idle: close it then, so server.close() can complete.
  const sweep = setInterval(() => server.closeIdleConnections(), 200);
  const deadline = setTimeout(() => {
    logger.error(
      { graceSeconds: config.API_SHUTDOWN_GRACE_SECONDS },
      'API shutdown grace time over: requests still in flight are cut off',
    );
    server.closeAllConnections();
    process.exit(1);
  }, graceMs);
  server.close((error) => {
    void (async () => {
      let code = error ? 1 : 0;
      if (error) logger.error({ err: error }, 'API server did not close cleanly');
      try {
        await db.$disconnect();
        await connection.close();
      } catch (closeError) {
        code = 1;
        logger.error({ err: closeError }, 'API connections did not close cleanly');
      }
      clearTimeout(deadline);
      clearInterval(sweep);
      logger.info({ exitCode: code }, 'API stopped');
      process.exit(code);
    })();
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
