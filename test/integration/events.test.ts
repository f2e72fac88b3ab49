// Every fact becomes one event, in commit order, readable from GET /v1/events: against the real dev server, worker,
// PostgreSQL and the loopback Twilio fake.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createEnrollmentActivities } from '../../activities/enrollments.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { lockTenantEventsOf, recordEvent } from '../../common/events.js';
import { Prisma } from '../../generated/prisma/client.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrolledLead, enrollInNewSequence } from '../support/follow-ups.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';
import { until, untilOneWaitsForEventLock } from '../support/wait.js';
import { inbound, messageSid, statusCallback } from '../support/webhooks.js';

const stack = stackForFile();

const steps = [
  { delaySeconds: 0, template: 'Hi {{firstName}}' },
  { delaySeconds: 3600, template: 'Still there?' },
];

const eventsOf = (tenantId: string) => stack.db.event.findMany({ where: { tenantId }, orderBy: { sequence: 'asc' } });
const typesOf = async (tenantId: string) => (await eventsOf(tenantId)).map((event) => event.type);

/** A lead whose first step went out (its SID recorded), in a tenant of its own. */
async function leadTexted() {
  const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
  const lead = await enrolledLead(stack.app, auth, steps);
  const sent = await until(
    () => stack.db.message.findFirst({ where: { leadId: lead.leadId, twilioSid: { not: null } } }),
    'the first step sent',
  );
  return { tenantId: tenant.id, auth, ...lead, sid: sent.twilioSid as string };
}

/** Reads the whole feed `limit` events at a time, following `next`. */
async function readFeed(auth: Record<string, string>, limit: number) {
  const items: { sequence: number; type: string }[] = [];
  for (let after = 0; ;) {
    const page = await request(stack.app).get('/v1/events').query({ after, limit }).set(auth);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    if (page.body.items.length < limit) return items;
    after = page.body.next;
  }
}

/** What a run's first task records for a new lead in a new sequence of the tenant's (recordEnrollmentStarted's input). */
async function runStartOf(tenantId: string) {
  const lead = await stack.db.lead.create({ data: { tenantId, phone: randomUkMobile().e164, timeZone: 'UTC' } });
  const sequence = await stack.db.sequenceDefinition.create({
    data: { tenantId, name: `s-${randomUUID()}`, version: 1, steps: [] },
  });
  const started = {
    enrollmentId: randomUUID(),
    tenantId,
    leadId: lead.id,
    sequenceId: sequence.id,
    workflowId: `followup:${tenantId}:${lead.id}`,
    runId: randomUUID(),
    idempotencyKey: null,
  };
  return { lead, started };
}

