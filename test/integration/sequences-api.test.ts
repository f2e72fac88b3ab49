// Issue: lead follow-up sequences through the API, against the dev server, the Twilio fake and PostgreSQL.
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { recordOptOut } from '../../common/opt-outs.js';
import { notAnIanaTimeZone } from '../../common/phone.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { until } from '../support/wait.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const api = () => request(stack.app);

/** `client`, calling `before` as each workflow update is about to be sent. */
function seeingUpdates(client: Client, before: () => Promise<unknown>): Client {
  const bound = <T extends object>(target: T, property: string | symbol) => {
    const value: unknown = Reflect.get(target, property, target);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
  };
  const workflow = new Proxy(client.workflow, {
    get: (target, property) =>
      property !== 'getHandle'
        ? bound(target, property)
        : (...args: Parameters<typeof target.getHandle>) =>
            new Proxy(target.getHandle(...args), {
              get: (handle, name) =>
                name !== 'executeUpdate'
                  ? bound(handle, name)
                  : async (...update: Parameters<typeof handle.executeUpdate>) => {
                      await before();
                      return handle.executeUpdate(...update);
                    },
            }),
  });
  return new Proxy(client, {
    get: (target, property) => (property === 'workflow' ? workflow : bound(target, property)),
  });
}
type Auth = Record<string, string>;

async function createLead(auth: Auth, body: Record<string, unknown> = {}) {
  const phone = randomUkMobile();
  const lead = await api()
    .post('/v1/leads')
    .set(auth)
    .send({ phone: phone.national, firstName: 'Ada', ...body });
  expect(lead.status).toBe(201);
  return { phone: phone.e164, id: lead.body.id as string };
}

async function createSequence(
  auth: Auth,
  steps: { delaySeconds: number; template: string }[],
  name = `seq-${Math.random()}`,
) {
  const sequence = await api().post('/v1/sequences').set(auth).send({ name, steps });
  expect(sequence.status).toBe(201);
  return sequence.body as { id: string; version: number; name: string };
}

const waitForStatus = (auth: Auth, enrollmentId: string, status: string) =>
  expect
    .poll(async () => (await api().get(`/v1/enrollments/${enrollmentId}`).set(auth)).body.status, {
      timeout: 30_000,
      interval: 250,
    })
    .toBe(status);

