import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createSmsSender } from '../activities/sms-sender.js';
import { loadConfigOrExit, smsMode } from '../common/config.js';
import { createDb } from '../common/db.js';
import { createLogger } from '../common/logger.js';
import { routeTemporalLogsToPino } from './logging.js';
import { ensurePurgeSchedule } from './schedules.js';
import { registerSearchAttributes } from './search-attributes.js';
import { createWorker } from './worker.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
routeTemporalLogsToPino(logger);

const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
// Start-up steps on whatever server this is (dev server, self-hosted, Cloud): both are idempotent.
const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
const registered = await registerSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
if (registered.length) logger.info({ registered }, 'search attributes registered');
await ensurePurgeSchedule(new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE }), config.TEMPORAL_TASK_QUEUE);
await clientConnection.close();
const db = createDb(config.DATABASE_URL);
const mode = smsMode(config);
// The SDK stops polling on SIGINT/SIGTERM and lets in-flight activities finish; run() resolves after that.
const worker = await createWorker({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
  db,
  sender: createSmsSender(mode),
});
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, smsMode: mode.kind }, 'worker started');
try {
  await worker.run();
} finally {
  await db.$disconnect();
  await connection.close();
  logger.info('worker stopped');
}
