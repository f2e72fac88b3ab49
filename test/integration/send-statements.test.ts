// What one first-attempt send costs PostgreSQL, statement by statement: every statement is worker CPU and a round trip,
// and the ones inside the send gate's transaction hold the conversation's lock (docs/benchmarks.md, issue 15).
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createSendGate } from '../../activities/send-gate.js';
import { createSendStepMessage } from '../../activities/send-step-message.js';
import { createTwilioSender } from '../../activities/sms-sender.js';
import { createTwilioClient } from '../../activities/twilio-client.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { createDb } from '../../common/db.js';
import { anytimeSettings, createTenant, enrolledLead } from '../support/fixtures.js';
import { startTwilioFake, type TwilioFake } from '../support/twilio-fake.js';

const statements: string[] = [];
const db = createDb(inject('databaseUrl'), {
  maxConnections: 2,
  onStatement: (sql) => statements.push(sql.replace(/\s+/g, ' ').trim()),
});
let fake: TwilioFake;

beforeAll(async () => {
  fake = await startTwilioFake();
});
afterAll(async () => {
  await Promise.all([fake.close(), db.$disconnect()]);
});

async function firstSend(): Promise<string[]> {
  const client = createTwilioClient({
    accountSid: `AC${'3'.repeat(32)}`,
    authToken: 'test-auth-token-0123456789',
    apiBaseUrl: fake.url,
    timeoutMs: 2000,
  });
  const sendStepMessage = createSendStepMessage({
    db,
    sender: createTwilioSender(client, { from: '+15005550006' }),
    capacity: createCapacityGate({ db, settings: roomyCapacity }),
    gate: createSendGate({ db }),
  });
  const { tenant } = await createTenant(db, anytimeSettings);
  const { lead, enrollment } = await enrolledLead(db, tenant.id, { lead: { firstName: 'Ada' } });
  statements.length = 0;
  const result = await new MockActivityEnvironment({ attempt: 1 }).run(sendStepMessage, {
    tenantId: tenant.id,
    leadId: lead.id,
    enrollmentId: enrollment.id,
    step: 0,
    template: 'Hi {{firstName}}',
    notAfter: new Date(Date.now() + 3_600_000).toISOString(),
  });
  expect(result).toMatchObject({ outcome: 'sent' });
  return [...statements];
}

it("holds the conversation's lock for one read and the claim: the gate's whole say in one statement", async () => {
  const sent = await firstSend();
  const lock = sent.findIndex((statement) => statement.includes('pg_advisory_xact_lock'));
  expect(lock).toBeGreaterThan(-1);
  const end = sent.findIndex((statement, index) => index > lock && statement === 'COMMIT');
  const underLock = sent.slice(lock + 1, end);
  expect(underLock).toHaveLength(2);
  expect(underLock[0]).toMatch(/FROM messages m LEFT JOIN enrollments e/);
  expect(underLock[1]).toMatch(/^UPDATE "public"."messages" SET "claimed_attempt"/);
});

it("sends a step in a bounded number of statements (30, leaving out BEGIN, with the row written under the lead's share lock so an erasure cannot slip between the lead's read and the row, and the SID's record looking under the SID's lock for status callbacks that came first; 39 before the gate read its facts at once and an event took one statement, 33 before the reservation locked its message first, 34 before the capacity gate read its pause, number and budgets at once, 30 before the variant read only its step, 29 before a throughput slot took one statement, 27 while a sent message's count locked again what its event had locked)", async () => {
  const sent = await firstSend();
  expect(sent.length).toBeLessThanOrEqual(30);
  // One event per send, its counter bumped in the same statement that writes it.
  expect(sent.filter((statement) => statement.includes('INSERT INTO events'))).toHaveLength(1);
  expect(sent.filter((statement) => /INSERT INTO event_counters .* VALUES/.test(statement))).toHaveLength(1);
  // A slot of the number's window and one of the tenant's: one upsert each.
  expect(sent.filter((statement) => statement.startsWith('INSERT INTO "rate_limit_windows"'))).toHaveLength(2);
});
