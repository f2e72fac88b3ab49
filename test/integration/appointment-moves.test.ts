// Moving an appointment end to end (API → Temporal → worker → Twilio fake, and Postgres): what the lead was told and
// confirmed follows the start the workflow holds, whatever raced the move (a confirm word, Twilio's retries, another move).
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import {
  changePendingUntil,
  clearChangeRequested,
  stampChangeRequested,
  underLeadConversationLock,
} from '../../common/appointment-changes.js';
import { formatAppointmentTime } from '../../common/templates.js';
import { WorkflowUpdateStage } from '@temporalio/client';
import { rescheduleUpdate, type AppointmentReminderState } from '../../workflows/appointment-reminder.messages.js';
import { tenantWithLead as tenantWithOwnNumber } from '../support/lead-on-own-number.js';
import { stackForFile } from '../support/stack.js';

const stack = stackForFile();
const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
const terminate = (workflowId: string) => stack.client.workflow.getHandle(workflowId).terminate('test cleanup');

const tenantWithLead = (settings: Record<string, unknown> = {}) => tenantWithOwnNumber(stack, { ...settings });
type Owner = Awaited<ReturnType<typeof tenantWithLead>>;

async function book(owner: Owner, startsAt: string, reminderOffsetsSeconds: number[]) {
  const created = await request(stack.app)
    .post('/v1/appointments')
    .set(owner.auth)
    .send({ leadId: owner.leadId, startsAt, reminderOffsetsSeconds });
  expect(created.status).toBe(201);
  return { id: created.body.id as string, workflowId: created.body.workflowId as string };
}
/**
 * Books an appointment two days out whose confirmation Twilio answers 429 `refusals` times (nothing taken, so each
 * retry goes on at once): its retries come about 2 s, 6 s and 14 s after the first attempt, which has been made when
 * this returns.
 */
