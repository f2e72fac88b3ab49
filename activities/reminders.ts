import { savedZoneOr } from '../common/phone.js';
import { formatAppointmentTime, type AppointmentTemplatePlaceholder } from '../common/templates.js';
import type { Tenant } from '../generated/prisma/client.js';
import type {
  AcceptedChange,
  AppointmentOutcome,
  FollowUpRun,
  Reminder,
} from '../workflows/appointment-reminder.messages.js';
import { nextReminderAt } from '../workflows/decisions/reminder-schedule.js';
import { underLeadConversationLock, writeAcceptedChange } from '../common/appointment-changes.js';
import { recordBooking, type BookingRecord } from '../common/bookings.js';
import { erasedClosedReason } from '../common/conversation.js';
import { recordEvent } from '../common/events.js';
import { lockUnclaimedMessagesOf } from '../common/lock-order.js';
import { appointmentChanges, endingEvents } from './appointment-events.js';
import type { DeliveryResult, MessageDeliveryDeps } from './outbound-message.js';
import { createMessageDelivery } from './send-message.js';
import { beginClosingUnclaimed } from '../common/unclaimed-messages.js';

export type AppointmentMessage =
  | {
      kind: 'confirmation';
      /** The appointment moved (before the lead was told, or since): this confirmation is for the start it names. */
      afterMove?: true;
      /** The move it follows (the run's reschedules then): a start told, or held back and closed, before goes again. */
      move?: number;
    }
  | { kind: 'reminder'; offsetSeconds: number }
  | { kind: 'cancellation' };

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

/** The workflow records its booking with its own run. */
export type RecordAppointmentStartedInput = BookingRecord & { runId: string };
export interface RecordAppointmentStartedResult {
  followUpsToEnd: FollowUpRun[];
  /**
   * Whether the booking halted the follow-up it was made from (not a STOP or a reply before it, nor its close); absent
   * from the answers recorded before it was.
   */
  bookedFromEnds?: boolean;
}

export interface RecordAppointmentProgressInput {
  appointmentId: string;
  tenantId: string;
  /** The run writing it: after a long run continued as new, the row names the run that goes on. */
  runId?: string;
  startsAt: string;
  reminders: Reminder[];
  status: 'scheduled' | AppointmentOutcome;
  closedReason: string | null;
  /**
   * ISO instant the move to `startsAt` was accepted (patch `move-withdraws-confirmation`): the lead's confirmation
   * recorded before it was of an earlier start, and the write clears it.
   */
  movedAt?: string;
}

export interface RecordAcceptedChangeInput {
  tenantId: string;
  leadId: string;
  appointmentId: string;
  change: AcceptedChange;
}

const templates: Record<AppointmentMessage['kind'], (tenant: Tenant) => string> = {
  confirmation: (tenant) => tenant.appointmentConfirmationTemplate,
  reminder: (tenant) => tenant.appointmentReminderTemplate,
  cancellation: (tenant) => tenant.appointmentCancellationTemplate,
};

/**
 * A reminder's key names the start it is for: a moved appointment gets its reminders again, a retry never. So does a
 * confirmation sent after a move (the one held for the old start was closed by the move, unsent), which names the
 * move too, so a move back to a start told (or held back) before is told again (runs from before `move` name the start
 * alone). Every key that names a start ends with it: recordAppointmentProgress keeps the held messages of the start it
 * records by that, and a confirm word counts only once a text naming the current start went (api/webhooks).
 */
export function appointmentMessageKey({
  appointmentId,
  message,
  startsAt,
}: Pick<SendAppointmentMessageInput, 'appointmentId' | 'message' | 'startsAt'>): string {
  if (message.kind === 'reminder') return `appointment:${appointmentId}:reminder:${message.offsetSeconds}:${startsAt}`;
  if (message.kind === 'confirmation' && message.afterMove)
    return `appointment:${appointmentId}:confirmation:${message.move ? `move-${message.move}:` : ''}${startsAt}`;
  return `appointment:${appointmentId}:${message.kind}`;
}

