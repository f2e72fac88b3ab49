// Erasure on request (GDPR): the lead's personal data and messages go, a hashed opt-out stays so the number is never
// texted again, and everything that could still text it is stopped. The facts are recorded in one transaction under
// the conversation's lock, so the send gate's last look before Twilio sees them; Temporal is told afterwards.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { releaseUnclaimedCapacity } from '../common/capacity/usage.js';
import { erasedClosedReason, haltEnrollments, lockConversation } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { recordEvent } from '../common/events.js';
import { lockAppointmentsOf, lockLead, lockMessagesOfLead } from '../common/lock-order.js';
import { erasureSource, phoneHashes, recordOptOut } from '../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../common/pending-signals.js';
import type { Lead, Prisma } from '../generated/prisma/client.js';
import {
  cancelledInTemporal,
  cancelledThroughTheApi,
  cancelUpdate,
} from '../workflows/appointment-reminder.messages.js';
import { deliverOrLeaveQueued, type SignalRelay } from './signal-relay.js';

export interface ErasureDeps {
  db: Db;
  temporal: Client;
  signalRelay: SignalRelay;
}

/**
 * How long a reminder workflow's worker gets to accept the cancellation, then Temporal to take a cancellation request:
 * with Temporal down, the erasure answers after both.
 */
const acceptDeadlineMs = 3_000;
const requestDeadlineMs = 2_000;

type Reminders = { workflowId: string }[];

/** Returns false when another request erased the lead first. */
export async function eraseLead({ db, temporal, signalRelay }: ErasureDeps, lead: Lead, log: Logger): Promise<boolean> {
  const erased = await db.$transaction((tx) => recordErasure(tx, lead));
  if (!erased) return false;
  await Promise.all([
    deliverOrLeaveQueued(signalRelay, log, erased.signalIds),
    cancelReminders(temporal, erased.reminders, log),
  ]);
  return true;
}

async function recordErasure(tx: Prisma.TransactionClient, { id: leadId, tenantId, phone }: Lead) {
  await lockConversation(tx, tenantId, phone);
  // Its appointments' rows, its own and its messages, then the capacity counts its messages give back, before the
  // events below take the event lock (common/lock-order.ts).
  await lockAppointmentsOf(tx, leadId);
  await lockLead(tx, leadId);
  await lockMessagesOfLead(tx, { tenantId, leadId, phone });
  // Under the lock: of two erasures of one lead, the second finds it erased.
  if (!(await tx.lead.findFirst({ where: { id: leadId, status: { not: 'erased' } }, select: { id: true } })))
    return null;
  // Its links keep working and their clicks stay counted, without the lead (their targets hold no lead data). Before
  // the first event: a first click locks the message's links, then the event lock (common/lock-order.ts).
  await tx.shortLink.updateMany({ where: { tenantId, leadId }, data: { leadId: null } });
  // Its messages no attempt has claimed will never go out: what they reserved goes back before they are deleted.
  await releaseUnclaimedCapacity(tx, { tenantId, leadId });
  await recordOptOut(tx, { tenantId, phone, source: erasureSource });
  await haltEnrollments(tx, { tenantId, leadId }, erasedClosedReason);
  // Cancelled here, so the send gate refuses their messages before their workflows hear of it (by the cancel below,
  // not the opt-out: the signals are queued after, for the follow-ups only).
  const reminders = await tx.appointment.updateManyAndReturn({
    where: { tenantId, leadId, status: 'scheduled' },
    data: { status: 'cancelled', closedReason: erasedClosedReason, closedAt: new Date(), nextReminderAt: null },
    select: { id: true, workflowId: true, startsAt: true },
  });
  const signalIds = await queueSignalsForPhone(
    tx,
    tenantId,
    phone,
    { signal: signalNames.optOut, payload: { source: erasureSource } },
    { haltedAs: erasedClosedReason },
  );
  for (const appointment of reminders) {
    const data = {
      appointmentId: appointment.id,
      leadId,
      startsAt: appointment.startsAt.toISOString(),
      reason: erasedClosedReason,
    };
    await recordEvent(tx, { tenantId, type: 'appointment.cancelled', leadId, data });
  }
  await tx.appointment.updateMany({ where: { tenantId, leadId }, data: { notes: null, location: null } });
  await tx.appointment.updateMany({
    where: { tenantId, leadId, status: 'cancelled', closedReason: { notIn: serviceCancelReasons } },
    data: { closedReason: cancelledThroughTheApi },
  });
  await tx.optOut.updateMany({ where: { tenantId, phoneHash: { in: phoneHashes(phone) } }, data: { phone: null } });
  await tx.message.deleteMany({
    where: {
      tenantId,
      OR: [{ leadId }, { direction: 'outbound', toPhone: phone }, { direction: 'inbound', fromPhone: phone }],
    },
  });
  await tx.lead.update({
    where: { id: leadId },
    data: {
      phone: `erased:${leadId}`,
      firstName: null,
      lastName: null,
      status: 'erased',
      closedReason: 'erased on request',
    },
  });
  await tx.auditLog.create({ data: { tenantId, actor: 'api', action: 'lead.erased', subject: leadId } });
  await scrubEvents(tx, tenantId, leadId, phone);
  await recordEvent(tx, { tenantId, type: 'lead.erased', leadId, data: { leadId } });
  return { signalIds, reminders };
}

