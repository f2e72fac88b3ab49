import type { Logger } from 'pino';
import { countLeadFact } from '../../common/analytics/aggregate.js';
import { lockConversation } from '../../common/conversation.js';
import { databaseNow, type Db } from '../../common/db.js';
import { isUniqueViolation } from '../../common/db-errors.js';
import { recordMessageEvent } from '../../common/event-writers.js';
import { classifyInbound, twilioAnswersItself, type InboundIntent } from '../../common/keywords.js';
import { hasQuote } from '../../common/quoted-texts.js';
import { createShortLinks, type TrackedLink } from '../../common/links/short-links.js';
import { maskPhone } from '../../common/logger.js';
import {
  erasureSource,
  inboundKeywordSource,
  phoneHashes,
  recordOptIn,
  liftSenderOptOut,
  recordOptOut,
  recordOptOutConfirmed,
  recordSenderOptOut,
} from '../../common/opt-outs.js';
import type { WebhookMetrics } from '../../common/metrics.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import type { Prisma, Tenant } from '../../generated/prisma/client.js';
import { findAppointmentReply, recordAppointmentReply } from './appointment-replies.js';
import { findRecipients, latestTextsTo } from './recipients.js';
import { helpReply, optInReply, optOutReply } from './replies.js';

export interface InboundParams {
  MessageSid: string;
  From: string;
  To: string;
  Body: string;
  MessagingServiceSid?: string | undefined;
  /** Twilio Advanced Opt-Out's verdict (STOP, START, HELP) on the tenant's custom keywords. */
  OptOutType?: string | undefined;
}

export interface InboundOptions {
  /** The deployment's default sender, which no tenant owns. */
  sharedSenders: readonly string[];
  /** Where the links of an answer point (config's shortLinkBaseUrl); unset: they go out untracked. */
  shortLinkBaseUrl?: string | undefined;
  /**
   * Processed after its webhook was answered (kept through a database outage, ./inbound-spool.ts), which came at
   * `arrivedAt`: no TwiML carries an answer any more, so none is given or recorded, and an opt-out stays unconfirmed
   * (the next request is confirmed). Once a tenant erased the phone's lead since it came, that tenant never gets it,
   * nor, but for an opt-out, any tenant it may have been for instead (`stillFor`): an erasure leaves nothing of what
   * the lead sent before it. A START lifts no opt-out asked for since (nor does a live one), and a reply ends (and
   * counts for) no follow-up started since.
   */
  late?: { arrivedAt: Date } | undefined;
}

export type InboundResult =
  | { kind: 'unknown_tenant' }
  /** Processed before (Twilio's fallback URL, or a retry its connection settings asked for): `reply`, what it got. */
  | { kind: 'duplicate'; reply: string | null }
  | {
      kind: 'processed';
      intent: InboundIntent;
      tenantIds: string[];
      reply: string | null;
      signalIds: string[];
      /** The tenants it opted the phone out of that had no opt-out standing for it: what the metric counts. */
      optOutsRecorded: number;
    };

/** What one tenant recorded for the message: whether it answers, and the signals it queued. */
interface TenantOutcome {
  tenant: Tenant;
  leadId: string | null;
  answers: boolean;
  signalIds: string[];
  /** An opt-out recorded for this tenant by this message: none stood before. */
  optedOutNow?: boolean;
  /** The answer to an appointment's reschedule word (./appointment-replies.ts): Twilio knows no such keyword. */
  appointmentAnswer?: string | null;
  answerLinks?: TrackedLink[];
  /** The appointment the answer is about: its links' clicks name it. */
  answeredAppointmentId?: string;
}

/**
 * A message is judged against what was recorded since it came: an erasure (live too), an enrollment's start (processed
 * late). Those instants come from other processes' clocks than its arrival: one this close to it is judged on whichever
 * side sends fewer texts, or keeps less of an erased lead.
 */
const clockMarginMs = 60_000;

/** What an inbound message did, for its `message.received` event: `replied` means it ended running follow-ups. */
type InboundAction = 'opted_out' | 'opted_in' | 'replied' | 'help' | 'nothing';

