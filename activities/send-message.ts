// The exactly-once core every outbound SMS goes through: sequence steps and appointment messages alike.
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import { type Prisma, type Lead, type Message, type Tenant } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { isUniqueViolation } from '../common/db-errors.js';
import { countMessageFact } from '../common/analytics/aggregate.js';
import { recordMessageEvent } from '../common/event-writers.js';
import { createShortLinks, linkTracker } from '../common/links/short-links.js';
import { maskPhone } from '../common/logger.js';
import { noMetrics, type MessageMetrics } from '../common/metrics.js';
import { recordOptOut } from '../common/opt-outs.js';
import { renderTemplate, type TemplateValues } from '../common/templates.js';
import type { CapacityGate } from '../common/capacity/gate.js';
import { releaseCapacity, type ReservedCapacity } from '../common/capacity/usage.js';
import { capacityWaitType, type CapacityWait } from '../common/capacity/waits.js';
import { sendingNumberFor } from '../common/capacity/sending-number.js';
import {
  claimExpiredAfterMs,
  claimLeaseMs,
  isClaimLive,
  type GateDecision,
  type GateHoldReason,
  type GateSubject,
  type SendGate,
} from './send-gate.js';
import type { HaltedBy, HoldReason, SendStepMessageResult } from './send-step-message.types.js';
import type { OutboundSms, SentSms, SmsSender } from './sms-sender.js';
import { classifyTwilioError, failureKindForCode } from './twilio-errors.js';

/** What a message attempt came to, whoever sent it; lateness is answered by the caller's deadline. */
export type DeliveryResult = Exclude<SendStepMessageResult, { outcome: 'deferred' }>;

