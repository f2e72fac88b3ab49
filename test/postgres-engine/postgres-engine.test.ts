// The service on Temporal's production engine: temporal-server with PostgreSQL persistence and SQL visibility (schema
// set up by temporal-sql-tool, namespace and search attributes registered with the CLI), on the suite's embedded
// PostgreSQL. This file owns its server, so it can restart it in the middle of a sequence.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../common/free-port.js';
import { startPostgresEngine } from '../../scripts/stack/temporal-postgres.js';
import type { TemporalServer } from '../../scripts/stack/temporal.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { enrolledLead, enrollmentStatus } from '../support/follow-ups.js';
import { expectReadmeOperatorQueriesWork } from '../support/operator-queries.js';
import { leadFollowUpWorkflowId } from '../../workflows/lead-follow-up.messages.js';
import { waitingForKey } from '../../workflows/search-attributes.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';
import { inbound } from '../support/webhooks.js';

const dir = mkdtempSync(path.join(tmpdir(), 'temporal-postgres-engine-'));
let port: number;
let server: TemporalServer | undefined;
let stack: TestStack;

const startServer = () => startPostgresEngine({ postgresUrl: inject('databaseUrl'), dir, port });

beforeAll(async () => {
  port = await freePort();
  server = await startServer();
  stack = await startTestStack({ temporalAddress: server.address });
});
afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const bodiesTo = (phone: string) => stack.fake.calls.filter((call) => call.to === phone).map((call) => call.body);

describe('the service on temporal-server with PostgreSQL', () => {
  it('sends an enrollment’s first message once, and STOP then ends it with nothing more sent', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const { phone, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 3, template: 'Still there?' },
    ]);
    await expect.poll(() => bodiesTo(phone), { timeout: 20_000 }).toEqual(['Hi Ada']);

    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'STOP' })).status).toBe(200);
    await expect.poll(() => enrollmentStatus(stack.app, auth, enrollmentId), { timeout: 20_000 }).toBe('opted_out');
    // Past the second step's due time: it was never sent.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(bodiesTo(phone)).toEqual(['Hi Ada']);
  });

  it('ends a follow-up as replied when the lead answers', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const { phone, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 3600, template: 'Still there?' },
    ]);
    await expect.poll(() => bodiesTo(phone), { timeout: 20_000 }).toEqual(['Hi Ada']);
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works' })).status).toBe(200);
    await expect.poll(() => enrollmentStatus(stack.app, auth, enrollmentId), { timeout: 20_000 }).toBe('replied');
  });

  it('reschedules an appointment through its update and answers the new reminders', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile();
    const lead = await request(stack.app)
      .post('/v1/leads')
      .set(auth)
      .send({ phone: phone.national, firstName: 'Ada', timeZone: 'Europe/London' });
    const first = DateTime.now()
      .setZone('Europe/London')
      .plus({ months: 2 })
      .set({ hour: 10, minute: 0, second: 0, millisecond: 0 });
    const second = first.plus({ days: 2 }).set({ hour: 15, minute: 30 });
    const local = (time: DateTime) => time.toFormat("yyyy-MM-dd'T'HH:mm");
    const created = await request(stack.app)
      .post('/v1/appointments')
      .set(auth)
      .send({ leadId: lead.body.id, startsAt: local(first), timeZone: 'Europe/London' });
    expect(created.status).toBe(201);
    await expect.poll(() => stack.fake.createCallsTo(phone.e164), { timeout: 20_000 }).toBe(1);

    const moved = await request(stack.app)
      .post(`/v1/appointments/${created.body.id}/reschedule`)
      .set(auth)
      .send({ startsAt: local(second) });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      startsAt: second.toUTC().toISO(),
      live: { reschedules: 1, reminders: [{ status: 'scheduled' }, { status: 'scheduled' }] },
    });
    // Told the booked time, the lead is told the new one.
    await expect.poll(() => stack.fake.createCallsTo(phone.e164), { timeout: 20_000 }).toBe(2);
    expect(
      (await request(stack.app).post(`/v1/appointments/${created.body.id}/cancel`).set(auth).send({})).status,
    ).toBe(200);
  });

  it(
    'answers the README’s operator queries through SQL visibility',
    () => expectReadmeOperatorQueriesWork(stack, server?.address ?? ''),
    90_000,
  );

  it('goes on after the server is killed mid-sequence and started again: no step lost, none sent twice', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const { phone, leadId, enrollmentId } = await enrolledLead(stack.app, auth, [
      { delaySeconds: 0, template: 'one' },
      { delaySeconds: 4, template: 'two' },
      { delaySeconds: 4, template: 'three' },
    ]);
    await expect.poll(() => bodiesTo(phone), { timeout: 20_000 }).toEqual(['one']);
    // Asleep until the second step: with the first send's completion still on its way, the crash would lose it and
    // the send's retry would wait out its 60 s start-to-close timeout (the send gate then refuses a second send).
    const handle = stack.client.workflow.getHandle(leadFollowUpWorkflowId(tenant.id, leadId));
    await expect
      .poll(async () => (await handle.describe()).typedSearchAttributes.get(waitingForKey), { timeout: 20_000 })
      .toBe('delay');

    // A crash, not a shutdown: whatever the server had not written to PostgreSQL is gone.
    server?.process.kill('SIGKILL');
    await server?.stop();
    // Down past the second step's due time.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    server = await startServer();

    await expect
      .poll(() => enrollmentStatus(stack.app, auth, enrollmentId), { timeout: 60_000, interval: 500 })
      .toBe('completed');
    expect(bodiesTo(phone)).toEqual(['one', 'two', 'three']);
    expect(stack.fake.createCallsTo(phone)).toBe(3);
  }, 120_000);
});
