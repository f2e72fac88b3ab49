import { createHash, createHmac } from 'node:crypto';
import type { Db } from './db.js';
import { Prisma } from '../generated/prisma/client.js';
import { sendingNumberFor } from './capacity/sending-number.js';
import { optOutHashSecret } from './config.js';
import { lockConversation } from './conversation.js';
import { countLeadFact } from './analytics/aggregate.js';
import { recordEvent, type EventType } from './events.js';

type Tx = Prisma.TransactionClient | Db;

/** A phone's hash under a given key; phoneHash uses the deployment's key. */
export const keyedPhoneHash = (phone: string, secret: string) =>
  createHmac('sha256', secret).update(phone).digest('hex');

let secret: string | undefined;

/**
 * The registry's key: a lead's personal data can be erased while its number stays opted out. Keyed with
 * OPT_OUT_HASH_SECRET (read once, on first use), so the hash cannot be reversed by hashing every possible number.
 */
export const phoneHash = (phone: string) => keyedPhoneHash(phone, (secret ??= optOutHashSecret()));

/**
 * The hash before it was keyed. scripts/db/rekey-opt-outs.ts re-keys every entry whose phone is known; an entry whose
 * phone was erased first keeps it for good, so lookups still try it.
 */
export const legacyPhoneHash = (phone: string) => createHash('sha256').update(phone).digest('hex');

/** Every hash an opt-out or consent event of this phone may be stored under, the current one first. */
export const phoneHashes = (phone: string) => [phoneHash(phone), legacyPhoneHash(phone)];

/** The consent source of a request the lead texted us (a keyword or a phrasing of one). */
export const inboundKeywordSource = 'inbound_keyword';
/** The consent source of the opt-out an erasure records (api/lead-erasure.ts). */
export const erasureSource = 'erasure';
/** The consent source of the opt-out Twilio's 21610 records (common/status-callbacks.ts). */
export const twilio21610Source = 'twilio_error_21610';
/**
 * The sources the service records itself, which a tenant's `POST /v1/opt-outs` or consent may not claim: an erasure's,
 * for one, keeps its opt-out from being lifted by a START and keeps the lead's texts of the next minute out.
 */
export const serviceConsentSources: readonly string[] = [inboundKeywordSource, erasureSource, twilio21610Source];
/** The consent log's note on an opt-in the phone texted that left an erasure's opt-out standing. */
const erasedOptOutStands = 'not applied: the erasure’s opt-out stands (only DELETE /v1/opt-outs/:phone lifts it)';
/** The consent log's note on an opt-in processed late that left an opt-out the phone asked for after it standing. */
const laterOptOutStands = 'not applied: processed late, after an opt-out the phone asked for since';

/** The phone's opt-out, under either hash; should both exist, the first one recorded. */
export function findOptOut(db: Tx, tenantId: string, phone: string) {
  return db.optOut.findFirst({
    where: { tenantId, phoneHash: { in: phoneHashes(phone) } },
    orderBy: { createdAt: 'asc' },
  });
}

/**
 * Whether the block `so` (a row of sender_opt_outs: the phone texted a STOP in its words to the number,
 * recordSenderOptOut) stands for the tenant: it does unless the tenant's consent log has an opt-in of the phone since
 * (`DELETE /v1/opt-outs/:phone`, or the lead's own START or YES to it). Blocks are newer than the keyed hash, so the
 * consent given since is under the block's own.
 */
export const senderBlockStandsFor = (tenantId: Prisma.Sql) => Prisma.sql`NOT EXISTS (SELECT 1 FROM consent_events ce
  WHERE ce.tenant_id = ${tenantId} AND ce.kind = 'opt_in' AND ce.phone_hash = so.phone_hash
    AND ce.created_at > so.created_at)`;

/**
 * A STOP in the phone's words to the number the tenant texts it from, standing for the tenant. When it came is not
 * told: another tenant's texts may have drawn it.
 */
export interface NumberBlock {
  sender: string;
}

/** The number each phone hears from the tenant (its own, or the deployment's default when it has none). */
async function sendingNumbersOf(db: Tx, tenantId: string, defaultSender: string) {
  const owned = (await db.tenantSender.findMany({ where: { tenantId }, select: { value: true } })).map(
    ({ value }) => value,
  );
  return (phone: string) => sendingNumberFor(owned, phone, defaultSender);
}

