import { randomUUID } from 'node:crypto';
import {
  WorkflowUpdateStage,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { appointmentReminder } from '../../workflows/appointment-reminder.js';
import {
  appointmentOptOutSignal,
  appointmentReminderWorkflowId,
  appointmentReminderWorkflowType,
  appointmentReplySignal,
  cancelUpdate,
  rescheduleUpdate,
  statusQuery,
  type AppointmentReminderInput,
} from '../../workflows/appointment-reminder.messages.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { lockConversation } from '../../common/conversation.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { optOutSignal } from '../../workflows/lead-follow-up.messages.js';
import {
  eventually,
  startFollowUp,
  tenantAndLead,
  untilContinuedAsNew,
  type Scenario,
  type ScenarioContext,
} from './lead-follow-up-scenarios.js';

/** An appointment `startsInSeconds` away with reminders at the given offsets: real time, so everything is short. */
async function book(
  context: ScenarioContext,
  startsInSeconds: number,
  reminderOffsetsSeconds: number[],
  owner?: Awaited<ReturnType<typeof tenantAndLead>>,
  bookedFrom: AppointmentReminderInput['bookedFrom'] = null,
  appointmentId: string = randomUUID(),
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof appointmentReminder>> {
  const { client, taskQueue } = context;
  const { tenant, lead } = owner ?? (await tenantAndLead(context));
  return client.workflow.start<typeof appointmentReminder>(appointmentReminderWorkflowType, {
    taskQueue,
    workflowId: appointmentReminderWorkflowId(tenant.id, appointmentId),
    args: [
      {
        tenantId: tenant.id,
        leadId: lead.id,
        appointmentId,
        startsAt: new Date(Date.now() + startsInSeconds * 1000).toISOString(),
        timeZone: 'Europe/London',
        durationMinutes: 30,
        location: 'Surgery 2',
        notes: null,
        reminderOffsetsSeconds,
        bookedFrom,
      },
    ],
  });
}

/** A follow-up asleep for an hour, recorded on its row, and the `bookedFrom` that names it. */
async function sleepingFollowUp(context: ScenarioContext) {
  const owner = await tenantAndLead(context);
  const followUp = await startFollowUp(context, [{ delaySeconds: 3600, template: 'Still interested?' }], owner);
  const enrollment = await eventually(
    async () => context.db.enrollment.findFirst({ where: { workflowId: followUp.workflowId } }),
    'the follow-up to record itself',
  );
  const bookedFrom = { enrollmentId: enrollment.id, workflowId: followUp.workflowId, runId: enrollment.runId };
  return { owner, followUp, bookedFrom };
}

const untilConfirmed = (handle: WorkflowHandle<typeof appointmentReminder>) =>
  eventually(
    async () => (await handle.query(statusQuery)).confirmation !== 'pending',
    `${handle.workflowId} to send its confirmation`,
  );

/** Runs `during` while the run's `activity` waits on a lock that `lock` takes and holds here. */
async function whileActivityWaits(
  context: ScenarioContext,
  handle: WorkflowHandle<typeof appointmentReminder>,
  activity: string,
  lock: (tx: Prisma.TransactionClient) => Promise<unknown>,
  during: () => Promise<void>,
): Promise<void> {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = context.db.$transaction(
    async (tx) => {
      await lock(tx);
      locked();
      await released;
    },
    { timeout: 60_000 },
  );
  await isLocked;
  await eventually(
    async () =>
      (await handle.describe()).raw.pendingActivities?.some((pending) => pending.activityType?.name === activity),
    `${activity} to wait for the lock (if it finished first, capture again)`,
  );
  await during();
  release();
  await holder;
}

/** Until one of the tenant's messages is held by its kill switch. */
const untilHeldByKillSwitch = (context: ScenarioContext, tenantId: string, what: string) =>
  eventually(
    async () => context.db.message.findFirst({ where: { tenantId, heldReason: 'kill_switch' } }),
    `${what} to be held`,
  );

/** An appointment confirmed, its one reminder (`offsetSeconds` before the start) held by the tenant's kill switch. */
async function reminderHeldByKillSwitch(context: ScenarioContext, startsInSeconds: number, offsetSeconds: number) {
  const owner = await tenantAndLead(context);
  const handle = await book(context, startsInSeconds, [offsetSeconds], owner);
  await untilConfirmed(handle);
  await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
  await untilHeldByKillSwitch(context, owner.tenant.id, 'the reminder');
  return { owner, handle };
}

/** A confirmed appointment cancelled, notice asked for, with the tenant's sending paused: the notice will be held. */
async function cancelledWithSendingPaused(context: ScenarioContext) {
  const owner = await tenantAndLead(context);
  const handle = await book(context, 3600, [1800], owner);
  await untilConfirmed(handle);
  await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
  await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: 'lead called' }] });
  return { owner, handle };
}

