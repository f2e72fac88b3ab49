// A person who replies, books or has their appointment moved or cancelled never gets one more automated message, even
// while the message is held for sending capacity or the signal telling the workflow has not arrived: the send gate
// sees the fact in PostgreSQL, and a held send ends within seconds of the webhook's answer.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../api/app.js';
import { createSignalRelay } from '../../api/signal-relay.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { Prisma } from '../../generated/prisma/client.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { startTestStack, testAppDeps, type TestStack } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tenant sending from a number of its own, a lead, and an enrollment in a one-step sequence after `delaySeconds`. */
async function enrolled(
  running: TestStack,
  tenantSettings: Partial<Prisma.TenantCreateInput> = {},
  delaySeconds = 0,
  beforeEnrolling?: (tenantId: string) => Promise<unknown>,
) {
  const { tenant, auth } = await createTenant(running.db, { ...anytimeSettings, ...tenantSettings });
  await beforeEnrolling?.(tenant.id);
  const sender = randomSenderNumber();
  await running.db.tenantSender.create({ data: { tenantId: tenant.id, value: sender } });
  const phone = randomUkMobile().e164;
  const lead = await request(running.app).post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
  const sequence = await request(running.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds, template: 'Hi {{firstName}}, still interested?' }] });
  const enrollment = await request(running.app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  return { tenant, auth, sender, phone, leadId: lead.body.id as string, enrollmentId: enrollment.body.id as string };
}

/**
 * Once the run has recorded its start: a halt before it is read there and ends the run at once (halted-before-start),
 * so what these tests look at, the send gate refusing the step, needs the halt after it.
 */
const startRecorded = (running: TestStack, enrollmentId: string) =>
  until(
    () =>
      running.db.event.findFirst({
        where: { type: 'enrollment.started', data: { path: ['enrollmentId'], equals: enrollmentId } },
      }),
    'the run to record its start',
  );

const heldRow = (running: TestStack, enrollmentId: string) =>
  running.db.message.findFirst({ where: { enrollmentId, heldReason: { not: null } } });

/** Replies while the step is held, and answers how long the enrollment's row took to close after the webhook's 200. */
async function replyAndTimeTheClose(running: TestStack, lead: Awaited<ReturnType<typeof enrolled>>) {
  const answer = await inbound(running.app, { From: lead.phone, To: lead.sender, Body: 'Yes, call me tomorrow' });
  expect(answer.status).toBe(200);
  const answeredAt = Date.now();
  await until(
    async () =>
      (await running.db.enrollment.findFirst({ where: { id: lead.enrollmentId, status: 'replied' } })) ?? null,
    'the enrollment to close as replied',
  );
  return Date.now() - answeredAt;
}

describe('a reply ends a follow-up whose next send is held for sending capacity', () => {
  it('held by the kill switch: the enrollment closes within 5 s of the webhook, the held row closes skipped, and nothing goes out after the resume', async () => {
    stack = await startTestStack({ capacity: { ...roomyCapacity, killSwitchRecheckSeconds: 60 } });
    const running = stack;
    const lead = await enrolled(running, {}, 0, (tenantId) =>
      pauseSending(running.db, { scope: tenantId, actor: 'test' }),
    );
    await until(() => heldRow(running, lead.enrollmentId), 'the step to be held');

    const closeMs = await replyAndTimeTheClose(running, lead);
    process.stdout.write(`reply → closed row, held by the kill switch: ${closeMs} ms\n`);
    expect(closeMs).toBeLessThanOrEqual(5000);
    expect(await running.db.message.findFirstOrThrow({ where: { enrollmentId: lead.enrollmentId } })).toMatchObject({
      status: 'skipped',
      skipReason: 'replied',
      reservation: null,
    });

    await resumeSending(running.db, { scope: lead.tenant.id, actor: 'test' });
    await sleep(2500);
    expect(running.fake.createCallsTo(lead.phone)).toBe(0);
  });

  it('held by a spent daily budget: the same, and the budget is not charged', async () => {
    stack = await startTestStack({ capacity: { ...roomyCapacity, costPerSegment: '0.01', recheckSeconds: 60 } });
    const running = stack;
    const lead = await enrolled(running, { dailyBudget: new Prisma.Decimal('0.001') });
    const held = await until(() => heldRow(running, lead.enrollmentId), 'the step to be held');
    expect(held.heldReason).toBe('budget_daily');

    const closeMs = await replyAndTimeTheClose(running, lead);
    process.stdout.write(`reply → closed row, held by a spent budget: ${closeMs} ms\n`);
    expect(closeMs).toBeLessThanOrEqual(5000);
    expect(await running.db.message.findFirstOrThrow({ where: { enrollmentId: lead.enrollmentId } })).toMatchObject({
      status: 'skipped',
      skipReason: 'replied',
    });
    const charged = await running.db.capacityUsage.findMany({ where: { scope: `budget_daily:${lead.tenant.id}` } });
    expect(charged.every((usage) => usage.used.isZero())).toBe(true);
    await running.db.tenant.update({ where: { id: lead.tenant.id }, data: { dailyBudget: null } });
    await sleep(2500);
    expect(running.fake.createCallsTo(lead.phone)).toBe(0);
  });
});

