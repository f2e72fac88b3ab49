// An inbound SMS the database cannot take (PostgreSQL down) is kept on the API's disk and processed, in arrival order,
// once the database answers: Twilio does not resend an inbound webhook answered 500, so before this a STOP in the
// lead's own words arriving during an outage was lost, and the follow-up went on texting.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createInboundSpool } from '../../api/webhooks/inbound-spool.js';
import { createDb } from '../../common/db.js';
import { noMetrics } from '../../common/metrics.js';
import { phoneHash } from '../../common/opt-outs.js';
import { anytimeSettings, createTenant, leadTextedAt } from '../support/fixtures.js';
import { enrolledLead, enrollmentStatus } from '../support/follow-ups.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';
import { until } from '../support/wait.js';
import { inbound, messageSid, randomSenderNumber, statusCallback } from '../support/webhooks.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

// Nothing listens on port 1: every statement fails as it does with PostgreSQL down.
const downDb = createDb('postgresql://nobody:nothing@127.0.0.1:1/none', { maxConnections: 1 });
afterAll(() => downDb.$disconnect());

const spoolDir = () => join(tmpdir(), `inbound-spool-test-${randomUUID()}`);
const spoolDeps = (dir: string, db = stack.db) => ({
  dir,
  db,
  logger: pino({ level: 'silent' }),
  signalRelay: stack.deps.signalRelay,
  options: { sharedSenders: [testSenderNumber] },
});
const spoolOn = (dir: string, db = stack.db) => createInboundSpool(spoolDeps(dir, db));
const optedOutPhones = async (tenantId: string) =>
  (await stack.db.optOut.findMany({ where: { tenantId }, select: { phoneHash: true } })).map((row) => row.phoneHash);

/** Metrics that keep what a spool's round counts. */
function countingMetrics() {
  const optOuts: string[] = [];
  const twilioErrors: [number, string][] = [];
  const metrics = {
    ...noMetrics,
    optOutRecorded: (source: string) => optOuts.push(source),
    twilioError: (code: number, source: string) => twilioErrors.push([code, source]),
  };
  return { optOuts, twilioErrors, metrics };
}

