// Appointments end to end: API → Temporal dev server → worker → real twilio client → Twilio fake, and Postgres.
import { createCapacityGate } from '../../common/capacity/gate.js';
import { createSendGate } from '../../activities/send-gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DateTime } from 'luxon';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createReminderActivities, type SendAppointmentMessageInput } from '../../activities/reminders.js';
import { createSmsSender } from '../../activities/sms-sender.js';
import { createApp } from '../../api/app.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import type { Db } from '../../common/db.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { recordBooking } from '../../common/bookings.js';
import { recordOptOut } from '../../common/opt-outs.js';
import { notAnIanaTimeZone } from '../../common/phone.js';
import { formatAppointmentTime } from '../../common/templates.js';
import { createWorker } from '../../worker/worker.js';
import { statusQuery as followUpStatusQuery } from '../../workflows/lead-follow-up.messages.js';
import { appointmentStatusKey, leadIdKey } from '../../workflows/search-attributes.js';
import { anytimeSettings, appointmentInput, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrollInNewSequence } from '../support/follow-ups.js';
import { startTestStack, testAuthToken, testSenderNumber, type TestStack } from '../support/stack.js';
import type { TwilioFake } from '../support/twilio-fake.js';

let stack: TestStack;
let db: Db;
let fake: TwilioFake;
let app: TestStack['app'];

beforeAll(async () => {
  stack = await startTestStack();
  ({ db, fake, app } = stack);
});
afterAll(() => stack?.stop());

async function newLead(auth: Record<string, string>) {
  const phone = randomUkMobile();
  const lead = await request(app)
    .post('/v1/leads')
    .set(auth)
    .send({ phone: phone.national, firstName: 'Ada', timeZone: 'Europe/London' });
  expect(lead.status).toBe(201);
  return { phone: phone.e164, leadId: lead.body.id as string };
}

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
/** Appointments far ahead keep timers on the shared dev server: end them when the test is done. */
/** A lead of a new tenant (with `settings`) booked two days ahead, once its confirmation has gone. */
async function bookedAndConfirmed(settings: Partial<Prisma.TenantCreateInput> = {}) {
  const { tenant, auth } = await createTenant(db, { ...anytimeSettings, ...settings });
  const { phone, leadId } = await newLead(auth);
  const created = await request(app)
    .post('/v1/appointments')
    .set(auth)
    .send({ leadId, startsAt: inSeconds(2 * 86_400) });
  await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(1);
  return { tenant, auth, phone, created };
}
const terminate = (workflowId: string) => stack.client.workflow.getHandle(workflowId).terminate('test cleanup');

/** A one-minute sending window twelve hours from now (London), and caps that would hold a second message for a day. */
function closedWindowSettings() {
  const hour = (new Date().getUTCHours() + 12) % 24;
  const start = `${String(hour).padStart(2, '0')}:00`;
  return { windowStart: start, windowEnd: `${String(hour).padStart(2, '0')}:01`, minGapSeconds: 86_400, maxPerDay: 1 };
}

