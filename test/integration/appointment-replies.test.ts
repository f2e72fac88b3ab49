// "Reply C to confirm or R to reschedule" (shared/docs/domain.md, Appointment replies) end to end: a signed inbound
// webhook → the row, the event and the TwiML answer in one transaction → the signal relay → the reminder workflow.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { phoneHash, recordOptOut } from '../../common/opt-outs.js';
import { appointmentConfirmedKey } from '../../workflows/search-attributes.js';
import { createTenant } from '../support/fixtures.js';
import { enrollInNewSequence } from '../support/follow-ups.js';
import { tenantWithLead as tenantWithOwnNumber } from '../support/lead-on-own-number.js';
import { stackForFile } from '../support/stack.js';

const stack = stackForFile();
const bookingUrl = 'https://book.example.com/acme';
const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

const tenantWithLead = (settings: Record<string, unknown> = {}) =>
  tenantWithOwnNumber(stack, { bookingUrl, ...settings });
type Owner = Awaited<ReturnType<typeof tenantWithLead>>;

/** Booked through the API; its confirmation has gone out, as it would have before anyone answers it. */
async function book(owner: Owner, startsInSeconds = 2 * 86_400, reminderOffsetsSeconds = [86_400, 3600]) {
  const created = await request(stack.app)
    .post('/v1/appointments')
    .set(owner.auth)
    .send({ leadId: owner.leadId, startsAt: inSeconds(startsInSeconds), reminderOffsetsSeconds });
  expect(created.status).toBe(201);
  await expect.poll(() => stack.fake.createCallsTo(owner.phone), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
  return { id: created.body.id as string, workflowId: created.body.workflowId as string };
}

const shown = async (owner: Owner, id: string) =>
  (await request(stack.app).get(`/v1/appointments/${id}?live=true`).set(owner.auth)).body;
const events = (tenantId: string, type: string) =>
  stack.db.event.findMany({ where: { tenantId, type }, orderBy: { sequence: 'asc' } });
const terminate = (workflowId: string) => stack.client.workflow.getHandle(workflowId).terminate('test cleanup');
const noTwimlMessage = (text: string) => expect(text).not.toContain('<Message>');

describe('a confirm word from a lead with an appointment ahead', () => {
  it('"C" confirms it once: the row, an appointment.confirmed event, the workflow (reminders dropped as the tenant skips them) and its search attribute', async () => {
    const owner = await tenantWithLead({ skipRemindersAfterConfirm: true });
    const appointment = await book(owner);
    // An operator's "unconfirmed appointments" query finds it from its start.
    const unconfirmed = `AppointmentId="${appointment.id}" AND AppointmentConfirmed=false`;
    await expect.poll(async () => (await stack.client.workflow.count(unconfirmed)).count, { timeout: 10_000 }).toBe(1);
    const answer = await owner.reply('C');
    expect(answer.status).toBe(200);
    noTwimlMessage(answer.text);

    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    expect(row.confirmedAt).toBeInstanceOf(Date);
    expect((await events(owner.tenant.id, 'appointment.confirmed')).map((event) => event.data)).toEqual([
      { appointmentId: appointment.id, leadId: owner.leadId, confirmedAt: row.confirmedAt?.toISOString() },
    ]);
    await expect
      .poll(async () => (await shown(owner, appointment.id)).live, { timeout: 20_000 })
      .toMatchObject({
        status: 'scheduled',
        leadConfirmedAt: row.confirmedAt?.toISOString(),
        reminders: [{ status: 'dropped' }, { status: 'dropped' }],
      });
    // The row follows once the workflow has recorded the dropped reminders (an activity after the state changed).
    await expect
      .poll(async () => shown(owner, appointment.id), { timeout: 10_000 })
      .toMatchObject({
        confirmedAt: row.confirmedAt?.toISOString(),
        nextReminderAt: null,
        rescheduleRequestedAt: null,
      });
    const handle = stack.client.workflow.getHandle(appointment.workflowId);
    // Search attributes are eventually consistent (reference-app-orders-go): the row above is the source of truth.
    await expect
      .poll(async () => (await handle.describe()).typedSearchAttributes.get(appointmentConfirmedKey), {
        timeout: 10_000,
      })
      .toBe(true);
    await expect.poll(async () => (await stack.client.workflow.count(unconfirmed)).count, { timeout: 10_000 }).toBe(0);

    await owner.reply('confirm!');
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toHaveLength(1);
    await terminate(appointment.workflowId);
  });

  it('"C" from a lead with two appointments ahead confirms the one last texted about, not the earlier one', async () => {
    const owner = await tenantWithLead({ skipRemindersAfterConfirm: true });
    const earlier = await book(owner, 2 * 86_400);
    const laterBooking = await request(stack.app)
      .post('/v1/appointments')
      .set(owner.auth)
      .send({ leadId: owner.leadId, startsAt: inSeconds(5 * 86_400), reminderOffsetsSeconds: [86_400] });
    expect(laterBooking.status).toBe(201);
    // The later booking's confirmation is the last text the lead has.
    await expect
      .poll(() => stack.db.message.count({ where: { appointmentId: laterBooking.body.id, status: 'queued' } }), {
        timeout: 20_000,
      })
      .toBe(1);

    await owner.reply('C');
    const confirmedAt = async (id: string) =>
      (await stack.db.appointment.findUniqueOrThrow({ where: { id } })).confirmedAt;
    expect({ earlier: await confirmedAt(earlier.id), later: await confirmedAt(laterBooking.body.id) }).toEqual({
      earlier: null,
      later: expect.any(Date),
    });
    expect((await events(owner.tenant.id, 'appointment.confirmed')).map((event) => event.data)).toEqual([
      expect.objectContaining({ appointmentId: laterBooking.body.id }),
    ]);
    // The earlier appointment keeps its reminders.
    await expect
      .poll(async () => (await shown(owner, earlier.id)).live?.reminders, { timeout: 10_000 })
      .toEqual([expect.objectContaining({ status: 'scheduled' }), expect.objectContaining({ status: 'scheduled' })]);
    await Promise.all([terminate(earlier.workflowId), terminate(laterBooking.body.workflowId)]);
  });

  it('"C" after a move, before the lead was told the new time, confirms nothing; once told, it confirms the new time', async () => {
    const owner = await tenantWithLead({ skipRemindersAfterConfirm: true });
    const appointment = await book(owner);
    // The text telling the lead of the move is held (sending paused), so the last they heard is the old time.
    await pauseSending(stack.db, { scope: owner.tenant.id, actor: 'test' });
    const moved = await request(stack.app)
      .post(`/v1/appointments/${appointment.id}/reschedule`)
      .set(owner.auth)
      .send({ startsAt: inSeconds(3 * 86_400) });
    expect(moved.status).toBe(200);
    await expect
      .poll(() => stack.db.message.count({ where: { appointmentId: appointment.id, heldReason: 'kill_switch' } }))
      .toBe(1);
    // The old time's text was handed to Twilio before the move, and Twilio's answer came after it.
    await stack.db.message.updateMany({
      where: { appointmentId: appointment.id, status: { not: 'pending' } },
      data: { sentAt: new Date() },
    });

    expect((await owner.reply('C')).status).toBe(200);
    expect((await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).confirmedAt).toBeNull();
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toEqual([]);

    await resumeSending(stack.db, { scope: owner.tenant.id, actor: 'test' });
    await expect.poll(() => stack.fake.createCallsTo(owner.phone), { timeout: 20_000 }).toBe(2);
    await owner.reply('C');
    expect(
      (await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).confirmedAt,
    ).toBeInstanceOf(Date);
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toHaveLength(1);
    await terminate(appointment.workflowId);
  });

  it('"C" right after a reschedule the run refused confirms: the refused request holds nothing back', async () => {
    const owner = await tenantWithLead();
    const appointment = await book(owner);
    // In the past by less than the API's clock margin: the API asks the run, whose validator refuses it.
    const refused = await request(stack.app)
      .post(`/v1/appointments/${appointment.id}/reschedule`)
      .set(owner.auth)
      .send({ startsAt: inSeconds(-30) });
    expect(refused.status).toBe(422);
    expect((await owner.reply('C')).status).toBe(200);
    // Before: the refused request's stamp stayed for 20 s, the "C" was taken for an answer to a change not yet told,
    // and stayed a plain message: no confirmation, no event.
    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    expect(row).toMatchObject({ changeRequestedAt: null, confirmedAt: expect.any(Date) });
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toHaveLength(1);
    await terminate(appointment.workflowId);
  });

  it('"YES" from a lead who is not opted out confirms (YES is also the opt-in keyword); from an opted-out lead it is the opt-in', async () => {
    const subscribed = await tenantWithLead();
    const first = await book(subscribed);
    noTwimlMessage((await subscribed.reply('YES')).text);
    expect((await stack.db.appointment.findUniqueOrThrow({ where: { id: first.id } })).confirmedAt).toBeInstanceOf(
      Date,
    );

    const optedOut = await tenantWithLead();
    const second = await book(optedOut);
    await stack.db.$transaction((tx) =>
      recordOptOut(tx, { tenantId: optedOut.tenant.id, phone: optedOut.phone, source: 'test' }),
    );
    const answer = await optedOut.reply('YES');
    expect(answer.text).toContain('you are subscribed again');
    expect((await stack.db.appointment.findUniqueOrThrow({ where: { id: second.id } })).confirmedAt).toBeNull();
    expect(await events(optedOut.tenant.id, 'appointment.confirmed')).toEqual([]);
    await Promise.all([terminate(first.workflowId), terminate(second.workflowId)]);
  });
});

describe('a confirm word in answer to a follow-up', () => {
  it('"YES" to a follow-up’s step that came after the booking’s confirmation is a reply to the step: nothing is confirmed', async () => {
    const owner = await tenantWithLead({ skipRemindersAfterConfirm: true });
    const appointment = await book(owner);
    const enrollmentId = await enrollInNewSequence(stack.app, owner.auth, owner.leadId, [
      { delaySeconds: 0, template: 'Want our spring offer too? Reply YES' },
      { delaySeconds: 86_400, template: 'Last call for the spring offer' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(owner.phone), { timeout: 20_000 }).toBe(2);
    noTwimlMessage((await owner.reply('YES')).text);
    // Before: the appointment confirmed (its reminders dropped, the CRM told) by a YES about the offer.
    expect((await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).confirmedAt).toBeNull();
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toEqual([]);
    expect(await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } })).toMatchObject({
      haltedBy: 'replied',
    });
    // A reschedule word is no answer a step asks for: it still asks to move the appointment.
    await owner.reply('R');
    expect(await events(owner.tenant.id, 'appointment.reschedule_requested')).toHaveLength(1);
    // The appointment's next text makes the word its answer again.
    await stack.db.message.updateMany({
      where: { appointmentId: appointment.id },
      data: { claimedAt: new Date(Date.now() + 1000) },
    });
    noTwimlMessage((await owner.reply('C')).text);
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toHaveLength(1);
    await terminate(appointment.workflowId);
  });
});

