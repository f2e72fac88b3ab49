import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit, smsMode } from '../common/config.js';
import { createDb } from '../common/db.js';
import { createLogger } from '../common/logger.js';
import { createApp } from './app.js';
import { createSignalRelay } from './signal-relay.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
// Lazy: the API starts (and /health reports it) even while Temporal is down.
const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
const db = createDb(config.DATABASE_URL);
const signalRelay = createSignalRelay({ db, temporal, logger });
signalRelay.start();
const app = createApp({
  db,
  temporal,
  logger,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  temporalUiUrl: config.TEMPORAL_UI_URL,
  smsMode: smsMode(config).kind,
  signalRelay,
  twilioAuthToken: config.TWILIO_AUTH_TOKEN,
  publicBaseUrl: config.PUBLIC_BASE_URL,
});

const server = app.listen(config.API_PORT, config.API_HOST, () => {
  logger.info({ url: `http://${config.API_HOST}:${config.API_PORT}` }, 'API listening');
});

// Stop accepting, let requests in flight finish, then release the database and Temporal connections.
const shutdown = (signal: string) => {
  logger.info({ signal }, 'API shutting down');
  signalRelay.stop();
  server.close(async () => {
    await db.$disconnect();
    await connection.close();
    process.exit(0);
  });
  server.closeIdleConnections();
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