describe('an appointment booked through the API', () => {
  it('sends the confirmation at once and each reminder before the start, outside the marketing window and caps: exactly three Twilio calls', async () => {
    const { tenant, auth } = await createTenant(db, closedWindowSettings());
    const settings = await request(app)
      .patch('/v1/settings')
      .set(auth)
      .send({ appointmentReminderTemplate: 'Hi {{firstName}}, see you {{time}} at {{location}}' });
    expect(settings.status).toBe(200);
    const { phone, leadId } = await newLead(auth);

    const startsAt = inSeconds(20);
    const created = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt, location: 'Surgery 2', reminderOffsetsSeconds: [12, 6] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      leadId,
      status: 'scheduled',
      workflowId: `reminder:${tenant.id}:${created.body.id}`,
      reminders: [
        { offsetSeconds: 12, status: 'scheduled' },
        { offsetSeconds: 6, status: 'scheduled' },
      ],
    });

    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    expect(await handle.result()).toMatchObject({
      status: 'completed',
      confirmation: 'sent',
      reminders: [{ status: 'sent' }, { status: 'sent' }],
    });

    const calls = fake.calls.filter((call) => call.to === phone);
    expect(calls.map((call) => call.outcome)).toEqual(['created', 'created', 'created']);
    expect(calls[0]?.body).toMatch(
      /^Acme Dental: your appointment is booked for \w{3} \d+ \w{3} at \d{2}:\d{2}\. Reply C to confirm or R to reschedule\.$/,
    );
    expect(calls[1]?.body).toMatch(/^Hi Ada, see you \w{3} \d+ \w{3} at \d{2}:\d{2} at Surgery 2$/);
    // Twilio drops a message still queued when it would be stale (domain.md: never late).
    for (const call of calls) expect(Number(call.params.ValidityPeriod)).toBeGreaterThanOrEqual(1);
    expect(Number(calls[0]?.params.ValidityPeriod)).toBeLessThanOrEqual(20);
    expect(calls.every((call) => call.at.getTime() < Date.parse(startsAt))).toBe(true);

    const shown = await request(app).get(`/v1/appointments/${created.body.id}`).set(auth);
    expect(shown.body).toMatchObject({
      status: 'completed',
      nextReminderAt: null,
      reminders: [{ status: 'sent' }, { status: 'sent' }],
      live: null,
    });
    const asked = await request(app).get(`/v1/appointments/${created.body.id}?live=true`).set(auth);
    expect(asked.body).toMatchObject({ status: 'completed', live: { status: 'completed' } });
    expect((await handle.describe()).typedSearchAttributes.get(appointmentStatusKey)).toBe('completed');
    const listed = await request(app).get(`/v1/appointments?leadId=${leadId}`).set(auth);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([created.body.id]);
  });

  it('answers nonsense with a 422 and the reason', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    const refused = async (body: Record<string, unknown>, field: string) => {
      const answer = await request(app)
        .post('/v1/appointments')
        .set(auth)
        .send({ leadId, startsAt: inSeconds(3600), ...body });
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('validation_failed');
      return (answer.body.error.details.fields[field] as string[]).join('; ');
    };
    expect(await refused({ startsAt: inSeconds(-60) }, 'startsAt')).toBe('is in the past');
    expect(await refused({ startsAt: 'tomorrow' }, 'startsAt')).toMatch(/ISO 8601/);
    expect(await refused({ startsAt: '2027-03-28T01:30', timeZone: 'Europe/London' }, 'startsAt')).toMatch(
      /daylight-saving/,
    );
    expect(await refused({ startsAt: inSeconds(400 * 86_400) }, 'startsAt')).toBe('is more than a year ahead');
    for (const timeZone of ['Mars/Olympus', 'SST'])
      expect(await refused({ timeZone }, 'timeZone')).toBe(notAnIanaTimeZone);
    expect(await refused({ leadId: randomUUID() }, 'leadId')).toBe('unknown lead');
    expect(await refused({ reminderOffsetsSeconds: [-60] }, 'reminderOffsetsSeconds.0')).toMatch(/at least 1 second/);
    expect(await refused({ reminderOffsetsSeconds: [3600, 3600] }, 'reminderOffsetsSeconds')).toBe(
      'offsets must not repeat',
    );
    expect(await refused({ reminderOffsetsSeconds: [31 * 86_400] }, 'reminderOffsetsSeconds.0')).toMatch(
      /at most 30 days/,
    );
    expect(await refused({ reminderOffsetsSeconds: [1, 2, 3, 4, 5, 6] }, 'reminderOffsetsSeconds')).toMatch(
      /at most 5/,
    );
    const template = await request(app)
      .patch('/v1/settings')
      .set(auth)
      .send({ appointmentConfirmationTemplate: 'See you {{time}} {{coupon}}' });
    expect(template.status).toBe(422);
    expect(template.body.error.details.fields.appointmentConfirmationTemplate[0]).toMatch(/\{\{coupon\}\}/);
    const halfWritten = await request(app)
      .patch('/v1/settings')
      .set(auth)
      .send({ appointmentConfirmationTemplate: 'See you {time}' });
    expect(halfWritten.body.error.details.fields.appointmentConfirmationTemplate[0]).toMatch(
      /^\{time\}: a placeholder/,
    );
    expect(await refused({ location: 'Room 4\u0007' }, 'location')).toMatch(/control characters/);
  });

  it('keeps tenants apart: another tenant’s appointment is a 404, as is an ID that cannot exist', async () => {
    const owner = await createTenant(db, anytimeSettings);
    const other = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(owner.auth);
    const created = await request(app)
      .post('/v1/appointments')
      .set(owner.auth)
      .send({ leadId, startsAt: inSeconds(86_400) });
    expect(created.status).toBe(201);
    for (const path of ['', '/reschedule', '/cancel']) {
      const method = path ? 'post' : 'get';
      const call = request(app)[method](`/v1/appointments/${created.body.id}${path}`);
      expect((await call.set(other.auth).send({ startsAt: inSeconds(7200) })).status).toBe(404);
    }
    expect((await request(app).get('/v1/appointments/not-a-uuid').set(owner.auth)).status).toBe(404);
    expect(
      (
        await request(app)
          .post('/v1/appointments')
          .set(other.auth)
          .send({ leadId, startsAt: inSeconds(3600) })
      ).status,
    ).toBe(422);
    await terminate(created.body.workflowId);
  });

  it('reschedules through a validated update that answers the new schedule, tells the lead the new time, and cancels with the tenant’s notice', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    // Local times in the appointment's zone, a month or two ahead.
    const first = DateTime.now()
      .setZone('Europe/London')
      .plus({ months: 2 })
      .set({ hour: 10, minute: 0, second: 0, millisecond: 0 });
    const second = first.plus({ days: 2 }).set({ hour: 15, minute: 30 });
    const local = (time: DateTime) => time.toFormat("yyyy-MM-dd'T'HH:mm");
    const iso = (time: DateTime) => time.toUTC().toISO();
    const created = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: local(first), timeZone: 'Europe/London' });
    expect(created.body).toMatchObject({ startsAt: iso(first), startsAtLocal: first.toISO() });
    // Moved once the lead was told: a move before that is confirmed for the new time instead (workflow tests).
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(1);

    const moved = await request(app)
      .post(`/v1/appointments/${created.body.id}/reschedule`)
      .set(auth)
      .send({ startsAt: local(second) });
    expect(moved.status).toBe(200);
    const dayBefore = iso(second.minus({ days: 1 }));
    expect(moved.body).toMatchObject({
      startsAt: iso(second),
      nextReminderAt: dayBefore,
      live: {
        reschedules: 1,
        reminders: [
          { dueAt: dayBefore, status: 'scheduled' },
          { dueAt: iso(second.minus({ hours: 1 })), status: 'scheduled' },
        ],
      },
    });
    // The lead, told the old time, is told the new one (the confirmation template) before anything else.
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(2);

    const past = await request(app)
      .post(`/v1/appointments/${created.body.id}/reschedule`)
      .set(auth)
      .send({ startsAt: inSeconds(-3600) });
    expect(past.status).toBe(422);
    expect(past.body.error.details.fields.startsAt[0]).toMatch(/future/);
    // Refused before the row was stamped: a client retrying it does not hold the reminders 20 s each time.
    expect((await db.appointment.findUniqueOrThrow({ where: { id: created.body.id } })).changeRequestedAt).toBeNull();

    // The service's own words are refused: before, "erased" cancelled it, and the run's record then left the row be
    // (as an erasure's), so the CRM never heard of the cancellation.
    for (const reason of ['erased', 'workflow cancelled', 'cancelled through the API']) {
      const reserved = await request(app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({ reason });
      expect(reserved.status).toBe(422);
      expect(reserved.body.error.details.fields.reason).toEqual(['reserved for the service’s own cancellations']);
    }
    const cancelled = await request(app)
      .post(`/v1/appointments/${created.body.id}/cancel`)
      .set(auth)
      .send({ reason: 'patient called' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      closedReason: 'patient called',
      nextReminderAt: null,
      live: { status: 'cancelled', cancellationNotice: 'sent' },
    });
    expect(fake.calls.filter((call) => call.to === phone).map((call) => call.body)).toEqual([
      `Acme Dental: your appointment is booked for ${formatAppointmentTime(first.toJSDate(), 'Europe/London')}. Reply C to confirm or R to reschedule.`,
      `Acme Dental: your appointment is booked for ${formatAppointmentTime(second.toJSDate(), 'Europe/London')}. Reply C to confirm or R to reschedule.`,
      `Acme Dental: your appointment on ${formatAppointmentTime(second.toJSDate(), 'Europe/London')} has been cancelled.`,
    ]);
    const again = await request(app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({});
    expect(again.status).toBe(409);
  });

  it('books a lead saved with an abbreviation in the tenant’s zone, where a local start is read and the lead is told it', async () => {
    const { auth } = await createTenant(db, { ...anytimeSettings, defaultTimeZone: 'Europe/London' });
    const { phone, leadId } = await newLead(auth);
    // Saved before the API took IANA names only: ICU reads BST as Asia/Dhaka, five hours ahead of London in summer.
    await db.lead.update({ where: { id: leadId }, data: { timeZone: 'BST' } });
    const start = DateTime.fromObject(
      { year: DateTime.now().year + 1, month: 7, day: 14, hour: 10 },
      { zone: 'Europe/London' },
    );
    const created = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: start.toFormat("yyyy-MM-dd'T'HH:mm") });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ timeZone: 'Europe/London', startsAt: start.toUTC().toISO() });
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(1);
    expect(fake.calls.find((call) => call.to === phone)?.body).toContain(
      formatAppointmentTime(start.toJSDate(), 'Europe/London'),
    );
    await terminate(created.body.workflowId);
  });

  it('a cancel the worker leaves unanswered past the deadline is a 503 saying it may have happened, not a 500', async () => {
    const { auth, created } = await bookedAndConfirmed({});
    const workflowId = created.body.workflowId as string;
    // What the client throws when the update's call runs past its deadline (a worker down or restarting).
    const timedOut = new WorkflowUpdateRPCTimeoutOrCancelledError('Workflow update call timeout or cancelled', {
      cause: Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), {
        code: 4,
        details: 'Deadline exceeded',
        metadata: {},
      }),
    });
    const getHandle = stack.client.workflow.getHandle.bind(stack.client.workflow);
    const spy = vi.spyOn(stack.client.workflow, 'getHandle').mockImplementation((...args) => {
      const handle = getHandle(...args);
      if (args[0] !== workflowId) return handle;
      return Object.assign(handle, { executeUpdate: () => Promise.reject(timedOut) });
    });
    try {
      const unanswered = await request(app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({});
      expect(unanswered.status).toBe(503);
      expect(unanswered.body.error).toMatchObject({
        code: 'temporal_unavailable',
        message: expect.stringMatching(/may have happened/),
      });
    } finally {
      spy.mockRestore();
    }
    await terminate(workflowId);
  });

  it('tells the lead each move, a move back to a start told before too', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    const [booked, later] = [inSeconds(2 * 86_400), inSeconds(3 * 86_400)];
    const created = await request(app).post('/v1/appointments').set(auth).send({ leadId, startsAt: booked });
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(1);
    const moves = [later, booked, later];
    for (const [index, startsAt] of moves.entries()) {
      const moved = await request(app)
        .post(`/v1/appointments/${created.body.id}/reschedule`)
        .set(auth)
        .send({ startsAt });
      expect(moved.status).toBe(200);
      await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(index + 2);
    }
    const told = (startsAt: string) =>
      `Acme Dental: your appointment is booked for ${formatAppointmentTime(new Date(startsAt), 'Europe/London')}. Reply C to confirm or R to reschedule.`;
    expect(fake.calls.filter((call) => call.to === phone).map((call) => call.body)).toEqual(
      [booked, ...moves].map(told),
    );
    await terminate(created.body.workflowId);
  });

  it('a cancel whose notice the kill switch holds reaches the CRM at once: appointment.cancelled, the reminders dropped', async () => {
    const { tenant, auth, phone, created } = await bookedAndConfirmed();
    await pauseSending(db, { scope: tenant.id, actor: 'test' });
    const cancelled = await request(app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({});
    expect(cancelled.status).toBe(200);
    await expect
      .poll(() => db.message.count({ where: { appointmentId: created.body.id, heldReason: 'kill_switch' } }))
      .toBe(1);
    const told = () => db.event.count({ where: { tenantId: tenant.id, type: 'appointment.cancelled' } });
    // Before: nothing, until the switch was lifted and the notice went (or the start came).
    await expect.poll(told, { timeout: 10_000 }).toBe(1);
    const shown = await request(app).get(`/v1/appointments/${created.body.id}`).set(auth);
    expect(shown.body).toMatchObject({ status: 'cancelled', nextReminderAt: null });
    expect(shown.body.reminders.map((reminder: { status: string }) => reminder.status)).not.toContain('scheduled');
    await resumeSending(db, { scope: tenant.id, actor: 'test' });
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 20_000 }).toBe(2);
    expect(await told()).toBe(1);
  });

  it('a booking’s confirmation held while the appointment moves away and back goes for the start it ends at', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    await pauseSending(db, { scope: tenant.id, actor: 'test' });
    const [first, second, third] = [inSeconds(2 * 86_400), inSeconds(3 * 86_400), inSeconds(4 * 86_400)];
    const created = await request(app).post('/v1/appointments').set(auth).send({ leadId, startsAt: first });
    const heldFor = (startsAt: string | null) =>
      expect
        .poll(() =>
          db.message.count({
            where: {
              appointmentId: created.body.id,
              status: 'pending',
              heldReason: 'kill_switch',
              ...(startsAt ? { idempotencyKey: { endsWith: startsAt } } : {}),
            },
          }),
        )
        .toBe(1);
    await heldFor(null);
    // Each move closes the held confirmation and holds one for the new start: B, C, then B again.
    for (const startsAt of [second, third, second]) {
      const moved = await request(app)
        .post(`/v1/appointments/${created.body.id}/reschedule`)
        .set(auth)
        .send({ startsAt });
      expect(moved.status).toBe(200);
      await heldFor(startsAt);
      // The one held: the booking's own confirmation closed with the first move, not left pending for ever.
      await heldFor(null);
    }
    await resumeSending(db, { scope: tenant.id, actor: 'test' });
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 20_000 }).toBe(1);
    expect(fake.calls.find((call) => call.to === phone)?.body).toContain(
      formatAppointmentTime(new Date(second), 'Europe/London'),
    );
    await terminate(created.body.workflowId);
  });

  it('tells the lead nothing of a move when the tenant turned reschedule notices off', async () => {
    const { auth, phone, created } = await bookedAndConfirmed({ sendRescheduleNotice: false });
    const moved = await request(app)
      .post(`/v1/appointments/${created.body.id}/reschedule`)
      .set(auth)
      .send({ startsAt: inSeconds(3 * 86_400) });
    expect(moved.body).toMatchObject({ live: { reschedules: 1, confirmation: 'sent' } });
    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    const eventsSinceMove = async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      return events.slice(events.findIndex((event) => event.workflowExecutionUpdateAcceptedEventAttributes));
    };
    // A notice would be scheduled in the workflow task that answers the update, right after the row's writes (the
    // accepted move's, and the loop's record).
    await expect
      .poll(async () =>
        (await eventsSinceMove()).some((event) => event.workflowExecutionUpdateCompletedEventAttributes),
      )
      .toBe(true);
    const scheduled = (await eventsSinceMove()).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect([...scheduled].sort()).toEqual(['recordAcceptedChange', 'recordAppointmentProgress']);
    expect(fake.createCallsTo(phone)).toBe(1);
    await terminate(created.body.workflowId);
  });

  it('sends no cancellation notice when the tenant turned them off', async () => {
    const { auth, phone, created } = await bookedAndConfirmed({ sendCancellationNotice: false });
    const cancelled = await request(app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({});
    expect(cancelled.body).toMatchObject({ status: 'cancelled', live: { cancellationNotice: 'off' } });
    expect(fake.createCallsTo(phone)).toBe(1);
  });

  it('answers a repeat under the same Idempotency-Key with the same appointment, and one for another lead or other details with a 409', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const [first, second] = [await newLead(auth), await newLead(auth)];
    const withKey = { ...auth, 'Idempotency-Key': randomUUID() };
    const booking = { leadId: first.leadId, startsAt: inSeconds(2 * 86_400), location: 'Room 1' };
    const created = await request(app).post('/v1/appointments').set(withKey).send(booking);
    expect(created.status).toBe(201);
    const repeated = await request(app).post('/v1/appointments').set(withKey).send(booking);
    expect(repeated.status).toBe(200);
    expect(repeated.body.id).toBe(created.body.id);
    for (const other of [
      { ...booking, leadId: second.leadId },
      { ...booking, location: 'Room 2' },
    ]) {
      const refused = await request(app).post('/v1/appointments').set(withKey).send(other);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({
        code: 'idempotency_key_reused',
        details: { appointmentId: created.body.id },
      });
    }
    expect(await db.appointment.count({ where: { leadId: second.leadId } })).toBe(0);
    await terminate(created.body.workflowId);
  });

  describe('Temporal silent around the start (its answer lost, or the describe after it failing)', () => {
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection dropped'), {
      code: 14,
      details: 'connection dropped',
      metadata: {},
    });
    /**
     * Books with the start going through and the describe after it, which reads what the run was started for, failing
     * with `failure`: only an appointment run's handle, whatever else asks the client for one meanwhile.
     */
    async function bookUnanswered(headers: Record<string, string>, booking: object, failure: Error = unavailable) {
      const getHandle = stack.client.workflow.getHandle.bind(stack.client.workflow);
      const spy = vi.spyOn(stack.client.workflow, 'getHandle').mockImplementation((...args) => {
        const handle = getHandle(...args);
        if (!args[0].startsWith('reminder:')) return handle;
        return Object.assign(handle, { describe: () => Promise.reject(failure) });
      });
      try {
        const unanswered = await request(app).post('/v1/appointments').set(headers).send(booking);
        expect(unanswered.status).toBe(503);
        expect(unanswered.body.error.code).toBe('temporal_unavailable');
        expect(unanswered.body.error.message).toMatch(/may have been booked/);
        return unanswered.body.error as { message: string; details: { appointmentId: string } };
      } finally {
        spy.mockRestore();
      }
    }

    it('under an Idempotency-Key: 503 naming the appointment, not "nothing was changed"; the retry answers it', async () => {
      const { auth } = await createTenant(db, anytimeSettings);
      const { leadId } = await newLead(auth);
      const withKey = { ...auth, 'Idempotency-Key': randomUUID() };
      const booking = { leadId, startsAt: inSeconds(86_400) };
      const { message, details } = await bookUnanswered(withKey, booking);
      expect(message).toMatch(/retry with the same Idempotency-Key/);
      const retried = await request(app).post('/v1/appointments').set(withKey).send(booking);
      expect([200, 201]).toContain(retried.status);
      expect(retried.body).toMatchObject({ id: details.appointmentId, leadId, status: 'scheduled' });
      expect(await db.appointment.count({ where: { leadId } })).toBe(1);
      await terminate(retried.body.workflowId);
    });

    it('the start going through and its answer lost (a deadline): 503 naming the appointment; the retry answers it', async () => {
      const { auth } = await createTenant(db, anytimeSettings);
      const { leadId } = await newLead(auth);
      const withKey = { ...auth, 'Idempotency-Key': randomUUID() };
      const booking = { leadId, startsAt: inSeconds(86_400) };
      const lost = Object.assign(new Error('4 DEADLINE_EXCEEDED: deadline exceeded'), {
        code: 4,
        details: 'deadline exceeded',
        metadata: {},
      });
      const start = stack.client.workflow.start.bind(stack.client.workflow);
      const spy = vi.spyOn(stack.client.workflow, 'start').mockImplementation(async (type, options) => {
        const handle = await start(type, options);
        if (options.workflowId.startsWith('reminder:')) throw lost;
        return handle;
      });
      let unanswered: request.Response;
      try {
        unanswered = await request(app).post('/v1/appointments').set(withKey).send(booking);
      } finally {
        spy.mockRestore();
      }
      expect(unanswered.status).toBe(503);
      expect(unanswered.body.error).toMatchObject({
        code: 'temporal_unavailable',
        details: { appointmentId: expect.any(String) },
      });
      expect(unanswered.body.error.message).toMatch(/may have been booked: retry with the same Idempotency-Key/);
      const retried = await request(app).post('/v1/appointments').set(withKey).send(booking);
      expect([200, 201]).toContain(retried.status);
      expect(retried.body).toMatchObject({ id: unanswered.body.error.details.appointmentId, leadId });
      expect(await db.appointment.count({ where: { leadId } })).toBe(1);
      await terminate(retried.body.workflowId);
    });

    it.each([
      ['unavailable', unavailable],
      // Any failure of the read: the start went through, so a 500 would have the client book again.
      ['failing otherwise', Object.assign(new Error('13 INTERNAL: stream reset'), { code: 13, metadata: {} })],
    ])(
      'without one (the read %s): told to read the appointment named, not to book again, and it is there',
      async (_how, failure) => {
        const { auth } = await createTenant(db, anytimeSettings);
        const { leadId } = await newLead(auth);
        const { message, details } = await bookUnanswered(auth, { leadId, startsAt: inSeconds(86_400) }, failure);
        expect(message).toContain(`read GET /v1/appointments/${details.appointmentId}?live=true before booking again`);
        // The run records its booking as it starts; until then the live read says it is being booked, never 404.
        const statuses: number[] = [];
        const read = () => request(app).get(`/v1/appointments/${details.appointmentId}?live=true`).set(auth);
        await expect
          .poll(async () => statuses[statuses.push((await read()).status) - 1], { timeout: 10_000 })
          .toBe(200);
        expect(statuses.filter((status) => status !== 200 && status !== 409)).toEqual([]);
        const { workflowId } = await db.appointment.findUniqueOrThrow({ where: { id: details.appointmentId } });
        await terminate(workflowId);
      },
    );
  });

  it('a live read of an appointment with no row asks Temporal: 409 while a booking run is there to record it, else 404 (or erased)', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    const appointmentId = randomUUID();
    // A booking's run no worker has picked up yet (its task queue has none): its row is not written.
    const workflowId = `reminder:${tenant.id}:${appointmentId}`;
    await stack.client.workflow.start('appointmentReminder', {
      workflowId,
      taskQueue: `nobody-${randomUUID()}`,
      args: [{ tenantId: tenant.id, leadId, appointmentId, startsAt: inSeconds(86_400), timeZone: 'Europe/London' }],
      typedSearchAttributes: [{ key: leadIdKey, value: leadId }],
    });
    const live = await request(app).get(`/v1/appointments/${appointmentId}?live=true`).set(auth);
    expect(live.status).toBe(409);
    expect(live.body.error).toMatchObject({ code: 'conflict', details: { workflowId, recorded: false } });
    expect((await request(app).get(`/v1/appointments/${appointmentId}`).set(auth)).status).toBe(404);
    expect((await request(app).get(`/v1/appointments/${randomUUID()}?live=true`).set(auth)).status).toBe(404);
    // Another tenant's key finds no run of this tenant's.
    const other = await createTenant(db, anytimeSettings);
    expect((await request(app).get(`/v1/appointments/${appointmentId}?live=true`).set(other.auth)).status).toBe(404);
    // The lead erased meanwhile: the run will record nothing, and the read says why.
    await db.lead.update({ where: { id: leadId }, data: { status: 'erased' } });
    const erased = await request(app).get(`/v1/appointments/${appointmentId}?live=true`).set(auth);
    expect(erased.status).toBe(409);
    expect(erased.body.error.code).toBe('erased');
    // A run that ended without recording a row booked nothing.
    await terminate(workflowId);
    expect((await request(app).get(`/v1/appointments/${appointmentId}?live=true`).set(auth)).status).toBe(404);
  });

  it('two bookings at once under one Idempotency-Key, for other times: one 201, one 409, and the row is the run’s', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    for (let round = 0; round < 4; round += 1) {
      const withKey = { ...auth, 'Idempotency-Key': randomUUID() };
      const bookings = [1, 2].map((days) => ({ leadId, startsAt: inSeconds(days * 86_400), location: `Room ${days}` }));
      const answers = await Promise.all(
        bookings.map((booking) => request(app).post('/v1/appointments').set(withKey).send(booking)),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
      const won = answers.find((answer) => answer.status === 201)?.body as { id: string; workflowId: string };
      const refused = answers.find((answer) => answer.status === 409)?.body;
      expect(refused.error).toMatchObject({ code: 'idempotency_key_reused', details: { appointmentId: won.id } });
      // The lead is confirmed for the time the run was started with only if the row shows that time too.
      const read = await request(app).get(`/v1/appointments/${won.id}?live=true`).set(auth);
      expect(read.body.live.startsAt).toBe(read.body.startsAt);
      expect(read.body).toMatchObject(answers.find((answer) => answer.status === 201)?.body ?? {});
      await terminate(won.workflowId);
    }
  });
});

