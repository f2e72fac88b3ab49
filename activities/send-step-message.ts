import { ApplicationFailure, log } from '@temporalio/activity';
import { Prisma, type Message } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import { findOptOut, recordOptOut } from '../common/opt-outs.js';
import { renderTemplate } from '../common/templates.js';
import type { SendStepMessageInput, SendStepMessageResult } from './send-step-message.types.js';
import type { SentSms, SmsSender } from './sms-sender.js';
import { classifyTwilioError, failureKindForCode } from './twilio-errors.js';

export interface SendStepMessageDeps {
  db: Db;
  sender: SmsSender;
}

/** What a finished row says happened; a `pending` row is unfinished and never answers. */
function resultFromRow(row: Message): SendStepMessageResult {
  switch (row.status) {
    case 'pending':
      throw new Error(`message ${row.id} is still pending`);
    case 'skipped':
      return row.skipReason === 'opted_out'
        ? { outcome: 'opted_out', messageId: row.id }
        : { outcome: 'skipped', messageId: row.id, reason: row.skipReason ?? 'skipped' };
    case 'failed':
    case 'undelivered':
      // A create call Twilio refused is final; a failed delivery reported later does not make the step unsent.
      if (row.twilioSid !== null) return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
      return failureKindForCode(row.errorCode) === 'opted_out'
        ? { outcome: 'opted_out', messageId: row.id }
        : { outcome: 'failed', messageId: row.id, kind: failureKindForCode(row.errorCode), errorCode: row.errorCode };
    default:
      return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
  }
}

const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
const notFound = (message: string) => ApplicationFailure.create({ type: 'NotFoundError', message, nonRetryable: true });

/**
 * Sends one step's SMS at most once. The row keyed by (enrollment, step) is written before Twilio is called; an
 * attempt that finds it still `pending` is a retry after a crash or timeout and asks Twilio what happened first.
 */
export function createSendStepMessage({ db, sender }: SendStepMessageDeps) {
  async function markSent(row: Message, sent: SentSms): Promise<SendStepMessageResult> {
    await db.message.update({ where: { id: row.id }, data: { status: sent.status, twilioSid: sent.sid, sentAt: new Date() } });
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

  async function firstAttemptRow(input: SendStepMessageInput, idempotencyKey: string): Promise<{ row: Message; isRetry: boolean }> {
    const lead = await db.lead.findFirst({ where: { id: input.leadId, tenantId: input.tenantId }, include: { tenant: true } });
    if (!lead) throw notFound(`lead ${input.leadId} not found`);
    const rendered = renderTemplate(input.template, { firstName: lead.firstName, lastName: lead.lastName, businessName: lead.tenant.businessName, bookingLink: lead.tenant.bookingUrl });
    const base = { tenantId: input.tenantId, leadId: lead.id, enrollmentId: input.enrollmentId, direction: 'outbound' as const, toPhone: lead.phone, idempotencyKey };
    if (rendered.ok) return claimRow({ ...base, body: rendered.body, status: 'pending' });
    const skipReason = `missing value for ${rendered.missing.join(', ')}`;
    log.warn('step skipped', { step: input.step, reason: skipReason });
    return claimRow({ ...base, body: input.template, status: 'skipped', skipReason });
  }

  return async function sendStepMessage(input: SendStepMessageInput): Promise<SendStepMessageResult> {
    if (Date.now() > Date.parse(input.notAfter)) return { outcome: 'deferred' };
    const idempotencyKey = `${input.enrollmentId}:${input.step}`;
    const existing = await db.message.findUnique({ where: { idempotencyKey } });
    // A retry sends the body it rendered the first time, whatever the lead looks like now.
    const { row, isRetry } = existing ? { row: existing, isRetry: true } : await firstAttemptRow(input, idempotencyKey);
    if (row.status !== 'pending') return resultFromRow(row);

    if (await findOptOut(db, input.tenantId, row.toPhone)) {
      await db.message.update({ where: { id: row.id }, data: { status: 'skipped', skipReason: 'opted_out' } });
      log.info('send refused: recipient opted out', { messageId: row.id, to: maskPhone(row.toPhone) });
      return { outcome: 'opted_out', messageId: row.id };
    }
    const sms = { to: row.toPhone, body: row.body };
    if (isRetry) {
      const found = await sender.findSent(sms, row.createdAt, await knownSids(row));
      if (found) return markSent(row, found);
    }
    if (Date.now() > Date.parse(input.notAfter)) return { outcome: 'deferred' };
    try {
      return await markSent(row, await sender.send(sms));
    } catch (error) {
      const classified = classifyTwilioError(error);
      if (classified.kind === 'retryable') {
        if (classified.setup) log.error('Twilio refused our account or sender setup; every send will fail until it is fixed', { code: classified.code });
        throw error;
      }
      const errorCode = classified.code ?? null;
      await db.$transaction(async (tx) => {
        await tx.message.update({ where: { id: row.id }, data: { status: 'failed', errorCode } });
        if (classified.kind === 'opted_out') await recordOptOut(tx, { tenantId: input.tenantId, phone: row.toPhone, source: `twilio_error_${errorCode}` });
      });
      log.warn('Twilio refused the message', { messageId: row.id, kind: classified.kind, errorCode });
      return classified.kind === 'opted_out' ? { outcome: 'opted_out', messageId: row.id } : { outcome: 'failed', messageId: row.id, kind: classified.kind, errorCode };
    }
  };
}