/** The message, the consent change, the signals and its event for one tenant; the caller holds the conversation's lock. */
async function recordFor(
  tx: Prisma.TransactionClient,
  tenant: Tenant,
  params: InboundParams,
  intent: InboundIntent,
  twilioSid: string | null,
  { arrivedAt, late }: { arrivedAt: Date; late: InboundOptions['late'] },
): Promise<TenantOutcome> {
  const phone = params.From;
  const leadId =
    (await tx.lead.findUnique({ where: { tenantId_phone: { tenantId: tenant.id, phone } }, select: { id: true } }))
      ?.id ?? null;
  const message = await tx.message.create({
    data: {
      tenantId: tenant.id,
      leadId,
      direction: 'inbound',
      toPhone: params.To,
      fromPhone: phone,
      body: params.Body,
      twilioSid,
      status: 'received',
      intent,
      // One kept through an outage is listed when it came, among the texts around it, not when it was processed.
      ...(late ? { createdAt: late.arrivedAt } : {}),
    },
  });
  const recorded = async (outcome: TenantOutcome, action: InboundAction): Promise<TenantOutcome> => {
    await recordMessageEvent(tx, 'message.received', message, {
      twilioSid: params.MessageSid,
      phone,
      to: params.To,
      text: params.Body,
      intent,
      action,
    });
    return outcome;
  };
  const change = {
    tenantId: tenant.id,
    phone,
    source: inboundKeywordSource,
    messageSid: params.MessageSid,
    // Live too: a START whose processing was overtaken by a later STOP's lifts no opt-out asked for after it came.
    askedAt: arrivedAt,
  };
  // With Twilio's Advanced Opt-Out, Twilio answers its keywords itself; a request in the lead's words is ours to answer.
  const twilioAnswered = tenant.twilioAdvancedOptOut && twilioAnswersItself(params.Body, params.OptOutType);
  const mayAnswer = !twilioAnswered && !late;
  if (intent === 'opt_out') {
    // One confirmation per opt-out: a lead who asks again while it stands has had theirs (Twilio's counts).
    const standing = await recordOptOut(tx, change);
    const answers = mayAnswer && !standing?.confirmedAt;
    if (answers || twilioAnswered) await recordOptOutConfirmed(tx, tenant.id, phone);
    const signalIds = await queueSignalsForPhone(tx, tenant.id, phone, {
      signal: signalNames.optOut,
      payload: { source: inboundKeywordSource },
    });
    return recorded({ tenant, leadId, answers, signalIds, optedOutNow: !standing }, 'opted_out');
  }
  // Anything else is a reply to a running follow-up: a bare YES, START, HELP or INFO too (shared/docs/domain.md). One
  // processed late answers none that started after it came (nor lifts an opt-out asked for since: recordOptIn).
  const signalIds = await queueSignalsForPhone(
    tx,
    tenant.id,
    phone,
    { signal: signalNames.inboundReply, payload: { messageSid: params.MessageSid } },
    { startedBefore: late && new Date(late.arrivedAt.getTime() + clockMarginMs) },
  );
  const replied = signalIds.length > 0;
  if (intent === 'opt_in') {
    // The consent is logged either way; only an opt-out actually cleared is confirmed ("Yes" to a question is not a resubscription).
    const cleared = await recordOptIn(tx, change, { liftsErased: false });
    return recorded(
      { tenant, leadId, answers: mayAnswer && cleared, signalIds },
      cleared ? 'opted_in' : replied ? 'replied' : 'nothing',
    );
  }
  return recorded(
    { tenant, leadId, answers: mayAnswer && intent === 'help', signalIds },
    replied ? 'replied' : intent === 'help' ? 'help' : 'nothing',
  );
}

function replyText(intent: InboundIntent, answering: Tenant[]): string | null {
  const [first] = answering;
  if (!first) return null;
  if (intent === 'opt_out') return optOutReply(answering);
  return intent === 'opt_in' ? optInReply(first) : helpReply(first);
}

/**
 * What our TwiML answers, if anything: an appointment's answer, else the keyword's reply for the tenants it speaks for
 * (in the recipients' order, which names them). Twilio sends it; each tenant it speaks for records what was said.
 */