describe('a confirm word after an older follow-up', () => {
  it('"C" from a lead whose follow-up texted before the booking, the booking’s confirmation still held, confirms', async () => {
    const owner = await tenantWithLead();
    await enrollInNewSequence(stack.app, owner.auth, owner.leadId, [{ delaySeconds: 0, template: 'Hello' }]);
    await expect.poll(() => stack.fake.createCallsTo(owner.phone), { timeout: 20_000 }).toBe(1);
    await pauseSending(stack.db, { scope: owner.tenant.id, actor: 'test' });
    const created = await request(stack.app)
      .post('/v1/appointments')
      .set(owner.auth)
      .send({ leadId: owner.leadId, startsAt: inSeconds(2 * 86_400) });
    expect(created.status).toBe(201);
    await owner.reply('C');
    expect(await events(owner.tenant.id, 'appointment.confirmed')).toHaveLength(1);
    await resumeSending(stack.db, { scope: owner.tenant.id, actor: 'test' });
    await terminate(created.body.workflowId as string);
  });
});

describe('a reschedule word', () => {
  it('"R" records the request, emits appointment.reschedule_requested and answers with the tenant’s template and booking link', async () => {
    const owner = await tenantWithLead();
    const appointment = await book(owner);
    const answer = await owner.reply('r.');
    expect(answer.status).toBe(200);
    const expected = `Acme Dental: we'll be in touch to find a new time. You can also pick one here: ${bookingUrl}`;
    expect(answer.text).toContain(`<Message>${expected}</Message>`);

    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    expect(row).toMatchObject({ status: 'scheduled', confirmedAt: null, rescheduleRequestedAt: expect.any(Date) });
    const [event] = await events(owner.tenant.id, 'appointment.reschedule_requested');
    expect(event?.data).toMatchObject({
      appointmentId: appointment.id,
      leadId: owner.leadId,
      requestedAt: row.rescheduleRequestedAt?.toISOString(),
    });
    // Recorded like the other replies Twilio sends from our TwiML answer.
    expect(
      await stack.db.message.findMany({
        where: { tenantId: owner.tenant.id, direction: 'outbound', toPhone: owner.phone, body: expected },
      }),
    ).toHaveLength(1);
    await expect
      .poll(async () => (await shown(owner, appointment.id)).live?.rescheduleRequestedAt, { timeout: 20_000 })
      .toBe(row.rescheduleRequestedAt?.toISOString());
    await terminate(appointment.workflowId);
  });
});

