// GET /v1/leads/:id/messages: the conversation with a lead, both directions, newest first, per tenant.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { anytimeSettings, createTenant } from '../support/fixtures.js';
import { enrolledLead } from '../support/follow-ups.js';
import { stackForFile, testSenderNumber } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound } from '../support/webhooks.js';

const stack = stackForFile();

describe('the conversation with a lead', () => {
  it('shows the step sent and the reply, newest first, pages back with `before`, and is 404 for another tenant', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const { phone, leadId, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 3600, template: 'Still there?' },
    ]);
    const sent = await until(
      () => stack.db.message.findFirst({ where: { leadId, twilioSid: { not: null } } }),
      'the first step sent',
    );
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works' })).status).toBe(200);

    const conversation = await request(stack.app).get(`/v1/leads/${leadId}/messages`).set(auth);
    expect(conversation.status).toBe(200);
    expect(conversation.body.items).toEqual([
      expect.objectContaining({
        direction: 'inbound',
        body: 'Tuesday works',
        status: 'received',
        intent: 'message',
        enrollmentId: null,
        step: null,
      }),
      {
        id: sent.id,
        direction: 'outbound',
        body: 'Hi Ada',
        status: sent.status,
        twilioSid: sent.twilioSid,
        errorCode: null,
        segments: 1,
        cost: sent.cost?.toString(),
        enrollmentId,
        step: 0,
        appointmentId: null,
        skipReason: null,
        heldReason: null,
        intent: null,
        createdAt: sent.createdAt.toISOString(),
        sentAt: sent.sentAt?.toISOString(),
      },
    ]);
    expect(conversation.body.next).toBeNull();

    const newest = await request(stack.app).get(`/v1/leads/${leadId}/messages`).query({ limit: 1 }).set(auth);
    expect(newest.body.items.map((item: { direction: string }) => item.direction)).toEqual(['inbound']);
    const older = await request(stack.app)
      .get(`/v1/leads/${leadId}/messages`)
      .query({ limit: 1, before: newest.body.next })
      .set(auth);
    expect(older.body.items.map((item: { id: string }) => item.id)).toEqual([sent.id]);

    const other = await createTenant(stack.db);
    const foreign = await request(stack.app).get(`/v1/leads/${leadId}/messages`).set(other.auth);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toMatchObject({ code: 'not_found' });
    expect((await request(stack.app).get('/v1/leads/not-a-uuid/messages').set(auth)).status).toBe(404);
  });
});
