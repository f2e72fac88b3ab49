// The worst interleavings of common/lock-order.ts's writers: a STOP that holds the tenant's event lock and then halts
// an enrollment, while that enrollment's start or close is recorded; a carrier's opt-out (21610) racing a STOP; an
// erasure racing a status callback of the lead's message. Taken in opposite orders, PostgreSQL ends one of the two
// with a deadlock after a second (a 500 for an API call or a webhook); here both commit.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createEnrollmentActivities } from '../../activities/enrollments.js';
import { recordHandover } from '../../activities/twilio-handover.js';
import { lockConversation } from '../../common/conversation.js';
import { recordOptOut } from '../../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import { createTenant, enrolledLead } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { untilOneWaitsForEventLock } from '../support/wait.js';
import { messageSid, statusCallback } from '../support/webhooks.js';

const stack = stackForFile();

/**
 * An opt-out as POST /v1/opt-outs records it, stopped between its event (the event lock taken) and its halt of the
 * phone's enrollments until `release` is called.
 */
const optOutHeldAfterItsEvent = (tenantId: string, phone: string) =>
  heldTransaction(
    stack.db,
    async (tx) => {
      await lockConversation(tx, tenantId, phone);
      await recordOptOut(tx, { tenantId, phone, source: 'crm' });
    },
    (tx) => queueSignalsForPhone(tx, tenantId, phone, { signal: signalNames.optOut, payload: { source: 'crm' } }),
  );

/** A lead enrolled, its first step sent (its SID recorded) and not yet delivered. */
async function leadTexted() {
  const { tenant, auth } = await createTenant(stack.db);
  const { lead, enrollment } = await enrolledLead(stack.db, tenant.id);
  const sid = messageSid();
  await stack.db.message.create({
    data: {
      tenantId: tenant.id,
      leadId: lead.id,
      enrollmentId: enrollment.id,
      direction: 'outbound',
      toPhone: lead.phone,
      body: 'Hi',
      twilioSid: sid,
      status: 'sent',
      idempotencyKey: `${enrollment.id}:0`,
    },
  });
  return { tenantId: tenant.id, auth, lead, enrollment, sid };
}

/** The enrollment's row and the tenant's events once both commit. */
async function afterBoth(tenantId: string, enrollmentId: string) {
  const enrollment = await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } });
  const events = await stack.db.event.findMany({ where: { tenantId }, orderBy: { sequence: 'asc' } });
  return { enrollment, eventTypes: events.map((event) => event.type) };
}

