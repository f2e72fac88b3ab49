// Erasure that holds: DELETE /v1/leads/:id against the real dev server, worker, Postgres and the Twilio stack.fake.
import { createHash, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import { createSmsSender } from '../../activities/sms-sender.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { nameBasedUuid, startAppointmentReminder } from '../../api/appointment-starter.js';
import { appointmentReminderWorkflowId, statusQuery } from '../../workflows/appointment-reminder.messages.js';
import { createApp } from '../../api/app.js';
import { createSignalRelay } from '../../api/signal-relay.js';
import { findOptOut, phoneHash } from '../../common/opt-outs.js';
import { Prisma } from '../../generated/prisma/client.js';
import { sendsFromNewNumber } from '../support/capacity.js';
import { anytimeSettings, appointmentInput, createTenant, leadTextedAt, randomUkMobile } from '../support/fixtures.js';
import { stackForFile, testAccountSid, testAppDeps, testAuthToken, testSenderNumber } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { createWebhookRelay } from '../../worker/webhook-relay.js';
import { lockConversation } from '../../common/conversation.js';

const stack = stackForFile();

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const sha256 = (phone: string) => createHash('sha256').update(phone).digest('hex');
const quiet = pino({ level: 'silent' });

/** A tenant that texts from a number of its own. */
async function tenantWithOwnNumber() {
  const number = randomSenderNumber();
  return { ...(await createTenant(stack.db, { ...anytimeSettings, senders: { create: { value: number } } })), number };
}

/** A lead in a tenant that sends cancellation notices, with a follow-up waiting for its second step. */
async function leadInConversation() {
  const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, sendCancellationNotice: true });
  const phone = randomUkMobile().e164;
  const lead = await request(stack.app)
    .post('/v1/leads')
    .set(auth)
    .send({ phone, firstName: 'Ada', lastName: 'Lovelace' });
  expect(lead.status).toBe(201);
  const steps = [
    { delaySeconds: 0, template: 'Hi {{firstName}}' },
    { delaySeconds: 3600, template: 'Still there?' },
  ];
  const sequence = await request(stack.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps });
  const enrollment = await request(stack.app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  await until(() => stack.fake.createCallsTo(phone) === 1, 'the first step');
  return {
    tenantId: tenant.id,
    auth,
    phone,
    leadId: lead.body.id as string,
    enrollment: enrollment.body as { id: string; workflowId: string; runId: string },
  };
}

/**
 * A booking ends the lead's running follow-up as booked: this enrolls the lead again (one step an hour away) once the
 * first has closed, for a follow-up that is running when the lead is erased.
 */
async function enrolledAgain(auth: Record<string, string>, leadId: string, first: { id: string }) {
  await until(
    async () => (await stack.db.enrollment.findFirst({ where: { id: first.id, status: 'booked' } })) ?? null,
    'the booking to end the first follow-up',
  );
  const sequence = await request(stack.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds: 3600, template: 'Any questions?' }] });
  const enrollment = await request(stack.app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  // An erasure before the run records its start is read there and ends the run at once as `cancelled`
  // (halted-before-start), not through the opt-out signal these tests follow.
  await until(
    () =>
      stack.db.event.findFirst({
        where: { type: 'enrollment.started', data: { path: ['enrollmentId'], equals: enrollment.body.id } },
      }),
    'the run to record its start',
  );
  return enrollment.body as { id: string; workflowId: string; runId: string };
}

/**
 * Until the reminder workflow has sent its confirmation and recorded it, so it sleeps till the first reminder. A
 * workflow still recording its progress would write `scheduled` over the erasure's `cancelled` (see the report).
 */
async function confirmed(workflowId: string) {
  const handle = stack.client.workflow.getHandle(workflowId);
  await until(
    async () =>
      (await handle.query(statusQuery)).confirmation === 'sent' &&
      !(await handle.describe()).raw.pendingActivities?.length,
    'the recorded confirmation',
  );
}