async function bookedWithConfirmationInRetries(owner: Owner, refusals: number) {
  stack.fake.inject({ kind: 'http', status: 429 }, { to: owner.phone, times: refusals });
  const booked = inSeconds(2 * 86_400);
  const appointment = await book(owner, booked, [86_400]);
  await expect.poll(() => stack.fake.createCallsTo(owner.phone), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
  return { booked, appointment };
}
const reschedule = (owner: Owner, id: string, startsAt: string) =>
  request(stack.app).post(`/v1/appointments/${id}/reschedule`).set(owner.auth).send({ startsAt });
const live = async (owner: Owner, id: string) =>
  (await request(stack.app).get(`/v1/appointments/${id}?live=true`).set(owner.auth)).body;
/** What the fake took for the phone (created), in order. */
const bodiesTo = (phone: string) =>
  stack.fake.calls.filter((call) => call.to === phone && call.outcome === 'created').map((call) => call.body);
const at = (startsAt: string) => formatAppointmentTime(new Date(startsAt), 'Europe/London');

describe('confirmed, then moved (the tenant skips reminders after a confirmation)', () => {
  it('the move withdraws the confirmation: the reminder for the new time goes, the CRM is told, and the lead can confirm again', async () => {
    const owner = await tenantWithLead({ skipRemindersAfterConfirm: true });
    const appointment = await book(owner, inSeconds(2 * 86_400), [8]);
    await expect.poll(() => bodiesTo(owner.phone).length, { timeout: 20_000 }).toBe(1);
    expect((await owner.reply('C')).status).toBe(200);
    const { confirmedAt } = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    expect(confirmedAt).toBeInstanceOf(Date);
    await expect
      .poll(async () => (await live(owner, appointment.id)).live?.leadConfirmedAt, { timeout: 20_000 })
      .toBe(confirmedAt?.toISOString());

    const movedTo = inSeconds(20);
    const moved = await reschedule(owner, appointment.id, movedTo);
    expect(moved.status).toBe(200);
    // The update answers once the row shows the move: the confirmation of the earlier start is gone from both.
    expect(moved.body.confirmedAt).toBeNull();
    expect(moved.body.live).toMatchObject({ leadConfirmedAt: null, reminders: [{ status: 'scheduled' }] });
    const rescheduled = await stack.db.event.findMany({
      where: { tenantId: owner.tenant.id, type: 'appointment.rescheduled' },
    });
    expect(rescheduled.map((event) => event.data)).toEqual([
      expect.objectContaining({ startsAt: movedTo, previousConfirmedAt: confirmedAt?.toISOString() }),
    ]);

    // The send gate no longer refuses it `appointment_confirmed`: the lead hears of the new time.
    await expect.poll(() => bodiesTo(owner.phone).length, { timeout: 20_000 }).toBe(2);
    expect(bodiesTo(owner.phone)[1]).toContain(at(movedTo));
    expect((await owner.reply('C')).status).toBe(200);
    const confirmedAgain = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    expect(confirmedAgain.confirmedAt?.getTime()).toBeGreaterThan(confirmedAt?.getTime() ?? Infinity);
    const confirmations = await stack.db.event.findMany({
      where: { tenantId: owner.tenant.id, type: 'appointment.confirmed' },
    });
    expect(confirmations).toHaveLength(2);
    const state = (await stack.client.workflow.getHandle(appointment.workflowId).result()) as AppointmentReminderState;
    expect(state).toMatchObject({ status: 'completed', leadConfirmedAt: confirmedAgain.confirmedAt?.toISOString() });
  });
});

describe('a confirmation in Twilio retries when the appointment moves', () => {
  it('the update answers before the run could apply the move, the next retry is refused for it: the confirmation goes for the new time', async () => {
    const owner = await tenantWithLead();
    // The confirmation's retries come while the change is asked for.
    const { appointment } = await bookedWithConfirmationInRetries(owner, 3);
    const movedTo = inSeconds(3 * 86_400);
    const moved = await reschedule(owner, appointment.id, movedTo);
    expect(moved.status).toBe(200);
    expect(moved.body.startsAt).toBe(movedTo);

    await expect.poll(() => bodiesTo(owner.phone), { timeout: 30_000 }).toEqual([expect.stringContaining(at(movedTo))]);
    await expect
      .poll(async () => (await live(owner, appointment.id)).live, { timeout: 10_000 })
      .toMatchObject({ confirmation: 'sent', startsAt: movedTo, reschedules: 1 });
    // The booked start's confirmation closed unsent for the move; the new start's is a message of its own.
    const messages = await stack.db.message.findMany({
      where: { appointmentId: appointment.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(messages).toMatchObject([
      { status: 'skipped', skipReason: 'appointment_moved' },
      { status: expect.not.stringMatching(/skipped|pending/), twilioSid: expect.any(String) },
    ]);
    // The run wrote the move to the row as it accepted it, so the send gate refused the old start's next retry: the
    // answer shows the move applied, or (the loop still busy with that send) where the run is going.
    expect(moved.body.live.movingTo ?? moved.body.live.startsAt).toBe(movedTo);
    await terminate(appointment.workflowId);
  });
});

describe('two moves at once', () => {
  it('the answer to the first written after the second: the row keeps the start the workflow holds, and its reminder goes', async () => {
    // Moves told to the lead would add texts this test does not count.
    const owner = await tenantWithLead({ sendRescheduleNotice: false });
    const appointment = await book(owner, inSeconds(86_400), [8]);
    await expect.poll(() => bodiesTo(owner.phone).length, { timeout: 20_000 }).toBe(1);
    const first = inSeconds(90);
    const second = inSeconds(20);

    // The first request's process stalls once the workflow has answered it (a slow API pod, say) until the second
    // request has been answered and written.
    let firstAnswered = () => {};
    const answered = new Promise<void>((resolve) => (firstAnswered = resolve));
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const getHandle = stack.client.workflow.getHandle.bind(stack.client.workflow);
    const spy = vi.spyOn(stack.client.workflow, 'getHandle').mockImplementation((...args) => {
      const handle = getHandle(...args);
      if (args[0] !== appointment.workflowId) return handle;
      const executeUpdate = handle.executeUpdate.bind(handle) as (...args: unknown[]) => Promise<unknown>;
      const stallingAfterFirst = async (definition: unknown, options?: { args?: [{ startsAt?: string }] }) => {
        const answer = await executeUpdate(definition, options);
        if (options?.args?.[0]?.startsAt === first) {
          firstAnswered();
          await released;
        }
        return answer;
      };
      return Object.assign(handle, { executeUpdate: stallingAfterFirst as unknown as typeof handle.executeUpdate });
    });
    try {
      const firstMove = reschedule(owner, appointment.id, first).then((answer) => answer);
      await answered;
      const secondMove = await reschedule(owner, appointment.id, second);
      expect(secondMove.status).toBe(200);
      release();
      expect((await firstMove).status).toBe(200);
    } finally {
      spy.mockRestore();
    }

    const read = await live(owner, appointment.id);
    expect(read.live.startsAt).toBe(second);
    expect(read.startsAt).toBe(read.live.startsAt);
    // The send gate lets the reminder for the start the workflow holds go (before: refused `appointment_moved`).
    await expect.poll(() => bodiesTo(owner.phone).length, { timeout: 20_000 }).toBe(2);
    expect(bodiesTo(owner.phone)[1]).toContain(at(second));
    await terminate(appointment.workflowId).catch(() => undefined);
  });
});

describe('a cancel the workflow has accepted, its row not yet written', () => {
  it("a reminder in Twilio's retries meanwhile waits for the row, then is refused: no reminder after the cancel", async () => {
    const owner = await tenantWithLead({
      appointmentReminderTemplate: 'REMINDER {{time}}',
      sendCancellationNotice: false,
    });
    const appointment = await book(owner, inSeconds(40), [34]);
    await expect.poll(() => bodiesTo(owner.phone).length, { timeout: 20_000 }).toBe(1);
    // The reminder's first attempt gets a 429; its retry comes about 2 s later.
    stack.fake.inject({ kind: 'http', status: 429 }, { to: owner.phone });
    await expect
      .poll(() => stack.fake.calls.filter((call) => call.to === owner.phone && call.outcome === 'error').length, {
        timeout: 20_000,
      })
      .toBe(1);

    // The cancel's API process stalls for 5 s once the workflow has answered (which takes up to 5 s while the
    // reminder's activity holds the run's loop), before it writes the row: the retry comes in between.
    const getHandle = stack.client.workflow.getHandle.bind(stack.client.workflow);
    const spy = vi.spyOn(stack.client.workflow, 'getHandle').mockImplementation((...args) => {
      const handle = getHandle(...args);
      if (args[0] !== appointment.workflowId) return handle;
      const executeUpdate = handle.executeUpdate.bind(handle) as (...args: unknown[]) => Promise<unknown>;
      const stallingAfterAnswer = async (...update: unknown[]) => {
        const answer = await executeUpdate(...update);
        await new Promise((resolve) => setTimeout(resolve, 5000));
        return answer;
      };
      return Object.assign(handle, { executeUpdate: stallingAfterAnswer as unknown as typeof handle.executeUpdate });
    });
    try {
      const cancelled = await request(stack.app)
        .post(`/v1/appointments/${appointment.id}/cancel`)
        .set(owner.auth)
        .send({});
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
    } finally {
      spy.mockRestore();
    }
    const reminderRow = () =>
      stack.db.message.findFirstOrThrow({ where: { appointmentId: appointment.id, body: { startsWith: 'REMINDER' } } });
    await expect.poll(async () => (await reminderRow()).status, { timeout: 20_000 }).toBe('skipped');
    expect(await reminderRow()).toMatchObject({ skipReason: 'appointment_closed', twilioSid: null });
    expect(bodiesTo(owner.phone).filter((body) => body?.startsWith('REMINDER'))).toEqual([]);
  });
});

describe('a move undone before the run applied it', () => {
  it('the row says the appointment never moved, so the lead’s confirm word answering the booking’s text counts', async () => {
    const owner = await tenantWithLead();
    // The confirmation's retries come while the change is asked for.
    const { booked, appointment } = await bookedWithConfirmationInRetries(owner, 2);
    const handle = stack.client.workflow.getHandle(appointment.workflowId);
    for (const startsAt of [inSeconds(3 * 86_400), booked])
      await handle.startUpdate(rescheduleUpdate, {
        args: [{ startsAt, notify: true }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });

    await expect.poll(() => bodiesTo(owner.phone), { timeout: 30_000 }).toEqual([expect.stringContaining(at(booked))]);
    await expect
      .poll(async () => (await live(owner, appointment.id)).live, { timeout: 10_000 })
      .toMatchObject({
        confirmation: 'sent',
        startsAt: booked,
        movingTo: null,
      });
    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    // Before: the undoing write stamped its own movedAt, and the confirm word waited for a text sent after it.
    expect(row).toMatchObject({ startsAt: new Date(booked), movedAt: null });
    expect((await owner.reply('C')).status).toBe(200);
    expect(
      (await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })).confirmedAt,
    ).toBeInstanceOf(Date);
    await terminate(appointment.workflowId);
  });
});

/** The API process dies once the workflow has answered its update: nothing of the answer reaches the row from it. */
function apiDiesAfterAnswer(workflowId: string) {
  const getHandle = stack.client.workflow.getHandle.bind(stack.client.workflow);
  return vi.spyOn(stack.client.workflow, 'getHandle').mockImplementation((...args) => {
    const handle = getHandle(...args);
    if (args[0] !== workflowId) return handle;
    const executeUpdate = handle.executeUpdate.bind(handle) as (...args: unknown[]) => Promise<unknown>;
    const dyingAfterAnswer = async (...update: unknown[]) => {
      await executeUpdate(...update);
      throw new Error('the API process died');
    };
    return Object.assign(handle, { executeUpdate: dyingAfterAnswer as unknown as typeof handle.executeUpdate });
  });
}

describe("a change the workflow accepted whose request died before writing the answer, a confirmation in Twilio's retries", () => {
  it.each([
    { change: 'move', path: 'reschedule', body: { startsAt: inSeconds(3 * 86_400) } },
    { change: 'cancel', path: 'cancel', body: {} },
  ])(
    '$change: the run wrote it to the row as it accepted it, so the retry is refused for it',
    async ({ path, body }) => {
      // No notices: the only text the lead may get is the booking's confirmation, for the start the row shows.
      const owner = await tenantWithLead({ sendCancellationNotice: false, sendRescheduleNotice: false });
      // The confirmation's retries come while the change is asked for.
      const { booked, appointment } = await bookedWithConfirmationInRetries(owner, 3);

      const spy = apiDiesAfterAnswer(appointment.workflowId);
      try {
        const asked = await request(stack.app)
          .post(`/v1/appointments/${appointment.id}/${path}`)
          .set(owner.auth)
          .send(body);
        expect(asked.status).toBe(500);
      } finally {
        spy.mockRestore();
      }

      const confirmation = () =>
        stack.db.message.findFirstOrThrow({ where: { appointmentId: appointment.id }, orderBy: { createdAt: 'asc' } });
      await expect.poll(async () => (await confirmation()).status, { timeout: 30_000 }).toBe('skipped');
      expect(await confirmation()).toMatchObject({
        skipReason: path === 'cancel' ? 'appointment_closed' : 'appointment_moved',
        twilioSid: null,
      });
      // Before: the retry passed the send gate and the lead was told the start they had been moved from (or that the
      // cancelled appointment was booked).
      expect(bodiesTo(owner.phone).filter((text) => text?.includes(at(booked)))).toEqual([]);
      if (path === 'reschedule') {
        await expect
          .poll(() => bodiesTo(owner.phone), { timeout: 20_000 })
          .toEqual([expect.stringContaining(at(body.startsAt as string))]);
        await terminate(appointment.workflowId);
      }
    },
  );
});

describe("a cancel asked while the booking's confirmation is in Twilio's retries, its update still on its way to the run", () => {
  it('the retry waits for the change (the row is stamped), and the cancel then closes it: the lead is never told the cancelled appointment is booked', async () => {
    const owner = await tenantWithLead({ sendCancellationNotice: false });
    // Refused more than once: should the stamp come after the first retry, that one is refused by Twilio too.
    const { booked, appointment } = await bookedWithConfirmationInRetries(owner, 3);
    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    // The API's cancel stamps the row first; its update reaches the run (and the run writes the cancel) a moment later.
    await underLeadConversationLock(stack.db, row, (tx) => stampChangeRequested(tx, row.id));
    const confirmation = () =>
      stack.db.message.findFirstOrThrow({ where: { appointmentId: appointment.id }, orderBy: { createdAt: 'asc' } });
    const retryRefusedFor = async () =>
      (await stack.client.workflow.getHandle(appointment.workflowId).describe()).raw.pendingActivities?.[0]?.lastFailure
        ?.message ?? '';
    await expect.poll(retryRefusedFor, { timeout: 20_000 }).toContain('being moved or cancelled');
    // Before: the retry passed the gate in that moment, and the lead was told the appointment was booked.
    expect(bodiesTo(owner.phone)).toEqual([]);
    const cancelled = await request(stack.app)
      .post(`/v1/appointments/${appointment.id}/cancel`)
      .set(owner.auth)
      .send({});
    expect(cancelled.status).toBe(200);
    await expect.poll(async () => (await confirmation()).status, { timeout: 20_000 }).toBe('skipped');
    expect(bodiesTo(owner.phone).filter((text) => text?.includes(at(booked)))).toEqual([]);
  });
});

describe('two change requests in flight at once', () => {
  it('the second answering first leaves the stamp the first still waits for; the stamp clears once both have answered', async () => {
    const owner = await tenantWithLead();
    const appointment = await book(owner, inSeconds(2 * 86_400), [86_400]);
    const row = await stack.db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
    const underLock = <T>(work: Parameters<typeof underLeadConversationLock<T>>[2]) =>
      underLeadConversationLock(stack.db, row, work);
    const pending = async () => {
      const { changeRequestedAt } = await stack.db.appointment.findUniqueOrThrow({ where: { id: row.id } });
      return changePendingUntil(changeRequestedAt, new Date()) !== null;
    };
    // A cancel asked (its answer slow), then a move and its undo asked and answered meanwhile.
    const first = await underLock((tx) => stampChangeRequested(tx, row.id));
    const second = await underLock((tx) => stampChangeRequested(tx, row.id));
    await underLock((tx) => clearChangeRequested(tx, row.id, second ?? new Date()));
    // Before: the second's clear left no stamp, and a reminder in Twilio's retries passed the gate while the cancel the
    // workflow was about to accept had yet to be written.
    expect(await pending()).toBe(true);
    await underLock((tx) => clearChangeRequested(tx, row.id, first ?? new Date()));
    expect(await pending()).toBe(false);
    await terminate(appointment.workflowId);
  });
});