describe('leads', () => {
  it('normalises UK formats to one E.164 lead and returns the existing one for the same phone', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const first = await api().post('/v1/leads').set(auth).send({ phone: '07700 900123', firstName: 'Ada' });
    const second = await api().post('/v1/leads').set(auth).send({ phone: '+44 (0)7700 900123' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, phone: '+447700900123', timeZone: 'Europe/London' });
    const zone = await api().post('/v1/leads').set(auth).send({ phone: '07700 900124', timeZone: 'Mars/Olympus' });
    expect(zone.status).toBe(422);
    expect(zone.body.error.details.fields.timeZone).toEqual([notAnIanaTimeZone]);
    // ICU reads Java's BST as Asia/Dhaka: a lead meant for British Summer Time would be texted on Bangladesh's clock.
    const abbreviation = await api().post('/v1/leads').set(auth).send({ phone: '07700 900124', timeZone: 'BST' });
    expect(abbreviation.body.error.details.fields.timeZone).toEqual([notAnIanaTimeZone]);
    expect(await stack.db.lead.count({ where: { tenantId: tenant.id } })).toBe(1);
    // A name from a web form goes into texts as written: a line break would add a line of someone else's to them.
    const injected = await api()
      .post('/v1/leads')
      .set(auth)
      .send({ phone: '07700 900125', firstName: 'Ada\nYour account is locked: http://evil.example' });
    expect(injected.status).toBe(422);
    expect(injected.body.error.details.fields.firstName).toEqual(['must be one line, without control characters']);
    for (const lastName of ['Lovelace\u0007', 'Lovelace\u2028Win a prize', '\u202Eecalevol'])
      expect((await api().patch(`/v1/leads/${first.body.id}`).set(auth).send({ lastName })).status).toBe(422);
    const business = await api().patch('/v1/settings').set(auth).send({ businessName: 'Acme\r\nWin a prize' });
    expect(business.status).toBe(422);
    expect(await stack.db.lead.count({ where: { tenantId: tenant.id } })).toBe(1);
    const updated = await api().patch(`/v1/leads/${first.body.id}`).set(auth).send({ timeZone: 'america/new_york' });
    expect(updated.body.timeZone).toBe('America/New_York');
    const list = await api().get('/v1/leads').set(auth);
    expect(list.body.items.map((lead: { id: string }) => lead.id)).toEqual([first.body.id]);
  });

  it('pages through leads written by one statement (a batch: one createdAt for all) without leaving any out', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const createdAt = new Date();
    const batch = Array.from({ length: 60 }, () => ({
      tenantId: tenant.id,
      phone: randomUkMobile().e164,
      timeZone: 'Europe/London',
      createdAt,
    }));
    await stack.db.lead.createMany({ data: batch });
    const seen: string[] = [];
    let before: string | null | undefined;
    do {
      const page = await api()
        .get('/v1/leads')
        .query({ limit: 25, ...(before ? { before } : {}) })
        .set(auth);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((lead: { id: string }) => lead.id));
      before = page.body.next;
    } while (before);
    // Before: the second page asked for leads created before the instant they all share, and got none of the 35 left.
    expect(new Set(seen).size).toBe(60);
    expect(seen).toHaveLength(60);
    // An instant alone still pages as before: the rows created before it.
    const older = await api().get('/v1/leads').query({ before: createdAt.toISOString() }).set(auth);
    expect(older.body.items).toEqual([]);
    const garbled = await api()
      .get('/v1/leads')
      .query({ before: `${createdAt.toISOString()}_not-an-id` })
      .set(auth);
    expect(garbled.status).toBe(400);
  });

  it('pages through enrollments and appointments that share their instant, narrowed as asked', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const sequence = await stack.db.sequenceDefinition.create({
      data: { tenantId: tenant.id, name: 'paged', version: 1, steps: [{ delaySeconds: 0, template: 'Hi' }] },
    });
    const leads = await stack.db.lead.createManyAndReturn({
      data: Array.from({ length: 7 }, () => ({
        tenantId: tenant.id,
        phone: randomUkMobile().e164,
        timeZone: 'Europe/London',
      })),
    });
    const at = new Date();
    await stack.db.enrollment.createMany({
      data: leads.map((lead, index) => ({
        tenantId: tenant.id,
        leadId: lead.id,
        sequenceId: sequence.id,
        workflowId: `paged-${lead.id}`,
        status: index < 5 ? ('completed' as const) : ('running' as const),
        startedAt: at,
      })),
    });
    await stack.db.appointment.createMany({
      data: leads.map((lead) => ({
        id: randomUUID(),
        tenantId: tenant.id,
        leadId: lead.id,
        startsAt: at,
        timeZone: 'Europe/London',
        durationMinutes: 30,
        reminderOffsetsSeconds: [],
        workflowId: `paged-appointment-${lead.id}`,
      })),
    });
    const pageThrough = async (path: string, query: Record<string, string> = {}) => {
      const seen: string[] = [];
      let before: string | null = null;
      do {
        const page: request.Response = await api()
          .get(path)
          .query({ ...query, limit: 2, ...(before ? { before } : {}) })
          .set(auth);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((item: { id: string }) => item.id));
        before = page.body.next as string | null;
      } while (before);
      return seen;
    };
    // Before: these lists had no `next` and refused `before`, so a tenant with more than 200 could never read the rest.
    const enrollments = await pageThrough('/v1/enrollments');
    expect(new Set(enrollments).size).toBe(7);
    expect(enrollments).toHaveLength(7);
    expect(await pageThrough('/v1/enrollments', { status: 'completed' })).toHaveLength(5);
    const appointments = await pageThrough('/v1/appointments');
    expect(new Set(appointments).size).toBe(7);
    expect(appointments).toHaveLength(7);
    const earlier = await api().get('/v1/appointments').query({ before: at.toISOString() }).set(auth);
    expect(earlier.body).toEqual({ items: [], next: null });
  });

  it('keeps tenants apart: another tenant’s lead is a 404', async () => {
    const a = await createTenant(stack.db, anytimeSettings);
    const b = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(a.auth);
    expect((await api().get(`/v1/leads/${lead.id}`).set(b.auth)).status).toBe(404);
  });
});

