import { formatAppointmentTime, type AppointmentTemplatePlaceholder } from '../common/templates.js';
import type { Tenant } from '../generated/prisma/client.js';
import type {
  AppointmentOutcome,
  AppointmentReminderInput,
  Reminder,
} from '../workflows/appointment-reminder.messages.js';
import { nextReminderAt } from '../workflows/decisions/reminder-schedule.js';
import { erasedClosedReason, haltEnrollments, lockConversation } from '../common/conversation.js';
import { countEnrollmentFact, countLeadFact } from '../common/analytics/aggregate.js';
import { recordEvent } from '../common/events.js';
import { lockUnclaimedMessagesOf } from '../common/lock-order.js';
import { recordEventOnce } from '../common/event-writers.js';
import { appointmentChanges } from './appointment-events.js';
import type { DeliveryResult, MessageDeliveryDeps } from './outbound-message.js';
import { createMessageDelivery } from './send-message.js';
import { beginClosingUnclaimed } from './unsent-messages.js';

export type AppointmentMessage =
  { kind: 'confirmation' } | { kind: 'reminder'; offsetSeconds: number } | { kind: 'cancellation' };

export interface SendAppointmentMessageInput {
  tenantId: string;
  leadId: string;
  appointmentId: string;
  message: AppointmentMessage;
  /** ISO instant: the start the message speaks of ({{time}}). */
  startsAt: string;
  location: string | null;
  /** Worthless after this: a later attempt answers `missed`, and Twilio drops the message if it is still queued then. */
  notAfter: string;
  /** As for sequence steps: a hold answers `held`, and the workflow waits (patch `send-gate-holds`). */
  holdAsResult?: boolean;
}

export type SendAppointmentMessageResult = DeliveryResult | { outcome: 'missed' };

export interface RecordAppointmentStartedInput extends AppointmentReminderInput {
  workflowId: string;
  runId: string;
  reminders: Reminder[];
}

export interface FollowUpRun {
  workflowId: string;
  runId: string | null;
}

export interface RecordAppointmentProgressInput {
  appointmentId: string;
  tenantId: string;
  startsAt: string;
  reminders: Reminder[];
  status: 'scheduled' | AppointmentOutcome;
  closedReason: string | null;
}

const templates: Record<AppointmentMessage['kind'], (tenant: Tenant) => string> = {
  confirmation: (tenant) => tenant.appointmentConfirmationTemplate,
  reminder: (tenant) => tenant.appointmentReminderTemplate,
  cancellation: (tenant) => tenant.appointmentCancellationTemplate,
};

/** A reminder's key names the start it is for: a moved appointment gets its reminders again, a retry never. */
function idempotencyKey({ appointmentId, message, startsAt }: SendAppointmentMessageInput): string {
  return message.kind === 'reminder'
    ? `appointment:${appointmentId}:reminder:${message.offsetSeconds}:${startsAt}`
    : `appointment:${appointmentId}:${message.kind}`;
}

/**
 * Appointment messages are transactional: no sending window or caps, but the same exactly-once send with its
 * opt-out check right before Twilio. The tenant's templates are read when a message is first attempted.
 */