describe('booking from a running follow-up', () => {
  it('ends the follow-up as booked and starts exactly one reminder workflow, however often it is asked', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    const enrollmentId = await enrollInNewSequence(app, auth, leadId, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 3600, template: 'Still there?' },
    ]);
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(1);

    // The same request each time: one whose start differs (by a millisecond even) is another booking, a 409.
    const booking = { enrollmentId, startsAt: inSeconds(86_400), location: 'Surgery 2' };
    const book = () => request(app).post('/v1/appointments').set(auth).send(booking);
    const answers = [...(await Promise.all([book(), book()])), await book()];
    expect(answers.map((answer) => answer.status).sort()).toContain(201);
    expect(answers.every((answer) => answer.status === 200 || answer.status === 201)).toBe(true);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    const appointment = answers[0]?.body as { id: string; workflowId: string; enrollmentId: string };
    expect(appointment.enrollmentId).toBe(enrollmentId);

    await expect
      .poll(async () => (await request(app).get(`/v1/enrollments/${enrollmentId}`).set(auth)).body.status, {
        timeout: 10_000,
      })
      .toBe('booked');
    await expect
      .poll(
        async () => {
          const runs = [];
          for await (const run of stack.client.workflow.list({
            query: `TenantId = "${tenant.id}" AND WorkflowType = "appointmentReminder"`,
          }))
            runs.push(run.runId);
          return runs.length;
        },
        { timeout: 10_000 },
      )
      .toBe(1);
    // The follow-up's first step and one confirmation: nothing twice. A bound on the wait, not a speed goal: with the
    // whole suite running on two cores the confirmation once took longer than 10 s to go out.
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 30_000 }).toBe(2);
    expect(fake.calls.filter((call) => call.to === phone).map((call) => call.body)).toEqual([
      'Hi Ada',
      expect.stringMatching(/^Acme Dental: your appointment is booked for /),
    ]);
    await terminate(appointment.workflowId);
  });
});