async function recordReply(
  tx: Prisma.TransactionClient,
  params: InboundParams,
  intent: InboundIntent,
  outcomes: TenantOutcome[],
): Promise<string | null> {
  const appointmentAnswer = outcomes.find((outcome) => outcome.appointmentAnswer);
  const answering = appointmentAnswer ? [appointmentAnswer] : outcomes.filter((outcome) => outcome.answers);
  const reply =
    appointmentAnswer?.appointmentAnswer ??
    replyText(
      intent,
      answering.map((outcome) => outcome.tenant),
    );
  if (!reply) return null;
  for (const { tenant, leadId, answerLinks, answeredAppointmentId } of answering) {
    // One confirmation names every business a STOP to a shared number unsubscribed from; each tenant's record of it
    // names only itself: the other names, and that they text this phone, are theirs.
    const recorded = answering.length > 1 && !appointmentAnswer ? (replyText(intent, [tenant]) ?? reply) : reply;
    const row = await tx.message.create({
      data: {
        tenantId: tenant.id,
        leadId,
        direction: 'outbound',
        toPhone: params.From,
        fromPhone: params.To,
        body: recorded,
        status: 'accepted',
        idempotencyKey: `reply:${params.MessageSid}:${tenant.id}`,
      },
    });
    // The lead gets it as any text of ours: the CRM hears of it, answering the message it names.
    await recordMessageEvent(tx, 'message.sent', row, { twilioSid: null, inReplyTo: params.MessageSid });
    if (answerLinks?.length)
      await createShortLinks(
        tx,
        { ...row, appointmentId: answeredAppointmentId ?? null },
        answerLinks,
        tenant.linkExpiryDays,
      );
  }
  return reply;
}

/** A STOP to a shared number opts out every tenant that texted from it: one opt-out each, where none stood. */
export function countOptOuts(
  metrics: Pick<WebhookMetrics, 'optOutRecorded'>,
  { optOutsRecorded }: Extract<InboundResult, { kind: 'processed' }>,
): void {
  for (let count = 0; count < optOutsRecorded; count += 1) metrics.optOutRecorded(inboundKeywordSource);
}

/**
 * The tenants a message is still for: none that erased the phone's lead since it came (nothing of what the lead sent
 * before an erasure comes back: a message kept through an outage, or one whose recipients were read as an erasure
 * went by). A message kept through an outage, other than an opt-out, goes to none at all when it may have been for an
 * erased tenant: its texts to the phone are gone, so the recipients found now cannot tell, unless another tenant owns
 * the number it came to. A live one's recipients were read a moment ago, the erased among them. Read under the
 * recipients' conversation locks, which an erasure takes.
 */
async function stillFor(
  tx: Prisma.TransactionClient,
  tenants: Tenant[],
  {
    phone,
    intent,
    arrivedAt,
    addresses,
    late,
  }: { phone: string; intent: InboundIntent; arrivedAt: Date; addresses: string[]; late: boolean },
): Promise<Tenant[]> {
  const erasures = await tx.consentEvent.findMany({
    where: {
      phoneHash: { in: phoneHashes(phone) },
      source: erasureSource,
      createdAt: { gt: new Date(arrivedAt.getTime() - clockMarginMs) },
    },
    select: { tenantId: true },
  });
  const erased = new Set(erasures.map(({ tenantId }) => tenantId));
  if (late && erased.size && intent !== 'opt_out') {
    const owners = await tx.tenantSender.findMany({ where: { value: { in: addresses } }, select: { tenantId: true } });
    if (!owners.some(({ tenantId }) => !erased.has(tenantId))) return [];
  }
  return tenants.filter(({ id }) => !erased.has(id));
}

const inIdOrder = (tenants: Tenant[]) => [...tenants].sort((a, b) => (a.id < b.id ? -1 : 1));

const addressesOf = (params: InboundParams) =>
  [params.To, params.MessagingServiceSid].filter((value): value is string => Boolean(value));

/** What the message asks for; its quote of one of our latest texts to the phone (read only when it quotes) is not its words. */
export async function inboundIntent(db: Db, params: InboundParams): Promise<InboundIntent> {
  const ourTexts = hasQuote(params.Body)
    ? await latestTextsTo(db, { addresses: addressesOf(params), phone: params.From })
    : [];
  return classifyInbound(params.Body, { twilioOptOutType: params.OptOutType, ourTexts });
}

/**
 * One inbound SMS, processed exactly once: the processed-webhook key, the consent changes, the stored messages and the
 * queued signals commit in one transaction, so a Twilio retry of the same MessageSid finds the key and does nothing.
 */