/**
 * Whether a change asked of the run (the row's stamp) holds the message until the run has taken it: a reminder; and
 * the booking's confirmation, so the lead is never told a start that is being moved or cancelled (its retry looks
 * again each second, and meets the change the run writes as it accepts it). Runs from before `send-gate-holds` keep
 * what they had. Not what a change sends: a confirmation after a move (sent once the run recorded the move, the API's
 * stamp maybe not yet cleared: a stamp a dead request left would hold it 20 s, and Twilio's retries after that at
 * their longest interval), the notice of a cancel (the cancel's answer waits for it).
 */
const waitsForChanges = ({ message, holdAsResult }: SendAppointmentMessageInput) =>
  message.kind === 'reminder' || (message.kind === 'confirmation' && !message.afterMove && holdAsResult === true);

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
          idempotencyKey: appointmentMessageKey(input),
          subject: {
            kind: 'appointment',
            appointmentId: input.appointmentId,
            message: input.message.kind,
            startsAt: input.startsAt,
            waitsForChanges: waitsForChanges(input),
          },
          holdAsResult: input.holdAsResult,
          messageFor: (lead) => ({
            template: templates[input.message.kind](lead.tenant),
            placeholders: {
              time: formatAppointmentTime(
                new Date(input.startsAt),
                savedZoneOr(lead.timeZone, lead.tenant.defaultTimeZone),
              ),
              location: input.location,
            } satisfies Partial<Record<AppointmentTemplatePlaceholder, string | null>>,
          }),
        },
        { at: new Date(input.notAfter), hard: true, outcomeWhenMissed: { outcome: 'missed' } as const },
      );
    },

    /**
     * The API records the booking before it answers; this covers an API that died after the start
     * (common/bookings.ts). The workflow signals the follow-ups it answers with, the one booked from apart.
     */
    async recordAppointmentStarted(input: RecordAppointmentStartedInput): Promise<RecordAppointmentStartedResult> {
      // An erased lead has no appointment row: the send gate refuses every message of this run.
      const followUps = (await db.$transaction((tx) => recordBooking(tx, input))) ?? [];
      const bookedFrom = input.bookedFrom?.enrollmentId;
      // Another enrollment's run has the same workflow ID (the lead's): the enrollment booked from is told apart.
      return {
        followUpsToEnd: followUps.filter((run) => run.enrollmentId !== bookedFrom),
        bookedFromEnds: followUps.some((run) => run.enrollmentId === bookedFrom),
      };
    },

    /**
     * A move or a cancel the run's update handler accepted, on the row before the update answers (patch
     * `change-written-on-acceptance`): the send gate refuses a retry for the start it left even when the request that
     * asked never wrote its answer (its API process died, its deadline passed).
     */
    async recordAcceptedChange({ tenantId, leadId, appointmentId, change }: RecordAcceptedChangeInput): Promise<void> {
      await underLeadConversationLock(db, { tenantId, leadId }, (tx) =>
        writeAcceptedChange(tx, { id: appointmentId, tenantId }, change),
      );
    },

    /**
     * The row follows the workflow. Messages held for a start that is no longer the appointment's, or for an
     * appointment that has ended, will never go: they close as skipped (the cancellation notice is not among them).
     * What the write changes for the CRM becomes events (activities/appointment-events.ts), decided on the row locked
     * and the events recorded before it: a retry, or a change the API already wrote to the row, is told once. A move
     * withdraws the lead's confirmation of the start before it (a confirm word recorded since stands): the row's
     * `confirmedAt` is cleared, so the send gate lets the new reminders go and the lead can confirm again, and the
     * `appointment.rescheduled` event names it (`previousConfirmedAt`).
     */
    async recordAppointmentProgress({
      appointmentId,
      tenantId,
      runId,
      startsAt,
      reminders,
      status,
      closedReason,
      movedAt,
    }: RecordAppointmentProgressInput): Promise<void> {
      await db.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT 1 FROM appointments WHERE id = ${appointmentId}::uuid FOR UPDATE`;
        // The messages it may close, and the capacity they give back, before the events it may record
        // (common/lock-order.ts). The cancellation notice stays, and on a move the reminders of the new time.
        await lockUnclaimedMessagesOf(tx, { appointmentId });
        const notice = { idempotencyKey: `appointment:${appointmentId}:cancellation` };
        const before = await tx.appointment.findFirst({ where: { id: appointmentId, tenantId } });
        // A cancel the run accepted (its row written then) stands over how the run's loop ended after it, a send in
        // flight having come back with a STOP or a refusal, or the start's time come: the appointment is cancelled,
        // and the CRM is told so. Nor does a write of the loop from before an end (retried late) reopen the row; its
        // reminders are still recorded.
        const ending =
          before && before.status !== 'scheduled' && (before.status === 'cancelled' || status === 'scheduled')
            ? { status: before.status, closedReason: before.closedReason }
            : { status, closedReason };
        // An ending written by a run that had not applied a move it accepted (on the row since, with its instant:
        // recordAcceptedChange) keeps the new start: the CRM was answered that move.
        if (
          ending.status !== 'scheduled' &&
          before?.movedAt &&
          before.startsAt.getTime() !== Date.parse(startsAt) &&
          (!movedAt || before.movedAt.getTime() > Date.parse(movedAt))
        )
          startsAt = before.startsAt.toISOString();
        // The first confirmation names no start: it is for the booked start, so only a move makes it worthless (a run
        // that continued as new records the same start again while its confirmation is held). A run that has moved
        // says when (`movedAt`): the row may show the new start already, written as the run accepted the move.
        const confirmation = { idempotencyKey: `appointment:${appointmentId}:confirmation` };
        const keep = !movedAt && before?.startsAt.getTime() === Date.parse(startsAt) ? [confirmation] : [];
        const unclaimed =
          ending.status !== 'scheduled'
            ? await beginClosingUnclaimed(tx, { appointmentId, NOT: notice }, `appointment_${ending.status}`)
            : await beginClosingUnclaimed(
                tx,
                { appointmentId, NOT: [notice, ...keep, { idempotencyKey: { endsWith: `:${startsAt}` } }] },
                'appointment_moved',
              );
        // Read under the row's lock, which a confirm word's write takes too: one after this write stands.
        const withdrawn =
          movedAt && before?.confirmedAt && before.confirmedAt.getTime() < Date.parse(movedAt)
            ? before.confirmedAt
            : null;
        // An erased lead's rows are the erasure's: a run that has not heard of it yet must not bring one back, nor
        // write again a cancellation's reason the erasure replaced (nor record its event, after the erasure's scrub).
        const { count } = await tx.appointment.updateMany({
          where: {
            id: appointmentId,
            tenantId,
            lead: { status: { not: 'erased' } },
            OR: [{ closedReason: null }, { closedReason: { not: erasedClosedReason } }],
          },
          data: {
            startsAt: new Date(startsAt),
            reminders,
            nextReminderAt: nextReminderAt(reminders),
            ...ending,
            // When it ended: a close written before (a cancel, as the run accepted it) keeps its instant.
            closedAt: ending.status === 'scheduled' ? null : (before?.closedAt ?? new Date()),
            ...(runId ? { runId } : {}),
            ...(withdrawn ? { confirmedAt: null } : {}),
            // The run applied a move the API has not written (or a worker from before it did): its instant, as the run has it.
            ...(before && before.startsAt.getTime() !== Date.parse(startsAt)
              ? { movedAt: movedAt ? new Date(movedAt) : new Date() }
              : {}),
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
              where: { ...scope, type: { in: [...endingEvents] } },
            })) > 0;
          const changes = appointmentChanges(
            {
              startsAt: announcedStart ? new Date(announcedStart) : before.startsAt,
              ended,
              reminders: before.reminders as unknown as Reminder[],
              confirmedAt: before.confirmedAt,
            },
            {
              ...ending,
              startsAt: new Date(startsAt),
              reminders,
              confirmedAt: withdrawn ? null : before.confirmedAt,
            },
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