/** Of these phones, the ones whose block on the number the tenant texts them from stands: one read for them all. */
async function numberBlocksAmong(db: Tx, tenantId: string, phones: string[], defaultSender: string) {
  const senderOf = await sendingNumbersOf(db, tenantId, defaultSender);
  const hashOf = new Map(phones.map((phone) => [phone, phoneHash(phone)]));
  const distinct = [...hashOf.keys()];
  const rows = await db.$queryRaw<{ sender: string; phoneHash: string }[]>`
    SELECT so.sender, so.phone_hash AS "phoneHash"
    FROM sender_opt_outs so
    JOIN unnest(${distinct.map(senderOf)}::text[], ${distinct.map((phone) => hashOf.get(phone))}::text[])
      AS asked(sender, phone_hash)
      ON so.sender = asked.sender AND so.phone_hash = asked.phone_hash
    WHERE ${senderBlockStandsFor(Prisma.sql`${tenantId}::uuid`)}`;
  const blocks = new Map(rows.map(({ sender, phoneHash: hash }) => [`${sender} ${hash}`, { sender }]));
  return (phone: string): NumberBlock | null => blocks.get(`${senderOf(phone)} ${hashOf.get(phone)}`) ?? null;
}

/** The phone's block on the number the tenant texts it from, if it stands for the tenant. */
export async function findNumberBlock(db: Tx, tenantId: string, phone: string, defaultSender: string) {
  return (await numberBlocksAmong(db, tenantId, [phone], defaultSender))(phone);
}

/** Why a phone of a batch is not enrolled, when it has opted out (of the tenant, or of the number it would hear from). */
const optedOutReason = 'the lead has opted out of messages';
const numberBlockReason = (block: NumberBlock) =>
  `the lead has opted out of messages from ${block.sender}, the number it would be texted from`;

/**
 * Which of these phones have opted out of the tenant's messages (under either hash), or of the number they would hear
 * from: one read of each for them all. Answers why, or null.
 */
export async function optedOutAmong(
  db: Tx,
  tenantId: string,
  phones: string[],
  defaultSender: string,
): Promise<(phone: string) => string | null> {
  const [optOuts, numberBlockOf] = await Promise.all([
    db.optOut.findMany({
      where: { tenantId, phoneHash: { in: phones.flatMap(phoneHashes) } },
      select: { phoneHash: true },
    }),
    numberBlocksAmong(db, tenantId, phones, defaultSender),
  ]);
  const recorded = new Set(optOuts.map((optOut) => optOut.phoneHash));
  return (phone) => {
    if (phoneHashes(phone).some((hash) => recorded.has(hash))) return optedOutReason;
    const block = numberBlockOf(phone);
    return block && numberBlockReason(block);
  };
}

export interface ConsentChange {
  tenantId: string;
  phone: string;
  source: string;
  messageSid?: string | null;
  note?: string | null;
  /**
   * When the lead asked (its webhook's arrival), for the consent log: a request processed late (kept through an outage,
   * or overtaken by a later one's transaction) came before.
   */
  askedAt?: Date | undefined;
}

/** The registry changed: the CRM hears it, about the tenant's lead with this phone if there is one (returned). */
async function recordConsentEvent(
  tx: Prisma.TransactionClient,
  type: Extract<EventType, 'lead.opted_out' | 'lead.opted_in'>,
  change: ConsentChange,
): Promise<string | null> {
  const lead = await tx.lead.findUnique({
    where: { tenantId_phone: { tenantId: change.tenantId, phone: change.phone } },
    select: { id: true },
  });
  await recordEvent(tx, {
    tenantId: change.tenantId,
    type,
    leadId: lead?.id ?? null,
    data: {
      leadId: lead?.id ?? null,
      phone: change.phone,
      source: change.source,
      messageSid: change.messageSid ?? null,
    },
  });
  return lead?.id ?? null;
}

/**
 * Registry and consent log change together; an opt-out that is already there keeps its first source and time (and
 * its one event). Takes the conversation's lock, so a send gate deciding at the same moment either sees it or claimed
 * its send before it. Returns the opt-out that stood before, read under that lock (null: this call recorded it).
 */
export async function recordOptOut(tx: Prisma.TransactionClient, change: ConsentChange) {
  await lockConversation(tx, change.tenantId, change.phone);
  const hash = phoneHash(change.phone);
  const standing = await findOptOut(tx, change.tenantId, change.phone);
  if (!standing) {
    await tx.optOut.create({
      data: {
        tenantId: change.tenantId,
        phoneHash: hash,
        phone: change.phone,
        source: change.source,
        messageSid: change.messageSid ?? null,
      },
    });
    const leadId = await recordConsentEvent(tx, 'lead.opted_out', change);
    // The funnel's opt-outs are the lead's own requests (docs/analytics.md): an erasure's is the tenant's doing.
    if (leadId && change.source !== erasureSource)
      await countLeadFact(tx, { tenantId: change.tenantId, leadId, fact: 'opted_out', at: change.askedAt });
  }
  await tx.consentEvent.create({
    data: {
      tenantId: change.tenantId,
      phoneHash: hash,
      kind: 'opt_out',
      source: change.source,
      messageSid: change.messageSid ?? null,
      note: change.note ?? null,
      ...(change.askedAt ? { createdAt: change.askedAt } : {}),
    },
  });
  return standing;
}

