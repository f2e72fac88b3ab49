import { matchAppointmentReply, type AppointmentReplyKind } from '../../common/appointment-replies.js';
import { changePendingUntil } from '../../common/appointment-changes.js';
import { databaseNow } from '../../common/db.js';
import { recordEvent } from '../../common/events.js';
import { lockAppointmentsOf } from '../../common/lock-order.js';
import { linkTracker, type TrackedLink } from '../../common/links/short-links.js';
import type { InboundIntent } from '../../common/keywords.js';
import { findOptOut } from '../../common/opt-outs.js';
import { queueAppointmentReplySignal } from '../../common/pending-signals.js';
import { savedZoneOr } from '../../common/phone.js';
import { formatAppointmentTime, renderTemplate, type AppointmentTemplatePlaceholder } from '../../common/templates.js';
import type { Appointment, Lead, Prisma, Tenant } from '../../generated/prisma/client.js';
import { answerableTexts, latestTextAt } from './recipients.js';

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
 * scheduled appointment ahead (the one last texted about; a confirm word only once told its current start, and not
 * when a follow-up's text came after the appointment's last).
 * Precedence: an opt-out always wins; HELP stays a request for help; an opted-out lead's words answer nothing, so their
 * YES is the opt-in it has always been, while a subscribed lead's YES confirms. Call it before the message's consent
 * change, under the conversation's lock; it writes nothing, and locks the lead's appointments before the message's
 * event takes the event lock (common/lock-order.ts).
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
  const texts = await textsAbout(tx, tenant.id, ahead);
  const latest = texts.reduce<TextAbout | null>(
    (last, text) => (last && last.handedAt >= text.handedAt ? last : text),
    null,
  );
  const appointment = ahead.find(({ id }) => id === latest?.appointmentId) ?? ahead[0]!;
  if (kind === 'confirmed') {
    // A confirm word answering a follow-up's text since the appointment's last (or, none sent yet, since the booking)
    // answers that text, its "reply YES": a reply, not a confirmation.
    const appointmentLastSpoke = latest?.handedAt ?? appointment.createdAt.getTime();
    if ((await latestStepTextAt(tx, tenant.id, lead.id)) > appointmentLastSpoke) return null;
    // A confirm word is of a start the lead was told: while a move is under way, or before its text went, it answers
    // an earlier start and confirms nothing (the lead is told the new one, api/routes/appointments.ts).
    // By PostgreSQL's clock, which stamped the change under way.
    if (!toldCurrentStart(appointment, texts, await databaseNow(tx))) return null;
  }
  return { kind, appointment, lead };
}

interface TextAbout {
  appointmentId: string;
  /** When it was handed to Twilio (the attempt's claim; rows without one, when Twilio took it or it was written). */
  handedAt: number;
  /** The start it named: every key that names one ends with it (activities/reminders.ts). */
  key: string | null;
}

/** The texts that went to the lead about these appointments: a few each, compared here. */
async function textsAbout(tx: Tx, tenantId: string, ahead: Appointment[]): Promise<TextAbout[]> {
  const texts = await tx.message.findMany({
    where: {
      tenantId,
      direction: 'outbound',
      appointmentId: { in: ahead.map((appointment) => appointment.id) },
      ...answerableTexts,
    },
    select: { appointmentId: true, idempotencyKey: true, sentAt: true, claimedAt: true, createdAt: true },
  });
  return texts.flatMap(({ appointmentId, idempotencyKey, sentAt, claimedAt, createdAt }) =>
    appointmentId
      ? [{ appointmentId, key: idempotencyKey, handedAt: (claimedAt ?? sentAt ?? createdAt).getTime() }]
      : [],
  );
}

/** When the tenant's latest follow-up text to the lead went out, or may have; 0 for none. */
async function latestStepTextAt(tx: Tx, tenantId: string, leadId: string): Promise<number> {
  const { _max } = await tx.message.aggregate({
    where: { tenantId, leadId, direction: 'outbound', enrollmentId: { not: null }, ...answerableTexts },
    _max: { createdAt: true, claimedAt: true, sentAt: true },
  });
  return latestTextAt(_max);
}

/**
 * Whether the lead was told the appointment's current start: no move under way, and, once it has moved, a text naming
 * that start handed to Twilio since (one in Twilio's hands when the move came named the start before it).
 */
function toldCurrentStart(appointment: Appointment, texts: TextAbout[], now: Date): boolean {
  if (changePendingUntil(appointment.changeRequestedAt, now)) return false;
  const { movedAt } = appointment;
  if (!movedAt) return true;
  const start = `:${appointment.startsAt.toISOString()}`;
  return texts.some(
    (text) =>
      text.appointmentId === appointment.id && !!text.key?.endsWith(start) && text.handedAt >= movedAt.getTime(),
  );
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
    time: formatAppointmentTime(appointment.startsAt, savedZoneOr(lead.timeZone, tenant.defaultTimeZone)),
    location: appointment.location,
  };
  const rendered = renderTemplate(tenant.appointmentRescheduleReplyTemplate, values, track);
  return rendered.ok ? rendered.body : null;
}