describe('lock order', () => {
  type Enrolled = Awaited<ReturnType<typeof enrolledLead>>;
  const activities = () => createEnrollmentActivities({ db: stack.db });
  it.each([
    [
      "start's record",
      {
        record: ({ lead, enrollment }: Enrolled) =>
          activities().recordEnrollmentStarted({
            enrollmentId: enrollment.id,
            tenantId: lead.tenantId,
            leadId: lead.id,
            sequenceId: enrollment.sequenceId,
            workflowId: enrollment.workflowId,
            runId: randomUUID(),
            idempotencyKey: null,
          }),
        status: 'running',
        events: ['enrollment.started'],
      },
    ],
    [
      'close',
      {
        record: ({ lead, enrollment }: Enrolled) =>
          activities().recordEnrollmentOutcome({
            enrollmentId: enrollment.id,
            tenantId: lead.tenantId,
            leadId: lead.id,
            status: 'completed',
            reason: 'every step sent',
          }),
        status: 'completed',
        // This enrollment's run never recorded its start: the close records it first.
        events: ['enrollment.started', 'enrollment.closed'],
      },
    ],
  ] as const)(
    'a STOP halting an enrollment whose %s waits for the event lock: both commit',
    async (_what, { record, status, events }) => {
      const { tenant } = await createTenant(stack.db);
      const enrolled = await enrolledLead(stack.db, tenant.id);
      const stop = await optOutHeldAfterItsEvent(tenant.id, enrolled.lead.phone);
      const recording = record(enrolled);
      await untilOneWaitsForEventLock(stack.db);
      stop.release();
      await Promise.all([stop.committed, recording]);

      expect(await afterBoth(tenant.id, enrolled.enrollment.id)).toMatchObject({
        enrollment: { status, haltedBy: 'opted_out' },
        eventTypes: ['lead.opted_out', ...events],
      });
    },
  );

  it("a carrier's opt-out (status 21610) while a STOP of the same phone holds the conversation's lock: both commit", async () => {
    const { tenantId, lead, sid } = await leadTexted();
    const phone = lead.phone;
    const stop = await heldTransaction(
      stack.db,
      (tx) => lockConversation(tx, tenantId, phone),
      async (tx) => {
        await recordOptOut(tx, { tenantId, phone, source: 'crm' });
        await queueSignalsForPhone(tx, tenantId, phone, { signal: signalNames.optOut, payload: { source: 'crm' } });
      },
    );
    const callback = statusCallback(stack.app, { MessageSid: sid, MessageStatus: 'undelivered', ErrorCode: '21610' });
    const answered = callback.then((answer) => answer);
    await untilWaitingBehind(stack.db, stop.pid, 1);
    stop.release();
    const [answer] = await Promise.all([answered, stop.committed]);

    expect(answer.status).toBe(200);
    expect((await stack.db.message.findUniqueOrThrow({ where: { twilioSid: sid } })).status).toBe('undelivered');
    const events = await stack.db.event.findMany({ where: { tenantId }, orderBy: { sequence: 'asc' } });
    expect(events.map((event) => event.type)).toEqual(['lead.opted_out', 'message.undelivered']);
  });

  it("a lookup finding its message failed 21610 at Twilio while a STOP of the same phone holds the conversation's lock: both commit", async () => {
    const { tenantId, lead, enrollment } = await leadTexted();
    const phone = lead.phone;
    // A second step's row whose create call went unanswered: a retry's lookup finds it at Twilio, refused 21610.
    const row = await stack.db.message.create({
      data: {
        tenantId,
        leadId: lead.id,
        enrollmentId: enrollment.id,
        direction: 'outbound',
        toPhone: phone,
        body: 'Still there?',
        status: 'pending',
        claimedAt: new Date(),
        idempotencyKey: `${enrollment.id}:1`,
      },
    });
    const stop = await heldTransaction(
      stack.db,
      (tx) => lockConversation(tx, tenantId, phone),
      (tx) => recordOptOut(tx, { tenantId, phone, source: 'inbound_keyword' }),
    );
    const found = { sid: messageSid(), status: 'failed' as const, errorCode: 21610, createdAt: new Date() };
    const handover = recordHandover(stack.db, row, found);
    await untilWaitingBehind(stack.db, stop.pid, 1);
    stop.release();
    // Before: the lookup's record took the event lock (message.sent) and then waited for the conversation's, which the
    // STOP held while it waited for the event lock: PostgreSQL ended one of them with a deadlock.
    await Promise.all([handover, stop.committed]);
    expect(await stack.db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      status: 'failed',
      errorCode: 21610,
    });
    const events = await stack.db.event.findMany({ where: { tenantId }, orderBy: { sequence: 'asc' } });
    expect(events.map((event) => event.type)).toEqual(['lead.opted_out', 'message.sent', 'message.failed']);
  });

  it("an erasure waiting to halt the lead's enrollment while a status callback of its message arrives: both answer", async () => {
    const { tenantId, auth, lead, enrollment, sid } = await leadTexted();
    // Something else (a send's gate, a close) holding the enrollment's row, so the erasure stops at its halt.
    const other = await heldTransaction(
      stack.db,
      (tx) => tx.$executeRaw`SELECT 1 FROM enrollments WHERE id = ${enrollment.id}::uuid FOR UPDATE`,
    );
    const erasure = request(stack.app)
      .delete(`/v1/leads/${lead.id}`)
      .set(auth)
      .then((answer) => answer);
    await untilWaitingBehind(stack.db, other.pid, 1);
    const callback = statusCallback(stack.app, { MessageSid: sid, MessageStatus: 'delivered' }).then(
      (answer) => answer,
    );
    await untilWaitingBehind(stack.db, other.pid, 2);
    other.release();
    const [erased, delivered] = await Promise.all([erasure, callback, other.committed]);

    expect([erased.status, delivered.status]).toEqual([200, 200]);
    expect(await stack.db.message.count({ where: { tenantId } })).toBe(0);
    expect((await stack.db.lead.findUniqueOrThrow({ where: { id: lead.id } })).status).toBe('erased');
  });
});