describe('erasing a lead', () => {
  it('halts its follow-up, cancels its appointment without a text and scrubs it, refuses it new business, and keeps it opted out under a keyed hash', async () => {
    const { tenantId, auth, phone, leadId, enrollment: first } = await leadInConversation();
    const booked = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: inDays(2), location: 'Surgery 2', notes: 'Nervous about needles' });
    expect(booked.status).toBe(201);
    const enrollment = await enrolledAgain(auth, leadId, first);
    await confirmed(booked.body.workflowId);

    const erased = await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth);
    expect(erased.status).toBe(200);
    expect(erased.body).toEqual({ id: leadId, status: 'erased' });

    // At commit, before any workflow hears of it: the send gate's facts.
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollment.id } })).toMatchObject({
      haltedBy: 'erased',
      haltedAt: expect.any(Date),
    });
    expect(await stack.db.appointment.findUniqueOrThrow({ where: { id: booked.body.id } })).toMatchObject({
      status: 'cancelled',
      closedReason: 'erased',
      notes: null,
      location: null,
    });

    const followUp = stack.client.workflow.getHandle(enrollment.workflowId, enrollment.runId);
    expect(await followUp.result()).toMatchObject({ status: 'opted_out' });
    const reminders = stack.client.workflow.getHandle(booked.body.workflowId);
    expect(await reminders.result()).toMatchObject({
      status: 'cancelled',
      cancellationNotice: 'off',
      closedReason: 'erased',
    });
    expect(stack.fake.createCallsTo(phone)).toBe(2);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollment.id } })).toMatchObject({
      status: 'opted_out',
      haltedBy: 'erased',
    });
    expect(await stack.db.appointment.findUniqueOrThrow({ where: { id: booked.body.id } })).toMatchObject({
      status: 'cancelled',
      closedReason: 'erased',
      notes: null,
      location: null,
    });

    const rebooked = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: inDays(3) });
    expect(rebooked.status).toBe(409);
    expect(rebooked.body.error).toMatchObject({ code: 'erased', message: expect.any(String) });
    const renamed = await request(stack.app).patch(`/v1/leads/${leadId}`).set(auth).send({ firstName: 'Ada' });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.code).toBe('erased');
    expect((await request(stack.app).get(`/v1/leads/${leadId}`).set(auth)).body).toMatchObject({
      status: 'erased',
      firstName: null,
      lastName: null,
      phone: `erased:${leadId}`,
    });
    expect((await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(404);

    const optOut = await findOptOut(stack.db, tenantId, phone);
    expect(optOut).toMatchObject({ source: 'erasure', phone: null, phoneHash: phoneHash(phone) });
    expect(optOut?.phoneHash).not.toBe(sha256(phone));
  });

  it('keeps the number opted out when it texts START or YES afterwards: only the tenant’s recorded consent lifts it', async () => {
    const { tenant, auth, number } = await tenantWithOwnNumber();
    const phone = randomUkMobile().e164;
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
    expect((await request(stack.app).delete(`/v1/leads/${lead.body.id}`).set(auth)).status).toBe(200);
    // Texted a while after it: one within a minute of the erasure (the clocks' margin) is dropped as if sent before.
    await stack.db.consentEvent.updateMany({
      where: { tenantId: tenant.id, source: 'erasure' },
      data: { createdAt: new Date(Date.now() - 120_000) },
    });

    for (const Body of ['START', 'YES']) {
      const answered = await inbound(stack.app, { From: phone, To: number, Body });
      expect(answered.status).toBe(200);
      // Before: the keyword deleted the erasure's opt-out and confirmed the resubscription.
      expect(answered.text).not.toContain('<Message>');
      expect(await findOptOut(stack.db, tenant.id, phone)).toMatchObject({ source: 'erasure', phone: null });
    }
    // The consent log keeps what the number asked, and that it changed nothing.
    const consent = await request(stack.app)
      .get(`/v1/opt-outs/${encodeURIComponent(phone)}/consent`)
      .set(auth);
    expect(consent.body.items.filter((item: { kind: string }) => item.kind === 'opt_in')).toEqual([
      expect.objectContaining({ source: 'inbound_keyword', note: expect.stringMatching(/^not applied/) }),
      expect.objectContaining({ source: 'inbound_keyword', note: expect.stringMatching(/^not applied/) }),
    ]);
    const lifted = await request(stack.app)
      .delete(`/v1/opt-outs/${encodeURIComponent(phone)}`)
      .set(auth)
      .send({ consentSource: 'signed form 2026-12-06' });
    expect(lifted.status).toBe(200);
    expect(await findOptOut(stack.db, tenant.id, phone)).toBeNull();
  });

  it('is the service’s own word: a tenant’s opt-out or consent naming it is refused, and the lead’s START a moment later is still theirs', async () => {
    const { tenant, auth, number } = await tenantWithOwnNumber();
    const phone = randomUkMobile().e164;
    const path = `/v1/opt-outs/${encodeURIComponent(phone)}`;
    // Before: 201 for 'erasure', and the lead's START within the minute was dropped as sent before an erasure (no
    // message row, no answer, the opt-out standing).
    for (const source of ['erasure', 'inbound_keyword', 'twilio_error_21610']) {
      const added = await request(stack.app).post('/v1/opt-outs').set(auth).send({ phone, source });
      expect(added.status).toBe(422);
      expect(added.body.error.details.fields.source).toEqual(['reserved for the consent the service records itself']);
      const removed = await request(stack.app).delete(path).set(auth).send({ consentSource: source });
      expect(removed.status).toBe(422);
    }
    expect(await findOptOut(stack.db, tenant.id, phone)).toBeNull();
    // The tenant's own word records an opt-out the lead's START lifts at once.
    await request(stack.app).post('/v1/opt-outs').set(auth).send({ phone, source: 'phone call' });
    expect((await inbound(stack.app, { From: phone, To: number, Body: 'START' })).text).toContain('<Message>');
    expect(await findOptOut(stack.db, tenant.id, phone)).toBeNull();
  });

  it('a START to the shared number lifts its block though the only tenant that texted the phone from there erased it', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile().e164;
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
    await stack.db.message.create({
      data: {
        tenantId: tenant.id,
        leadId: lead.body.id,
        direction: 'outbound',
        toPhone: phone,
        fromPhone: testSenderNumber,
        body: 'Hi Ada',
        status: 'delivered',
      },
    });
    await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'please stop texting me' });
    const blocks = () =>
      stack.db.senderOptOut.count({ where: { sender: testSenderNumber, phoneHash: phoneHash(phone) } });
    expect(await blocks()).toBe(1);
    expect((await request(stack.app).delete(`/v1/leads/${lead.body.id}`).set(auth)).status).toBe(200);
    // Nobody here has texted the phone from the number now; the lead's START still lifts the number's block, as Twilio
    // lifts its own. Before: it stayed for every tenant sending from the number, for good.
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'START' })).status).toBe(200);
    expect(await blocks()).toBe(0);
  });

  it('deletes only the texts to and from the lead when its phone is also one of the tenant’s numbers', async () => {
    const { tenant, auth, number } = await tenantWithOwnNumber();
    const lead = (phone: string) =>
      stack.db.lead.create({ data: { tenantId: tenant.id, phone, timeZone: 'Europe/London' } });
    const [sameAsNumber, other] = [await lead(number), await lead(randomUkMobile().e164)];
    const text = (data: Pick<Prisma.MessageUncheckedCreateInput, 'leadId' | 'direction' | 'toPhone' | 'fromPhone'>) =>
      stack.db.message.create({ data: { tenantId: tenant.id, body: 'Hi', status: 'sent', ...data } });
    const others = [
      await text({ leadId: other.id, direction: 'outbound', toPhone: other.phone, fromPhone: number }),
      await text({ leadId: other.id, direction: 'inbound', toPhone: number, fromPhone: other.phone }),
    ];
    expect((await request(stack.app).delete(`/v1/leads/${sameAsNumber.id}`).set(auth)).status).toBe(200);
    // Before: every text from the number and every reply to it went, the other lead's among them.
    expect(await stack.db.message.count({ where: { id: { in: others.map(({ id }) => id) } } })).toBe(2);
  });

  it('is not counted as an opt-out in the funnel, whichever writer records it', async () => {
    const { auth, leadId, enrollment } = await leadInConversation();
    expect((await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);
    await until(
      async () =>
        (await stack.db.enrollment.findFirst({ where: { id: enrollment.id, status: { not: 'running' } } })) ?? null,
      'the follow-up to close',
    );
    const overview = await request(stack.app).get('/v1/analytics/overview').set(auth);
    // Before: the erasure's opt-out entry and the run's close (it hears the erasure as an opt-out) counted one.
    expect(overview.body.totals).toMatchObject({ enrolled: 1, sent: 1, optedOut: 0 });
  });

  it('replaces a cancellation reason in the tenant’s words, on the row and in its event, with the service’s own', async () => {
    const { tenantId, auth, leadId } = await leadInConversation();
    const booked = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: inDays(2) });
    expect(booked.status).toBe(201);
    await confirmed(booked.body.workflowId);
    const reason = 'Ada is in hospital after her fall';
    const cancelled = await request(stack.app)
      .post(`/v1/appointments/${booked.body.id}/cancel`)
      .set(auth)
      .send({ reason });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', closedReason: reason });
    await until(
      () => stack.db.event.findFirst({ where: { tenantId, type: 'appointment.cancelled', leadId } }),
      'the cancellation event',
    );

    expect((await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);
    // Before: the reason stayed on the row and in the event the CRM reads.
    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: booked.body.id } });
    expect(row.closedReason).toBe('cancelled through the API');
    const events = await stack.db.event.findMany({ where: { tenantId, type: 'appointment.cancelled', leadId } });
    expect(events.map((event) => (event.data as { reason?: string }).reason)).toEqual(['cancelled through the API']);
  });

  it('still erases while Temporal is unreachable: the rows say halted and cancelled, and the queued opt-out reaches the follow-up later', async () => {
    const { tenantId, auth, phone, leadId, enrollment: first } = await leadInConversation();
    const booked = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId, startsAt: inDays(2), notes: 'Nervous about needles' });
    expect(booked.status).toBe(201);
    const enrollment = await enrolledAgain(auth, leadId, first);
    // With Temporal down no workflow makes progress either: this one sleeps till its first reminder.
    await confirmed(booked.body.workflowId);
    const offlineClient = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
    // Its relay is never started: the suite's running relay delivers what this one could not.
    const offline = createApp(
      testAppDeps(stack.db, offlineClient, stack.taskQueue, {
        logger: quiet,
        signalRelay: createSignalRelay({ db: stack.db, temporal: offlineClient, logger: quiet }),
      }),
    );

    const erased = await request(offline).delete(`/v1/leads/${leadId}`).set(auth);
    expect(erased.status).toBe(200);
    expect(await stack.db.appointment.findUniqueOrThrow({ where: { id: booked.body.id } })).toMatchObject({
      status: 'cancelled',
      closedReason: 'erased',
      notes: null,
    });
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollment.id } })).toMatchObject({
      haltedBy: 'erased',
    });
    expect(await findOptOut(stack.db, tenantId, phone)).toMatchObject({ source: 'erasure' });
    expect(await stack.client.workflow.getHandle(enrollment.workflowId).result()).toMatchObject({
      status: 'opted_out',
    });
    await stack.client.workflow.getHandle(booked.body.workflowId).terminate('test cleanup');
  });

  it('asks Temporal to cancel a reminder workflow no worker is there to accept the cancellation for', async () => {
    const { tenantId, auth, leadId } = await leadInConversation();
    const startsAt = inDays(2);
    const input = appointmentInput({ tenantId, leadId, startsAt }, { reminderOffsetsSeconds: [3600] });
    const { appointmentId } = input;
    // A task queue nobody polls stands for a worker that is down.
    const { workflowId, runId } = await startAppointmentReminder(stack.client, `no-worker-${randomUUID()}`, input);
    await stack.db.appointment.create({
      data: {
        id: appointmentId,
        tenantId,
        leadId,
        startsAt: new Date(startsAt),
        timeZone: 'Europe/London',
        durationMinutes: 30,
        reminderOffsetsSeconds: [3600],
        workflowId,
        runId,
      },
    });

    expect((await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);
    const handle = stack.client.workflow.getHandle(workflowId);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.some((event) => event.workflowExecutionCancelRequestedEventAttributes)).toBe(true);
    await handle.terminate('test cleanup');
  });

  it('an SMS from the lead that comes while the erasure runs keeps nothing: neither its words nor the phone', async () => {
    const { tenantId, auth, phone, leadId } = await leadInConversation();
    // The conversation held: the erasure queues first, then the SMS, its recipients read while the lead still was.
    const holder = await heldTransaction(stack.db, (tx) => lockConversation(tx, tenantId, phone));
    const erasure = request(stack.app)
      .delete(`/v1/leads/${leadId}`)
      .set(auth)
      .then((response) => response);
    await untilWaitingBehind(stack.db, holder.pid, 1);
    const body = 'Ada here, Tuesday works';
    const sms = inbound(stack.app, { From: phone, To: testSenderNumber, Body: body }).then((response) => response);
    await untilWaitingBehind(stack.db, holder.pid, 2);
    holder.release();
    await holder.committed;
    expect((await erasure).status).toBe(200);
    expect((await sms).status).toBe(200);
    // Before: the SMS was recorded after the erasure, its phone and words in a message row and a message.received.
    expect(await stack.db.message.count({ where: { tenantId, fromPhone: phone } })).toBe(0);
    const events = JSON.stringify(
      (await stack.db.event.findMany({ where: { tenantId }, select: { data: true } })).map((event) => event.data),
    );
    expect(events).not.toContain(body);
    expect(events).not.toContain(phone);
  });

  it('a reply to the shared number a moment after one tenant erased its lead still reaches the other tenant that texted the phone', async () => {
    const [erasing, other] = [
      await createTenant(stack.db, anytimeSettings),
      await createTenant(stack.db, anytimeSettings),
    ];
    const phone = randomUkMobile().e164;
    const texted = (tenantId: string, at: Date) =>
      leadTextedAt(stack.db, { tenantId, phone, from: testSenderNumber, at });
    await texted(other.tenant.id, new Date(Date.now() - 3_600_000));
    const lead = await texted(erasing.tenant.id, new Date());
    expect((await request(stack.app).delete(`/v1/leads/${lead.id}`).set(erasing.auth)).status).toBe(200);
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works' })).status).toBe(200);
    // Found by review: a live reply within a minute of any tenant's erasure of the phone reached nobody.
    const received = { fromPhone: phone, direction: 'inbound' as const };
    expect(await stack.db.message.count({ where: { tenantId: other.tenant.id, ...received } })).toBe(1);
    expect(await stack.db.message.count({ where: { tenantId: erasing.tenant.id, ...received } })).toBe(0);
  });

  it('refuses a booking an erasure overtook between its checks and its record: 409, no appointment, its run cancelled', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile().e164;
    const lead = await stack.db.lead.create({ data: { tenantId: tenant.id, phone, timeZone: 'Europe/London' } });
    // The conversation held, the erasure queues first, then the booking (past its checks, its run started); no
    // worker polls the booking's queue, so only the API records it.
    const holder = await heldTransaction(stack.db, (tx) => lockConversation(tx, tenant.id, phone));
    const erasure = request(stack.app)
      .delete(`/v1/leads/${lead.id}`)
      .set(auth)
      .then((response) => response);
    await untilWaitingBehind(stack.db, holder.pid, 1);
    const unpolledApp = createApp(testAppDeps(stack.db, stack.client, `no-worker-${randomUUID()}`));
    const key = randomUUID();
    const booking = request(unpolledApp)
      .post('/v1/appointments')
      .set({ ...auth, 'Idempotency-Key': key })
      .send({ leadId: lead.id, startsAt: inDays(2), notes: 'private note' })
      .then((response) => response);
    await untilWaitingBehind(stack.db, holder.pid, 2);
    holder.release();
    await holder.committed;
    expect((await erasure).status).toBe(200);
    const refused = await booking;
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('erased');
    expect(await stack.db.appointment.count({ where: { leadId: lead.id } })).toBe(0);
    const appointmentId = nameBasedUuid(`${tenant.id}:key:${key}`);
    const handle = stack.client.workflow.getHandle(appointmentReminderWorkflowId(tenant.id, appointmentId));
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.some((event) => event.workflowExecutionCancelRequestedEventAttributes)).toBe(true);
    await handle.terminate('test cleanup');
  });

  it('overtaking a first attempt between its read of the lead and its row: the row carries neither the phone nor the name', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile().e164;
    const lead = await stack.db.lead.create({
      data: { tenantId: tenant.id, phone, firstName: 'Ada', timeZone: 'UTC' },
    });
    const sequence = await stack.db.sequenceDefinition.create({
      data: { tenantId: tenant.id, name: `s-${randomUUID()}`, version: 1, steps: [] },
    });
    const enrollment = await stack.db.enrollment.create({
      data: { tenantId: tenant.id, leadId: lead.id, sequenceId: sequence.id, workflowId: `followup:${randomUUID()}` },
    });
    const input = {
      tenantId: tenant.id,
      leadId: lead.id,
      enrollmentId: enrollment.id,
      step: 0,
      template: 'Hi {{firstName}}, still interested?',
      notAfter: inDays(1),
      holdAsResult: true,
    };
    // The attempt reads the lead, then its row's insert waits for an uncommitted row with the same key (rolled back
    // later); the erasure comes meanwhile, then the insert goes on.
    const keyTaken = await heldTransaction(
      stack.db,
      (tx) =>
        tx.message.create({
          data: {
            tenantId: tenant.id,
            leadId: lead.id,
            direction: 'outbound',
            toPhone: 'placeholder',
            body: 'placeholder',
            status: 'pending',
            idempotencyKey: `${enrollment.id}:0`,
          },
        }),
      () => Promise.reject(new Error('rolled back')),
    );
    const sender = createSmsSender({
      kind: 'twilio',
      accountSid: testAccountSid,
      authToken: testAuthToken,
      sender: { from: testSenderNumber },
      apiBaseUrl: stack.fake.url,
    });
    const { sendStepMessage } = createActivities({ db: stack.db, sender, capacity: roomyCapacity });
    const run = (number: number) =>
      new MockActivityEnvironment({ attempt: number, scheduleToCloseTimeoutMs: 3_600_000 }).run(sendStepMessage, input);
    const attempt = run(1).catch((error: unknown) => error);
    await untilWaitingBehind(stack.db, keyTaken.pid, 1);
    const erasure = request(stack.app)
      .delete(`/v1/leads/${lead.id}`)
      .set(auth)
      .then((response) => response);
    // Committed, or (with the lead share-locked by the attempt) waiting for the attempt, behind the held row.
    await Promise.race([erasure, untilWaitingBehind(stack.db, keyTaken.pid, 2)]);
    keyTaken.release();
    await expect(keyTaken.committed).rejects.toThrow('rolled back');
    // The erasure may delete the row from under the attempt, which then fails; the next attempt writes it again.
    const first = await attempt;
    const result = first instanceof Error ? await run(2) : first;
    expect((await erasure).status).toBe(200);
    expect(
      await stack.db.message.findMany({
        where: { tenantId: tenant.id, OR: [{ toPhone: phone }, { body: { contains: 'Ada' } }] },
      }),
    ).toEqual([]);
    expect(await stack.db.message.findMany({ where: { enrollmentId: enrollment.id } })).toEqual([
      expect.objectContaining({ toPhone: `erased:${lead.id}`, status: 'skipped' }),
    ]);
    expect(stack.fake.createCallsTo(phone)).toBe(0);
    // Refused at the gate (erased, or its opt-out), or, read again without a name, skipped for the missing value.
    expect(result).not.toMatchObject({ outcome: 'sent' });
  });

  it('gives back the capacity its unclaimed messages reserved, and keeps what a claimed one (maybe at Twilio) took', async () => {
    const { tenant, auth } = await createTenant(stack.db, {
      defaultTimeZone: 'UTC',
      dailyBudget: new Prisma.Decimal(10),
    });
    const phone = randomUkMobile().e164;
    const lead = await stack.db.lead.create({ data: { tenantId: tenant.id, phone, timeZone: 'UTC' } });
    const { sender, pendingMessage, reserve } = sendsFromNewNumber(stack.db, tenant.id);
    const reserved = async (cost: string) => {
      const message = await pendingMessage(lead);
      await reserve(message.id, cost);
      return message;
    };
    await reserved('0.50');
    const claimed = await reserved('0.25');
    await stack.db.message.update({ where: { id: claimed.id }, data: { claimedAt: new Date(), claimedAttempt: 1 } });

    expect((await request(stack.app).delete(`/v1/leads/${lead.id}`).set(auth)).status).toBe(200);
    const usage = await stack.db.capacityUsage.findMany({
      where: { scope: { in: [`warmup:${sender}`, `budget_daily:${tenant.id}`] } },
    });
    expect(Object.fromEntries(usage.map((row) => [row.scope.split(':')[0], row.used.toNumber()]))).toEqual({
      warmup: 1,
      budget_daily: 0.25,
    });
  });

  it('reaches webhook deliveries not yet sent: after it the CRM and the deliveries list get no personal data', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const devApp = createApp(testAppDeps(stack.db, stack.client, stack.taskQueue, { allowPrivateWebhookUrls: true }));
      const { auth } = await createTenant(stack.db, anytimeSettings);
      const path = `/crm/${randomUUID()}`;
      const endpoint = await request(devApp)
        .post('/v1/webhook-endpoints')
        .set(auth)
        .send({ url: receiver.urlFor(path), events: ['lead.created'] });
      let erased = false;
      // The CRM is down until the erasure is done.
      receiver.expect(path, [endpoint.body.secret as string], () => (erased ? 200 : 503));
      const phone = randomUkMobile().e164;
      const lead = await request(stack.app)
        .post('/v1/leads')
        .set(auth)
        .send({ phone, firstName: 'Ada', lastName: 'Lovelace' });
      const relay = createWebhookRelay({ db: stack.db, logger: pino({ level: 'silent' }), allowPrivateUrls: true });
      const listed = async () =>
        (await request(devApp).get(`/v1/webhook-endpoints/${endpoint.body.id}/deliveries`).set(auth)).body
          .deliveries[0];
      await until(async () => {
        await relay.round();
        return receiver.received(path).length > 0 || null;
      }, 'an attempt the CRM refused');
      expect(receiver.received(path)[0]?.body).toMatchObject({ data: { phone, firstName: 'Ada' } });
      expect((await listed()).payload.data).toMatchObject({ phone, lastName: 'Lovelace' });

      expect((await request(stack.app).delete(`/v1/leads/${lead.body.id}`).set(auth)).status).toBe(200);
      erased = true;
      const retried = await request(devApp)
        .post(`/v1/webhook-endpoints/${endpoint.body.id}/deliveries/${(await listed()).id}/retry`)
        .set(auth);
      expect(retried.status).toBe(200);
      const delivered = await until(async () => {
        await relay.round();
        const delivery = await listed();
        return delivery.status === 'delivered' ? delivery : null;
      }, 'the delivery after the erasure');
      const afterErasure = receiver.received(path).at(-1)?.body;
      expect(afterErasure).toMatchObject({ type: 'lead.created', data: { leadId: lead.body.id } });
      for (const shown of [afterErasure, delivered.payload, retried.body.payload]) {
        expect(JSON.stringify(shown)).not.toContain(phone);
        expect(JSON.stringify(shown)).not.toMatch(/Ada|Lovelace/);
      }
    } finally {
      await receiver.close();
    }
  });
});
