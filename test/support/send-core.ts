// The send activities alone, as the worker builds them, against the suite's PostgreSQL and a loopback Twilio fake.
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createReminderActivities } from '../../activities/reminders.js';
import { createSendGate } from '../../activities/send-gate.js';
import { createSendStepMessage } from '../../activities/send-step-message.js';
import { createTwilioSender, type SmsSender } from '../../activities/sms-sender.js';
import { createTwilioClient } from '../../activities/twilio-client.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import type { Db } from '../../common/db.js';
import { testDb } from './fixtures.js';
import { startTwilioFake, type TwilioFake } from './twilio-fake.js';

export interface SendCore {
  db: Db;
  fake: TwilioFake;
  /** The real twilio client's sender, aimed at the fake. */
  sender: SmsSender;
  sendStepMessage: ReturnType<typeof createSendStepMessage>;
  sendAppointmentMessage: ReturnType<typeof createReminderActivities>['sendAppointmentMessage'];
  recordAppointmentProgress: ReturnType<typeof createReminderActivities>['recordAppointmentProgress'];
  recordAcceptedChange: ReturnType<typeof createReminderActivities>['recordAcceptedChange'];
}

/** One per test file, the fake reset before each test; `twilioTimeoutMs` bounds twilio-node's wait for an answer. */
export function sendCoreForFile({ twilioTimeoutMs }: { twilioTimeoutMs: number }): SendCore {
  const core = {} as SendCore;
  beforeAll(async () => {
    const db = testDb();
    const fake = await startTwilioFake();
    const client = createTwilioClient({
      accountSid: `AC${'2'.repeat(32)}`,
      authToken: 'test-auth-token-0123456789',
      apiBaseUrl: fake.url,
      timeoutMs: twilioTimeoutMs,
    });
    const sender = createTwilioSender(client, { from: '+15005550006' });
    const deps = {
      db,
      sender,
      capacity: createCapacityGate({ db, settings: roomyCapacity }),
      gate: createSendGate({ db }),
    };
    Object.assign(core, {
      db,
      fake,
      sender,
      sendStepMessage: createSendStepMessage(deps),
      ...(({ sendAppointmentMessage, recordAppointmentProgress, recordAcceptedChange }) => ({
        sendAppointmentMessage,
        recordAppointmentProgress,
        recordAcceptedChange,
      }))(createReminderActivities(deps)),
    });
  });
  afterAll(async () => {
    await Promise.all([core.fake?.close(), core.db?.$disconnect()]);
  });
  beforeEach(() => core.fake.reset());
  return core;
}