describe('sequence definitions', () => {
  it('rejects an unknown placeholder when saved, naming it', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const saved = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'x', steps: [{ delaySeconds: 0, template: 'Hi {{fistName}}' }] });
    expect(saved.status).toBe(422);
    expect(saved.body.error.details.fields['steps.0.template'][0]).toMatch(/unknown placeholder \{\{fistName\}\}/);
    // Before: 201, and every lead got "Hi {{firstName}, thanks" with its braces.
    const halfWritten = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'x', steps: [{ delaySeconds: 0, template: 'Hi {{firstName}, thanks' }] });
    expect(halfWritten.status).toBe(422);
    expect(halfWritten.body.error.details.fields['steps.0.template'][0]).toMatch(/^\{\{firstName\}: a placeholder is/);
    // 1,585 characters and a booking link: 1,600 as written, up to 2,085 once filled in.
    const long = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'x', steps: [{ delaySeconds: 0, template: `${'x'.repeat(1585)}{{bookingLink}}` }] });
    expect(long.status).toBe(422);
    expect(long.body.error.details.fields['steps.0.template'][0]).toMatch(/^could be 2085 characters once filled in/);
  });

  it('refuses {{bookingLink}} for a tenant with no bookingUrl, when saved and when a lead is enrolled after the URL was cleared', async () => {
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, bookingUrl: null });
    const steps = [
      { delaySeconds: 0, template: 'Hi {{firstName}}' },
      { delaySeconds: 3600, template: 'Book here: {{ bookingLink }}' },
    ];
    // Before: 201, and each enrollment skipped the step ("missing value for bookingLink").
    const saved = await api().post('/v1/sequences').set(auth).send({ name: 'booking', steps });
    expect(saved.status).toBe(422);
    expect(saved.body.error.details.fields.steps).toEqual([expect.stringMatching(/^step 2 uses \{\{bookingLink\}\}/)]);
    await stack.db.tenant.update({ where: { id: tenant.id }, data: { bookingUrl: 'https://book.example.com/acme' } });
    const sequence = await createSequence(auth, steps);
    await stack.db.tenant.update({ where: { id: tenant.id }, data: { bookingUrl: null } });
    const lead = await createLead(auth);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    expect(enrolled.status).toBe(422);
    expect(enrolled.body.error.details.fields.sequenceId).toEqual([expect.stringMatching(/^step 2 uses/)]);
    expect(await stack.db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it('saving a name again makes a new version; a running enrollment keeps the version it started with', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const v1 = await createSequence(auth, [{ delaySeconds: 2, template: 'old words' }], 'edited');
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: v1.id });
    const v2 = await createSequence(auth, [{ delaySeconds: 0, template: 'new words' }], 'edited');
    expect([v1.version, v2.version]).toEqual([1, 2]);
    await waitForStatus(auth, enrolled.body.id, 'completed');
    expect(stack.fake.calls.filter((call) => call.to === lead.phone).map((call) => call.body)).toEqual(['old words']);
  });
});