describe('a booking naming a follow-up claim the claim sweeper removed meanwhile', () => {
  it('is recorded naming no follow-up, by the API and by its run alike, instead of failing on the reference', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    const input = appointmentInput(
      { tenantId: tenant.id, leadId, startsAt: inSeconds(86_400) },
      // The claim this names was read by the request, then removed before the record (its run never started).
      { bookedFrom: { enrollmentId: randomUUID(), workflowId: `followup:${tenant.id}:${leadId}`, runId: null } },
    );
    const { appointmentId } = input;
    const booking = { ...input, workflowId: `appointment:${tenant.id}:${appointmentId}`, runId: null, reminders: [] };
    // Before: a foreign-key violation, a 500 for the API and a failing activity for the run, on every retry.
    for (let writer = 0; writer < 2; writer += 1) await db.$transaction((tx) => recordBooking(tx, booking));
    expect(await db.appointment.findUniqueOrThrow({ where: { id: appointmentId } })).toMatchObject({
      enrollmentId: null,
      status: 'scheduled',
    });
    const scheduled = await db.event.findMany({ where: { tenantId: tenant.id, type: 'appointment.scheduled' } });
    expect(scheduled.map((event) => event.data)).toEqual([
      expect.objectContaining({ appointmentId, enrollmentId: null }),
    ]);
  });
});