describe('events', () => {
  it('an enrollment from start to a reply is lead.created … enrollment.closed with consecutive sequences; a duplicate status callback is one event', async () => {
    const { tenantId, auth, phone, leadId, enrollmentId, sid } = await leadTexted();
    for (let i = 0; i < 2; i += 1)
      expect((await statusCallback(stack.app, { MessageSid: sid, MessageStatus: 'delivered' })).status).toBeLessThan(
        300,
      );
    // Twilio's retry of the same inbound message (same MessageSid) is processed once: one message.received.
    const reply = { From: phone, To: testSenderNumber, Body: 'Tuesday works for me', MessageSid: messageSid() };
    for (let i = 0; i < 2; i += 1) expect((await inbound(stack.app, reply)).status).toBe(200);
    await until(async () => (await typesOf(tenantId)).includes('enrollment.closed') || null, 'enrollment.closed');

    const events = await eventsOf(tenantId);
    expect(events.map((event) => event.type)).toEqual([
      'lead.created',
      'enrollment.started',
      'message.sent',
      'message.delivered',
      'message.received',
      'enrollment.closed',
    ]);
    expect(events.map((event) => Number(event.sequence))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.every((event) => event.leadId === leadId)).toBe(true);
    const [, started, sent, delivered, received, closed] = events.map((event) => event.data);
    expect(started).toMatchObject({ enrollmentId, leadId });
    expect(sent).toMatchObject({
      enrollmentId,
      leadId,
      step: 0,
      twilioSid: sid,
      segments: 1,
      cost: expect.any(String),
    });
    expect(delivered).toMatchObject({ twilioSid: sid, enrollmentId, step: 0 });
    expect(received).toMatchObject({ leadId, text: 'Tuesday works for me', intent: 'message', action: 'replied' });
    expect(closed).toMatchObject({ enrollmentId, outcome: 'replied' });

    // The feed pages through the same events in the same order, whatever the page size.
    const feed = await readFeed(auth, 4);
    expect(feed.map(({ sequence, type }) => ({ sequence, type }))).toEqual(
      events.map((event) => ({ sequence: Number(event.sequence), type: event.type })),
    );
    const page = await request(stack.app).get('/v1/events').query({ after: 2, limit: 2 }).set(auth);
    expect(page.body).toMatchObject({
      items: [
        { sequence: 3, type: 'message.sent' },
        { sequence: 4, type: 'message.delivered' },
      ],
      next: 4,
    });
    expect(page.body.items[0]).toEqual({
      id: events[2]?.id,
      sequence: 3,
      type: 'message.sent',
      createdAt: events[2]?.createdAt.toISOString(),
      data: sent,
    });
    const byType = await request(stack.app).get('/v1/events').query({ type: 'message.received' }).set(auth);
    expect(byType.body).toMatchObject({ items: [{ sequence: 5, type: 'message.received' }], next: 5 });
    const past = await request(stack.app).get('/v1/events').query({ after: 6 }).set(auth);
    expect(past.body).toEqual({ items: [], next: 6 });
  });

  it('a step that cannot go out is message.skipped with its reason, and a create call Twilio refused is message.failed with its code', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    // A lead whose last name is taken away after it was enrolled (a lead without one is refused: nothing would go).
    const named = await request(stack.app)
      .post('/v1/leads')
      .set(auth)
      .send({ phone: randomUkMobile().e164, lastName: 'Lovelace' });
    const skippedEnrollment = await enrollInNewSequence(stack.app, auth, named.body.id, [
      { delaySeconds: 2, template: 'Hi {{lastName}}' },
    ]);
    await request(stack.app).patch(`/v1/leads/${named.body.id}`).set(auth).send({ lastName: null });
    const skipped = { leadId: named.body.id as string, enrollmentId: skippedEnrollment };
    const invalid = randomUkMobile().e164;
    stack.fake.inject({ kind: 'twilioError', code: 21211 }, { to: invalid });
    const failed = await enrolledLead(stack.app, auth, [{ delaySeconds: 0, template: 'Hi' }], invalid);
    await until(
      async () => (await typesOf(tenant.id)).filter((type) => type === 'enrollment.closed').length === 2 || null,
      'both enrollments closed',
    );

    const events = await eventsOf(tenant.id);
    const about = (leadId: string) =>
      events
        .filter((event) => event.leadId === leadId && event.type.startsWith('message.'))
        .map((event) => ({ type: event.type, data: event.data }));
    expect(about(skipped.leadId)).toEqual([
      {
        type: 'message.skipped',
        data: expect.objectContaining({
          enrollmentId: skipped.enrollmentId,
          step: 0,
          reason: 'missing value for lastName',
        }),
      },
    ]);
    expect(about(failed.leadId)).toEqual([
      {
        type: 'message.failed',
        data: expect.objectContaining({ enrollmentId: failed.enrollmentId, step: 0, errorCode: 21211 }),
      },
    ]);
  });

  it('refuses an unknown type (422) and a bad cursor or limit (400), and shows a tenant only its own events', async () => {
    const { auth } = await createTenant(stack.db);
    const unknown = await request(stack.app).get('/v1/events').query({ type: 'lead.exploded' }).set(auth);
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({
      code: 'validation_failed',
      details: { fields: { type: [expect.stringContaining('lead.created')] } },
    });
    for (const query of [{ after: -1 }, { after: 'x' }, { limit: 0 }, { limit: 1001 }]) {
      expect((await request(stack.app).get('/v1/events').query(query).set(auth)).status).toBe(400);
    }
    await leadTexted();
    expect((await request(stack.app).get('/v1/events').set(auth)).body).toEqual({ items: [], next: 0 });
  });

  it("a start's record waiting for the tenant's event lock holds no lock on its enrollment row meanwhile", async () => {
    // The batch writes the rows of the runs it started while those runs record themselves; a record that inserted its
    // row and then queued for the event lock made the batch wait out the whole queue (statement timeout, 500).
    const { tenant } = await createTenant(stack.db);
    const tenantId = tenant.id;
    const { started } = await runStartOf(tenantId);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let signalLocked = () => {};
    const locked = new Promise<void>((resolve) => (signalLocked = resolve));
    // Another writer of the tenant's events (a reply, a status callback) holding the lock.
    const holder = stack.db.$transaction(
      async (tx) => {
        await tx.$executeRaw(lockTenantEventsOf(Prisma.sql`VALUES (${tenantId}::uuid, 0)`));
        signalLocked();
        await released;
      },
      { timeout: 60_000 },
    );
    await locked;
    const recording = createEnrollmentActivities({ db: stack.db }).recordEnrollmentStarted(started);
    try {
      await untilOneWaitsForEventLock(stack.db);
      // The batch's write of the same row, as it makes it: it must not wait for the queued record (a lock timeout).
      const { enrollmentId, idempotencyKey: _key, ...row } = started;
      await stack.db.$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL lock_timeout = '2s'`;
        await tx.enrollment.createMany({ data: [{ id: enrollmentId, ...row }], skipDuplicates: true });
      });
    } finally {
      release();
      await holder;
    }
    await recording;
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: started.enrollmentId } })).toMatchObject({
      status: 'running',
      runId: started.runId,
    });
    expect(await stack.db.event.count({ where: { tenantId, type: 'enrollment.started' } })).toBe(1);
  });

  it('concurrent records of one start write one enrollment.started, even for an erased lead, whose row nothing else locks', async () => {
    const { tenant } = await createTenant(stack.db);
    const { lead, started } = await runStartOf(tenant.id);
    await stack.db.lead.update({ where: { id: lead.id }, data: { status: 'erased' } });
    const activities = createEnrollmentActivities({ db: stack.db });
    await Promise.all(Array.from({ length: 4 }, () => activities.recordEnrollmentStarted(started)));
    expect(await stack.db.event.count({ where: { tenantId: tenant.id, type: 'enrollment.started' } })).toBe(1);
    expect((await stack.db.lead.findUniqueOrThrow({ where: { id: lead.id } })).status).toBe('erased');
  });

  it('a retried or concurrent activity, a repeated opt-out and a repeated pause record each fact once', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    const tenantId = tenant.id;
    const { lead, started } = await runStartOf(tenantId);
    const { enrollmentId } = started;
    const activities = createEnrollmentActivities({ db: stack.db });
    await Promise.all([
      activities.recordEnrollmentStarted(started),
      activities.recordEnrollmentStarted(started),
      activities.recordEnrollmentStarted(started),
    ]);
    const outcome = { enrollmentId, tenantId, leadId: lead.id, status: 'replied' as const, reason: 'the lead replied' };
    await activities.recordEnrollmentOutcome(outcome);
    await activities.recordEnrollmentOutcome(outcome);

    for (let i = 0; i < 2; i += 1)
      expect(
        (await request(stack.app).post('/v1/opt-outs').set(auth).send({ phone: lead.phone, source: 'crm' })).status,
      ).toBeLessThan(300);
    const optIn = () =>
      request(stack.app)
        .delete(`/v1/opt-outs/${encodeURIComponent(lead.phone)}`)
        .set(auth)
        .send({ consentSource: 'web form' });
    expect([(await optIn()).status, (await optIn()).status]).toEqual([200, 404]);
    for (let i = 0; i < 2; i += 1) await pauseSending(stack.db, { scope: tenantId, actor: 'test', reason: 'audit' });
    for (let i = 0; i < 2; i += 1) await resumeSending(stack.db, { scope: tenantId, actor: 'test' });

    const events = await eventsOf(tenantId);
    expect(events.map((event) => event.type)).toEqual([
      'enrollment.started',
      'enrollment.closed',
      'lead.opted_out',
      'lead.opted_in',
      'sending.paused',
      'sending.resumed',
    ]);
    expect(events[2]?.data).toMatchObject({ leadId: lead.id, source: 'crm' });
    expect(events[3]?.data).toMatchObject({ leadId: lead.id, source: 'web form' });
    expect(events[4]?.data).toEqual({ actor: 'test', reason: 'audit' });
  });

  it('an appointment booked, moved and cancelled through the API is scheduled, rescheduled and cancelled once each', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await request(stack.app)
      .post('/v1/leads')
      .set(auth)
      .send({ phone: randomUkMobile().e164, firstName: 'Ada' });
    const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const appointmentEvents = async () => (await typesOf(tenant.id)).filter((type) => type.startsWith('appointment.'));
    const booked = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId: lead.body.id, startsAt: inDays(3) });
    expect(booked.status).toBe(201);
    await until(async () => (await appointmentEvents()).length === 1 || null, 'appointment.scheduled');
    expect(
      (
        await request(stack.app)
          .post(`/v1/appointments/${booked.body.id}/reschedule`)
          .set(auth)
          .send({ startsAt: inDays(4) })
      ).status,
    ).toBe(200);
    await until(async () => (await appointmentEvents()).length === 2 || null, 'appointment.rescheduled');
    // Cancelled once the lead was told: a cancel before the confirmation went leaves it unsent.
    await until(async () => (await typesOf(tenant.id)).includes('message.sent') || null, 'the confirmation');
    expect(
      (await request(stack.app).post(`/v1/appointments/${booked.body.id}/cancel`).set(auth).send({ reason: 'clash' }))
        .status,
    ).toBe(200);
    await until(async () => (await appointmentEvents()).length === 3 || null, 'appointment.cancelled');

    const events = (await eventsOf(tenant.id)).filter((event) => event.type.startsWith('appointment.'));
    expect(events.map((event) => event.type)).toEqual([
      'appointment.scheduled',
      'appointment.rescheduled',
      'appointment.cancelled',
    ]);
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ appointmentId: booked.body.id, leadId: lead.body.id }),
      expect.objectContaining({ appointmentId: booked.body.id, previousStartsAt: booked.body.startsAt }),
      expect.objectContaining({ appointmentId: booked.body.id, reason: 'clash' }),
    ]);
    expect((await typesOf(tenant.id)).filter((type) => type === 'message.sent').length).toBeGreaterThan(0);
  });

  it('a batch records lead.created for the leads it created only, then each enrollment.started', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const known = await request(stack.app).post('/v1/leads').set(auth).send({ phone: randomUkMobile().e164 });
    const sequence = await request(stack.app)
      .post('/v1/sequences')
      .set(auth)
      .send({ name: `s-${randomUUID()}`, steps: [{ delaySeconds: 3600, template: 'Hello' }] });
    const batch = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({ sequenceId: sequence.body.id, leads: [{ phone: known.body.phone }, { phone: randomUkMobile().e164 }] });
    expect(batch.body.summary).toEqual({ enrolled: 2 });
    await until(
      async () => (await typesOf(tenant.id)).filter((type) => type === 'enrollment.started').length === 2 || null,
      'both enrollments started',
    );
    expect((await typesOf(tenant.id)).sort()).toEqual([
      'enrollment.started',
      'enrollment.started',
      'lead.created',
      'lead.created',
    ]);
  });

  it('gives 20 concurrent writers of one tenant the sequences 1 to 20, each committed with its fact', async () => {
    const { tenant } = await createTenant(stack.db);
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        stack.db.$transaction((tx) =>
          recordEvent(tx, { tenantId: tenant.id, type: 'sending.budget_alert', data: { index } }),
        ),
      ),
    );
    const events = await eventsOf(tenant.id);
    expect(events.map((event) => Number(event.sequence))).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(new Set(events.map((event) => (event.data as { index: number }).index)).size).toBe(20);
  });

  it("an erasure scrubs the personal data from the lead's events and ends with lead.erased", async () => {
    const { tenantId, auth, phone, leadId } = await leadTexted();
    await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Who is this?' });
    await until(async () => (await typesOf(tenantId)).includes('enrollment.closed') || null, 'enrollment.closed');
    expect((await request(stack.app).delete(`/v1/leads/${leadId}`).set(auth)).status).toBe(200);

    const events = await eventsOf(tenantId);
    expect(events.at(-1)).toMatchObject({ type: 'lead.erased', leadId, data: { leadId } });
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['lead.created', 'message.received', 'lead.opted_out']),
    );
    for (const event of events) {
      expect(JSON.stringify(event.data)).not.toMatch(/Ada|Who is this|\+447700/);
    }
    expect(events.find((event) => event.type === 'message.received')?.data).toMatchObject({
      leadId,
      intent: 'message',
      action: 'replied',
    });
  });
});