/** The reasons the service gives a cancelled appointment; any other is the tenant's own words, which may name the lead. */
export const serviceCancelReasons = [erasedClosedReason, cancelledThroughTheApi, cancelledInTemporal];

/**
 * The lead's events keep their IDs and facts and lose its personal data (an appointment's location too, as its row
 * does, and a cancellation's reason in the tenant's words); so do events about its phone that named no lead (a text
 * from it before it was a lead). Last in the erasure, after the events the erasure itself records.
 */
async function scrubEvents(
  tx: Prisma.TransactionClient,
  tenantId: string,
  leadId: string,
  phone: string,
): Promise<void> {
  await tx.$executeRaw`
    UPDATE events SET data = data - 'phone' - 'firstName' - 'lastName' - 'body' - 'text' - 'location'
      || CASE WHEN type = 'appointment.cancelled' AND NOT (data->>'reason' = ANY(${serviceCancelReasons}))
        THEN jsonb_build_object('reason', ${cancelledThroughTheApi}::text) ELSE '{}'::jsonb END
    WHERE tenant_id = ${tenantId}::uuid AND (lead_id = ${leadId}::uuid OR (lead_id IS NULL AND data->>'phone' = ${phone}))`;
}

/**
 * Ends each reminder workflow without a cancellation text. One that has finished, or is being cancelled already, has
 * nothing left to stop. Without a worker to accept the update, a cancellation request (kept by Temporal until a worker
 * returns) ends it instead (its row then says `workflow cancelled`). With Temporal down it is only logged: the rows say
 * cancelled, and the send gate refuses.
 */
export async function cancelReminders(temporal: Client, reminders: Reminders, log: Logger): Promise<void> {
  const within = <T>(ms: number, call: () => Promise<T>) => temporal.connection.withDeadline(Date.now() + ms, call);
  await Promise.all(
    reminders.map(async ({ workflowId }) => {
      // The workflow ID alone: never reused, and a run held for long goes on as a new run of it.
      const handle = temporal.workflow.getHandle(workflowId);
      try {
        await within(acceptDeadlineMs, () =>
          handle.startUpdate(cancelUpdate, {
            args: [{ notify: false, reason: erasedClosedReason }],
            waitForStage: WorkflowUpdateStage.ACCEPTED,
          }),
        );
      } catch (error) {
        if (error instanceof WorkflowNotFoundError || error instanceof WorkflowUpdateFailedError) return;
        try {
          await within(requestDeadlineMs, () => handle.cancel());
          log.warn(
            { workflowId, err: error },
            'erased lead: reminder workflow did not accept its cancellation; Temporal will cancel it',
          );
        } catch (cancelError) {
          if (cancelError instanceof WorkflowNotFoundError) return;
          log.error(
            { workflowId, err: cancelError },
            'erased lead: reminder workflow not cancelled (its row says cancelled, so the send gate refuses its messages)',
          );
        }
      }
    }),
  );
}