describe('a booking recorded again by its run after the lead was enrolled in a new follow-up', () => {
  it('halts only the follow-ups started before the booking: the new one runs on', async () => {
    const { tenant, auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    const input = appointmentInput({ tenantId: tenant.id, leadId, startsAt: inSeconds(86_400) });
    const booking = {
      ...input,
      workflowId: `appointment:${tenant.id}:${input.appointmentId}`,
      runId: null,
      reminders: [],
    };
    // The API's record (before its 201); then the CRM enrolls the lead anew; then the run's first activity, late
    // (a worker backlog, a retry after a database error), records the booking again.
    await db.$transaction((tx) => recordBooking(tx, booking));
    const later = await enrollInNewSequence(app, auth, leadId, [{ delaySeconds: 3600, template: 'Any news?' }]);
    const ended = await db.$transaction((tx) => recordBooking(tx, booking));
    // Before: the new follow-up was halted `booked` and signalled to end, and its first step refused.
    expect(ended).toEqual([]);
    expect(await db.enrollment.findUniqueOrThrow({ where: { id: later } })).toMatchObject({
      status: 'running',
      haltedAt: null,
    });
  });
});

describe('booking from a follow-up that has ended, while a later one runs', () => {
  it('ends the running one as booked at once', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    const ended = await enrollInNewSequence(app, auth, leadId, [{ delaySeconds: 0, template: 'Hi {{firstName}}' }]);
    const endedStatus = async () => (await db.enrollment.findUniqueOrThrow({ where: { id: ended } })).status;
    await expect.poll(endedStatus, { timeout: 10_000 }).toBe('completed');
    const running = await enrollInNewSequence(app, auth, leadId, [{ delaySeconds: 3600, template: 'Any news?' }]);

    // The CRM books from the follow-up the lead answered, as the guide suggests; the later one shares its workflow ID.
    const booked = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({ enrollmentId: ended, startsAt: inSeconds(86_400) });
    expect(booked.status).toBe(201);
    // Before: the run was never signalled (its workflow ID is the one booked from), so it ran on until its next step
    // met the gate an hour later.
    await expect
      .poll(async () => (await db.enrollment.findUniqueOrThrow({ where: { id: running } })).status, { timeout: 15_000 })
      .toBe('booked');
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 30_000 }).toBe(2);
    await terminate(booked.body.workflowId);
  });
});

