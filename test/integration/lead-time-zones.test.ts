// A lead given no zone is texted in its number's (common/lead-time-zone.ts): its area code's, else its country's.
// shared/docs/domain.md: send only 08:00-21:00 in the recipient's local time. Against the dev server, the Twilio fake and PostgreSQL.
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { afterEachCall } from '../support/racing-db.js';
import { stackForFile } from '../support/stack.js';
import { zoneAtHour } from '../support/zones.js';

const stack = stackForFile();
const api = () => request(stack.app);
const newYorkNumber = '+1 212 555 0100';
const southDakotaNumber = '+1 605 555 0100';

async function sequenceOf(auth: Record<string, string>, delaySeconds = 0) {
  const sequence = await api()
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds, template: 'Hi, still looking?' }] });
  return sequence.body.id as string;
}

describe('a new lead’s time zone', () => {
  const randomLosAngelesNumber = () => `+1213555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;

  it.each([
    ['a UK lead', () => randomUkMobile().e164, 'Europe/London'],
    ['a Los Angeles lead', randomLosAngelesNumber, 'America/Los_Angeles'],
  ])('holds %s of a New York tenant for its own hours, not New York’s', async (_lead, randomNumber, zone) => {
    const hour = DateTime.now().setZone('America/New_York').hour;
    // Open for this hour in New York, when it is five hours later in London and three earlier in Los Angeles.
    const window = {
      windowStart: `${String(hour).padStart(2, '0')}:00`,
      windowEnd: `${String(hour + 1).padStart(2, '0')}:00`,
    };
    const { auth } = await createTenant(stack.db, {
      ...anytimeSettings,
      ...window,
      defaultTimeZone: 'America/New_York',
    });
    const phone = randomNumber();
    const lead = await api().post('/v1/leads').set(auth).send({ phone });
    expect(lead.body).toMatchObject({ timeZone: zone });
    const enrolled = await api()
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: lead.body.id, sequenceId: await sequenceOf(auth) });
    expect(enrolled.status).toBe(202);
    await expect
      .poll(async () => (await api().get(`/v1/enrollments/${enrolled.body.id}`).set(auth)).body.progress?.waitingFor, {
        timeout: 15_000,
      })
      .toBe('window');
    expect(stack.fake.createCallsTo(phone)).toBe(0);
    await api().post(`/v1/enrollments/${enrolled.body.id}/cancel`).set(auth).expect(202);
  });

  it('asks for the zone of a number that may be in several, unless one of them is the tenant’s own', async () => {
    const newYork = await createTenant(stack.db, { defaultTimeZone: 'America/New_York', defaultRegion: 'US' });
    const refused = await api().post('/v1/leads').set(newYork.auth).send({ phone: southDakotaNumber });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields.timeZone).toEqual([
      "numbers starting +1605 (US) span several time zones: give the lead's timeZone",
    ]);
    expect(await stack.db.lead.count({ where: { tenantId: newYork.tenant.id } })).toBe(0);
    const given = await api()
      .post('/v1/leads')
      .set(newYork.auth)
      .send({ phone: southDakotaNumber, timeZone: 'America/Chicago' });
    expect(given.status).toBe(201);
    expect(given.body.timeZone).toBe('America/Chicago');

    const denver = await createTenant(stack.db, { defaultTimeZone: 'America/Denver', defaultRegion: 'US' });
    const own = await api().post('/v1/leads').set(denver.auth).send({ phone: '(605) 555-0100' });
    expect(own.status).toBe(201);
    expect(own.body.timeZone).toBe('America/Denver');
    const elsewhere = await api().post('/v1/leads').set(denver.auth).send({ phone: newYorkNumber });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.timeZone).toBe('America/New_York');
  });

  it('answers a batch row of such a number time_zone_required, and saves a new lead with its number’s zone', async () => {
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, defaultTimeZone: 'America/New_York' });
    const sequenceId = await sequenceOf(auth, 3600);
    const uk = randomUkMobile();
    const answer = await api()
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({
        sequenceId,
        leads: [
          { phone: '+34 612 345 678' },
          { phone: '+34 612 345 679', timeZone: 'Atlantic/Canary' },
          { phone: uk.e164 },
        ],
      });
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((row: { outcome: string }) => row.outcome)).toEqual([
      'time_zone_required',
      'enrolled',
      'enrolled',
    ]);
    expect(answer.body.results[0].reason).toBe(
      "the number's country (ES) spans several time zones: give the lead's timeZone",
    );
    const leads = await stack.db.lead.findMany({ where: { tenantId: tenant.id }, orderBy: { phone: 'asc' } });
    expect(leads.map((lead) => [lead.phone, lead.timeZone])).toEqual([
      ['+34612345679', 'Atlantic/Canary'],
      [uk.e164, 'Europe/London'],
    ]);
    for (const row of answer.body.results.slice(1))
      await api().post(`/v1/enrollments/${row.enrollmentId}/cancel`).set(auth).expect(202);
  });

  it('answers a batch row that gives a saved lead another zone time_zone_conflict, and enrolls nothing for it', async () => {
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, defaultTimeZone: 'America/New_York' });
    const sequenceId = await sequenceOf(auth, 3600);
    const lead = await api()
      .post('/v1/leads')
      .set(auth)
      .send({ phone: '+1 212 555 0142', timeZone: 'America/New_York' });
    const batch = (timeZone?: string) =>
      api()
        .post('/v1/enrollments/batch')
        .set(auth)
        .send({ sequenceId, dryRun: true, leads: [{ phone: '+1 212 555 0142', timeZone }] });
    // Before: enrolled, and texted on New York's clock while the CRM said Los Angeles (08:00 there is 05:00).
    const conflict = await batch('America/Los_Angeles');
    expect(conflict.body.results).toEqual([
      {
        row: 1,
        outcome: 'time_zone_conflict',
        phone: '+12125550142',
        leadId: lead.body.id,
        reason: `the lead is saved in America/New_York: change it with PATCH /v1/leads/${lead.body.id}, or leave timeZone empty`,
      },
    ]);
    expect((await batch('america/new_york')).body.results[0].outcome).toBe('ok');
    expect((await batch('US/Eastern')).body.results[0].outcome).toBe('ok');
    expect((await batch()).body.results[0].outcome).toBe('ok');
    // Saved before zones had to be IANA names: judged, and so compared, in the tenant's zone (ICU reads BST as Dhaka's).
    await stack.db.lead.update({ where: { id: lead.body.id }, data: { timeZone: 'BST' } });
    expect((await batch('America/New_York')).body.results[0].outcome).toBe('ok');
    expect((await batch('Asia/Dhaka')).body.results[0].outcome).toBe('time_zone_conflict');
    expect(await stack.db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it('a row giving a new lead a zone, the lead saved meanwhile in another by a concurrent request: time_zone_conflict, nothing enrolled', async () => {
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, defaultTimeZone: 'America/New_York' });
    const sequenceId = await sequenceOf(auth, 3600);
    const phone = `+1212555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    // Another request saves the lead in New York after the batch has looked for its leads, before it inserts its own.
    let savedMeanwhile: Promise<unknown> | undefined;
    const racing = afterEachCall(stack.db, 'lead', 'findMany', () => {
      savedMeanwhile ??= api().post('/v1/leads').set(auth).send({ phone, timeZone: 'America/New_York' }).expect(201);
      return savedMeanwhile;
    });
    const answer = await request(createApp({ ...stack.deps, db: racing }))
      .post('/v1/enrollments/batch')
      .set(auth)
      .send({ sequenceId, leads: [{ phone, timeZone: 'America/Los_Angeles' }] });
    // Before: enrolled, and texted on New York's clock while the CRM said Los Angeles.
    expect(answer.body.results).toEqual([expect.objectContaining({ outcome: 'time_zone_conflict', phone })]);
    expect(await stack.db.enrollment.count({ where: { tenantId: tenant.id } })).toBe(0);
  });
});

