// An inbound SMS the database cannot take (PostgreSQL down) is kept on the API's disk and processed, in arrival order,
// once the database answers: Twilio does not resend an inbound webhook answered 500, so before this a STOP in the
// lead's own words arriving during an outage was lost, and the follow-up went on texting.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createInboundSpool } from '../../api/webhooks/inbound-spool.js';
import { createDb } from '../../common/db.js';
import { phoneHash } from '../../common/opt-outs.js';
import { anytimeSettings, createTenant } from '../support/fixtures.js';
import { enrolledLead } from '../support/follow-ups.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';
import { inbound, randomSenderNumber } from '../support/webhooks.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

// Nothing listens on port 1: every statement fails as it does with PostgreSQL down.
const downDb = createDb('postgresql://nobody:nothing@127.0.0.1:1/none', { maxConnections: 1 });
afterAll(() => downDb.$disconnect());

const spoolDir = () => join(tmpdir(), `inbound-spool-test-${randomUUID()}`);
const spoolOn = (dir: string, db = stack.db) =>
  createInboundSpool({
    dir,
    db,
    logger: pino({ level: 'silent' }),
    signalRelay: stack.deps.signalRelay,
    options: { sharedSenders: [testSenderNumber] },
  });

async function tenantWithNumber() {
  const number = randomSenderNumber();
  const tenant = await createTenant(stack.db, { ...anytimeSettings, senders: { create: { value: number } } });
  return { ...tenant, number };
}

describe('inbound SMS while the database is down', () => {
  it('a STOP in the lead’s words is answered 200, kept, and once the database answers opts out and halts the follow-up', async () => {
    const { tenant, auth, number } = await tenantWithNumber();
    const { phone, enrollmentId } = await enrolledLead(stack.app, auth, [{ delaySeconds: 3600, template: 'one' }]);
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });

    const answered = await inbound(down, { From: phone, To: number, Body: "Stop I'm not interested" });
    expect(answered.status).toBe(200);
    expect(answered.text).not.toContain('<Message>');
    expect(await readdir(dir)).toHaveLength(1);
    // Before: a 500, which Twilio does not resend, and nothing anywhere.
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(0);

    // Still down: the round fails and keeps the message.
    await expect(spoolOn(dir, downDb).round()).rejects.toThrow();
    expect(await readdir(dir)).toHaveLength(1);

    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    expect(
      await stack.db.optOut.findFirst({ where: { tenantId: tenant.id, phoneHash: phoneHash(phone) } }),
    ).toMatchObject({ source: 'inbound_keyword', confirmedAt: null });
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } })).toMatchObject({
      haltedBy: 'opted_out',
    });
    // No TwiML carries an answer any more: none is recorded as sent.
    expect(
      await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'outbound', toPhone: phone } }),
    ).toBe(0);
    // Processed once: the same MessageSid kept twice (a second API replica, say) changes nothing more.
    expect(await stack.db.consentEvent.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it('messages kept in turn are processed in arrival order: a STOP then a START leaves the lead opted in', async () => {
    const { tenant, number } = await tenantWithNumber();
    const phone = `+4477009${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    for (const Body of ['please stop texting me', 'START'])
      expect((await inbound(down, { From: phone, To: number, Body })).status).toBe(200);
    await spoolOn(dir).round();
    const consent = await stack.db.consentEvent.findMany({
      where: { tenantId: tenant.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(consent.map((event) => event.kind)).toEqual(['opt_out', 'opt_in']);
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it('a message that cannot be kept either is a 500, as before', async () => {
    const { number } = await tenantWithNumber();
    const dir = spoolDir();
    // A file where the directory should be: nothing can be kept in it.
    await mkdir(join(dir, '..'), { recursive: true });
    await writeFile(dir, 'not a directory');
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    const answered = await inbound(down, { From: '+447700900555', To: number, Body: 'STOP' });
    expect(answered.status).toBe(500);
  });
});
