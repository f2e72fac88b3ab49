// The CRM's loop end to end: a lead enrolled through the API, sent its first message, replying, booking, confirming
// and opting out, with the worker's webhook relay posting every event to a receiver that verifies each request with
// standardwebhooks; the webhooks carry the tenant's events in sequence order, and GET /v1/events returns the same.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createWebhookRelay } from '../../worker/webhook-relay.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrolledLead } from '../support/follow-ups.js';
import { stackForFile } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const stack = stackForFile();
let receiver: WebhookReceiver;
let relay: ReturnType<typeof createWebhookRelay>;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  relay = createWebhookRelay({
    db: stack.db,
    logger: pino({ level: 'silent' }),
    allowPrivateUrls: true,
    backoffMs: [0, 50],
  });
  relay.start(100);
});
afterAll(async () => {
  await relay?.stop();
  await receiver?.close();
});

type FeedItem = { id: string; sequence: number; type: string; data: Record<string, unknown> };

describe('the loop with the CRM', () => {
  it('an enrollment from start to close, an appointment confirmed, an opt-out: signed webhooks in sequence order, the same as GET /v1/events', async () => {
    // The receiver listens on loopback: allowed for development and tests only.
    const app = createApp({ ...stack.deps, allowPrivateWebhookUrls: true });
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const sender = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: tenant.id, value: sender } });
    const path = `/crm/${randomUUID()}`;
    const endpoint = await request(app)
      .post('/v1/webhook-endpoints')
      .set(auth)
      .send({ url: receiver.urlFor(path) });
    expect(endpoint.status).toBe(201);
    receiver.expect(path, [endpoint.body.secret as string]);

    const phone = randomUkMobile().e164;
    const { leadId, enrollmentId } = await enrolledLead(
      app,
      auth,
      [
        { delaySeconds: 0, template: 'Hi {{firstName}}' },
        { delaySeconds: 3600, template: 'Still there?' },
      ],
      phone,
    );
    await until(() => stack.fake.createCallsTo(phone) === 1 || null, 'the first message');
    expect((await inbound(app, { From: phone, To: sender, Body: 'Yes please, can we talk tomorrow?' })).status).toBe(
      200,
    );
    await until(
      async () => (await stack.db.enrollment.findFirst({ where: { id: enrollmentId, status: 'replied' } })) ?? null,
      'the enrollment to close',
    );

    const booked = await request(app)
      .post('/v1/appointments')
      .set(auth)
      .send({
        leadId,
        startsAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
        reminderOffsetsSeconds: [86_400],
      });
    expect(booked.status).toBe(201);
    await until(() => stack.fake.createCallsTo(phone) === 2 || null, 'the confirmation');
    expect((await inbound(app, { From: phone, To: sender, Body: 'C' })).status).toBe(200);
    expect((await inbound(app, { From: phone, To: sender, Body: 'Stop texting me please' })).status).toBe(200);
    await until(
      async () =>
        (await stack.db.appointment.findFirst({ where: { id: booked.body.id, status: 'opted_out' } })) ?? null,
      'the reminders to end',
    );

    const feed = async (): Promise<FeedItem[]> =>
      (await request(app).get('/v1/events?limit=1000').set(auth)).body.items as FeedItem[];
    const events = await feed();
    const types = events.map((event) => event.type);
    for (const type of [
      'lead.created',
      'enrollment.started',
      'message.sent',
      'message.received',
      'enrollment.closed',
      'appointment.scheduled',
      'appointment.confirmed',
      'lead.opted_out',
    ]) {
      expect(types).toContain(type);
    }
    expect(types.indexOf('enrollment.started')).toBeLessThan(types.indexOf('enrollment.closed'));
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events.find((event) => event.type === 'enrollment.closed')?.data).toMatchObject({ outcome: 'replied' });

    // Every event the feed has reached the endpoint, verified, in the same order with the same IDs.
    await until(
      () => receiver.received(path).filter((webhook) => webhook.body.type !== 'ping').length >= events.length || null,
      'every webhook',
      30_000,
    );
    const delivered = receiver.received(path).map((webhook) => ({
      id: webhook.headers['webhook-id'],
      type: webhook.body.type,
      sequence: webhook.body.data.sequence,
      eventId: webhook.body.data.eventId,
    }));
    expect(receiver.unverified).toEqual([]);
    const firstDeliveries = delivered.filter(
      (webhook, index) => delivered.findIndex((other) => other.id === webhook.id) === index,
    );
    expect(firstDeliveries.map((webhook) => webhook.sequence)).toEqual(events.map((event) => event.sequence));
    expect(firstDeliveries.map((webhook) => webhook.eventId)).toEqual(events.map((event) => event.id));
    expect(firstDeliveries.map((webhook) => webhook.type)).toEqual(types);
  });
});