export async function processInbound(
  db: Db,
  logger: Logger,
  params: InboundParams,
  { sharedSenders, shortLinkBaseUrl, late }: InboundOptions,
): Promise<InboundResult> {
  const processedKey = `inbound:${params.MessageSid}`;
  // A live message's recipients are read before their locks: an erasure may commit in between. By PostgreSQL's clock,
  // which every API process shares: a START is judged against a STOP another process recorded a moment later.
  const arrivedAt = late?.arrivedAt ?? (await databaseNow(db));
  const addresses = addressesOf(params);
  const intent = await inboundIntent(db, params);
  const toSender = { addresses, phone: params.From, messageSid: params.MessageSid, askedAt: arrivedAt };
  const found = await findRecipients(db, {
    addresses,
    phone: params.From,
    everyTexter: intent === 'opt_out',
    sharedSenders,
  });
  if (!found.length) {
    // A STOP or START to the number blocks or lifts its block whoever texts from it next, as Twilio's own does (the
    // tenants that texted the phone from there may have erased it since). Once: a retry of a STOP after the lead's
    // START blocks nothing again.
    if (intent === 'opt_out' || intent === 'opt_in')
      await db
        .$transaction(async (tx) => {
          await tx.processedWebhook.create({ data: { key: processedKey, kind: 'inbound' } });
          await (intent === 'opt_out' ? recordSenderOptOut(tx, toSender) : liftSenderOptOut(tx, toSender));
        })
        .catch((error: unknown) => {
          if (!isUniqueViolation(error)) throw error;
        });
    logger.warn(
      { to: params.To, messagingServiceSid: params.MessagingServiceSid, from: maskPhone(params.From) },
      'inbound SMS for a number nobody owns or texted this phone from: ignored',
    );
    return { kind: 'unknown_tenant' };
  }
  try {
    return await db.$transaction(async (tx) => {
      await tx.processedWebhook.create({ data: { key: processedKey, kind: 'inbound' } });
      // Every conversation's lock before any fact, in one order, so two messages for the same tenants never deadlock.
      for (const { id } of inIdOrder(found)) await lockConversation(tx, id, params.From);
      const tenants = await stillFor(tx, found, { phone: params.From, intent, arrivedAt, addresses, late: !!late });
      const outcomes = new Map<string, TenantOutcome>();
      // Each tenant's facts take its event lock: tenants in one order too, or a STOP from another phone the same
      // tenants texted, listed the other way round, would wait for this one's locks while holding what it waits for.
      for (const tenant of inIdOrder(tenants)) {
        // Decided before the consent change (a YES confirms only for a lead who was not opted out), recorded after the message.
        const appointmentReply = await findAppointmentReply(tx, {
          tenant,
          phone: params.From,
          body: params.Body,
          intent,
        });
        // The MessageSid is unique among messages: the first tenant's row (the owner's, or the latest texter's) carries it.
        const messageSid = tenant === tenants[0] ? params.MessageSid : null;
        const outcome = await recordFor(tx, tenant, params, intent, messageSid, { arrivedAt, late });
        // An answer to an appointment message is about the appointment, not a reply to a follow-up.
        if (outcome.leadId && intent !== 'opt_out' && !appointmentReply)
          await countLeadFact(tx, {
            tenantId: tenant.id,
            leadId: outcome.leadId,
            fact: 'replied',
            at: late?.arrivedAt,
          });
        if (!appointmentReply) outcomes.set(tenant.id, outcome);
        else {
          const recorded = await recordAppointmentReply(tx, tenant, appointmentReply, shortLinkBaseUrl);
          outcomes.set(tenant.id, {
            ...outcome,
            signalIds: [...outcome.signalIds, ...recorded.signalIds],
            appointmentAnswer: recorded.appointmentAnswer,
            answerLinks: recorded.answerLinks,
            answeredAppointmentId: appointmentReply.appointment.id,
          });
        }
      }
      if (intent === 'opt_out') await recordSenderOptOut(tx, toSender);
      if (intent === 'opt_in') await liftSenderOptOut(tx, toSender);
      const inOrder = tenants.flatMap((tenant) => outcomes.get(tenant.id) ?? []);
      const reply = late ? null : await recordReply(tx, params, intent, inOrder);
      // Recorded as sent: a retry of this webhook answers it again, or the lead would never get it.
      if (reply) await tx.processedWebhook.update({ where: { key: processedKey }, data: { reply } });
      const signalIds = inOrder.flatMap((outcome) => outcome.signalIds);
      logger.info(
        { intent, from: maskPhone(params.From), tenants: tenants.length, signals: signalIds.length },
        'inbound SMS processed',
      );
      return {
        kind: 'processed',
        intent,
        tenantIds: tenants.map((tenant) => tenant.id),
        reply,
        signalIds,
        optOutsRecorded: inOrder.filter((outcome) => outcome.optedOutNow).length,
      };
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      const processed = await db.processedWebhook.findUnique({ where: { key: processedKey } });
      return { kind: 'duplicate', reply: processed?.reply ?? null };
    }
    throw error;
  }
}