describe('a reschedule word without a booking link to offer', () => {
  it('records the request but sends no half-filled answer', async () => {
    const owner = await tenantWithLead({ bookingUrl: null });
    const appointment = await book(owner);
    noTwimlMessage((await owner.reply('RESCHEDULE')).text);
    expect(
      (await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).rescheduleRequestedAt,
    ).toBeInstanceOf(Date);
    expect(await events(owner.tenant.id, 'appointment.reschedule_requested')).toHaveLength(1);
    await terminate(appointment.workflowId);
  });
});

describe('what is not an appointment reply', () => {
  it('"STOP" opts out and ends the reminders; it never confirms', async () => {
    const owner = await tenantWithLead({ appointmentConfirmWords: ['C', 'OK'] });
    // The reminder is due 10 s in: the send gate finds the opt-out and the workflow ends as opted_out.
    const appointment = await book(owner, 20, [10]);
    const answer = await owner.reply('STOP');
    expect(answer.text).toContain('you are unsubscribed');
    expect(
      await stack.db.optOut.count({ where: { tenantId: owner.tenant.id, phoneHash: phoneHash(owner.phone) } }),
    ).toBe(1);
    await expect
      .poll(async () => (await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).status, {
        timeout: 30_000,
      })
      .toBe('opted_out');
    expect((await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).confirmedAt).toBeNull();
    expect(stack.fake.createCallsTo(owner.phone)).toBe(1);
    // The appointment stands; the CRM hears that no reminder will come, and why.
    expect((await events(owner.tenant.id, 'appointment.reminders_stopped')).map((event) => event.data)).toEqual([
      expect.objectContaining({ appointmentId: appointment.id, status: 'opted_out' }),
    ]);
  });

  it('a message that is more than a word, or a word from a lead with no appointment, stays a message for a person', async () => {
    const owner = await tenantWithLead();
    const appointment = await book(owner);
    noTwimlMessage((await owner.reply('C you on Tuesday, can I bring my son?')).text);
    expect(await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).toMatchObject({
      confirmedAt: null,
      rescheduleRequestedAt: null,
    });
    const other = await tenantWithLead();
    noTwimlMessage((await other.reply('R')).text);
    for (const { tenant } of [owner, other]) {
      expect(
        await stack.db.event.count({
          where: { tenantId: tenant.id, type: { startsWith: 'appointment.' }, NOT: { type: 'appointment.scheduled' } },
        }),
      ).toBe(0);
      expect(
        await stack.db.message.count({ where: { tenantId: tenant.id, direction: 'inbound', intent: 'message' } }),
      ).toBe(1);
    }
    await terminate(appointment.workflowId);
  });
});

