import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { roomyCapacity, type CapacitySettings } from '../../common/capacity/settings.js';
import { createSmsSender } from '../../activities/sms-sender.js';
import { createApp, type AppDeps } from '../../api/app.js';
import { createSignalRelay, type SignalRelay } from '../../api/signal-relay.js';
import { createInboundSpool } from '../../api/webhooks/inbound-spool.js';
import type { Db } from '../../common/db.js';
import { createWorker } from '../../worker/worker.js';
import { testDb } from './fixtures.js';
import { startTwilioFake, type TwilioFake } from './twilio-fake.js';

export const testAuthToken = 'test-auth-token-0123456789';
export const testSenderNumber = '+15005550006';
/** What Twilio would call: the tests sign for this public URL, as a proxy in front of the API would have it. */
export const testPublicBaseUrl = 'https://sms.example.com';

export const testAccountSid = `AC${'1'.repeat(32)}`;

/** The settings a worker process needs to send through the real twilio client to the loopback fake. */
export function twilioFakeEnv(fakeUrl: string): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: testAccountSid,
    TWILIO_AUTH_TOKEN: testAuthToken,
    TWILIO_FROM_NUMBER: testSenderNumber,
    TWILIO_API_BASE_URL: fakeUrl,
  };
}

/** The API app's dependencies as production wires them, for a test's database, Temporal client and task queue. */
export function testAppDeps(db: Db, temporal: Client, taskQueue: string, extra: Partial<AppDeps> = {}): AppDeps {
  const logger = extra.logger ?? pino({ level: 'silent' });
  const signalRelay = extra.signalRelay ?? createSignalRelay({ db, temporal, logger });
  return {
    db,
    temporal,
    logger,
    taskQueue,
    temporalUiUrl: 'http://127.0.0.1:8233',
    smsMode: 'twilio',
    signalRelay,
    inboundSpool: createInboundSpool({
      dir: join(tmpdir(), `inbound-spool-${randomUUID()}`),
      db,
      logger,
      signalRelay,
      options: { sharedSenders: [testSenderNumber] },
    }),
    twilioAuthToken: testAuthToken,
    publicBaseUrl: testPublicBaseUrl,
    capacity: roomyCapacity,
    defaultSender: testSenderNumber,
    ...extra,
  };
}

export interface TestStack {
  db: Db;
  fake: TwilioFake;
  client: Client;
  app: ReturnType<typeof createApp>;
  /** What the app was built from, to build variants (another public URL, say). */
  deps: AppDeps;
  taskQueue: string;
  connection: Connection;
  stop(): Promise<void>;
}

/**
 * The service wired as in production, in this process: a worker on its own task queue, the API app with its signal
 * relay, the real twilio client aimed at a loopback fake, and the test PostgreSQL. By default on the suite's shared
 * dev server; a test that stops Temporal passes a server of its own.
 */
export async function startTestStack(
  options: {
    temporalAddress?: string;
    capacity?: CapacitySettings;
    clock?: () => Date;
    signalRelay?: 'on' | 'held';
    /** Tracked short links on the test public URL (off by default: messages carry their URLs as they are). */
    shortLinks?: boolean;
  } = {},
): Promise<TestStack> {
  const address = options.temporalAddress ?? inject('temporalAddress');
  const db = testDb();
  const fake = await startTwilioFake();
  const taskQueue = `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const sender = createSmsSender({
    kind: 'twilio',
    accountSid: testAccountSid,
    authToken: testAuthToken,
    sender: { from: testSenderNumber },
    apiBaseUrl: fake.url,
  });
  const worker: Worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    db,
    sender,
    capacity: options.capacity ?? roomyCapacity,
    clock: options.clock,
    ...(options.shortLinks ? { shortLinkBaseUrl: testPublicBaseUrl } : {}),
  });
  const workerRun = worker.run();
  const client = new Client({ connection, namespace: 'default' });
  // A held relay queues every signal and delivers none: what the workflows hear only through the send gate.
  const heldRelay: SignalRelay = { deliver: async () => {}, start: () => {}, stop: async () => {} };
  const deps = testAppDeps(db, client, taskQueue, {
    capacity: options.capacity ?? roomyCapacity,
    ...(options.shortLinks ? { shortLinkBaseUrl: testPublicBaseUrl } : {}),
    ...(options.signalRelay === 'held' ? { signalRelay: heldRelay } : {}),
  });
  const { signalRelay } = deps;
  signalRelay.start(250);
  return {
    db,
    fake,
    client,
    app: createApp(deps),
    deps,
    taskQueue,
    connection,
    async stop() {
      await signalRelay.stop();
      worker.shutdown();
      await workerRun;
      await Promise.all([nativeConnection.close(), connection.close(), fake.close(), db.$disconnect()]);
    },
  };
}

/** A test file's one stack, started before its tests and stopped after them; read its fields inside the tests. */
export function stackForFile(options: Parameters<typeof startTestStack>[0] = {}): TestStack {
  const stack = {} as TestStack;
  beforeAll(async () => {
    Object.assign(stack, await startTestStack(options));
  });
  afterAll(() => stack.stop?.());
  return stack;
}
