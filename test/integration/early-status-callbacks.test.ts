// Status callbacks that come before their message row knows its SID: Twilio does not send a callback answered 200
// again, so one that beats the record of the create call's answer (or of a timed-out call's message, found at Twilio
// by a later attempt) is parked and applied when the row records the SID, whichever commits first.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordHandover } from '../../activities/twilio-handover.js';
import { createApp } from '../../api/app.js';
import type { Db } from '../../common/db.js';
import { lockTenantEventsOf } from '../../common/events.js';
import { phoneHash } from '../../common/opt-outs.js';
import { Prisma } from '../../generated/prisma/client.js';
import { createTenant, pendingFirstStep, testDb } from '../support/fixtures.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { testAppDeps } from '../support/stack.js';
import { messageSid, statusCallback } from '../support/webhooks.js';

let db: Db;
let connection: Connection;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  db = testDb();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  // No worker: the tests record the SID themselves, as the send activity and the claim settler do.
  app = createApp(testAppDeps(db, new Client({ connection }), 'no-worker'));
});
afterAll(async () => {
  await Promise.all([db?.$disconnect(), connection?.close()]);
});

/** A pending outbound message its send has claimed, in a tenant of its own. */
async function claimedMessage() {
  const { tenant } = await createTenant(db);
  const { lead, row } = await pendingFirstStep(db, tenant.id, { claimedAt: new Date(), claimedAttempt: 1 });
  return { tenant, lead, row };
}

const eventsOf = async (leadId: string) =>
  (await db.event.findMany({ where: { leadId }, orderBy: { sequence: 'asc' } })).map((event) => ({
    type: event.type,
    data: event.data,
  }));

const post = (sid: string, status: string, errorCode?: number) =>
  statusCallback(app, {
    MessageSid: sid,
    MessageStatus: status,
    ...(errorCode ? { ErrorCode: String(errorCode) } : {}),
  }).then((response) => response);

describe('a status callback that comes before the row records its SID', () => {
  it('is answered 200 and applied once the create call is recorded: status, error code and its message.* event', async () => {
    const { lead, row } = await claimedMessage();
    const other = await claimedMessage();
    const sid = messageSid();
    expect((await post(sid, 'sent')).status).toBe(200);
    expect((await post(sid, 'delivered')).status).toBe(200);

    // Another tenant's row recording another SID takes none of them: a parked callback goes only to its SID's row.
    await recordHandover(db, other.row, { sid: messageSid(), status: 'queued' });
    expect(await db.message.findUniqueOrThrow({ where: { id: other.row.id } })).toMatchObject({ status: 'queued' });

    expect(await recordHandover(db, row, { sid, status: 'queued' })).toBe(true);
    expect(await db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      twilioSid: sid,
      status: 'delivered',
    });
    expect(await eventsOf(lead.id)).toEqual([
      { type: 'message.sent', data: expect.objectContaining({ twilioSid: sid }) },
      { type: 'message.delivered', data: expect.objectContaining({ twilioSid: sid, errorCode: null }) },
    ]);
    expect(await db.earlyStatusCallback.count({ where: { messageSid: sid } })).toBe(0);
    expect(await eventsOf(other.lead.id)).toEqual([expect.objectContaining({ type: 'message.sent' })]);
  });

  it('is applied when a later attempt finds the timed-out message at Twilio, Twilio already calling it failed', async () => {
    const { tenant, lead, row } = await claimedMessage();
    const sid = messageSid();
    await post(sid, 'failed', 21610);
    // What findSent answers for the message the timed-out create call did make.
    expect(await recordHandover(db, row, { sid, status: 'failed', createdAt: new Date(Date.now() - 60_000) })).toBe(
      true,
    );
    expect(await db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      status: 'failed',
      errorCode: 21610,
    });
    expect(await eventsOf(lead.id)).toEqual([
      expect.objectContaining({ type: 'message.sent' }),
      { type: 'message.failed', data: expect.objectContaining({ twilioSid: sid, errorCode: 21610 }) },
      expect.objectContaining({ type: 'lead.opted_out' }),
    ]);
    expect(await db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(lead.phone) } })).toBe(1);
  });

  it('none parked, a message found at Twilio already delivered records message.sent, then message.delivered', async () => {
    const { lead, row } = await claimedMessage();
    const sid = messageSid();
    expect(await recordHandover(db, row, { sid, status: 'delivered', createdAt: new Date(Date.now() - 60_000) })).toBe(
      true,
    );
    expect(await db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ status: 'delivered' });
    expect((await eventsOf(lead.id)).map((event) => event.type)).toEqual(['message.sent', 'message.delivered']);
  });

  it('arriving while the record of the SID is committing: applied once that commits, not lost', async () => {
    const { tenant, lead, row } = await claimedMessage();
    const sid = messageSid();
    // The record stopped between its write of the SID and its commit: its message.sent waits on the tenant's events.
    const holder = await heldTransaction(db, (tx) =>
      tx.$executeRaw(lockTenantEventsOf(Prisma.sql`SELECT ${tenant.id}::uuid, 0`)),
    );
    const recorded = recordHandover(db, row, { sid, status: 'queued' });
    await untilWaitingBehind(db, holder.pid, 1);
    const callback = post(sid, 'undelivered', 30003);
    // The callback waits for the record (or, with nothing to make it wait, answers at once).
    await Promise.race([untilWaitingBehind(db, holder.pid, 2), callback]);
    holder.release();
    await holder.committed;
    expect(await recorded).toBe(true);
    expect((await callback).status).toBe(200);
    expect(await db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      status: 'undelivered',
      errorCode: 30003,
    });
    expect((await eventsOf(lead.id)).map((event) => event.type)).toEqual(['message.sent', 'message.undelivered']);
  });

  it('racing the record of its SID, 20 times at once: every callback is applied, once', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const { lead, row } = await claimedMessage();
        const sid = messageSid();
        const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        await Promise.all([
          pause(index % 5).then(() => recordHandover(db, row, { sid, status: 'queued' })),
          pause(4 - (index % 5)).then(() => post(sid, 'delivered')),
        ]);
        return { lead, row };
      }),
    );
    for (const { lead, row } of pairs) {
      expect((await db.message.findUniqueOrThrow({ where: { id: row.id } })).status).toBe('delivered');
      expect((await eventsOf(lead.id)).map((event) => event.type)).toEqual(['message.sent', 'message.delivered']);
    }
  });

  it("Twilio's duplicate of a parked callback is parked once and applied once", async () => {
    const { lead, row } = await claimedMessage();
    const sid = messageSid();
    expect((await post(sid, 'failed', 30008)).status).toBe(200);
    expect((await post(sid, 'failed', 30008)).status).toBe(200);
    expect(await db.earlyStatusCallback.count({ where: { messageSid: sid } })).toBe(1);
    await recordHandover(db, row, { sid, status: 'queued' });
    expect((await post(sid, 'failed', 30008)).status).toBe(200);
    expect(await db.message.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      status: 'failed',
      errorCode: 30008,
    });
    expect((await eventsOf(lead.id)).map((event) => event.type)).toEqual(['message.sent', 'message.failed']);
  });
});