const privatePhone = () => `+4477009${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;

/** Kept files named as if they had come `minutes` ago (their names start with the arrival, in epoch milliseconds). */
async function keptMinutesAgo(dir: string, minutes: number) {
  const arrival = String(Date.now() - minutes * 60_000).padStart(15, '0');
  for (const name of await readdir(dir)) await rename(join(dir, name), join(dir, name.replace(/^\d{15}/, arrival)));
}

async function tenantWithNumber() {
  const number = randomSenderNumber();
  const tenant = await createTenant(stack.db, { ...anytimeSettings, senders: { create: { value: number } } });
  return { ...tenant, number };
}

/** A message kept while the database was down, and an app that finds the database back with the message still kept. */
async function keptWhileDown(Body: string) {
  const { tenant, number } = await tenantWithNumber();
  const phone = privatePhone();
  const dir = spoolDir();
  const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
  expect((await inbound(down, { From: phone, To: number, Body })).status).toBe(200);
  return { tenant, number, phone, dir, up: createApp({ ...stack.deps, inboundSpool: spoolOn(dir) }) };
}

describe('inbound SMS while the database is down', () => {
  it('a STOP in the lead’s words is answered 200, kept, and once the database answers opts out and halts the follow-up', async () => {
    const { tenant, auth, number } = await tenantWithNumber();
    const { phone, enrollmentId } = await enrolledLead(stack.app, auth, [{ delaySeconds: 3600, template: 'one' }]);
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });

    const stop = { From: phone, To: number, Body: "Stop I'm not interested", MessageSid: messageSid() };
    const answered = await inbound(down, stop);
    expect(answered.status).toBe(200);
    expect(answered.text).not.toContain('<Message>');
    // Twilio's own retry of it, kept too (or a second API replica's): processed once all the same.
    expect((await inbound(down, stop)).status).toBe(200);
    expect(await readdir(dir)).toHaveLength(2);
    // Before: a 500, which Twilio does not resend, and nothing anywhere.
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(0);

    // Still down: the round fails and keeps the message.
    await expect(spoolOn(dir, downDb).round()).rejects.toThrow();
    expect(await readdir(dir)).toHaveLength(2);

    const { optOuts: optOutsCounted, metrics } = countingMetrics();
    await createInboundSpool({ ...spoolDeps(dir), metrics }).round();
    expect(await readdir(dir)).toEqual([]);
    expect(
      await stack.db.optOut.findFirst({ where: { tenantId: tenant.id, phoneHash: phoneHash(phone) } }),
    ).toMatchObject({ source: 'inbound_keyword', confirmedAt: null });
    // Counted as a live one is, once: before, an opt-out processed late was missing from the metric.
    expect(optOutsCounted).toEqual(['inbound_keyword']);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } })).toMatchObject({
      haltedBy: 'opted_out',
    });
    // No TwiML carries an answer any more: none is recorded as sent.
    expect(
      await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'outbound', toPhone: phone } }),
    ).toBe(0);
    expect(await stack.db.consentEvent.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it('a message kept before the lead was erased is dropped for the tenant that erased it: nothing of it comes back', async () => {
    const { tenant, auth, number } = await tenantWithNumber();
    const phone = privatePhone();
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    for (const Body of ['My address is 4 Elm Row', 'YES', 'STOP'])
      expect((await inbound(down, { From: phone, To: number, Body })).status).toBe(200);
    expect((await request(stack.app).delete(`/v1/leads/${lead.body.id}`).set(auth)).status).toBe(200);

    const { optOuts: optOutsCounted, metrics } = countingMetrics();
    await createInboundSpool({ ...spoolDeps(dir), metrics }).round();
    // The STOP reached nobody: the erasure's own opt-out stands, counted by the erasure.
    expect(optOutsCounted).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
    // Before: the reply came back as a message row and a message.received event with the phone and the words, and
    // the YES deleted the erasure's opt-out.
    expect(await stack.db.message.count({ where: { tenantId: tenant.id, fromPhone: phone } })).toBe(0);
    const events = await stack.db.event.findMany({ where: { tenantId: tenant.id } });
    expect(JSON.stringify(events.map((event) => event.data))).not.toContain(phone);
    expect(await stack.db.optOut.findFirst({ where: { tenantId: tenant.id } })).toMatchObject({ source: 'erasure' });
  });

  it('a reply kept before an erasure reaches no other tenant on a shared number: the erased one’s texts are gone', async () => {
    const [erasing, other] = [
      await createTenant(stack.db, anytimeSettings),
      await createTenant(stack.db, anytimeSettings),
    ];
    const phone = privatePhone();
    const texted = ({ tenant }: { tenant: { id: string } }, at: Date) =>
      leadTextedAt(stack.db, { tenantId: tenant.id, phone, from: testSenderNumber, at });
    await texted(other, new Date(Date.now() - 3_600_000));
    const lead = await texted(erasing, new Date());
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    const reply = { From: phone, To: testSenderNumber, Body: 'My address is 4 Elm Row' };
    expect((await inbound(down, reply)).status).toBe(200);
    expect((await request(stack.app).delete(`/v1/leads/${lead.id}`).set(erasing.auth)).status).toBe(200);

    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    // Before: the other tenant, now the latest texter left, recorded the words the lead sent to the erasing one.
    expect(await stack.db.message.count({ where: { fromPhone: phone, direction: 'inbound' } })).toBe(0);
  });

  it('a reply kept before another tenant erased its own lead of that phone still reaches the number’s owner', async () => {
    const { auth, number } = await tenantWithNumber();
    const unrelated = await createTenant(stack.db, anytimeSettings);
    const phone = privatePhone();
    const ours = await enrolledLead(stack.app, auth, [{ delaySeconds: 3600, template: 'one' }], phone);
    const theirs = await request(stack.app).post('/v1/leads').set(unrelated.auth).send({ phone, firstName: 'Ada' });
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    expect((await inbound(down, { From: phone, To: number, Body: 'Sounds good' })).status).toBe(200);
    expect((await request(stack.app).delete(`/v1/leads/${theirs.body.id}`).set(unrelated.auth)).status).toBe(200);

    await spoolOn(dir).round();
    // Before (found by review): any tenant's erasure of the phone dropped it, and the owner's follow-up went on.
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: ours.enrollmentId } })).toMatchObject({
      haltedBy: 'replied',
    });
  });

  it('a START kept ten minutes ago lifts no opt-out the phone asked for since', async () => {
    const { tenant, number } = await tenantWithNumber();
    const phone = privatePhone();
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    expect((await inbound(down, { From: phone, To: number, Body: 'START' })).status).toBe(200);
    await keptMinutesAgo(dir, 10);
    // Since then, through another replica (or before an operator moved a START set aside back): a STOP.
    expect((await inbound(stack.app, { From: phone, To: number, Body: 'please stop texting me' })).status).toBe(200);

    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    // Before: the START deleted the newer opt-out.
    const optOut = await stack.db.optOut.findFirst({ where: { tenantId: tenant.id, phoneHash: phoneHash(phone) } });
    expect(optOut).not.toBeNull();
    const consent = await stack.db.consentEvent.findMany({
      where: { tenantId: tenant.id },
      orderBy: { createdAt: 'asc' },
    });
    // In the order the lead asked: the START ten minutes ago, then the STOP.
    expect(consent.map(({ kind, note }) => [kind, note])).toEqual([
      ['opt_in', expect.stringMatching(/^not applied: processed late/)],
      ['opt_out', null],
    ]);
  });

  it('a reply kept ten minutes ago ends no follow-up that started since: it answered none of its texts', async () => {
    const { auth, number } = await tenantWithNumber();
    const phone = privatePhone();
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    expect((await inbound(down, { From: phone, To: number, Body: 'Sounds good' })).status).toBe(200);
    await keptMinutesAgo(dir, 10);
    const { enrollmentId } = await enrolledLead(stack.app, auth, [{ delaySeconds: 3600, template: 'one' }], phone);

    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    // Before: the old reply halted the new follow-up, and the CRM heard it replied.
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } })).toMatchObject({
      haltedBy: null,
      status: 'running',
    });
    // Nor is it counted as the new one's reply (found by review: its own reply would then never count).
    const overview = await request(stack.app).get('/v1/analytics/overview').set(auth);
    expect(overview.body.totals).toMatchObject({ replied: 0 });
    // Listed when it came, before the follow-up's start (before: stamped when processed, after the texts it preceded).
    const kept = await stack.db.message.findFirstOrThrow({ where: { fromPhone: phone, direction: 'inbound' } });
    const started = await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } });
    expect(kept.createdAt.getTime()).toBeLessThan(started.startedAt.getTime() - 9 * 60_000);
  });

  it('messages kept in turn are processed in arrival order: a STOP then a START leaves the lead opted in', async () => {
    const { tenant, number } = await tenantWithNumber();
    const phone = privatePhone();
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

  it('while messages are kept, a STOP is processed at once and an older START kept ahead of it never undoes it', async () => {
    const { tenant, number, phone, dir, up } = await keptWhileDown('START');
    // The database is back; the START still waits for the spool's next round when the STOP comes.
    expect((await inbound(up, { From: phone, To: number, Body: 'please stop texting me' })).status).toBe(200);
    // Before: the STOP went behind the START, and the texts went on until the spool's round (up to its set-aside bound).
    expect(await optedOutPhones(tenant.id)).toEqual([phoneHash(phone)]);
    expect(await readdir(dir)).toHaveLength(1);
    await spoolOn(dir).round();
    const consent = await stack.db.consentEvent.findMany({
      where: { tenantId: tenant.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(consent.map((event) => event.kind)).toEqual(['opt_in', 'opt_out']);
    expect(await optedOutPhones(tenant.id)).toEqual([phoneHash(phone)]);
  });

  it('while messages are kept, a START goes behind them, in the order they came: a kept STOP then a START leaves the lead opted in', async () => {
    const { tenant, number, phone, dir, up } = await keptWhileDown('STOP');
    expect((await inbound(up, { From: phone, To: number, Body: 'START' })).status).toBe(200);
    expect(await readdir(dir)).toHaveLength(2);
    await spoolOn(dir).round();
    expect(await optedOutPhones(tenant.id)).toEqual([]);
  });

  it('a START kept once its database call timed out is kept as of when it came: a STOP processed meanwhile stands', async () => {
    const { tenant, number } = await tenantWithNumber();
    const phone = privatePhone();
    const dir = spoolDir();
    let reachedTransaction = () => {};
    const reached = new Promise<void>((resolve) => (reachedTransaction = resolve));
    let timeOut = () => {};
    const timedOut = new Promise<void>((resolve) => (timeOut = resolve));
    // The database slow to hand the START a connection for its transaction, and giving up only once a STOP is through.
    const slow = new Proxy(stack.db, {
      get: (target, property) =>
        property === '$transaction'
          ? async () => {
              reachedTransaction();
              await timedOut;
              throw new Error('Timed out fetching a new connection from the connection pool');
            }
          : Reflect.get(target, property, target),
    });
    const slowApp = createApp({ ...stack.deps, db: slow, inboundSpool: spoolOn(dir, slow) });
    const start = inbound(slowApp, { From: phone, To: number, Body: 'START' }).then((response) => response);
    await reached;
    expect((await inbound(stack.app, { From: phone, To: number, Body: 'please stop texting me' })).status).toBe(200);
    timeOut();
    expect((await start).status).toBe(200);

    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    // Before: the START was kept as of its timeout, after the STOP, and lifted the opt-out the lead asked for last.
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id, phoneHash: phoneHash(phone) } })).toBe(1);
  });

  it('a START kept between two STOPs to the number lifts neither the tenant’s opt-out nor the number’s block', async () => {
    const { number } = await tenantWithNumber();
    const phone = privatePhone();
    const dir = spoolDir();
    expect((await inbound(stack.app, { From: phone, To: number, Body: 'please stop texting me' })).status).toBe(200);
    // A START that came a moment later was kept (its database call failed); the phone asked to stop again since.
    await spoolOn(dir).keep({ MessageSid: messageSid(), From: phone, To: number, Body: 'START' }, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await inbound(stack.app, { From: phone, To: number, Body: 'stop texting me' })).status).toBe(200);
    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual([]);
    // Before: the number's block kept the first STOP's time, and the START, newer than that, lifted it.
    expect(await stack.db.senderOptOut.count({ where: { sender: number, phoneHash: phoneHash(phone) } })).toBe(1);
  });

  it('a kept message that keeps failing with the database up holds back only its own phone, and is set aside after a while', async () => {
    const { tenant, number } = await tenantWithNumber();
    const poisoned = randomSenderNumber();
    // Recipients of a message to this number cannot be read (as a bug would fail it), while the database answers.
    const failing = new Proxy(stack.db, {
      get: (db, property) =>
        property === 'tenantSender'
          ? new Proxy(db.tenantSender, {
              get: (senders, name) =>
                name === 'findMany'
                  ? (args: { where?: { value?: { in?: string[] } } }) =>
                      args.where?.value?.in?.includes(poisoned)
                        ? Promise.reject(new Error('cannot read this one'))
                        : senders.findMany(args as Parameters<typeof senders.findMany>[0])
                  : Reflect.get(senders, name, senders),
            })
          : Reflect.get(db, property, db),
    });
    const [stuck, other] = [privatePhone(), privatePhone()];
    const dir = spoolDir();
    const spool = (setAsideAfterMs: number) => createInboundSpool({ ...spoolDeps(dir, failing), setAsideAfterMs });
    await spool(60_000).keep({ MessageSid: messageSid(), From: stuck, To: poisoned, Body: 'hello?' }, Date.now());
    await spool(60_000).keep(
      { MessageSid: messageSid(), From: stuck, To: number, Body: 'please stop texting me' },
      Date.now(),
    );
    await spool(60_000).keep(
      { MessageSid: messageSid(), From: other, To: number, Body: 'please stop texting me' },
      Date.now(),
    );
    // Before: the first failing stopped every round, every phone's messages behind it, for good.
    await spool(60_000).round();
    expect(await optedOutPhones(tenant.id)).toEqual([phoneHash(other)]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.json'))).toHaveLength(2);
    // Failing past the bound: set aside, and the phone's STOP behind it goes.
    await spool(0).round();
    expect((await optedOutPhones(tenant.id)).sort()).toEqual([phoneHash(other), phoneHash(stuck)].sort());
    expect(await readdir(join(dir, 'set-aside'))).toHaveLength(1);
  });

  it('a kept message PostgreSQL refuses for its own data, or that cannot be read, is set aside, and the ones behind it go on', async () => {
    const { tenant, number } = await tenantWithNumber();
    const phone = privatePhone();
    const dir = spoolDir();
    const spool = spoolOn(dir);
    // PostgreSQL refuses a NUL in text: this one fails every time, whatever the database's health.
    await spool.keep({ MessageSid: messageSid(), From: phone, To: number, Body: 'bad \u0000 byte' }, Date.now());
    await spool.keep({ MessageSid: messageSid(), From: phone, To: number, Body: 'please stop texting me' }, Date.now());
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '000000000000001-000000-0000000000000000-unreadable.json'), '{ not json');
    // Before: every round stopped at the first, and the STOP behind it waited for ever.
    await spool.round();
    expect(await stack.db.optOut.count({ where: { tenantId: tenant.id } })).toBe(1);
    expect((await readdir(dir)).filter((name) => name.endsWith('.json'))).toEqual([]);
    expect(await readdir(join(dir, 'set-aside'))).toHaveLength(2);
  });

  it('two replicas sharing the directory process its messages at once: each once, and neither round fails', async () => {
    const { tenant, number } = await tenantWithNumber();
    const dir = spoolDir();
    const phones = [privatePhone(), privatePhone(), privatePhone()];
    for (const phone of phones)
      await spoolOn(dir).keep(
        { MessageSid: messageSid(), From: phone, To: number, Body: 'please stop texting me' },
        Date.now(),
      );
    // Before: the slower replica's removal of a file the other had removed failed its round.
    await Promise.all([spoolOn(dir).round(), spoolOn(dir).round()]);
    expect(await readdir(dir)).toEqual([]);
    expect(await stack.db.consentEvent.count({ where: { tenantId: tenant.id } })).toBe(3);
  });

  it('a partial file a crash left before its rename is removed once it is a minute old', async () => {
    const dir = spoolDir();
    await mkdir(dir, { recursive: true });
    const left = join(dir, '000000000000001-000000-0000000000000000-SMx.json.partial');
    await writeFile(left, '{"MessageSid":');
    const minuteAgo = new Date(Date.now() - 61_000);
    await utimes(left, minuteAgo, minuteAgo);
    const fresh = join(dir, '000000000000002-000000-0000000000000000-SMy.json.partial');
    await writeFile(fresh, '{"MessageSid":');
    await spoolOn(dir).round();
    expect(await readdir(dir)).toEqual(['000000000000002-000000-0000000000000000-SMy.json.partial']);
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
    expect((await statusCallback(down, { MessageSid: messageSid(), MessageStatus: 'delivered' })).status).toBe(500);
  });
});

describe('status callbacks while the database is down', () => {
  it('an undelivered 30007 is answered 200, kept, and once the database answers recorded, counted, and the follow-up ended', async () => {
    const { auth } = await tenantWithNumber();
    const lead = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 3600, template: 'two' },
    ]);
    const sent = await until(
      () => stack.db.message.findFirst({ where: { leadId: lead.leadId, twilioSid: { not: null } } }),
      'the first step at Twilio',
    );
    const dir = spoolDir();
    const down = createApp({ ...stack.deps, db: downDb, inboundSpool: spoolOn(dir, downDb) });
    const filtered = { MessageSid: sent.twilioSid ?? '', MessageStatus: 'undelivered', ErrorCode: '30007' };
    // Before: a 500, which Twilio does not resend: the message stayed `sent` and the follow-up texted on.
    expect((await statusCallback(down, filtered)).status).toBe(200);
    expect((await statusCallback(down, filtered)).status).toBe(200);
    expect(await readdir(dir)).toHaveLength(2);
    await expect(spoolOn(dir, downDb).round()).rejects.toThrow();
    expect(await readdir(dir)).toHaveLength(2);

    const { twilioErrors, metrics } = countingMetrics();
    await createInboundSpool({ ...spoolDeps(dir), metrics }).round();
    expect(await readdir(dir)).toEqual([]);
    expect(await stack.db.message.findUniqueOrThrow({ where: { id: sent.id } })).toMatchObject({
      status: 'undelivered',
      errorCode: 30007,
    });
    // Counted once, as a live one is: the second copy is Twilio's duplicate.
    expect(twilioErrors).toEqual([[30007, 'status_callback']]);
    expect(await stack.db.event.count({ where: { type: 'message.undelivered', leadId: lead.leadId } })).toBe(1);
    await expect.poll(() => enrollmentStatus(stack.app, auth, lead.enrollmentId), { timeout: 10_000 }).toBe('failed');
    expect(stack.fake.createCallsTo(lead.phone)).toBe(1);
  });
});
