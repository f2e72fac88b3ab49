import { matchAppointmentReply } from '../../common/appointment-replies.js';
import { recordEvent } from '../../common/events.js';
import type { InboundIntent } from '../../common/keywords.js';
import { findOptOut } from '../../common/opt-outs.js';
import { queueAppointmentReplySignal } from '../../common/pending-signals.js';
import { formatAppointmentTime, renderTemplate, type AppointmentTemplatePlaceholder } from '../../common/templates.js';
import type { Appointment, Prisma, Tenant } from '../../generated/prisma/client.js';

type Tx = Prisma.TransactionClient;

export interface AppointmentReplyInput {
  tenant: Tenant;
  leadId: string | null;
  phone: string;
  body: string;
  intent: InboundIntent;
}

/** What the reply changed: the answer to send back (a reschedule request's), and the signal queued for the workflow. */
export interface AppointmentReplyOutcome {
  answer: string | null;
  signalIds: string[];
}

const nothing: AppointmentReplyOutcome = { answer: null, signalIds: [] };

/**
 * A confirm or reschedule word from a lead with a scheduled appointment ahead (the next one) answers that appointment.
 * Precedence: an opt-out always wins and never gets here; HELP stays a request for help; an opted-out lead's words
 * are not appointment replies, so their YES is the opt-in it has always been, while a subscribed lead's YES confirms.
 * Runs in the inbound message's transaction, under the conversation's lock, before its consent change.
 */
export async function recordAppointmentReply(tx: Tx, { tenant, leadId, phone, body, intent }: AppointmentReplyInput): Promise<AppointmentReplyOutcome> {
  if (!leadId || intent === 'opt_out' || intent === 'help') return nothing;
  const kind = matchAppointmentReply(body, { confirmWords: tenant.appointmentConfirmWords, rescheduleWords: tenant.appointmentRescheduleWords });
  if (!kind) return nothing;
  const now = new Date();
  const appointment = await tx.appointment.findFirst({
    where: { tenantId: tenant.id, leadId, status: 'scheduled', startsAt: { gt: now } },
    orderBy: { startsAt: 'asc' },
  });
  if (!appointment || (await findOptOut(tx, tenant.id, phone))) return nothing;
  const signal = (at: Date) =>
    queueAppointmentReplySignal(tx, tenant.id, appointment.workflowId, { kind, at: at.toISOString(), skipReminders: tenant.skipRemindersAfterConfirm });
  const eventOf = (data: Prisma.InputJsonObject) => ({ tenantId: tenant.id, leadId, data: { appointmentId: appointment.id, leadId, ...data } });

  if (kind === 'confirmed') {
    // Once: a second "C" changes nothing and tells nobody.
    const { count } = await tx.appointment.updateMany({ where: { id: appointment.id, confirmedAt: null }, data: { confirmedAt: now } });
    if (count === 0) return nothing;
    await recordEvent(tx, { type: 'appointment.confirmed', ...eventOf({ confirmedAt: now.toISOString() }) });
    return { answer: null, signalIds: [await signal(now)] };
  }
  await tx.appointment.update({ where: { id: appointment.id }, data: { rescheduleRequestedAt: now } });
  await recordEvent(tx, { type: 'appointment.reschedule_requested', ...eventOf({ requestedAt: now.toISOString(), startsAt: appointment.startsAt.toISOString() }) });
  return { answer: await rescheduleAnswer(tx, tenant, appointment), signalIds: [await signal(now)] };
}

/** The tenant's answer, filled in; none when a value it needs is missing (no booking link set): never half-filled. */
async function rescheduleAnswer(tx: Tx, tenant: Tenant, appointment: Appointment): Promise<string | null> {
  const lead = await tx.lead.findUniqueOrThrow({ where: { id: appointment.leadId }, select: { firstName: true, lastName: true, timeZone: true } });
  const values: Record<AppointmentTemplatePlaceholder, string | null> = {
    firstName: lead.firstName,
    lastName: lead.lastName,
    businessName: tenant.businessName,
    bookingLink: tenant.bookingUrl,
    time: formatAppointmentTime(appointment.startsAt, lead.timeZone),
    location: appointment.location,
  };
  const rendered = renderTemplate(tenant.appointmentRescheduleReplyTemplate, values);
  return rendered.ok ? rendered.body : null;
}