describe('enrollments', () => {
  it('sends exactly one Twilio create per step, and the enrollment and lead record the outcome', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [
      { delaySeconds: 0, template: 'one {{firstName}}' },
      { delaySeconds: 1, template: 'two' },
      { delaySeconds: 1, template: 'three {{businessName}}' },
    ]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    await waitForStatus(auth, enrolled.body.id, 'completed');
    expect(stack.fake.calls.filter((call) => call.to === lead.phone).map((call) => call.body)).toEqual([
      'one Ada',
      'two',
      'three Acme Dental',
    ]);
    expect((await api().get(`/v1/leads/${lead.id}`).set(auth)).body).toMatchObject({
      status: 'closed',
      closedReason: 'completed: all steps done',
    });
    const listed = await api().get(`/v1/enrollments?leadId=${lead.id}&status=completed`).set(auth);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([enrolled.body.id]);
  });

  it('the opt-out signal alone ends the enrollment, and nothing more is created for that phone', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [
      { delaySeconds: 0, template: 'first' },
      { delaySeconds: 3, template: 'second' },
    ]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    await expect.poll(() => stack.fake.createCallsTo(lead.phone), { timeout: 20_000 }).toBe(1);
    // Only the signal (no registry entry), so the workflow's own handling is what stops the second step.
    await stack.client.workflow.getHandle(enrolled.body.workflowId).signal('optOut', { source: 'inbound_keyword' });
    await waitForStatus(auth, enrolled.body.id, 'opted_out');
    expect((await api().get(`/v1/enrollments/${enrolled.body.id}`).set(auth)).body.closedReason).toBe(
      'opted out (inbound_keyword)',
    );
    expect(await stack.db.message.count({ where: { enrollmentId: enrolled.body.id } })).toBe(1);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(1);
  });

  it('answers a repeated request with the same Idempotency-Key with the first response', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [{ delaySeconds: 3600, template: 'later' }]);
    const first = await api()
      .post('/v1/enrollments')
      .set(auth)
      .set('Idempotency-Key', 'crm-42')
      .send({ leadId: lead.id, sequenceId: sequence.id });
    const again = await api()
      .post('/v1/enrollments')
      .set(auth)
      .set('Idempotency-Key', 'crm-42')
      .send({ leadId: lead.id, sequenceId: sequence.id });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    await api().post(`/v1/enrollments/${first.body.id}/cancel`).set(auth);
  });

  it('a skip past a step the send gate holds closes its row skipped_by_api, with its event, instead of leaving it held', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [
      { delaySeconds: 2, template: 'a' },
      { delaySeconds: 3600, template: 'b' },
    ]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    const id = enrolled.body.id as string;
    // The run planned with the window it started with; the gate holds the step with the one the tenant set since.
    const localHour = DateTime.now().setZone('Europe/London').hour;
    const closed =
      localHour < 12 ? { windowStart: '20:00', windowEnd: '21:00' } : { windowStart: '08:00', windowEnd: '09:00' };
    expect((await api().patch('/v1/settings').set(auth).send(closed)).status).toBe(200);
    const held = await until(
      () => stack.db.message.findFirst({ where: { enrollmentId: id, heldReason: 'window' } }),
      'the gate to hold the first step',
      20_000,
    );

    expect((await api().post(`/v1/enrollments/${id}/skip`).set(auth).send({ step: 1 })).status).toBe(200);
    expect(await stack.db.message.findUniqueOrThrow({ where: { id: held.id } })).toMatchObject({
      status: 'skipped',
      skipReason: 'skipped_by_api',
      heldReason: null,
    });
    const events = await stack.db.event.findMany({ where: { tenantId: tenant.id, type: 'message.skipped' } });
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ messageId: held.id, step: 0, reason: 'skipped_by_api' }),
    ]);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
    await api().post(`/v1/enrollments/${id}/cancel`).set(auth);
  });

  /** A lead enrolled in steps a, b and c an hour apart: the first is an hour away. */
  async function enrolledInThreeHourlySteps() {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [
      { delaySeconds: 3600, template: 'a' },
      { delaySeconds: 3600, template: 'b' },
      { delaySeconds: 3600, template: 'c' },
    ]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    return { auth, lead, id: enrolled.body.id as string };
  }

  it('pauses, resumes, skips and cancels through the API, each answering the new state', async () => {
    const { auth, lead, id } = await enrolledInThreeHourlySteps();

    const paused = await api().post(`/v1/enrollments/${id}/pause`).set(auth);
    expect(paused.body.live).toMatchObject({ paused: true });
    expect((await api().post(`/v1/enrollments/${id}/pause`).set(auth)).status).toBe(409);
    expect((await api().post(`/v1/enrollments/${id}/resume`).set(auth)).body.live).toMatchObject({
      paused: false,
      waitingFor: 'delay',
    });
    expect((await api().post(`/v1/enrollments/${id}/skip`).set(auth).send({ step: 0 })).status).toBe(409);
    const skipped = await api().post(`/v1/enrollments/${id}/skip`).set(auth).send({ step: 2 });
    expect(skipped.body.live).toMatchObject({ step: 2 });
    await expect
      .poll(() => stack.fake.calls.filter((call) => call.to === lead.phone).map((call) => call.body), {
        timeout: 20_000,
      })
      .toEqual(['c']);

    await waitForStatus(auth, id, 'completed');
    expect((await api().post(`/v1/enrollments/${id}/cancel`).set(auth)).status).toBe(409);
  });

  it('a skip is recorded on the row before the run hears of it (the send gate refuses a step before it): never past the last step, and taken back when Temporal does not answer', async () => {
    const { auth, id } = await enrolledInThreeHourlySteps();
    const skippedTo = async () => (await stack.db.enrollment.findUniqueOrThrow({ where: { id } })).skippedToStep;
    // What the row said at the moment each update went to the run.
    const seen: (number | null)[] = [];
    let unanswered = false;
    const app = createApp({
      ...stack.deps,
      temporal: seeingUpdates(stack.client, async () => {
        seen.push(await skippedTo());
        if (unanswered) throw new WorkflowUpdateRPCTimeoutOrCancelledError('timed out');
      }),
    });
    const skip = (step: number) => request(app).post(`/v1/enrollments/${id}/skip`).set(auth).send({ step });

    expect((await skip(1)).status).toBe(200);
    // Before: null, so a step-0 send on its way and not yet claimed went out after the skip was asked for.
    expect(seen).toEqual([1]);
    // Past the last step: refused before anything is written or asked (recorded, it would hold back every step left).
    expect((await skip(3)).status).toBe(409);
    expect(seen).toEqual([1]);
    expect(await skippedTo()).toBe(1);
    // Unanswered: the run may never have heard of it, so the row goes back to what it was.
    unanswered = true;
    expect((await skip(2)).status).toBe(503);
    expect(seen).toEqual([1, 2]);
    expect(await skippedTo()).toBe(1);
    await api().post(`/v1/enrollments/${id}/cancel`).set(auth);
  });

  it('a cancellation is recorded as cancelled', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [{ delaySeconds: 3600, template: 'a' }]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    expect((await api().post(`/v1/enrollments/${enrolled.body.id}/cancel`).set(auth)).status).toBe(202);
    await waitForStatus(auth, enrolled.body.id, 'cancelled');
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
  });
});