describe('a booking for a lead whose follow-up a STOP or a reply halted first', () => {
  it.each([
    ['by lead', (leadId: string) => ({ leadId })],
    ['from that follow-up', (_leadId: string, enrollmentId: string) => ({ enrollmentId })],
  ])('booked %s, does not end that follow-up as booked: the fact that halted it closes it', async (_how, bookedBy) => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);
    const enrollmentId = await enrollInNewSequence(app, auth, leadId, [{ delaySeconds: 3600, template: 'Any news?' }]);
    const started = { leadId, type: 'enrollment.started' };
    await expect.poll(() => db.event.count({ where: started }), { timeout: 10_000 }).toBe(1);
    // A STOP recorded under the conversation's lock halts the row; its signal to the run is still in the relay.
    const enrollment = await db.enrollment.update({
      where: { id: enrollmentId },
      data: { haltedAt: new Date(), haltedBy: 'opted_out' },
    });
    const booked = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({ ...bookedBy(leadId, enrollmentId), startsAt: inSeconds(86_400) });
    expect(booked.status).toBe(201);
    // The reminder run signals the follow-ups its booking ends before it sends the confirmation.
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 30_000 }).toBe(1);
    const followUp = stack.client.workflow.getHandle(enrollment.workflowId);
    expect((await followUp.query(followUpStatusQuery)).status).toBe('running');
    await Promise.all([terminate(booked.body.workflowId), followUp.terminate('test cleanup')]);
  });
});