export const appointmentReminderScenarios: Scenario[] = [
  {
    name: 'completed',
    async run(context) {
      const handle = await book(context, 4, [2]);
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch settle-after-deadline: each send may be tried for a while past its deadline.
    name: 'completed-with-settle-window',
    async run(context) {
      const handle = await book(context, 4, [2]);
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'rescheduled',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: new Date(Date.now() + 4000).toISOString() }] });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'cancelled',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: 'lead called' }] });
      await handle.result().catch(() => undefined);
      return handle.workflowId;
    },
  },
  {
    name: 'sleeping',
    async run(context) {
      const handle = await book(context, 86_400 * 2, [86_400, 3600]);
      await untilConfirmed(handle);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch opt-out-ends-appointment: the optOut signal ends the appointment while it waits.
    name: 'opted-out-by-signal',
    async run(context) {
      const handle = await book(context, 86_400 * 2, [86_400]);
      await untilConfirmed(handle);
      await handle.signal(appointmentOptOutSignal, { source: 'inbound_keyword' });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch booking-ends-lead-follow-ups: a booking that names no follow-up still ends the lead's.
    name: 'booking-ends-lead-follow-up',
    async run(context) {
      const owner = await tenantAndLead(context);
      const followUp = await startFollowUp(context, [{ delaySeconds: 3600, template: 'Still interested?' }], owner);
      await eventually(
        async () => context.db.enrollment.findFirst({ where: { workflowId: followUp.workflowId } }),
        'the follow-up to record itself',
      );
      const handle = await book(context, 86_400 * 2, [86_400], owner);
      await followUp.result();
      await untilConfirmed(handle);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch follow-up-by-enrollment: the booking names the follow-up it was made from, and the run
    // tells it by workflow ID and enrollment.
    name: 'booking-ends-follow-up-by-enrollment',
    async run(context) {
      const { owner, followUp, bookedFrom } = await sleepingFollowUp(context);
      const handle = await book(context, 86_400 * 2, [86_400], owner, bookedFrom);
      await followUp.result();
      await untilConfirmed(handle);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch booked-from-first-fact: a STOP halted the follow-up the booking names first (its signal still
    // to come), so the run does not tell it; the STOP's signal closes it opted out.
    name: 'booked-from-follow-up-a-stop-halted',
    async run(context) {
      const { owner, followUp, bookedFrom } = await sleepingFollowUp(context);
      const halted = { haltedAt: new Date(), haltedBy: 'opted_out' };
      await context.db.enrollment.update({ where: { id: bookedFrom.enrollmentId }, data: halted });
      const handle = await book(context, 86_400 * 2, [86_400], owner, bookedFrom);
      await untilConfirmed(handle);
      await followUp.signal(optOutSignal, { source: 'inbound_keyword', enrollmentId: bookedFrom.enrollmentId });
      const state = await followUp.result();
      if (state.status !== 'opted_out') throw new Error(`the follow-up ended ${state.status}: ${state.closedReason}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch send-gate-holds: the reminder is held by the kill switch, and a cancel ends the wait.
    name: 'reminder-held-then-cancelled',
    async run(context) {
      const { owner, handle } = await reminderHeldByKillSwitch(context, 3600, 3597);
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: false, reason: 'lead called' }] });
      await handle.result();
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch appointment-replies: the lead asks to reschedule, then confirms; the tenant skips the
    // reminders after a confirmation, so the one still to come is dropped and the run waits for the start.
    name: 'confirmed-reminders-skipped',
    async run(context) {
      const handle = await book(context, 10, [5]);
      await untilConfirmed(handle);
      const at = () => new Date().toISOString();
      await handle.signal(appointmentReplySignal, { kind: 'reschedule_requested', at: at(), skipReminders: true });
      await handle.signal(appointmentReplySignal, { kind: 'confirmed', at: at(), skipReminders: true });
      const state = await handle.result();
      if (state.reminders.some((reminder) => reminder.status !== 'dropped'))
        throw new Error(`the reminder was not dropped: ${JSON.stringify(state.reminders)}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch reply-during-record: the confirmation lands while the run's first write of the row waits
    // (the row locked here), so the run records the dropped reminder at once, not at the reminder's time.
    name: 'confirmed-while-recording',
    async run(context) {
      const owner = await tenantAndLead(context);
      const handle = await book(context, 60, [20], owner);
      const { id } = await eventually(
        () => context.db.appointment.findFirst({ where: { tenantId: owner.tenant.id }, select: { id: true } }),
        'the appointment row',
      );
      await whileActivityWaits(
        context,
        handle,
        'recordAppointmentProgress',
        (tx) => tx.$executeRaw`SELECT 1 FROM appointments WHERE id = ${id}::uuid FOR UPDATE`,
        () =>
          handle.signal(appointmentReplySignal, {
            kind: 'confirmed',
            at: new Date().toISOString(),
            skipReminders: true,
          }),
      );
      await eventually(
        async () => (await context.db.appointment.findUnique({ where: { id } }))?.nextReminderAt === null,
        'the dropped reminder in the row before its time',
      );
      await handle.terminate('captured');
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch change-before-send: the appointment is moved while its booking is being recorded (the
    // conversation locked here); the run records the move first and confirms the new time.
    name: 'moved-while-booking-recorded',
    async run(context) {
      const owner = await tenantAndLead(context);
      const handle = await book(context, 3600, [1800], owner);
      await whileActivityWaits(
        context,
        handle,
        'recordAppointmentStarted',
        (tx) => lockConversation(tx, owner.tenant.id, owner.lead.phone),
        async () => {
          await handle.startUpdate(rescheduleUpdate, {
            args: [{ startsAt: new Date(Date.now() + 7200_000).toISOString() }],
            waitForStage: WorkflowUpdateStage.ACCEPTED,
          });
        },
      );
      await untilConfirmed(handle);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch change-before-send: the confirmation is held by the kill switch, the appointment moves, and
    // the confirmation goes for the new time once the move is recorded and sending resumes.
    name: 'confirmation-held-then-moved',
    async run(context) {
      const owner = await tenantAndLead(context);
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const handle = await book(context, 3600, [1800], owner);
      await untilHeldByKillSwitch(context, owner.tenant.id, 'the confirmation');
      await handle.executeUpdate(rescheduleUpdate, {
        args: [{ startsAt: new Date(Date.now() + 7200_000).toISOString() }],
      });
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      await untilConfirmed(handle);
      const { confirmation } = await handle.query(statusQuery);
      if (confirmation !== 'sent') throw new Error(`the confirmation ended ${confirmation}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch continue-as-new (the capture's server suggests it after 100 events): the confirmation is
    // held by the kill switch until the run goes on in a new one. This is the first run, which ends continued as new.
    name: 'confirmation-held-then-continued-as-new',
    async run(context) {
      const owner = await tenantAndLead(context);
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const handle = await book(context, 3600, [1800], owner);
      await untilContinuedAsNew(context, handle);
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      await untilConfirmed(handle);
      return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    },
  },
  {
    // The run a cancellation continued in while its notice was held: it sends the notice and ends cancelled.
    name: 'continued-run-sends-cancellation-notice',
    async run(context) {
      const { owner, handle } = await cancelledWithSendingPaused(context);
      await untilContinuedAsNew(context, handle);
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const state = await handle.result();
      if (state.cancellationNotice !== 'sent') throw new Error(`the notice ended ${state.cancellationNotice}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch move-withdraws-confirmation: the lead confirms (the tenant skips reminders then), the
    // appointment moves, and the confirmation is withdrawn: the reminder for the new time goes; the first confirmation
    // delivered again is ignored, and the lead confirms the new time.
    name: 'confirmed-then-moved',
    async run(context) {
      const owner = await tenantAndLead(context);
      const handle = await book(context, 3600, [3], owner);
      await untilConfirmed(handle);
      const row = await eventually(
        () => context.db.appointment.findFirst({ where: { tenantId: owner.tenant.id } }),
        'the appointment row',
      );
      const confirmedAt = new Date();
      // What the confirm word's webhook writes with the signal.
      await context.db.appointment.update({ where: { id: row.id }, data: { confirmedAt } });
      const confirm = (at: Date) =>
        handle.signal(appointmentReplySignal, { kind: 'confirmed', at: at.toISOString(), skipReminders: true });
      await confirm(confirmedAt);
      await eventually(async () => (await handle.query(statusQuery)).leadConfirmedAt !== null, 'the confirmation');
      await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: new Date(Date.now() + 8000).toISOString() }] });
      await confirm(confirmedAt);
      await eventually(
        async () => (await handle.query(statusQuery)).reminders.every((reminder) => reminder.status === 'sent'),
        'the reminder for the new time',
      );
      const { confirmedAt: cleared } = await context.db.appointment.findUniqueOrThrow({ where: { id: row.id } });
      if (cleared !== null) throw new Error('the row kept the confirmation');
      await confirm(new Date());
      const state = await handle.result();
      if (!state.leadConfirmedAt || state.leadConfirmedAt === confirmedAt.toISOString())
        throw new Error(`the new confirmation was not taken: ${JSON.stringify(state)}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch confirmation-refused-by-move: the confirmation's send waits on the conversation's lock (as a
    // Twilio retry would hold it up), the move's update answers after its settle timeout, the new start is written to
    // the row as the API does, and the send is refused `appointment_moved`; the confirmation then goes for the new
    // time once the move is recorded.
    name: 'confirmation-refused-then-moved',
    async run(context) {
      const owner = await tenantAndLead(context);
      const movedTo = new Date(Date.now() + 7200_000).toISOString();
      // An uncommitted row with the confirmation's key, written before the booking: the confirmation's first attempt
      // waits for it (as a Twilio retry would hold the send up) and goes on once it is rolled back.
      const appointmentId = randomUUID();
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      let written = () => {};
      const isWritten = new Promise<void>((resolve) => (written = resolve));
      const holder = context.db
        .$transaction(
          async (tx) => {
            await tx.message.create({
              data: {
                tenantId: owner.tenant.id,
                direction: 'outbound',
                toPhone: owner.lead.phone,
                body: 'placeholder',
                status: 'pending',
                idempotencyKey: `appointment:${appointmentId}:confirmation`,
              },
            });
            written();
            await released;
            throw new Error('rolled back');
          },
          { timeout: 60_000 },
        )
        .catch(() => undefined);
      await isWritten;
      const handle = await book(context, 3600, [1800], owner, null, appointmentId);
      const row = await eventually(
        () => context.db.appointment.findFirst({ where: { id: appointmentId } }),
        'the appointment row',
      );
      await eventually(
        async () =>
          (await handle.describe()).raw.pendingActivities?.some(
            (pending) => pending.activityType?.name === 'sendAppointmentMessage',
          ),
        'the confirmation to wait for the held row',
      );
      const answer = await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: movedTo }] });
      if (answer.movingTo !== movedTo) throw new Error(`the update answered ${JSON.stringify(answer)}`);
      await context.db.appointment.updateMany({
        where: { id: row.id, startsAt: new Date(answer.startsAt) },
        data: { startsAt: new Date(movedTo) },
      });
      release();
      await holder;
      await untilConfirmed(handle);
      const state = await handle.query(statusQuery);
      if (state.confirmation !== 'sent' || state.startsAt !== movedTo)
        throw new Error(`the confirmation ended ${state.confirmation}`);
      const refused = await context.db.message.findFirst({
        where: { appointmentId: row.id, skipReason: 'appointment_moved' },
      });
      if (!refused) throw new Error('the first confirmation was not refused for the move');
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch move-tells-lead: the lead, told the booked time, is told each new one (back to one told
    // before too), then the run ends at the last start.
    name: 'moves-told-to-lead',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      const told = async (startsAt: string, moves: number) => {
        await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt, notify: true }] });
        await eventually(async () => {
          const state = await handle.query(statusQuery);
          return state.reschedules === moves && state.confirmation === 'sent';
        }, `the lead to be told move ${moves}`);
      };
      const [later, sooner] = [
        new Date(Date.now() + 7200_000).toISOString(),
        new Date(Date.now() + 20_000).toISOString(),
      ];
      await told(later, 1);
      await told(sooner, 2);
      await told(later, 3);
      await told(sooner, 4);
      const appointmentId = handle.workflowId.split(':').at(-1);
      const texts = await context.db.message.count({ where: { appointmentId, NOT: { status: 'skipped' } } });
      if (texts !== 5) throw new Error(`${texts} texts, not the booking and four moves`);
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch cancellation-names-told-start: the lead is told the booked time, the appointment moves with
    // its notice held by the kill switch, and the cancel that follows names the booked time, the one the lead knows.
    // The hold's looks make the history long, so the run goes on as new with the cancel (the capture's server suggests
    // it after 100 events): the history captured is that run's, which sends the notice.
    name: 'cancelled-after-untold-move',
    async run(context) {
      const owner = await tenantAndLead(context);
      const handle = await book(context, 3600, [1800], owner);
      await untilConfirmed(handle);
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      await handle.executeUpdate(rescheduleUpdate, {
        args: [{ startsAt: new Date(Date.now() + 7200_000).toISOString(), notify: true }],
      });
      await untilHeldByKillSwitch(context, owner.tenant.id, 'the notice of the move');
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: 'lead called' }] });
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const { cancellationNotice, toldStartsAt, startsAt } = await handle.result();
      if (cancellationNotice !== 'sent') throw new Error(`the cancellation notice ended ${cancellationNotice}`);
      // The notice named the booked time (it is the last the lead was told), not the start the move set.
      if (!toldStartsAt || toldStartsAt === startsAt) throw new Error(`the notice named ${toldStartsAt}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch cancel-recorded-before-notice: a cancel whose notice the kill switch holds is written to the
    // row, with its appointment.cancelled, while the notice waits; the notice goes once the switch is lifted.
    name: 'cancel-recorded-while-notice-held',
    async run(context) {
      const { owner, handle } = await cancelledWithSendingPaused(context);
      await untilHeldByKillSwitch(context, owner.tenant.id, 'the cancellation notice');
      await eventually(
        () => context.db.event.findFirst({ where: { tenantId: owner.tenant.id, type: 'appointment.cancelled' } }),
        'the cancel recorded while its notice is held',
      );
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const { cancellationNotice } = await handle.result();
      if (cancellationNotice !== 'sent') throw new Error(`the cancellation notice ended ${cancellationNotice}`);
      // The first run: the one that took the cancel, recorded it and held its notice (a long hold goes on as new).
      return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    },
  },
  {
    // Recorded with patch same-start-moves-nothing: a move to the start the appointment has, asked while its reminder
    // is held by the kill switch (a CRM's retry of a move that landed), changes nothing; the reminder goes once the
    // switch is lifted.
    name: 'same-start-move-while-reminder-held',
    async run(context) {
      const { owner, handle } = await reminderHeldByKillSwitch(context, 40, 30);
      const { startsAt } = await handle.query(statusQuery);
      const answer = await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt, notify: true }] });
      if (answer.reschedules !== 0) throw new Error(`the update answered ${JSON.stringify(answer)}`);
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const { reminders } = await handle.result();
      if (reminders[0]?.status !== 'sent') throw new Error(`the reminder ended ${reminders[0]?.status}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch change-written-on-acceptance: two moves asked at once, then a cancel, each written to the row
    // by the run's update handler as it is accepted, in the order accepted.
    name: 'changes-written-on-acceptance',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      const appointmentId = handle.workflowId.split(':').at(-1);
      const row = () => context.db.appointment.findUniqueOrThrow({ where: { id: appointmentId } });
      const starts = [7200_000, 5400_000].map((ms) => new Date(Date.now() + ms).toISOString());
      await Promise.all(
        starts.map((startsAt) => handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt, notify: false }] })),
      );
      const { startsAt } = await handle.query(statusQuery);
      const shown = (await row()).startsAt.toISOString();
      if (shown !== startsAt) throw new Error(`the row shows ${shown}, the run holds ${startsAt}`);
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: false, reason: 'lead called' }] });
      const { status } = await row();
      if (status !== 'cancelled') throw new Error(`the row shows ${status} once the cancel answered`);
      await handle.result().catch(() => undefined);
      return handle.workflowId;
    },
  },
];
