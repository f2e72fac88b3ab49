import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { classifyInbound } from '../../common/keywords.js';
import { maskPhone } from '../../common/logger.js';
import { recordOptIn, recordOptOut } from '../../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import { Prisma, type Tenant } from '../../generated/prisma/client.js';
import { helpReply, optInReply, optOutReply } from './replies.js';

export interface InboundParams {
  MessageSid: string;
  From: string;
  To: string;
  Body: string;
  MessagingServiceSid?: string | undefined;
}

export type InboundResult = { kind: 'duplicate' | 'unknown_tenant' } | { kind: 'processed'; intent: string; reply: string | null; signalIds: string[] };

export const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';

async function findTenant(db: Db, params: InboundParams): Promise<Tenant | null> {
  const values = [params.To, params.MessagingServiceSid].filter((value): value is string => Boolean(value));
  const sender = await db.tenantSender.findFirst({ where: { value: { in: values } }, include: { tenant: true } });
  return sender?.tenant ?? null;
}

/**
 * One inbound SMS, processed exactly once: the processed-webhook key, the consent change, the stored message and the
 * queued signals commit in one transaction, so a Twilio retry of the same MessageSid finds the key and does nothing.
 */
export async function processInbound(db: Db, logger: Logger, params: InboundParams): Promise<InboundResult> {
  const tenant = await findTenant(db, params);
  if (!tenant) {
    logger.warn({ to: params.To, messagingServiceSid: params.MessagingServiceSid }, 'inbound SMS for an unknown number: ignored');
    return { kind: 'unknown_tenant' };
  }
  const intent = classifyInbound(params.Body);
  const change = { tenantId: tenant.id, phone: params.From, source: 'inbound_keyword', messageSid: params.MessageSid };
  try {
    return await db.$transaction(async (tx) => {
      await tx.processedWebhook.create({ data: { key: `inbound:${params.MessageSid}`, kind: 'inbound' } });
      const lead = await tx.lead.findUnique({ where: { tenantId_phone: { tenantId: tenant.id, phone: params.From } } });
      await tx.message.create({
        data: { tenantId: tenant.id, leadId: lead?.id ?? null, direction: 'inbound', toPhone: params.To, fromPhone: params.From, body: params.Body, twilioSid: params.MessageSid, status: 'received' },
      });
      let reply: string | null = null;
      let signalIds: string[] = [];
      if (intent === 'opt_out') {
        await recordOptOut(tx, change);
        signalIds = await queueSignalsForPhone(tx, tenant.id, params.From, { signal: signalNames.optOut, payload: { source: 'inbound_keyword' } });
        reply = tenant.twilioAdvancedOptOut ? null : optOutReply(tenant);
      } else if (intent === 'opt_in') {
        await recordOptIn(tx, change);
        reply = tenant.twilioAdvancedOptOut ? null : optInReply(tenant);
      } else if (intent === 'help') {
        reply = tenant.twilioAdvancedOptOut ? null : helpReply(tenant);
      } else {
        signalIds = await queueSignalsForPhone(tx, tenant.id, params.From, { signal: signalNames.inboundReply, payload: { messageSid: params.MessageSid } });
      }
      if (reply) {
        // Twilio sends the reply from our TwiML answer; the row records what was said, keyed to the inbound message.
        await tx.message.create({
          data: { tenantId: tenant.id, leadId: lead?.id ?? null, direction: 'outbound', toPhone: params.From, fromPhone: params.To, body: reply, status: 'accepted', idempotencyKey: `reply:${params.MessageSid}` },
        });
      }
      logger.info({ intent, from: maskPhone(params.From), signals: signalIds.length }, 'inbound SMS processed');
      return { kind: 'processed', intent, reply, signalIds };
    });
  } catch (error) {
    if (isUniqueViolation(error)) return { kind: 'duplicate' };
    throw error;
  }
}
