// The exactly-once core every outbound SMS goes through: sequence steps and appointment messages alike.
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import { Prisma, type Lead, type Message, type Tenant } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import { noMetrics, type MessageMetrics } from '../common/metrics.js';
import { findOptOut, recordOptOut } from '../common/opt-outs.js';
import { renderTemplate, type TemplateValues } from '../common/templates.js';
import { capacityWaitType, releaseCapacity, type CapacityGate, type CapacityWait, type ReservedCapacity } from '../common/capacity/gate.js';
import { sendingNumberFor } from '../common/capacity/sending-number.js';
import type { SendStepMessageResult } from './send-step-message.types.js';
import type { OutboundSms, SentSms, SmsSender } from './sms-sender.js';
import { classifyTwilioError, failureKindForCode } from './twilio-errors.js';

/** What a message attempt came to, whoever sent it; lateness is answered by the caller's deadline. */
export type DeliveryResult = Exclude<SendStepMessageResult, { outcome: 'deferred' }>;

export interface OutboundMessage {
  tenantId: string;
  leadId: string;
  enrollmentId: string | null;
  /** One row per key, written before Twilio is called. */
  idempotencyKey: string;
  /** Appointment messages may pass a spent budget, if their tenant says so. */
  appointment: boolean;
  /** The template and its values for the lead as it is on the first attempt; a retry sends what that one rendered. */
  compose(lead: Lead & { tenant: Tenant }): { template: string; values: Record<string, string | null | undefined> };
}

export interface Deadline<Late> {
  at: Date;
  /**
   * Soft: a late attempt leaves the row for a later one (the caller plans the send again). Hard: the message is
   * worthless after `at`: an unsent row is closed as missed, and Twilio is told to drop it then (ValidityPeriod).
   */
  hard: boolean;
  /** What an attempt past `at` answers when nothing went out. */
  late: Late;
}

/** The placeholders every message may use, from the lead and its tenant. */
export const leadTemplateValues = (lead: Lead & { tenant: Tenant }): TemplateValues => ({
  firstName: lead.firstName,
  lastName: lead.lastName,
  businessName: lead.tenant.businessName,
  bookingLink: lead.tenant.bookingUrl,
});

/** Twilio accepts ValidityPeriod from 1 s to 10 h (error 21624 outside that). */
const maxValiditySeconds = 36_000;
const missedReason = 'missed';

/** A wait never runs into the activity's own schedule-to-close timeout, which would fail the send instead. */
const retryMarginMs = 2000;

const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
const notFound = (message: string) => ApplicationFailure.create({ type: 'NotFoundError', message, nonRetryable: true });

/**
 * Sends one message at most once. The row keyed by the idempotency key is written before Twilio is called; an
 * attempt that finds it still `pending` is a retry after a crash or timeout and asks Twilio what happened first.
 */
export interface MessageDeliveryDeps {
  db: Db;
  sender: SmsSender;
  capacity: CapacityGate;
  metrics?: MessageMetrics | undefined;
}