/**
 * Records that the lead was sent its one opt-out confirmation: a further request to stop, while the opt-out stands, gets
 * none (an opt-in deletes the row, so the next opt-out is confirmed again).
 */
export async function recordOptOutConfirmed(
  tx: Prisma.TransactionClient,
  tenantId: string,
  phone: string,
): Promise<void> {
  await tx.optOut.updateMany({
    where: { tenantId, phoneHash: { in: phoneHashes(phone) } },
    data: { confirmedAt: new Date() },
  });
}

/**
 * Returns whether there was an opt-out to clear (under either hash, and then its event); the consent is logged either
 * way, with a note when it changed nothing. An erasure's opt-out (its phone cleared) promises the number is never texted
 * again: a keyword the phone texts (`liftsErased: false`) leaves it, and only the tenant's recorded consent (the API)
 * lifts it. An opt-in processed late (`askedAt`, when it came: kept through an outage, or a later STOP's transaction
 * committed first) leaves an opt-out the consent log has as asked for since.
 */
export async function recordOptIn(
  tx: Prisma.TransactionClient,
  change: ConsentChange,
  { liftsErased }: { liftsErased: boolean },
): Promise<boolean> {
  const ofPhone = { tenantId: change.tenantId, phoneHash: { in: phoneHashes(change.phone) } };
  const superseded =
    change.askedAt &&
    (await tx.consentEvent.count({ where: { ...ofPhone, kind: 'opt_out', createdAt: { gt: change.askedAt } } })) > 0;
  const { count } = superseded
    ? { count: 0 }
    : await tx.optOut.deleteMany({ where: { ...ofPhone, ...(liftsErased ? {} : { phone: { not: null } }) } });
  if (count > 0) await recordConsentEvent(tx, 'lead.opted_in', change);
  const erasedStands = !liftsErased && (await tx.optOut.count({ where: { ...ofPhone, phone: null } })) > 0;
  await tx.consentEvent.create({
    data: {
      tenantId: change.tenantId,
      phoneHash: phoneHash(change.phone),
      kind: 'opt_in',
      source: change.source,
      messageSid: change.messageSid ?? null,
      note: erasedStands ? erasedOptOutStands : superseded ? laterOptOutStands : (change.note ?? null),
      ...(change.askedAt ? { createdAt: change.askedAt } : {}),
    },
  });
  return count > 0;
}

/** A STOP or START the phone texted to a sending number (`addresses`: the number, and its Messaging Service if any). */
export interface SenderConsentChange {
  addresses: readonly string[];
  phone: string;
  messageSid: string;
  /** When it came: a START processed after a later STOP leaves that STOP's block. */
  askedAt?: Date | undefined;
}

/**
 * Keeps every tenant sending from the number off the phone, as Twilio's own block does for the keyword: a STOP in the
 * lead's words to a shared number reaches only the tenants that texted the phone from there, and another's first text
 * from the same number would otherwise follow it.
 */
export async function recordSenderOptOut(tx: Prisma.TransactionClient, change: SenderConsentChange): Promise<void> {
  // A standing block takes the later request's time: a START processed late lifts only a block asked for before it.
  // Stamped with the request's arrival, as a START is judged by its own: PostgreSQL's clock for a live message, the
  // spool's record for one kept through an outage.
  await tx.$executeRaw`
    INSERT INTO sender_opt_outs (sender, phone_hash, message_sid, created_at)
    SELECT sender, ${phoneHash(change.phone)}, ${change.messageSid}, ${change.askedAt ?? new Date()}::timestamptz
    FROM unnest(${[...change.addresses]}::text[]) AS sender
    ON CONFLICT (sender, phone_hash) DO UPDATE
    SET created_at = greatest(sender_opt_outs.created_at, excluded.created_at),
      message_sid = CASE WHEN excluded.created_at > sender_opt_outs.created_at THEN excluded.message_sid
        ELSE sender_opt_outs.message_sid END`;
}

/** A START to the number lets its tenants text the phone again; one processed late leaves a block asked for since. */
export async function liftSenderOptOut(tx: Tx, change: SenderConsentChange): Promise<void> {
  await tx.senderOptOut.deleteMany({
    where: {
      sender: { in: [...change.addresses] },
      phoneHash: phoneHash(change.phone),
      ...(change.askedAt ? { createdAt: { lt: change.askedAt } } : {}),
    },
  });
}
