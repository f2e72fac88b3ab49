import { matchAppointmentReply, type AppointmentReplyKind } from '../../common/appointment-replies.js';
import { recordEvent } from '../../common/events.js';
import { lockAppointmentsOf } from '../../common/lock-order.js';
import { linkTracker, type TrackedLink } from '../../common/links/short-links.js';
import type { InboundIntent } from '../../common/keywords.js';
import { findOptOut } from '../../common/opt-outs.js';
import { queueAppointmentReplySignal } from '../../common/pending-signals.js';
import { formatAppointmentTime, renderTemplate, type AppointmentTemplatePlaceholder } from '../../common/templates.js';
import type { Appointment, Lead, Prisma, Tenant } from '../../generated/prisma/client.js';
import { answerableTexts } from './recipients.js';

type Tx = Prisma.TransactionClient;

export interface AppointmentReplyQuery {
  tenant: Tenant;
  phone: string;
  body: string;
  intent: InboundIntent;
}

/** A message that answers an appointment: what it answers, and the lead's scheduled appointment ahead it answers. */
export interface AppointmentReply {
  kind: AppointmentReplyKind;
  appointment: Appointment;
  lead: Pick<Lead, 'id' | 'firstName' | 'lastName' | 'timeZone'>;
}

/** What recording the reply added to the tenant's outcome: the answer (a reschedule request's), the workflow's signal. */
export interface AppointmentReplyOutcome {
  appointmentAnswer: string | null;
  /** The answer's tracked links, to write with the row that records it (docs/links.md). */
  answerLinks: TrackedLink[];
  signalIds: string[];
}

/**
 * Whether the message answers an appointment: a confirm or reschedule word, as the whole message, from a lead with a
 * scheduled appointment ahead (the one last texted about, see lastTextedOf). Precedence: an opt-out always wins; HELP
 * stays a request for help; an opted-out lead's words answer nothing, so their YES is the opt-in it has always been,
 * while a subscribed lead's YES confirms. Call it before the message's consent change, under the conversation's lock;
 * it writes nothing, and locks the lead's appointments before the message's event takes the event lock
 * (common/lock-order.ts).
 */
export async function findAppointmentReply(
  tx: Tx,
  { tenant, phone, body, intent }: AppointmentReplyQuery,
): Promise<AppointmentReply | null> {
  if (intent === 'opt_out' || intent === 'help') return null;
  const kind = matchAppointmentReply(body, {
    confirmWords: tenant.appointmentConfirmWords,
    rescheduleWords: tenant.appointmentRescheduleWords,
  });
  if (!kind) return null;
  const lead = await tx.lead.findUnique({
    where: { tenantId_phone: { tenantId: tenant.id, phone } },
    select: { id: true, firstName: true, lastName: true, timeZone: true },
  });
  if (!lead) return null;
  await lockAppointmentsOf(tx, lead.id);
  const ahead = await tx.appointment.findMany({
    where: { tenantId: tenant.id, leadId: lead.id, status: 'scheduled', startsAt: { gt: new Date() } },
    orderBy: { startsAt: 'asc' },
  });
  if (ahead.length === 0 || (await findOptOut(tx, tenant.id, phone))) return null;
  const texted = await lastTextedOf(tx, tenant.id, ahead);
  return { kind, appointment: ahead.find((appointment) => appointment.id === texted) ?? ahead[0]!, lead };
}

/**
 * Which of several appointments ahead a word answers: the one the lead was texted about last (a text handed to Twilio
 * and not answered yet counts as the latest). None texted yet: the next one.
 */
async function lastTextedOf(tx: Tx, tenantId: string, ahead: Appointment[]): Promise<string | null> {
  if (ahead.length === 1) return null;
  const latest = await tx.message.findFirst({
    where: {
      tenantId,
      direction: 'outbound',
      appointmentId: { in: ahead.map((appointment) => appointment.id) },
      ...answerableTexts,
    },
    orderBy: [{ sentAt: { sort: 'desc', nulls: 'first' } }, { createdAt: 'desc' }],
    select: { appointmentId: true },
  });
  return latest?.appointmentId ?? null;
}

/** Records the answer on the appointment, as an event and as a signal for its workflow, in the message's transaction. */
export async function recordAppointmentReply(
  tx: Tx,
  tenant: Tenant,
  { kind, appointment, lead }: AppointmentReply,
  shortLinkBaseUrl?: string,
): Promise<AppointmentReplyOutcome> {
  const now = new Date();
  const signal = () =>
    queueAppointmentReplySignal(tx, tenant.id, appointment.workflowId, {
      kind,
      at: now.toISOString(),
      skipReminders: tenant.skipRemindersAfterConfirm,
    });
  const eventOf = (data: Prisma.InputJsonObject) => ({
    tenantId: tenant.id,
    leadId: lead.id,
    data: { appointmentId: appointment.id, leadId: lead.id, ...data },
  });

  if (kind === 'confirmed') {
    // Once: a second "C" changes nothing and tells nobody.
    const { count } = await tx.appointment.updateMany({
      where: { id: appointment.id, confirmedAt: null },
      data: { confirmedAt: now },
    });
    if (count === 0) return { appointmentAnswer: null, answerLinks: [], signalIds: [] };
    await recordEvent(tx, { type: 'appointment.confirmed', ...eventOf({ confirmedAt: now.toISOString() }) });
    return { appointmentAnswer: null, answerLinks: [], signalIds: [await signal()] };
  }
  await tx.appointment.update({ where: { id: appointment.id }, data: { rescheduleRequestedAt: now } });
  await recordEvent(tx, {
    type: 'appointment.reschedule_requested',
    ...eventOf({ requestedAt: now.toISOString(), startsAt: appointment.startsAt.toISOString() }),
  });
  const links = linkTracker(shortLinkBaseUrl);
  const appointmentAnswer = rescheduleAnswer(tenant, { appointment, lead }, links.track);
  return { appointmentAnswer, answerLinks: appointmentAnswer ? links.links : [], signalIds: [await signal()] };
}

/** The tenant's answer, filled in; none when a value it needs is missing (no booking link set): never half-filled. */
function rescheduleAnswer(
  tenant: Tenant,
  { appointment, lead }: Pick<AppointmentReply, 'appointment' | 'lead'>,
  track: (url: string) => string,
): string | null {
  const values: Record<AppointmentTemplatePlaceholder, string | null> = {
    firstName: lead.firstName,
    lastName: lead.lastName,
    businessName: tenant.businessName,
    bookingLink: tenant.bookingUrl,
    time: formatAppointmentTime(appointment.startsAt, lead.timeZone),
    location: appointment.location,
  };
  const rendered = renderTemplate(tenant.appointmentRescheduleReplyTemplate, values, track);
  return rendered.ok ? rendered.body : null;
}