describe('two bookings at once from one follow-up, for other times', () => {
  it('one is booked; the other hears 409 conflict (or, come after the row, the booking made), and its retry answers the booking made', async () => {
    const { auth } = await createTenant(db, anytimeSettings);
    const { leadId } = await newLead(auth);
    const enrollmentId = await enrollInNewSequence(app, auth, leadId, [{ delaySeconds: 3600, template: 'Hi' }]);
    const book = (days: number) =>
      request(app)
        .post('/v1/appointments')
        .set(auth)
        .send({ enrollmentId, startsAt: inSeconds(days * 86_400) });
    const answers = await Promise.all([book(1), book(2)]);
    const won = answers.find((answer) => answer.status === 201)?.body as { id: string; workflowId: string };
    const lost = answers.find((answer) => answer.status !== 201);
    // Both starts raced: the later hears 409. The later came after the row was written: it answers that booking.
    if (lost?.status === 409)
      expect(lost.body.error).toMatchObject({ code: 'conflict', details: { appointmentId: won.id } });
    else expect(lost).toMatchObject({ status: 200, body: { id: won.id } });
    const read = await request(app).get(`/v1/appointments/${won.id}?live=true`).set(auth);
    expect(read.body.live.startsAt).toBe(read.body.startsAt);
    const retried = await book(2);
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(won.id);
    await terminate(won.workflowId);
  });
});