describe('a lead posted again with another zone', () => {
  it('is a 409 time_zone_conflict naming the saved zone, and the lead stays as it was; the same zone by another name is the lead', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const phone = randomUkMobile().e164;
    expect((await api().post('/v1/leads').set(auth).send({ phone, timeZone: 'America/New_York' })).status).toBe(201);
    // Before: 200 with the lead, saved in New York, which was then texted on New York's clock, not Los Angeles'.
    const other = await api().post('/v1/leads').set(auth).send({ phone, timeZone: 'America/Los_Angeles' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({
      code: 'conflict',
      details: { reason: 'time_zone_conflict', timeZone: 'America/New_York', leadId: expect.any(String) },
    });
    const again = await api().post('/v1/leads').set(auth).send({ phone, timeZone: 'US/Eastern' });
    expect(again.status).toBe(200);
    expect((await api().post('/v1/leads').set(auth).send({ phone })).body).toMatchObject({
      timeZone: 'America/New_York',
    });
  });
});

describe('a running follow-up whose lead moves zone', () => {
  it('is reported waiting for the window in the lead’s zone as it is now, as the send gate judges it', async () => {
    const [midday, midnight] = [zoneAtHour(12), zoneAtHour(0)];
    const { auth } = await createTenant(stack.db, { ...anytimeSettings, windowStart: '09:00', windowEnd: '21:00' });
    const lead = await api().post('/v1/leads').set(auth).send({ phone: randomUkMobile().e164, timeZone: midday });
    const enrolled = await api()
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: lead.body.id, sequenceId: await sequenceOf(auth, 3600) });
    const progress = async () => (await api().get(`/v1/enrollments/${enrolled.body.id}`).set(auth)).body.progress;
    // Due in an hour, at 13:00 where the lead is: inside the window.
    expect(await progress()).toMatchObject({ waitingFor: 'delay' });

    expect((await api().patch(`/v1/leads/${lead.body.id}`).set(auth).send({ timeZone: midnight })).status).toBe(200);
    // Due at 01:00 where the lead is now: the window opens at 09:00 there. Before: still "delay", judged in the zone
    // the enrollment started with, while the gate would hold the step until 09:00.
    const opens = DateTime.now().setZone(midnight).startOf('day').plus({ hours: 9 });
    expect(await progress()).toMatchObject({ waitingFor: 'window', nextSendAt: opens.toUTC().toISO() });
    await api().post(`/v1/enrollments/${enrolled.body.id}/cancel`).set(auth).expect(202);
  });
});