export interface OutboundMessage {
  tenantId: string;
  leadId: string;
  enrollmentId: string | null;
  appointmentId: string | null;
  /** One row per key, written before Twilio is called. */
  idempotencyKey: string;
  /** The A/B variant of a sequence step, recorded on the row (and so on its events and funnel counts). */
  variant?: string | null;
  /** What the send gate checks besides the opt-out: the enrollment and the caps, or the appointment as it is now. */
  subject: GateSubject;
  /** A hold answers `held` (the workflow waits, and a close ends the wait at once) instead of a retry. */
  holdAsResult: boolean;
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

const notFound = (message: string) => ApplicationFailure.create({ type: 'NotFoundError', message, nonRetryable: true });

/**
 * Sends one message at most once. The row keyed by the idempotency key is written before Twilio is called, and only
 * an attempt that claimed it through the send gate calls Twilio. An attempt that finds it claimed asks Twilio what
 * happened before anything else; while another attempt's claim is fresh it never calls create itself.
 */
export interface MessageDeliveryDeps {
  db: Db;
  sender: SmsSender;
  capacity: CapacityGate;
  gate: SendGate;
  metrics?: MessageMetrics | undefined;
  /** Where tracked short links point (/l/<code>); unset: links go out as they are (docs/links.md). */
  shortLinkBaseUrl?: string | undefined;
}

type GateRefusal = Extract<GateDecision, { kind: 'stop' }>['reason'];
type Hold = { reason: HoldReason; until: string; detail: string };
/** How a row that never reached Twilio closes: skipped by a decision, or failed because Twilio refused the create call. */
type Unsent = { status: 'skipped'; skipReason: string } | { status: 'failed'; errorCode: number | null };

const haltReasons = new Set<string>([
  'replied',
  'booked',
  'cancelled',
  'erased',
  'enrollment_closed',
] satisfies HaltedBy[]);
const isHaltReason = (reason: string | null): reason is HaltedBy => reason !== null && haltReasons.has(reason);

/** Another attempt holds a fresh claim: look again once it has surely called Twilio or given up. */
const claimedElsewhereType = 'SendClaimedElsewhere';

export function createMessageDelivery({
  db,
  sender,
  capacity,
  gate,
  metrics = noMetrics,
  shortLinkBaseUrl,
}: MessageDeliveryDeps) {
  /** What a finished row says happened; a `pending` row is unfinished and never answers. */
  function resultFromRow<Late>(row: Message, deadline: Deadline<Late>): DeliveryResult | Late {
    switch (row.status) {
      case 'pending':
        throw new Error(`message ${row.id} is still pending`);
      case 'skipped':
        if (row.skipReason === missedReason) return deadline.late;
        if (row.skipReason === 'opted_out') return { outcome: 'opted_out', messageId: row.id };
        if (isHaltReason(row.skipReason)) return { outcome: 'halted', messageId: row.id, reason: row.skipReason };
        return { outcome: 'skipped', messageId: row.id, reason: row.skipReason ?? 'skipped' };
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

  /** The SID is written once: an attempt that finds it written (another one got there first) records no second event. */
  async function markSent(row: Message, sent: SentSms): Promise<DeliveryResult> {
    await db.$transaction(async (tx) => {
      const { count } = await tx.message.updateMany({
        where: { id: row.id, twilioSid: null },
        data: { status: sent.status, twilioSid: sent.sid, sentAt: new Date(), heldReason: null, heldUntil: null },
      });
      if (count) {
        await recordMessageEvent(tx, 'message.sent', row, {
          twilioSid: sent.sid,
          segments: row.segments,
          cost: row.cost?.toString() ?? null,
        });
        await countMessageFact(tx, row.id, 'sent');
      }
    });
    metrics.messageRecorded(sent.status);
    log.info('SMS handed over', {
      messageId: row.id,
      to: maskPhone(row.toPhone),
      mode: sender.mode,
      twilioSid: sent.sid,
    });
    return { outcome: 'sent', messageId: row.id, twilioSid: sent.sid };
  }

  /** `onCreated` runs in the transaction that writes the row: the event of a row final as written, or its links. */
  async function claimRow(
    data: Prisma.MessageUncheckedCreateInput,
    onCreated?: (tx: Prisma.TransactionClient, row: Message) => Promise<unknown>,
  ): Promise<{ row: Message; isRetry: boolean }> {
    try {
      const create = (client: Prisma.TransactionClient) => client.message.create({ data });
      const row = onCreated
        ? await db.$transaction(async (tx) => {
            const created = await create(tx);
            await onCreated(tx, created);
            return created;
          })
        : await create(db);
      return { row, isRetry: false };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return {
        row: await db.message.findUniqueOrThrow({ where: { idempotencyKey: data.idempotencyKey ?? '' } }),
        isRetry: true,
      };
    }
  }

  /** SIDs other rows to this number already own: a lookup after a timeout must not adopt one of them. */
  async function knownSids(row: Message): Promise<Set<string>> {
    const rows = await db.message.findMany({
      where: {
        toPhone: row.toPhone,
        twilioSid: { not: null },
        createdAt: { gte: new Date(row.createdAt.getTime() - 3_600_000) },
      },
      select: { twilioSid: true },
    });
    return new Set(rows.map((other) => other.twilioSid ?? ''));
  }

  async function firstAttemptRow(message: OutboundMessage): Promise<{ row: Message; isRetry: boolean }> {
    const lead = await db.lead.findFirst({
      where: { id: message.leadId, tenantId: message.tenantId },
      include: { tenant: { include: { senders: true } } },
    });
    if (!lead) throw notFound(`lead ${message.leadId} not found`);
    const { template, values } = message.compose(lead);
    // Links are shortened before the segments are counted and written with the row: the body counted is the body sent.
    const links = linkTracker(shortLinkBaseUrl);
    const rendered = renderTemplate(template, values, links.track);
    const fromPhone = sendingNumberFor(
      lead.tenant.senders.map((owned) => owned.value),
      lead.phone,
      sender.defaultFrom,
    );
    const base = {
      tenantId: message.tenantId,
      leadId: lead.id,
      enrollmentId: message.enrollmentId,
      appointmentId: message.appointmentId,
      direction: 'outbound' as const,
      toPhone: lead.phone,
      fromPhone,
      idempotencyKey: message.idempotencyKey,
      variant: message.variant ?? null,
    };
    if (rendered.ok)
      return claimRow(
        { ...base, body: rendered.body, ...capacity.price(rendered.body), status: 'pending' },
        links.links.length
          ? (tx, row) => createShortLinks(tx, row, links.links, lead.tenant.linkExpiryDays)
          : undefined,
      );
    const skipReason = `missing value for ${rendered.missing.join(', ')}`;
    log.warn('message skipped', { idempotencyKey: message.idempotencyKey, reason: skipReason });
    const claimed = await claimRow({ ...base, body: template, status: 'skipped', skipReason }, (tx, row) =>
      recordMessageEvent(tx, 'message.skipped', row, { reason: skipReason }),
    );
    if (!claimed.isRetry) metrics.messageRecorded('skipped');
    return claimed;
  }

  /**
   * Closes a row that will never go out, giving back whatever capacity an attempt reserved for it. A row something
   * else closed first (an enrollment's close) keeps its reason, and its one event.
   */
  async function closeUnsent(
    row: Message,
    closed: Unsent,
    also?: (tx: Prisma.TransactionClient) => Promise<void>,
  ): Promise<void> {
    await db.$transaction(async (tx) => {
      await releaseReservation(tx, row.id);
      const { count } = await tx.message.updateMany({
        where: { id: row.id, status: 'pending' },
        data: { ...closed, heldReason: null, heldUntil: null },
      });
      if (count) {
        if (closed.status === 'skipped')
          await recordMessageEvent(tx, 'message.skipped', row, { reason: closed.skipReason });
        else {
          await recordMessageEvent(tx, 'message.failed', row, { errorCode: closed.errorCode, twilioSid: null });
          await countMessageFact(tx, row.id, 'failed');
        }
      }
      await also?.(tx);
    });
  }

  /** The gate's final word: the row closes as skipped with the reason, and the workflow hears why. */
  async function refuse(row: Message, reason: GateRefusal): Promise<DeliveryResult> {
    await closeUnsent(row, { status: 'skipped', skipReason: reason });
    metrics.messageRecorded('skipped');
    log.info('send refused by the send gate', { messageId: row.id, to: maskPhone(row.toPhone), reason });
    if (reason === 'opted_out') return { outcome: 'opted_out', messageId: row.id };
    if (isHaltReason(reason)) return { outcome: 'halted', messageId: row.id, reason };
    return { outcome: 'skipped', messageId: row.id, reason };
  }

  /**
   * Not yet. A workflow that waits itself hears `held` and comes back at `retryAt` (sooner if it closes or moves); an
   * older one gets a retry of the activity then.
   */
  async function hold<Late>(
    row: Message,
    wait: Hold,
    message: OutboundMessage,
    deadline: Deadline<Late>,
  ): Promise<DeliveryResult | Late> {
    const now = Date.now();
    const until = new Date(wait.until);
    // A queue for a number's throughput is looked at every second: those lines are debug, the longer waits info.
    const logWait = wait.reason === 'number_rate' || wait.reason === 'tenant_rate' ? log.debug : log.info;
    logWait('send held', { messageId: row.id, reason: wait.reason, until: wait.until, detail: wait.detail });
    const info = activityInfo();
    const activityDeadline =
      message.holdAsResult || info.scheduleToCloseTimeoutMs <= 0
        ? Infinity
        : info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - retryMarginMs;
    const latest = Math.min(deadline.at.getTime(), activityDeadline);
    // Capacity is looked at again after at most the recheck interval (a budget raised, a switch turned off); the
    // lead's own window and caps are due at `until`.
    const wanted = isCapacityWait(wait) ? capacity.askAgainAt(wait).getTime() : until.getTime();
    // A workflow that waits itself re-plans when it wakes (the window, a new day); only a message worthless by then
    // gives up now. Older runs are retried no later than the deadline, where they answer `late`.
    const givesUp = message.holdAsResult
      ? deadline.hard && until >= deadline.at
      : wanted >= latest && latest - now < 1000;
    // The row says why and until when, with the hold's words and its next look, for reads that do not ask Temporal.
    const recordHold = (retryAt: number) =>
      db.message.update({
        where: { id: row.id },
        data: { heldReason: wait.reason, heldUntil: until, heldDetail: wait.detail, heldRetryAt: new Date(retryAt) },
      });
    if (givesUp) {
      if (deadline.hard) {
        await closeUnsent(row, { status: 'skipped', skipReason: missedReason });
        metrics.messageRecorded('skipped');
      } else await recordHold(latest);
      return deadline.late;
    }
    if (message.holdAsResult) {
      // A message with a hard deadline looks one last time just before it, in case capacity came back sooner.
      const retryAt = deadline.hard ? Math.min(wanted, deadline.at.getTime() - 1000) : wanted;
      await recordHold(retryAt);
      return {
        outcome: 'held',
        messageId: row.id,
        reason: wait.reason,
        until: wait.until,
        retryAt: new Date(retryAt).toISOString(),
        detail: wait.detail,
      };
    }
    const nextRetryDelay = Math.max(Math.min(wanted, latest) - now, 50);
    await recordHold(now + nextRetryDelay);
    throw ApplicationFailure.create({
      type: capacityWaitType,
      message: `waiting for sending capacity: ${wait.detail}`,
      details: [wait],
      nextRetryDelay,
    });
  }

  async function send(row: Message, sms: OutboundSms, tenantId: string): Promise<DeliveryResult> {
    try {
      return await markSent(row, await sender.send(sms));
    } catch (error) {
      const classified = classifyTwilioError(error);
      metrics.twilioError(classified.code, 'send');
      if (classified.kind === 'retryable') {
        if (classified.setup)
          log.error('Twilio refused our account or sender setup; every send will fail until it is fixed', {
            code: classified.code,
          });
        // This attempt is done with Twilio, so the next one need not wait for its claim to expire. Twilio processed
        // nothing on a 429; after a 5xx or a timeout it may have the message, so `claimedAt` stays: ask it first.
        await db.message.update({
          where: { id: row.id },
          data:
            classified.code === tooManyRequests ? { claimedAt: null, claimedAttempt: null } : { claimedAttempt: null },
        });
        throw error;
      }
      const errorCode = classified.code ?? null;
      await closeUnsent(row, { status: 'failed', errorCode }, async (tx) => {
        if (classified.kind === 'opted_out')
          await recordOptOut(tx, { tenantId, phone: row.toPhone, source: `twilio_error_${errorCode}` });
      });
      metrics.messageRecorded('failed');
      if (classified.kind === 'opted_out') metrics.optOutRecorded(`twilio_error_${errorCode}`);
      log.warn('Twilio refused the message', { messageId: row.id, kind: classified.kind, errorCode });
      return classified.kind === 'opted_out'
        ? { outcome: 'opted_out', messageId: row.id }
        : { outcome: 'failed', messageId: row.id, kind: classified.kind, errorCode };
    }
  }

  const claimedElsewhere = (claimedAt: Date, attempt: number | null) =>
    ApplicationFailure.create({
      type: claimedElsewhereType,
      message: `attempt ${attempt ?? '?'} claimed this message at ${claimedAt.toISOString()} and may be calling Twilio`,
      nextRetryDelay: Math.max(claimedAt.getTime() + claimExpiredAfterMs - Date.now(), 1000),
    });

  return async function deliver<Late>(
    message: OutboundMessage,
    deadline: Deadline<Late>,
  ): Promise<DeliveryResult | Late> {
    // A hard deadline needs a second left at least: Twilio's smallest ValidityPeriod.
    const secondsLeft = () => (deadline.at.getTime() - Date.now()) / 1000;
    const isLate = () => secondsLeft() < (deadline.hard ? 1 : 0);
    const { attempt } = activityInfo();
    const existing = await db.message.findUnique({ where: { idempotencyKey: message.idempotencyKey } });
    if (!existing && isLate()) return deadline.late;
    // A retry sends the body it rendered the first time, whatever the lead looks like now.
    const { row, isRetry } = existing ? { row: existing, isRetry: true } : await firstAttemptRow(message);
    if (row.status !== 'pending') return resultFromRow(row, deadline);

    const from = row.fromPhone ?? sender.defaultFrom;
    const sms: OutboundSms = { to: row.toPhone, body: row.body, from };
    if (row.claimedAt) {
      // An attempt passed the gate, so Twilio may have the message: ask it before deciding anything else.
      const found = await sender.findSent(sms, row.createdAt, await knownSids(row));
      if (found) return markSent(row, found);
    } else if (isRetry) {
      // Cheap refusals first, so a retry for a lead who replied or opted out meanwhile takes no capacity.
      const stop = await gate.precheck(row, message.subject);
      if (stop) return refuse(row, stop.reason);
    }
    if (isLate()) {
      if (deadline.hard) {
        await closeUnsent(row, { status: 'skipped', skipReason: missedReason });
        metrics.messageRecorded('skipped');
      }
      return deadline.late;
    }
    if (isClaimLive(row, attempt)) throw claimedElsewhere(row.claimedAt ?? new Date(), row.claimedAttempt);
    const reserved = await capacity.reserve({
      messageId: row.id,
      tenantId: message.tenantId,
      sender: from,
      cost: row.cost?.toString() ?? capacity.price(row.body).cost,
      appointment: message.subject.kind === 'appointment',
      previous: (row.reservation as unknown as ReservedCapacity[] | null) ?? [],
    });
    if (!reserved.ok) return hold(row, reserved.wait, message, deadline);

    const verdict = await gate.claim(row, attempt, message.subject);
    if (verdict.kind === 'stop') return refuse(row, verdict.reason);
    if (verdict.kind === 'claimed_elsewhere') {
      await db.$transaction((tx) => releaseReservation(tx, row.id));
      throw claimedElsewhere(verdict.claimedAt, verdict.attempt);
    }
    if (verdict.kind === 'hold') {
      await db.$transaction((tx) => releaseReservation(tx, row.id));
      return hold(
        row,
        { reason: verdict.reason, until: verdict.until.toISOString(), detail: holdDetail[verdict.reason] },
        message,
        deadline,
      );
    }
    // The claim keeps other attempts off Twilio only for its lease: past it (a stalled process), this one stays off too.
    if (Date.now() - verdict.claimedAt.getTime() > claimLeaseMs) throw claimedElsewhere(verdict.claimedAt, attempt);
    const validity = Math.min(Math.max(1, Math.floor(secondsLeft())), maxValiditySeconds);
    return send(row, deadline.hard ? { ...sms, validityPeriodSeconds: validity } : sms, message.tenantId);
  };
}

const tooManyRequests = 20429;

const isCapacityWait = (wait: Hold): wait is CapacityWait => !(wait.reason in holdDetail);

const holdDetail: Record<GateHoldReason, string> = {
  cap_gap: "the lead's minimum gap between messages, across all their enrollments",
  cap_daily: "the lead's daily maximum in their local day, across all their enrollments",
  window: "the lead's sending window",
};

/** Gives back what the row's attempts reserved (nothing when none did). */
async function releaseReservation(tx: Prisma.TransactionClient, rowId: string): Promise<void> {
  const { reservation } = await tx.message.findUniqueOrThrow({ where: { id: rowId }, select: { reservation: true } });
  if (reservation) await releaseCapacity(tx, rowId, reservation as unknown as ReservedCapacity[]);
}
