// Enrolments that send from a tenant's own number, for the sending-capacity tests.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import { capacityHoldOf, capacityHoldOfState, type CapacityHold } from '../../api/capacity-hold.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { globalScope } from '../../common/capacity/pauses.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import type { Db } from '../../common/db.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { statusQuery } from '../../workflows/lead-follow-up.messages.js';
import { anytimeSettings, createTenant } from './fixtures.js';
import type { CreateCall, TwilioFake } from './twilio-fake.js';

/** A number nobody else in the suite sends from: its warm-up and rate are this test's alone. */
export const freshSendingNumber = () => `+1500${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;

/** A tenant sending from `sender`, with `count` leads enrolled (through the batch API) in a one-step sequence. */
export async function enrollFromNumber(
  app: Express,
  db: Db,
  args: { sender: string; count: number; tenant?: Partial<Prisma.TenantCreateInput> },
) {
  const { tenant, auth } = await createTenant(db, { ...anytimeSettings, ...args.tenant });
  await db.tenantSender.create({ data: { tenantId: tenant.id, value: args.sender } });
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({
      name: `seq-${randomUUID()}`,
      steps: [{ delaySeconds: 0, template: 'Hi {{firstName}}, thanks for your enquiry' }],
    });
  expect(sequence.status).toBe(201);
  const first = Math.floor(Math.random() * 90_000);
  const leads = Array.from({ length: args.count }, (_, i) => ({
    phone: `+4477009${String(first + i).padStart(5, '0')}`,
    firstName: `Lead${i}`,
  }));
  const batch = await request(app)
    .post('/v1/enrollments/batch')
    .set(auth)
    .send({ sequenceId: sequence.body.id, leads });
  expect(batch.status).toBe(200);
  expect(batch.body.summary).toEqual({ enrolled: args.count });
  const enrollments = (batch.body.results as { enrollmentId: string; workflowId: string; phone: string }[]).map(
    ({ enrollmentId, workflowId, phone }) => ({ id: enrollmentId, workflowId, phone }),
  );
  return { tenant, auth, enrollments };
}

/** The create calls from `sender` that created a message, in the order the fake received them. */
export const createsFrom = (fake: TwilioFake, sender: string): CreateCall[] =>
  fake.calls.filter((call) => call.from === sender && call.outcome === 'created');

/** What a running enrollment's send waits for: the workflow's own hold (runs from before the gate: the pending activity's last failure). */
export async function capacityWaitOf(temporal: Client, workflowId: string): Promise<CapacityHold | null> {
  const handle = temporal.workflow.getHandle(workflowId);
  const { hold } = await handle.query(statusQuery);
  if (hold) return capacityHoldOfState(hold);
  return capacityHoldOf((await handle.describe()).raw.pendingActivities);
}

/**
 * Runs `section` holding the suite-wide lock on the global kill switch: test files run in parallel on one database,
 * and one file's resume must not end another's global pause mid-check. The switch is off again afterwards.
 */
export async function withGlobalSwitch<T>(db: Db, section: () => Promise<T>): Promise<T> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${globalSwitchLock})`;
      try {
        return await section();
      } finally {
        await db.sendingPause.deleteMany({ where: { scope: globalScope } });
      }
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
}

const globalSwitchLock = 604_2026;

/**
 * Pending messages of one tenant from a new number, as rows, and their reservations through the capacity gate (limits
 * out of the way, so every one is granted): for tests of what happens to reserved counts.
 */
export function sendsFromNewNumber(db: Db, tenantId: string) {
  const sender = freshSendingNumber();
  const gate = createCapacityGate({ db, settings: roomyCapacity });
  return {
    sender,
    pendingMessage: (lead: { id: string; phone: string }, enrollmentId: string | null = null) =>
      db.message.create({
        data: {
          tenantId,
          leadId: lead.id,
          enrollmentId,
          direction: 'outbound',
          toPhone: lead.phone,
          fromPhone: sender,
          body: 'Hi',
          status: 'pending',
          idempotencyKey: randomUUID(),
        },
      }),
    async reserve(messageId: string, cost: string): Promise<void> {
      const decision = await gate.reserve({ messageId, tenantId, sender, cost, appointment: false, previous: [] });
      expect(decision.ok).toBe(true);
    },
  };
}