describe('PATCH /v1/settings: the appointment reply settings', () => {
  it('takes the words, the answer and the skip, and GET shows them', async () => {
    const { auth } = await createTenant(stack.db);
    const settings = {
      appointmentConfirmWords: ['OK', '👍'],
      appointmentRescheduleWords: ['MOVE'],
      appointmentRescheduleReplyTemplate: 'Hi {{firstName}}, pick a time: {{bookingLink}}',
      skipRemindersAfterConfirm: true,
    };
    expect((await request(stack.app).patch('/v1/settings').set(auth).send(settings)).status).toBe(200);
    expect((await request(stack.app).get('/v1/settings').set(auth)).body).toMatchObject(settings);
  });

  it.each([
    [{ appointmentConfirmWords: ['C', 'CANCEL'] }, 'appointmentConfirmWords.1', /CANCEL is an opt-out keyword/],
    [{ appointmentRescheduleWords: ['stop'] }, 'appointmentRescheduleWords.0', /stop is an opt-out keyword/],
    [{ appointmentRescheduleWords: ['End'] }, 'appointmentRescheduleWords.0', /opt-out keyword/],
    [{ appointmentConfirmWords: [] }, 'appointmentConfirmWords', /at least one/],
    [{ appointmentConfirmWords: ['a-word-far-too-long-to-text'] }, 'appointmentConfirmWords.0', /20/],
    [{ appointmentRescheduleWords: ['c.'] }, 'appointmentRescheduleWords', /also a confirm word: c\./],
    [
      { appointmentRescheduleReplyTemplate: 'Book: {{calendar}}' },
      'appointmentRescheduleReplyTemplate',
      /\{\{calendar\}\}/,
    ],
  ])('refuses %j with a 422 saying why', async (body, field, reason) => {
    const { auth } = await createTenant(stack.db);
    const answer = await request(stack.app).patch('/v1/settings').set(auth).send(body);
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.fields[field].join('; ')).toMatch(reason);
  });
});