describe('the send gate sees what the workflow has not heard yet', () => {
  it('a reply whose signal is held back in the relay while the step’s timer fires: no message, and the follow-up ends as replied', async () => {
    stack = await startTestStack({ signalRelay: 'held' });
    const running = stack;
    const lead = await enrolled(running, {}, 3);
    await startRecorded(running, lead.enrollmentId);
    expect(
      (await inbound(running.app, { From: lead.phone, To: lead.sender, Body: 'Thanks, already sorted' })).status,
    ).toBe(200);
    expect(await running.db.pendingSignal.count({ where: { tenantId: lead.tenant.id } })).toBe(1);

    await until(
      async () =>
        (await running.db.enrollment.findFirst({ where: { id: lead.enrollmentId, status: { not: 'running' } } })) ??
        null,
      'the enrollment to close',
    );
    expect(await running.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
      status: 'replied',
      haltedBy: 'replied',
    });
    expect(await running.db.message.findFirstOrThrow({ where: { enrollmentId: lead.enrollmentId } })).toMatchObject({
      status: 'skipped',
      skipReason: 'replied',
    });
    expect(running.fake.createCallsTo(lead.phone)).toBe(0);
  });

  it('a reply’s signal delivered only after its enrollment closed does not end the lead’s next enrollment', async () => {
    stack = await startTestStack({ signalRelay: 'held' });
    const running = stack;
    const lead = await enrolled(running, {}, 3);
    expect((await inbound(running.app, { From: lead.phone, To: lead.sender, Body: 'Sorted, thanks' })).status).toBe(
      200,
    );
    await until(
      async () =>
        (await running.db.enrollment.findFirst({ where: { id: lead.enrollmentId, status: 'replied' } })) ?? null,
      'the first enrollment to close as replied through the send gate',
    );
    // The lead is enrolled again (same workflow ID, a new run) while the reply's signal is still queued.
    const sequence = await request(running.app)
      .post('/v1/sequences')
      .set(lead.auth)
      .send({ name: `again-${randomUUID()}`, steps: [{ delaySeconds: 3600, template: 'Anything else?' }] });
    const again = await request(running.app)
      .post('/v1/enrollments')
      .set(lead.auth)
      .send({ leadId: lead.leadId, sequenceId: sequence.body.id });
    expect(again.status).toBe(202);
    const queued = await running.db.pendingSignal.findMany({ where: { tenantId: lead.tenant.id } });
    const relay = createSignalRelay({ db: running.db, temporal: running.client, logger: pino({ level: 'silent' }) });
    await relay.deliver(
      queued.map((row) => row.id),
      10_000,
    );
    expect(await running.db.pendingSignal.count({ where: { tenantId: lead.tenant.id } })).toBe(0);
    await sleep(1000);
    const live = await request(running.app).get(`/v1/enrollments/${again.body.id}?live=true`).set(lead.auth);
    expect(live.body).toMatchObject({ status: 'running', live: { status: 'running' } });
    // The signal named the enrollment it was queued for, which the new run is not.
    expect(queued.map((row) => row.payload)).toEqual([expect.objectContaining({ enrollmentId: lead.enrollmentId })]);
  });

  it('a booking by leadId ends the lead’s running follow-up as booked before its step goes out', async () => {
    stack = await startTestStack();
    const running = stack;
    const lead = await enrolled(running, {}, 4);
    const booking = await request(running.app)
      .post('/v1/appointments')
      .set(lead.auth)
      .send({
        leadId: lead.leadId,
        startsAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
        reminderOffsetsSeconds: [86_400],
      });
    expect(booking.status).toBe(201);
    await until(
      async () =>
        (await running.db.enrollment.findFirst({ where: { id: lead.enrollmentId, status: 'booked' } })) ?? null,
      'the follow-up to end as booked',
    );
    await sleep(5000); // past the step's delay
    const bodies = running.fake.calls
      .filter((call) => call.to === lead.phone && call.outcome === 'created')
      .map((call) => call.body);
    expect(bodies).toEqual([expect.stringMatching(/your appointment is booked/)]);
  });

  it('a booking halts the lead’s follow-ups before its 201, whenever the appointment’s workflow gets to run', async () => {
    stack = await startTestStack();
    const running = stack;
    const lead = await enrolled(running, {}, 3);
    await startRecorded(running, lead.enrollmentId);
    // No worker polls this queue: the appointment's run records nothing, as with a worker far behind or restarting.
    const unpolledApp = createApp(testAppDeps(running.db, running.client, `unpolled-${randomUUID()}`));
    const booking = await request(unpolledApp)
      .post('/v1/appointments')
      .set(lead.auth)
      .send({ leadId: lead.leadId, startsAt: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    expect(booking.status).toBe(201);
    expect(await running.db.enrollment.findUniqueOrThrow({ where: { id: lead.enrollmentId } })).toMatchObject({
      status: 'running',
      haltedBy: 'booked',
      haltedAt: expect.any(Date),
    });
    expect(
      await running.db.event.count({
        where: {
          leadId: lead.leadId,
          type: 'appointment.scheduled',
          data: { path: ['appointmentId'], equals: booking.body.id },
        },
      }),
    ).toBe(1);
    // Its step comes due 3 s after the enrollment, and the send gate refuses it.
    const refused = await until(
      () => running.db.message.findFirst({ where: { enrollmentId: lead.enrollmentId, status: 'skipped' } }),
      'the step to be refused',
    );
    expect(refused.skipReason).toBe('booked');
    expect(running.fake.createCallsTo(lead.phone)).toBe(0);
  });
});

describe('an appointment moved or cancelled while its reminder is held', () => {
  /** Booked with its confirmation sent, then sending paused, and the reminder (due in a few seconds) held. */
  async function reminderHeld(running: TestStack, tenantSettings: Partial<Prisma.TenantCreateInput> = {}) {
    const lead = await enrolled(running, tenantSettings, 3600);
    const startsAt = new Date(Date.now() + 120_000).toISOString();
    const booking = await request(running.app)
      .post('/v1/appointments')
      .set(lead.auth)
      .send({ leadId: lead.leadId, startsAt, reminderOffsetsSeconds: [114] });
    expect(booking.status).toBe(201);
    await until(() => running.fake.createCallsTo(lead.phone) === 1 || null, 'the confirmation');
    await pauseSending(running.db, { scope: lead.tenant.id, actor: 'test' });
    await until(
      () => running.db.message.findFirst({ where: { appointmentId: booking.body.id, heldReason: 'kill_switch' } }),
      'the reminder to be held',
      20_000,
    );
    return { ...lead, appointmentId: booking.body.id as string };
  }

  it('rescheduled: the held reminder for the old start never goes out', async () => {
    stack = await startTestStack({ capacity: { ...roomyCapacity, killSwitchRecheckSeconds: 60 } });
    const running = stack;
    // No notice of the move either: the only text after the resume would be the held reminder.
    const held = await reminderHeld(running, { sendRescheduleNotice: false });
    const moved = await request(running.app)
      .post(`/v1/appointments/${held.appointmentId}/reschedule`)
      .set(held.auth)
      .send({ startsAt: new Date(Date.now() + 3 * 86_400_000).toISOString() });
    expect(moved.status).toBe(200);
    await until(
      () =>
        running.db.message.findFirst({ where: { appointmentId: held.appointmentId, skipReason: 'appointment_moved' } }),
      'the held reminder to close',
    );
    await resumeSending(running.db, { scope: held.tenant.id, actor: 'test' });
    await sleep(2500);
    expect(running.fake.createCallsTo(held.phone)).toBe(1);
  });

  it('cancelled without a notice: the held reminder never goes out', async () => {
    stack = await startTestStack({ capacity: { ...roomyCapacity, killSwitchRecheckSeconds: 60 } });
    const running = stack;
    const held = await reminderHeld(running, { sendCancellationNotice: false });
    const cancelled = await request(running.app)
      .post(`/v1/appointments/${held.appointmentId}/cancel`)
      .set(held.auth)
      .send({});
    expect(cancelled.status).toBe(200);
    await until(
      () =>
        running.db.message.findFirst({
          where: { appointmentId: held.appointmentId, skipReason: 'appointment_cancelled' },
        }),
      'the held reminder to close',
    );
    await resumeSending(running.db, { scope: held.tenant.id, actor: 'test' });
    await sleep(2500);
    expect(running.fake.createCallsTo(held.phone)).toBe(1);
  });
});

describe('an appointment moved while its reminder waits on a Twilio retry', () => {
  it('the retry after the move is refused by the send gate: no reminder for the old start goes out', async () => {
    stack = await startTestStack();
    const running = stack;
    const lead = await enrolled(running, {}, 3600);
    const booking = await request(running.app)
      .post('/v1/appointments')
      .set(lead.auth)
      .send({
        leadId: lead.leadId,
        startsAt: new Date(Date.now() + 120_000).toISOString(),
        reminderOffsetsSeconds: [115],
      });
    expect(booking.status).toBe(201);
    await until(() => running.fake.createCallsTo(lead.phone) === 1 || null, 'the confirmation');
    // Twilio answers the reminder's create calls 429 (nothing taken: the retry goes through the gate again at once).
    running.fake.inject({ kind: 'http', status: 429 }, { to: lead.phone, times: 2 });
    await until(
      () => running.fake.calls.some((call) => call.to === lead.phone && call.outcome === 'error') || null,
      'the reminder’s failed create call',
      20_000,
    );
    const moved = await request(running.app)
      .post(`/v1/appointments/${booking.body.id}/reschedule`)
      .set(lead.auth)
      .send({ startsAt: new Date(Date.now() + 3 * 86_400_000).toISOString() });
    expect(moved.status).toBe(200);
    await until(
      () =>
        running.db.message.findFirst({ where: { appointmentId: booking.body.id, skipReason: 'appointment_moved' } }),
      'the retried reminder to be refused',
      20_000,
    );
    const created = running.fake.calls.filter((call) => call.to === lead.phone && call.outcome === 'created');
    expect(created.map((call) => call.body)).toEqual([expect.stringMatching(/is booked/)]);
  });
});

describe('per-lead caps across enrollments', () => {
  it('a second sequence enrolled right after the first completed waits for the minimum gap', async () => {
    stack = await startTestStack();
    const running = stack;
    const lead = await enrolled(running, { minGapSeconds: 6 });
    await until(
      async () =>
        (await running.db.enrollment.findFirst({ where: { id: lead.enrollmentId, status: 'completed' } })) ?? null,
      'the first sequence to complete',
    );
    const sequence = await request(running.app)
      .post('/v1/sequences')
      .set(lead.auth)
      .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds: 0, template: 'A second offer' }] });
    expect(
      (
        await request(running.app)
          .post('/v1/enrollments')
          .set(lead.auth)
          .send({ leadId: lead.leadId, sequenceId: sequence.body.id })
      ).status,
    ).toBe(202);
    await until(() => running.fake.createCallsTo(lead.phone) === 2 || null, 'the second message', 20_000);
    const [first, second] = running.fake.calls.filter((call) => call.to === lead.phone && call.outcome === 'created');
    expect((second?.at.getTime() ?? 0) - (first?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(5500);
  });
});