export function createReminderActivities(deps: MessageDeliveryDeps) {
  const { db } = deps;
  const deliver = createMessageDelivery(deps);
  return {
    async sendAppointmentMessage(input: SendAppointmentMessageInput): Promise<SendAppointmentMessageResult> {
      return deliver(
        {
          tenantId: input.tenantId,
          leadId: input.leadId,
          idempotencyKey: idempotencyKey(input),
          subject: {
            kind: 'appointment',
            appointmentId: input.appointmentId,
            message: input.message.kind,
            startsAt: input.startsAt,
          },
          holdAsResult: input.holdAsResult,
          messageFor: (lead) => ({
            template: templates[input.message.kind](lead.tenant),
            placeholders: {
              time: formatAppointmentTime(new Date(input.startsAt), lead.timeZone),
              location: input.location,
            } satisfies Partial<Record<AppointmentTemplatePlaceholder, string | null>>,
          }),
        },
        { at: new Date(input.notAfter), hard: true, outcomeWhenMissed: { outcome: 'missed' } as const },
      );
    },

    /**
     * The API writes the row after starting the workflow; this covers an API that died in between. The booking ends
     * the lead's running follow-ups: they are marked halted here, with the appointment, before any signal, and the
     * workflow signals the ones it answers with (however the booking named the lead).
     */
    async recordAppointmentStarted({
      workflowId,
      runId,
      reminders,
      bookedFrom,
      appointmentId,
      ...appointment
    }: RecordAppointmentStartedInput): Promise<{ followUpsToEnd: FollowUpRun[] }> {
      return db.$transaction(async (tx) => {
        const lead = await tx.lead.findFirstOrThrow({
          where: { id: appointment.leadId, tenantId: appointment.tenantId },
          select: { phone: true },
        });
        await lockConversation(tx, appointment.tenantId, lead.phone);
        await tx.appointment.upsert({
          where: { id: appointmentId },
          create: {
            ...appointment,
            id: appointmentId,
            enrollmentId: bookedFrom?.enrollmentId ?? null,
            startsAt: new Date(appointment.startsAt),
            reminders,
            nextReminderAt: nextReminderAt(reminders),
            workflowId,
            runId,
          },
          update: { runId },
        });
        // The API may have written the row first; whichever run of this finds no event records it (under the lock).
        const scope = { tenantId: appointment.tenantId, leadId: appointment.leadId };
        const data = {
          appointmentId,
          ...scope,
          enrollmentId: bookedFrom?.enrollmentId ?? null,
          startsAt: appointment.startsAt,
          location: appointment.location,
        };
        if (await recordEventOnce(tx, { ...scope, type: 'appointment.scheduled', idKey: 'appointmentId', data })) {
          // The funnel's booking: for the follow-up it was booked from, else the lead's latest one.
          if (bookedFrom) await countEnrollmentFact(tx, bookedFrom.enrollmentId, 'booked');
          else await countLeadFact(tx, { ...scope, fact: 'booked' });
        }
        const halted = await haltEnrollments(
          tx,
          { tenantId: appointment.tenantId, leadId: appointment.leadId },
          'booked',
        );
        return {
          followUpsToEnd: halted
            .filter((run) => run.workflowId !== bookedFrom?.workflowId)
            .map(({ workflowId: id, runId: run }) => ({ workflowId: id, runId: run })),
        };
      });
    },

    /**
     * The row follows the workflow. Messages held for a start that is no longer the appointment's, or for an
     * appointment that has ended, will never go: they close as skipped (the cancellation notice is not among them).
     * What the write changes for the CRM becomes events (activities/appointment-events.ts), decided on the row locked
     * and the events recorded before it: a retry, or a change the API already wrote to the row, is told once.
     */
    async recordAppointmentProgress({
      appointmentId,
      tenantId,
      startsAt,
      reminders,
      status,
      closedReason,
    }: RecordAppointmentProgressInput): Promise<void> {
      await db.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT 1 FROM appointments WHERE id = ${appointmentId}::uuid FOR UPDATE`;
        // The messages it may close, and the capacity they give back, before the events it may record
        // (common/lock-order.ts). The cancellation notice stays, and on a move the reminders of the new time.
        await lockUnclaimedMessagesOf(tx, { appointmentId });
        const notice = { idempotencyKey: `appointment:${appointmentId}:cancellation` };
        const unclaimed =
          status !== 'scheduled'
            ? await beginClosingUnclaimed(tx, { appointmentId, NOT: notice }, `appointment_${status}`)
            : await beginClosingUnclaimed(
                tx,
                { appointmentId, NOT: [notice, { idempotencyKey: { endsWith: `:${startsAt}` } }] },
                'appointment_moved',
              );
        const before = await tx.appointment.findFirst({ where: { id: appointmentId, tenantId } });
        // An erasure closed the row for good: a run that has not heard of it yet must not bring it back.
        const { count } = await tx.appointment.updateMany({
          where: {
            id: appointmentId,
            tenantId,
            OR: [{ closedReason: null }, { closedReason: { not: erasedClosedReason } }],
          },
          data: {
            startsAt: new Date(startsAt),
            reminders,
            nextReminderAt: nextReminderAt(reminders),
            status,
            closedReason,
            closedAt: status === 'scheduled' ? null : new Date(),
          },
        });
        if (before && count) {
          const scope = { tenantId, leadId: before.leadId, data: { path: ['appointmentId'], equals: appointmentId } };
          const announced = await tx.event.findFirst({
            where: { ...scope, type: { in: ['appointment.scheduled', 'appointment.rescheduled'] } },
            orderBy: { sequence: 'desc' },
          });
          const announcedStart = (announced?.data as { startsAt?: string } | undefined)?.startsAt;
          const ended =
            (await tx.event.count({
              where: { ...scope, type: { in: ['appointment.cancelled', 'appointment.completed'] } },
            })) > 0;
          const changes = appointmentChanges(
            {
              startsAt: announcedStart ? new Date(announcedStart) : before.startsAt,
              ended,
              reminders: before.reminders as unknown as Reminder[],
            },
            { status, startsAt: new Date(startsAt), reminders, closedReason },
          );
          for (const { type, details } of changes)
            await recordEvent(tx, {
              tenantId,
              type,
              leadId: before.leadId,
              data: { appointmentId, leadId: before.leadId, ...details },
            });
        }
        await unclaimed.close();
      });
    },
  };
}
