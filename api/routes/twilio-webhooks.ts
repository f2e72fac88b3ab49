import express, { Router } from 'express';
import twilio from 'twilio';
import { z } from 'zod';
import { inboundWebhookPath, statusWebhookPath } from '../../common/config.js';
import { callbackStatuses, untrackedCallbackStatuses } from '../../common/message-status.js';
import type { Db } from '../../common/db.js';
import { noMetrics, type WebhookMetrics } from '../../common/metrics.js';
import { ApiError, fieldErrors } from '../errors.js';
import { deliverOrLeaveQueued, type SignalRelay } from '../signal-relay.js';
import { storableText } from '../unstorable-text.js';
import { countOptOuts, inboundIntent, processInbound } from '../webhooks/inbound.js';
import type { InboundSpool } from '../webhooks/inbound-spool.js';
import { verifyTwilioSignature, type SignatureOptions } from '../webhooks/signature.js';
import { recordStatusCallback, type StatusResult } from '../webhooks/status.js';

export interface TwilioWebhookDeps extends SignatureOptions {
  db: Db;
  signalRelay: SignalRelay;
  inboundSpool: Pick<InboundSpool, 'keep' | 'keepStatus' | 'holdsFrom'>;
  /** The deployment's default sender: shared, so its inbound messages go to the tenants that texted from it. */
  defaultSender: string;
  /** Where the links of an appointment answer point (docs/links.md); unset: they go out untracked. */
  shortLinkBaseUrl?: string | undefined;
  metrics?: WebhookMetrics | undefined;
}

const sid = z.string().regex(/^[A-Z]{2}[0-9a-fA-F]{32}$/, 'must be a Twilio SID');
export const inboundSchema = z.object({
  MessageSid: sid,
  From: z.string().min(1),
  To: z.string().min(1),
  Body: z.string().default('').transform(storableText),
  MessagingServiceSid: sid.optional(),
  // Only with Advanced Opt-Out: STOP, START or HELP for the tenant's own keywords.
  OptOutType: z.string().optional(),
});
export const statusSchema = z.object({
  MessageSid: sid,
  MessageStatus: z.enum([...callbackStatuses, ...untrackedCallbackStatuses]),
  ErrorCode: z.coerce.number().int().optional(),
});
type StatusBody = z.infer<typeof statusSchema>;
const isTracked = (body: StatusBody): body is StatusBody & { MessageStatus: (typeof callbackStatuses)[number] } =>
  (callbackStatuses as readonly string[]).includes(body.MessageStatus);

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new ApiError(400, 'bad_request', 'Not a Twilio webhook this endpoint understands', {
      fields: fieldErrors(parsed.error),
    });
  return parsed.data;
}

/**
 * Twilio's webhooks. Work is committed to PostgreSQL before the answer; signals to Temporal get a bounded wait and
 * are otherwise left to the relay, so the answer stays far inside Twilio's 15-second timeout even with Temporal down.
 */
export function twilioWebhooksRouter({
  db,
  signalRelay,
  inboundSpool,
  defaultSender,
  shortLinkBaseUrl,
  metrics = noMetrics,
  ...signature
}: TwilioWebhookDeps): Router {
  const router = Router();
  const verify = (kind: 'inbound' | 'status') => [
    express.urlencoded({ extended: false, limit: '64kb' }),
    verifyTwilioSignature({ ...signature, onRefused: () => metrics.webhook(kind, 'bad_signature') }),
  ];
  const twiml = (res: express.Response, reply: string | null) => {
    const response = new twilio.twiml.MessagingResponse();
    if (reply) response.message(reply);
    res.type('text/xml').send(response.toString());
  };

  /**
   * Twilio resends no webhook answered 500: one the database could not take is kept on disk and processed once it
   * answers (an inbound SMS without the TwiML answer, which only this response could carry). Only when it cannot be
   * kept either is the 500 answered.
   */
  const orKept = async <T>(log: express.Request['log'], what: string, work: Promise<T>, keep: () => Promise<void>) => {
    try {
      return await work;
    } catch (error) {
      try {
        await keep();
      } catch (keepError) {
        log.error({ err: keepError }, `${what} could not be kept for later either`);
        throw error;
      }
      log.error({ err: error }, `${what} not processed now: kept, and processed once the database answers`);
      return { kind: 'kept' } as const;
    }
  };

  /**
   * While some from the phone are kept, a new one goes behind them, in the order they came; but for an opt-out, which
   * stops the texts now: a START kept from before it lifts no opt-out asked for since (recordOptIn), and the ones
   * ahead of it may wait up to the spool's set-aside bound.
   */
  const goesBehindKept = async (params: z.infer<typeof inboundSchema>) =>
    (await inboundSpool.holdsFrom(params.From).catch(() => false)) &&
    (await inboundIntent(db, params).catch(() => 'unknown')) !== 'opt_out';

  const processOrKeep = async (
    log: express.Request['log'],
    params: z.infer<typeof inboundSchema>,
    receivedAt: number,
  ) => {
    if (await goesBehindKept(params)) {
      const queued = await inboundSpool.keep(params, receivedAt).then(
        () => true,
        () => false,
      );
      if (queued) {
        log.info('inbound SMS kept behind its phone’s ones waiting since the database was away');
        return { kind: 'kept' } as const;
      }
    }
    return orKept(
      log,
      'inbound SMS',
      processInbound(db, log, params, { sharedSenders: [defaultSender], shortLinkBaseUrl }),
      () => inboundSpool.keep(params, receivedAt),
    );
  };

  router.post(inboundWebhookPath, ...verify('inbound'), async (req, res) => {
    const result = await processOrKeep(req.log, parse(inboundSchema, req.body), Date.now());
    metrics.webhook('inbound', result.kind);
    if (result.kind === 'processed') countOptOuts(metrics, result);
    if (result.kind !== 'processed') {
      req.log.info({ outcome: result.kind }, 'inbound webhook: nothing to do');
      return twiml(res, result.kind === 'duplicate' ? result.reply : null);
    }
    // The reply is recorded as sent, and only this answer carries it to Twilio: it goes whatever the relay meets (its
    // next round delivers the signals still queued).
    await deliverOrLeaveQueued(signalRelay, req.log, result.signalIds);
    twiml(res, result.reply);
  });

  router.post(statusWebhookPath, ...verify('status'), async (req, res) => {
    const params = parse(statusSchema, req.body);
    if (!isTracked(params)) {
      metrics.webhook('status', 'untracked');
      req.log.info({ status: params.MessageStatus }, 'status webhook: a status this service does not track');
      return twiml(res, null);
    }
    const result: StatusResult | { kind: 'kept' } = await orKept(
      req.log,
      'status callback',
      recordStatusCallback({ db, signalRelay, metrics }, req.log, params),
      () => inboundSpool.keepStatus(params),
    );
    metrics.webhook('status', result.kind);
    // No row has the SID yet: parked for the one that records it (api/webhooks/status.ts).
    if (result.kind === 'unknown_message')
      req.log.info({ outcome: result.kind }, 'status webhook: no message has the SID yet, parked until one does');
    else if (result.kind !== 'processed') req.log.info({ outcome: result.kind }, 'status webhook: nothing to do now');
    twiml(res, null);
  });

  return router;
}
