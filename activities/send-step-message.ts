import { ApplicationFailure, log } from '@temporalio/activity';
import { Prisma, type Message } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import { renderTemplate } from '../common/templates.js';
import type { SendStepMessageInput, SendStepMessageResult } from './send-step-message.types.js';
import type { SentSms, SmsSender } from './sms-sender.js';
import { classifyTwilioError } from './twilio-errors.js';

export interface SendStepMessageDeps {
  db: Db;
  sender: SmsSender;
}

function resultFromRow(row: Message): SendStepMessageResult {
  switch (row.status) {
    case 'skipped':
      return row.skipReason === 'opted_out'
        ? { outcome: 'opted_out', messageId: row.id }
        : { outcome: 'skipped', messageId: row.id, reason: row.skipReason ?? 'skipped' };
    case 'failed':
    case 'undelivered':
      // A create call Twilio refused is final; a failed delivery status does not make the step unsent.
      return row.twilioSid === null
        ? { outcome: 'failed', messageId: row.id, kind: row.errorCode === 21610 ? 'opted_out' : 'rejected', errorCode: row.errorCode }
        : { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
    default:
      return { outcome: 'sent', messageId: row.id, twilioSid: row.twilioSid };
  }
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/**
 * Sends one step's SMS at most once. The row keyed by (enrollment, step) is written before Twilio is called; an
 * attempt that finds it still `sending` is a retry after a crash or timeout and asks Twilio what happened first.
 */
export function createSendStepMessage({ db, sender }: SendStepMessageDeps) {
  async function markSent(row: Message, sent: SentSms): Promise<SendStepMessageResult> {
    await db.message.update({
      where: { id: row.id },
      data: { status: sent.status, twilioSid: sent.sid, sentAt: new Date() },
    });
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

  return async function sendStepMessage(input: SendStepMessageInput): Promise<SendStepMessageResult> {
    const idempotencyKey = `${input.enrollmentId}:${input.step}`;
    const existing = await db.message.findUnique({ where: { idempotencyKey } });
    if (existing && existing.status !== 'sending') return resultFromRow(existing);

    const lead = await db.lead.findFirst({ where: { id: input.leadId, tenantId: input.tenantId }, include: { tenant: true } });
    if (!lead) throw ApplicationFailure.create({ type: 'NotFoundError', message: `lead ${input.leadId} not found`, nonRetryable: true });
    const rendered = renderTemplate(input.template, {
      firstName: lead.firstName,
      lastName: lead.lastName,
      businessName: lead.tenant.businessName,
      bookingLink: lead.tenant.bookingUrl,
    });
    const base = { tenantId: input.tenantId, leadId: lead.id, enrollmentId: input.enrollmentId, direction: 'outbound' as const, toPhone: lead.phone, idempotencyKey };
    if (!rendered.ok) {
      const skipReason = `missing value for ${rendered.missing.join(', ')}`;
      const { row } = await claimRow({ ...base, body: input.template, status: 'skipped', skipReason });
      log.warn('step skipped', { messageId: row.id, reason: skipReason });
      return resultFromRow(row);
    }

    const { row, isRetry } = existing ? { row: existing, isRetry: true } : await claimRow({ ...base, body: rendered.body, status: 'sending' });
    if (row.status !== 'sending') return resultFromRow(row);

    const optOut = await db.optOut.findUnique({ where: { tenantId_phone: { tenantId: input.tenantId, phone: row.toPhone } } });
    if (optOut) {
      await db.message.update({ where: { id: row.id }, data: { status: 'skipped', skipReason: 'opted_out' } });
      log.info('send refused: recipient opted out', { messageId: row.id, to: maskPhone(row.toPhone) });
      return { outcome: 'opted_out', messageId: row.id };
    }

    const sms = { to: row.toPhone, body: row.body };
    if (isRetry) {
      const found = await sender.findSent(sms, row.createdAt);
      if (found) return markSent(row, found);
    }
    try {
      return await markSent(row, await sender.send(sms));
    } catch (error) {
      const classified = classifyTwilioError(error);
      if (classified.kind === 'retryable') throw error;
      const errorCode = classified.code ?? null;
      await db.$transaction(async (tx) => {
        await tx.message.update({ where: { id: row.id }, data: { status: 'failed', errorCode } });
        if (classified.kind === 'opted_out') {
          await tx.optOut.upsert({
            where: { tenantId_phone: { tenantId: input.tenantId, phone: row.toPhone } },
            create: { tenantId: input.tenantId, phone: row.toPhone, source: `twilio_error_${errorCode}` },
            update: {},
          });
        }
      });
      log.warn('Twilio refused the message', { messageId: row.id, kind: classified.kind, errorCode });
      return classified.kind === 'opted_out'
        ? { outcome: 'opted_out', messageId: row.id }
        : { outcome: 'failed', messageId: row.id, kind: classified.kind, errorCode };
    }
  };
}