describe('batch enrollment', () => {
  it('a dry-run reports every row and starts nothing; the commit reports the same and starts only the good rows', async () => {
    const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
    const sequence = await createSequence(auth, [{ delaySeconds: 0, template: 'hello {{firstName}}' }]);
    const optedOut = randomUkMobile();
    await stack.db.$transaction((tx) =>
      recordOptOut(tx, { tenantId: tenant.id, phone: optedOut.e164, source: 'inbound_keyword' }),
    );
    const busy = await createLead(auth);
    const longSequence = await createSequence(auth, [{ delaySeconds: 3600, template: 'x' }]);
    const busyEnrollment = await api()
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: busy.id, sequenceId: longSequence.id });
    const good = [randomUkMobile(), randomUkMobile()];
    const csv = [
      'phone,firstName,timeZone',
      `${good[0]?.national},Ada,`,
      'not-a-phone,Bob,',
      `${optedOut.national},Cy,`,
      `${good[0]?.national},Ada again,`,
      `${busy.phone},Dee,`,
      `${good[1]?.national},Eve,IST`,
      `${good[1]?.national},Eve,america/new_york`,
    ].join('\n');
    const expected = [
      'ok',
      'invalid_phone',
      'opted_out',
      'duplicate_row',
      'already_enrolled',
      'invalid_time_zone',
      'ok',
    ];

    const dryRun = await api()
      .post(`/v1/enrollments/batch?sequenceId=${sequence.id}&dryRun=true`)
      .set(auth)
      .set('Content-Type', 'text/csv')
      .send(csv);
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.results.map((row: { outcome: string }) => row.outcome)).toEqual(expected);
    expect(dryRun.body.results[4]).toMatchObject({ enrollmentId: busyEnrollment.body.id });
    expect(await stack.db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(1);

    const commit = await api()
      .post(`/v1/enrollments/batch?sequenceId=${sequence.id}`)
      .set(auth)
      .set('Content-Type', 'text/csv')
      .send(csv);
    expect(commit.body.results.map((row: { outcome: string }) => row.outcome)).toEqual(
      expected.map((outcome) => (outcome === 'ok' ? 'enrolled' : outcome)),
    );
    expect(commit.body.summary).toEqual({
      enrolled: 2,
      invalid_phone: 1,
      opted_out: 1,
      duplicate_row: 1,
      already_enrolled: 1,
      invalid_time_zone: 1,
    });
    for (const phone of good)
      await expect.poll(() => stack.fake.createCallsTo(phone?.e164 ?? ''), { timeout: 20_000 }).toBe(1);
    expect(stack.fake.createCallsTo(optedOut.e164)).toBe(0);
    const lead = await stack.db.lead.findUniqueOrThrow({
      where: { tenantId_phone: { tenantId: tenant.id, phone: good[1]?.e164 ?? '' } },
    });
    expect(lead.timeZone).toBe('America/New_York');
    await api().post(`/v1/enrollments/${busyEnrollment.body.id}/cancel`).set(auth);
  });

  it('takes JSON too, and refuses more than 10,000 rows', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const sequence = await createSequence(auth, [{ delaySeconds: 0, template: 'hi' }]);
    const json = await api()
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({ sequenceId: sequence.id, dryRun: true, leads: [{ phone: '07700 900999' }, { phone: 'x' }] });
    expect(json.body.results.map((row: { outcome: string }) => row.outcome)).toEqual(['ok', 'invalid_phone']);
    const tooMany = await api()
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({
        sequenceId: sequence.id,
        dryRun: true,
        leads: Array.from({ length: 10_001 }, () => ({ phone: '07700 900999' })),
      });
    expect(tooMany.status).toBe(422);
  });
});