export function createMessageDelivery({ db, sender, capacity, metrics = noMetrics }: MessageDeliveryDeps) {
  /** What a finished row says happened; a `pending` row is unfinished and never answers. */
  function resultFromRow<Late>(row: Message, deadline: Deadline<Late>): DeliveryResult | Late {
    switch (row.status) {
      case 'pending':
        throw new Error(`message ${row.id} is still pending`);
      case 'skipped':
        if (row.skipReason === missedReason) return deadline.late;
        return row.skipReason === 'opted_out'
          ? { outcome: 'opted_out', messageId: row.id }
          : { outcome: 'skipped', messageId: row.id, reason: row.skipReason ?? 'skipped' };
      case 'failed':
      case 'undelivered':
        // A create call Twilio refused is final; a failed delivery reported later does not make the message unsent.
        if (row.twilioSid !== null) return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
        return failureKindForCode(row.errorCode) === 'opted_out'
          ? { outcome: 'opted_out', messageId: row.id }
          : { outcome: 'failed', messageId: row.id, kind: failureKindForCode(row.errorCode), errorCode: row.errorCode };
      default:
        return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
    }
  }

  async function markSent(row: Message, sent: SentSms): Promise<DeliveryResult> {
    await db.message.update({ where: { id: row.id }, data: { status: sent.status, twilioSid: sent.sid, sentAt: new Date() } });
    metrics.messageRecorded(sent.status);
    log.info('SMS handed over', { messageId: row.id, to: maskPhone(row.toPhone), mode: sender.mode, twilioSid: sent.sid });
    return { outcome: 'sent', messageId: row.id, twilioSid: sent.sid };
  }

  async function claimRow(data: Prisma.MessageUncheckedCreateInput): Promise<{ row: Message; isRetry: boolean }> {
    try {
      return { row: await db.message.create({ data }), isRetry: false };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return { row: await db.message.findUniqueOrThrow({ where: { idempotencyKey: data.idempotencyKey ?? '' } }), isRetry: true };
    }
  }

  /** SIDs other rows to this number already own: a lookup after a timeout must not adopt one of them. */
  async function knownSids(row: Message): Promise<Set<string>> {
    const rows = await db.message.findMany({ where: { toPhone: row.toPhone, twilioSid: { not: null }, createdAt: { gte: new Date(row.createdAt.getTime() - 3_600_000) } }, select: { twilioSid: true } });
    return new Set(rows.map((other) => other.twilioSid ?? ''));
  }

  async function firstAttemptRow(message: OutboundMessage): Promise<{ row: Message; isRetry: boolean }> {
    const lead = await db.lead.findFirst({ where: { id: message.leadId, tenantId: message.tenantId }, include: { tenant: { include: { senders: true } } } });
    if (!lead) throw notFound(`lead ${message.leadId} not found`);
    const { template, values } = message.compose(lead);
    const rendered = renderTemplate(template, values);
    const fromPhone = sendingNumberFor(lead.tenant.senders.map((owned) => owned.value), lead.phone, sender.defaultFrom);
    const base = { tenantId: message.tenantId, leadId: lead.id, enrollmentId: message.enrollmentId, direction: 'outbound' as const, toPhone: lead.phone, fromPhone, idempotencyKey: message.idempotencyKey };
    if (rendered.ok) return claimRow({ ...base, body: rendered.body, ...capacity.price(rendered.body), status: 'pending' });
    const skipReason = `missing value for ${rendered.missing.join(', ')}`;
    log.warn('message skipped', { idempotencyKey: message.idempotencyKey, reason: skipReason });
    const claimed = await claimRow({ ...base, body: template, status: 'skipped', skipReason });
    if (!claimed.isRetry) metrics.messageRecorded('skipped');
    return claimed;
  }

  /** Closes a row that will never go out, giving back whatever capacity an attempt reserved for it. */
  async function closeUnsent(tx: Prisma.TransactionClient, rowId: string, data: Prisma.MessageUpdateInput): Promise<void> {
    const { reservation } = await tx.message.findUniqueOrThrow({ where: { id: rowId }, select: { reservation: true } });
    if (reservation) await releaseCapacity(tx, rowId, reservation as unknown as ReservedCapacity[]);
    await tx.message.update({ where: { id: rowId }, data });
  }

  /**
   * The send waits for capacity: Temporal retries the activity when it is due (or sooner, to look again). A wait that
   * would run past the message's deadline ends at it instead, where the attempt answers `late`.
   */
  async function waitForCapacity<Late>(row: Message, wait: CapacityWait, deadline: Deadline<Late>): Promise<Late> {
    const now = Date.now();
    const info = activityInfo();
    const activityDeadline = info.scheduleToCloseTimeoutMs > 0 ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - retryMarginMs : Infinity;
    const latest = Math.min(deadline.at.getTime(), activityDeadline);
    const wanted = capacity.askAgainAt(wait).getTime();
    // A queue for a number's throughput retries every second: those lines are debug, the longer waits info.
    const logWait = wait.reason === 'number_rate' || wait.reason === 'tenant_rate' ? log.debug : log.info;
    logWait('send waits for sending capacity', { messageId: row.id, reason: wait.reason, until: wait.until, detail: wait.detail });
    if (wanted > latest && latest - now < 1000) {
      if (deadline.hard) {
        await db.$transaction((tx) => closeUnsent(tx, row.id, { status: 'skipped', skipReason: missedReason }));
        metrics.messageRecorded('skipped');
      }
      return deadline.late;
    }
    const nextRetryDelay = Math.max(Math.min(wanted, latest) - now, 50);
    throw ApplicationFailure.create({ type: capacityWaitType, message: `waiting for sending capacity: ${wait.detail}`, details: [wait], nextRetryDelay });
  }

  async function send(row: Message, sms: OutboundSms, tenantId: string): Promise<DeliveryResult> {
    try {
      return await markSent(row, await sender.send(sms));
    } catch (error) {
      const classified = classifyTwilioError(error);
      metrics.twilioError(classified.code, 'send');
      if (classified.kind === 'retryable') {
        if (classified.setup) log.error('Twilio refused our account or sender setup; every send will fail until it is fixed', { code: classified.code });
        throw error;
      }
      const errorCode = classified.code ?? null;
      await db.$transaction(async (tx) => {
        await closeUnsent(tx, row.id, { status: 'failed', errorCode });
        if (classified.kind === 'opted_out') await recordOptOut(tx, { tenantId, phone: row.toPhone, source: `twilio_error_${errorCode}` });
      });
      metrics.messageRecorded('failed');
      if (classified.kind === 'opted_out') metrics.optOutRecorded(`twilio_error_${errorCode}`);
      log.warn('Twilio refused the message', { messageId: row.id, kind: classified.kind, errorCode });
      return classified.kind === 'opted_out' ? { outcome: 'opted_out', messageId: row.id } : { outcome: 'failed', messageId: row.id, kind: classified.kind, errorCode };
    }
  }

  return async function deliver<Late>(message: OutboundMessage, deadline: Deadline<Late>): Promise<DeliveryResult | Late> {
    // A hard deadline needs a second left at least: Twilio's smallest ValidityPeriod.
    const secondsLeft = () => (deadline.at.getTime() - Date.now()) / 1000;
    const isLate = () => secondsLeft() < (deadline.hard ? 1 : 0);
    const existing = await db.message.findUnique({ where: { idempotencyKey: message.idempotencyKey } });
    if (!existing && isLate()) return deadline.late;
    // A retry sends the body it rendered the first time, whatever the lead looks like now.
    const { row, isRetry } = existing ? { row: existing, isRetry: true } : await firstAttemptRow(message);
    if (row.status !== 'pending') return resultFromRow(row, deadline);

    if (await findOptOut(db, message.tenantId, row.toPhone)) {
      await db.$transaction((tx) => closeUnsent(tx, row.id, { status: 'skipped', skipReason: 'opted_out' }));
      metrics.messageRecorded('skipped');
      log.info('send refused: recipient opted out', { messageId: row.id, to: maskPhone(row.toPhone) });
      return { outcome: 'opted_out', messageId: row.id };
    }
    const from = row.fromPhone ?? sender.defaultFrom;
    const sms: OutboundSms = { to: row.toPhone, body: row.body, from };
    // Only an attempt that reserved capacity went on to call Twilio: one held back before that has nothing to look for.
    if (isRetry && row.reservation) {
      const found = await sender.findSent(sms, row.createdAt, await knownSids(row));
      if (found) return markSent(row, found);
    }
    if (isLate()) {
      if (deadline.hard) {
        await db.$transaction((tx) => closeUnsent(tx, row.id, { status: 'skipped', skipReason: missedReason }));
        metrics.messageRecorded('skipped');
      }
      return deadline.late;
    }
    const decision = await capacity.reserve({
      messageId: row.id,
      tenantId: message.tenantId,
      sender: from,
      cost: row.cost?.toString() ?? capacity.price(row.body).cost,
      appointment: message.appointment,
      previous: (row.reservation as unknown as ReservedCapacity[] | null) ?? [],
    });
    if (!decision.ok) return waitForCapacity(row, decision.wait, deadline);
    const validity = Math.min(Math.max(1, Math.floor(secondsLeft())), maxValiditySeconds);
    return send(row, deadline.hard ? { ...sms, validityPeriodSeconds: validity } : sms, message.tenantId);
  };
}