describe('a worker outage', () => {
  it('spanning the last reminder and the start: that reminder is missed when the worker is back, nothing is sent late', async () => {
    // A task queue of its own, so this test can stop and start the worker that runs the appointment.
    const taskQueue = `test-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const sender = createSmsSender({
      kind: 'twilio',
      accountSid: `AC${'3'.repeat(32)}`,
      authToken: testAuthToken,
      sender: { from: testSenderNumber },
      apiBaseUrl: fake.url,
    });
    const runWorker = async () => {
      const worker = await createWorker({
        connection,
        namespace: 'default',
        taskQueue,
        db,
        sender,
        capacity: roomyCapacity,
      });
      return { worker, running: worker.run() };
    };
    const outageApp = createApp({ ...stack.deps, taskQueue });
    const { auth } = await createTenant(db, anytimeSettings);
    const { phone, leadId } = await newLead(auth);

    let current = await runWorker();
    const startsAt = inSeconds(16);
    const created = await request(outageApp)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt, reminderOffsetsSeconds: [12, 6] });
    expect(created.status).toBe(201);
    await expect.poll(() => fake.createCallsTo(phone), { timeout: 10_000 }).toBe(2);
    current.worker.shutdown();
    await current.running;

    await sleep(Date.parse(startsAt) + 2000 - Date.now());
    current = await runWorker();
    const state = await stack.client.workflow.getHandle(created.body.workflowId).result();
    current.worker.shutdown();
    await current.running;
    await connection.close();

    expect(state).toMatchObject({
      status: 'completed',
      confirmation: 'sent',
      reminders: [{ status: 'sent' }, { status: 'missed' }],
    });
    expect(fake.createCallsTo(phone)).toBe(2);
    expect(
      fake.calls.filter((call) => call.to === phone).every((call) => call.at.getTime() < Date.parse(startsAt)),
    ).toBe(true);
    const shown = await request(app).get(`/v1/appointments/${created.body.id}`).set(auth);
    expect(shown.body).toMatchObject({ status: 'completed', reminders: [{ status: 'sent' }, { status: 'missed' }] });
  });
});

describe('sendAppointmentMessage: exactly once, never late, never to an opt-out', () => {
  const twilioSender = () =>
    createSmsSender({
      kind: 'twilio',
      accountSid: `AC${'4'.repeat(32)}`,
      authToken: testAuthToken,
      sender: { from: testSenderNumber },
      apiBaseUrl: fake.url,
    });
  const attempt = (number: number, input: SendAppointmentMessageInput) =>
    new MockActivityEnvironment({ attempt: number }).run(
      createReminderActivities({
        db,
        sender: twilioSender(),
        capacity: createCapacityGate({ db, settings: roomyCapacity }),
        gate: createSendGate({ db }),
      }).sendAppointmentMessage,
      input,
    );

  async function reminderFor(leadZone = 'America/New_York') {
    const { tenant } = await createTenant(db);
    const phone = randomUkMobile().e164;
    const lead = await db.lead.create({ data: { tenantId: tenant.id, phone, firstName: 'Ada', timeZone: leadZone } });
    const startsAt = '2030-06-10T14:00:00.000Z';
    // The send gate checks the appointment as it is now: scheduled, at the start the message speaks of.
    const appointment = await db.appointment.create({
      data: {
        id: randomUUID(),
        tenantId: tenant.id,
        leadId: lead.id,
        startsAt: new Date(startsAt),
        timeZone: leadZone,
        durationMinutes: 30,
        reminderOffsetsSeconds: [3600],
        workflowId: `reminder:${tenant.id}:test`,
      },
    });
    const input: SendAppointmentMessageInput = {
      tenantId: tenant.id,
      leadId: lead.id,
      appointmentId: appointment.id,
      message: { kind: 'reminder', offsetSeconds: 3600 },
      startsAt,
      location: 'Surgery 2',
      notAfter: inSeconds(600),
    };
    return { tenantId: tenant.id, phone, input };
  }

  it('sends once with a ValidityPeriod up to its deadline, {{time}} in the lead’s zone; a repeat answers from the row', async () => {
    const { phone, input } = await reminderFor();
    const first = await attempt(1, input);
    expect(first).toMatchObject({ outcome: 'sent', twilioSid: expect.stringMatching(/^SM/) });
    expect(await attempt(2, input)).toEqual(first);
    const calls = fake.calls.filter((call) => call.to === phone);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toBe(
      'Acme Dental: a reminder of your appointment on Mon 10 Jun at 10:00. Reply C to confirm or R to reschedule.',
    );
    expect(Number(calls[0]?.params.ValidityPeriod)).toBeGreaterThan(590);
    expect(Number(calls[0]?.params.ValidityPeriod)).toBeLessThanOrEqual(600);
  });

  it('tells the time in the tenant’s zone to a lead saved with an abbreviation, which ICU would read as Dhaka’s', async () => {
    const { phone, input } = await reminderFor('BST');
    expect(await attempt(1, input)).toMatchObject({ outcome: 'sent' });
    // 14:00 UTC: 15:00 in London, where the tenant is (20:00 in Dhaka).
    expect(fake.calls.find((call) => call.to === phone)?.body).toBe(
      'Acme Dental: a reminder of your appointment on Mon 10 Jun at 15:00. Reply C to confirm or R to reschedule.',
    );
  });

  it('a moved appointment’s reminder is a message of its own; the same start again is not', async () => {
    const { phone, input } = await reminderFor();
    await attempt(1, input);
    const moved = '2030-06-11T14:00:00.000Z';
    await db.appointment.update({ where: { id: input.appointmentId }, data: { startsAt: new Date(moved) } });
    await attempt(1, { ...input, startsAt: moved });
    await attempt(1, input);
    expect(fake.createCallsTo(phone)).toBe(2);
  });

  it('the send gate refuses a reminder for a start the appointment no longer has, a cancelled appointment, or one confirmed where reminders stop then', async () => {
    const { phone, input } = await reminderFor();
    await db.appointment.update({
      where: { id: input.appointmentId },
      data: { startsAt: new Date('2030-06-12T14:00:00.000Z') },
    });
    expect(await attempt(1, input)).toMatchObject({ outcome: 'skipped', reason: 'appointment_moved' });
    const other = await reminderFor();
    await db.appointment.update({ where: { id: other.input.appointmentId }, data: { status: 'cancelled' } });
    expect(await attempt(1, other.input)).toMatchObject({ outcome: 'skipped', reason: 'appointment_closed' });
    // Confirmed by SMS, at a tenant that sends no reminders after a confirmation.
    const confirmed = await reminderFor();
    await db.appointment.update({
      where: { id: confirmed.input.appointmentId },
      data: { confirmedAt: new Date(), tenant: { update: { skipRemindersAfterConfirm: true } } },
    });
    expect(await attempt(1, confirmed.input)).toMatchObject({ outcome: 'skipped', reason: 'appointment_confirmed' });
    expect(fake.createCallsTo(phone) + fake.createCallsTo(other.phone) + fake.createCallsTo(confirmed.phone)).toBe(0);
  });

  it('an attempt past its deadline sends nothing and answers missed', async () => {
    const { phone, input } = await reminderFor();
    expect(await attempt(1, { ...input, notAfter: inSeconds(-1) })).toEqual({ outcome: 'missed' });
    expect(fake.createCallsTo(phone)).toBe(0);
  });

  it('a retry after Twilio’s 429 that comes past the deadline closes the row as missed, and stays missed', async () => {
    const { phone, input } = await reminderFor();
    fake.inject({ kind: 'http', status: 429 }, { to: phone });
    const deadline = { ...input, notAfter: inSeconds(1.5) };
    await expect(attempt(1, deadline)).rejects.toMatchObject({ status: 429 });
    await sleep(1600);
    expect(await attempt(2, deadline)).toEqual({ outcome: 'missed' });
    expect(await attempt(3, deadline)).toEqual({ outcome: 'missed' });
    expect(await db.message.findFirstOrThrow({ where: { toPhone: phone } })).toMatchObject({
      status: 'skipped',
      skipReason: 'missed',
      twilioSid: null,
    });
    expect(fake.calls.filter((call) => call.to === phone).map((call) => call.outcome)).toEqual(['error']);
  });

  it('is refused for an opted-out lead: transactional messages still honour an opt-out', async () => {
    const { tenantId, phone, input } = await reminderFor();
    await db.$transaction((tx) => recordOptOut(tx, { tenantId, phone, source: 'inbound_keyword' }));
    expect(await attempt(1, input)).toMatchObject({ outcome: 'opted_out' });
    expect(fake.createCallsTo(phone)).toBe(0);
  });
});

describe('a cancel for an appointment no reminder run can take any more', () => {
  const cancel = (auth: Record<string, string>, id: string, body: Record<string, string> = {}) =>
    request(app).post(`/v1/appointments/${id}/cancel`).set(auth).send(body);
  const cancelEvents = async (tenantId: string) =>
    (await db.event.findMany({ where: { tenantId, type: 'appointment.cancelled' } })).map((event) => event.data);

  it('whose reminders stopped as the lead opted out is recorded cancelled, told to the CRM, and texts nobody', async () => {
    const { tenant, auth, phone, created } = await bookedAndConfirmed();
    const id = created.body.id as string;
    expect((await request(app).post('/v1/opt-outs').set(auth).send({ phone })).status).toBe(201);
    await expect
      .poll(async () => (await stack.client.workflow.getHandle(created.body.workflowId).describe()).status.name, {
        timeout: 20_000,
      })
      .not.toBe('RUNNING');
    expect((await db.appointment.findUniqueOrThrow({ where: { id } })).status).toBe('opted_out');

    const cancelled = await cancel(auth, id, { reason: 'customer called' });
    // Before: 409 "The appointment is opted_out, no longer scheduled", and the row never said it was cancelled.
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', closedReason: 'customer called', live: null });
    expect(await cancelEvents(tenant.id)).toEqual([
      expect.objectContaining({ appointmentId: id, reason: 'customer called' }),
    ]);
    expect(fake.createCallsTo(phone)).toBe(1);
    const again = await cancel(auth, id);
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({ status: 'cancelled' });
  });

  it('whose run an operator terminated is cancelled all the same; a move is refused saying why', async () => {
    const { tenant, auth, created } = await bookedAndConfirmed();
    const id = created.body.id as string;
    await terminate(created.body.workflowId);
    const moved = await request(app)
      .post(`/v1/appointments/${id}/reschedule`)
      .set(auth)
      .send({ startsAt: inSeconds(3 * 86_400) });
    // Before: "The appointment is scheduled, no longer scheduled", and nothing could close its row.
    expect(moved.status).toBe(409);
    expect(moved.body.error.message).toMatch(/reminder run has ended .*can only be cancelled/);
    const cancelled = await cancel(auth, id);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', closedReason: 'cancelled through the API' });
    // The reminders still to come say they will not, as a run's cancel leaves them.
    const statuses = (cancelled.body.reminders as { status: string }[]).map((reminder) => reminder.status);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 'dropped')).toBe(true);
    expect(await cancelEvents(tenant.id)).toEqual([expect.objectContaining({ appointmentId: id })]);
  });
});