describe('operators find runs by search attribute', () => {
  it('everything held by the sending window: WaitingFor = "window"', async () => {
    const hour = new Date().getUTCHours();
    const closed = {
      windowStart: `${String((hour + 2) % 24).padStart(2, '0')}:00`,
      windowEnd: `${String(((hour + 2) % 24) + 1).padStart(2, '0')}:00`,
    };
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, ...closed, defaultTimeZone: 'UTC' });
    const lead = await createLead(auth);
    const sequence = await createSequence(auth, [{ delaySeconds: 0, template: 'held' }]);
    const enrolled = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id });
    await expect
      .poll(
        async () => {
          const found = [];
          for await (const run of stack.client.workflow.list({
            query: `TenantId = "${tenant.id}" AND WaitingFor = "window"`,
          }))
            found.push(run.workflowId);
          return found;
        },
        { timeout: 15_000, interval: 500 },
      )
      .toEqual([enrolled.body.workflowId]);
    expect(stack.fake.createCallsTo(lead.phone)).toBe(0);
    await api().post(`/v1/enrollments/${enrolled.body.id}/cancel`).set(auth);
  });
});

describe('tenant settings', () => {
  it('reads and changes the window and caps, refusing a window that ends before it starts', async () => {
    const { tenant, auth } = await createTenant(stack.db);
    expect((await api().get('/v1/settings').set(auth)).body).toMatchObject({
      windowStart: '08:00',
      windowEnd: '21:00',
      minGapSeconds: 60,
      maxPerDay: 5,
      expiryDays: 30,
    });
    const changed = await api()
      .patch('/v1/settings')
      .set(auth)
      .send({ windowStart: '09:00', windowEnd: '20:00', maxPerDay: 3 });
    expect(changed.body).toMatchObject({ windowStart: '09:00', windowEnd: '20:00', maxPerDay: 3 });
    const refused = await api().patch('/v1/settings').set(auth).send({ windowEnd: '07:00' });
    expect(refused.status).toBe(422);
    // The gate claims no step in a window's last minute: one this short would hold every step for good.
    const tooShort = await api().patch('/v1/settings').set(auth).send({ windowEnd: '09:01' });
    expect(tooShort.body.error.details.fields.windowEnd).toEqual(['must be at least 10 minutes after windowStart']);
    expect((await api().patch('/v1/settings').set(auth).send({ windowEnd: '09:10' })).status).toBe(200);
    // A shorter window saved before the rule does not block other settings.
    await stack.db.tenant.update({ where: { id: tenant.id }, data: { windowEnd: '09:01' } });
    expect((await api().patch('/v1/settings').set(auth).send({ maxPerDay: 4 })).status).toBe(200);
    expect(
      (await api().patch('/v1/settings').set(auth).send({ defaultRegion: 'XX', defaultTimeZone: 'Nowhere/City' })).body
        .error.details.fields,
    ).toHaveProperty('defaultRegion');
  });

  it('saves a time zone under the canonical name PostgreSQL knows, and refuses one it does not know', async () => {
    const { auth } = await createTenant(stack.db);
    const zoneSaved = async (defaultTimeZone: string) =>
      (await api().patch('/v1/settings').set(auth).send({ defaultTimeZone })).body.defaultTimeZone;
    // ICU takes Java's three-letter IDs, and reads the ambiguous ones its own way (BST as Bangladesh's).
    for (const javaId of ['AET', 'BST']) {
      const refused = await api().patch('/v1/settings').set(auth).send({ defaultTimeZone: javaId });
      expect(refused.body.error.details.fields.defaultTimeZone).toEqual([notAnIanaTimeZone]);
    }
    // A current name PostgreSQL knows stays as given (ICU's canonical one is the old Asia/Calcutta).
    expect(await zoneSaved('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(await zoneSaved('america/new_york')).toBe('America/New_York');
    const refused = await api().patch('/v1/settings').set(auth).send({ defaultTimeZone: 'SystemV/EST5' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields.defaultTimeZone).toEqual([notAnIanaTimeZone]);
    expect((await api().get('/v1/settings').set(auth)).body.defaultTimeZone).toBe('America/New_York');
  });
});
