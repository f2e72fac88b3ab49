import type { Db } from '../../common/db.js';
import type { MessageStatus, Prisma, Tenant } from '../../generated/prisma/client.js';

export interface RecipientQuery {
  /** Where the message was sent: the number (To), and the Messaging Service whose pool it belongs to, if any. */
  addresses: string[];
  /** The lead's phone (From). */
  phone: string;
  /** A STOP reaches every tenant that texted the phone from the address; anything else only one. */
  everyTexter: boolean;
  /** The deployment's default sender: shared by every tenant without one of its own, so nobody's to own. */
  sharedSenders: readonly string[];
}

// Skipped rows never went out: their tenant never texted the phone. A STOP also reaches a tenant whose text is still
// held or was refused (the safe side: it must not text that phone after it); a reply answers a text that went out,
// not one that is still held or that Twilio refused. A pending row an attempt has claimed may have gone out: Twilio's
// answer not recorded yet, or lost to a timeout while the message reached the phone.
const stopReachesPast: MessageStatus[] = ['skipped'];
const replyAnswersPast: MessageStatus[] = ['skipped', 'failed'];
const unclaimedPending = { status: 'pending', claimedAt: null } as const;
/** The outbound rows a reply can answer: texts that went out, or may have. */
export const answerableTexts: Prisma.MessageWhereInput = { status: { notIn: replyAnswersPast }, NOT: unclaimedPending };

/**
 * When a tenant's latest text to the phone went out, or may have: a row keeps the instant it was written however long
 * it was held after (a budget, the kill switch, the window), so its claim and its send count too.
 */
export const latestTextAt = (times: Record<'createdAt' | 'claimedAt' | 'sentAt', Date | null>) =>
  Math.max(...Object.values(times).map((at) => at?.getTime() ?? 0));

/**
 * The tenants an inbound message is for. A sender's owner gets it (the number before the service: it is the more
 * specific), unless it never texted the phone from there and another tenant that did is still in a conversation with
 * the lead (a running follow-up, a scheduled appointment, a reply to it within the last day): a number moved to the owner since, whose lead answers the
 * tenant texting it, and that tenant's follow-up must hear the reply. A shared or unowned sender (the default, or one
 * taken from its tenant since) is answered for by whoever texted the phone from it, the latest text's tenant first. A
 * STOP reaches the owner and every tenant that texted the phone from there (one the number was moved away from
 * included: it must not text that phone again). None: nobody here ever texted that phone from there.
 */
export async function findRecipients(db: Db, query: RecipientQuery): Promise<Tenant[]> {
  const ownable = query.addresses.filter((address) => !query.sharedSenders.includes(address));
  const owned = await db.tenantSender.findMany({ where: { value: { in: ownable } }, include: { tenant: true } });
  const owner = ownable
    .map((address) => owned.find((sender) => sender.value === address))
    .find((sender) => sender !== undefined);
  const texters = await db.message.groupBy({
    by: ['tenantId'],
    where: {
      toPhone: query.phone,
      direction: 'outbound',
      fromPhone: { in: query.addresses },
      ...(query.everyTexter ? { status: { notIn: stopReachesPast } } : answerableTexts),
    },
    _max: { createdAt: true, claimedAt: true, sentAt: true },
  });
  if (
    owner &&
    !query.everyTexter &&
    (texters.length === 0 || texters.some((texter) => texter.tenantId === owner.tenantId))
  )
    return [owner.tenant];
  const latestFirst = texters
    .map((texter) => ({ tenantId: texter.tenantId, at: latestTextAt(texter._max) }))
    .sort((a, b) => b.at - a.at)
    .map((texter) => texter.tenantId)
    .filter((id) => id !== owner?.tenantId);
  if (owner && !query.everyTexter) {
    const talking = await inConversationWith(db, query.phone, latestFirst);
    return talking ? db.tenant.findMany({ where: { id: talking } }) : [owner.tenant];
  }
  const ids = latestFirst.slice(0, query.everyTexter ? undefined : 1);
  const tenants = await db.tenant.findMany({ where: { id: { in: ids } } });
  return [...(owner ? [owner.tenant] : []), ...ids.flatMap((id) => tenants.filter((tenant) => tenant.id === id))];
}

/** A lead's reply ends its follow-up, and the conversation goes on a while: its next texts are about the same thing. */
const conversationAfterReplyMs = 24 * 3_600_000;

/**
 * The first of `tenantIds` in a conversation with the phone's lead: following it up, reminding it of an appointment,
 * or answered by it within the last day.
 */
async function inConversationWith(db: Db, phone: string, tenantIds: string[]): Promise<string | null> {
  const lead = { phone, tenantId: { in: tenantIds } };
  const repliedSince = new Date(Date.now() - conversationAfterReplyMs);
  const [enrollments, appointments] = await Promise.all([
    db.enrollment.findMany({
      where: {
        lead,
        OR: [
          { status: 'running', haltedAt: null },
          { haltedBy: 'replied', haltedAt: { gt: repliedSince } },
        ],
      },
      select: { tenantId: true },
    }),
    db.appointment.findMany({ where: { status: 'scheduled', lead }, select: { tenantId: true } }),
  ]);
  const talking = new Set([...enrollments, ...appointments].map((row) => row.tenantId));
  return tenantIds.find((id) => talking.has(id)) ?? null;
}

/** Our latest texts to the phone from where it wrote to: what a reaction, or a text pasted back, may quote. */
export async function latestTextsTo(db: Db, { addresses, phone }: Pick<RecipientQuery, 'addresses' | 'phone'>) {
  const texts = await db.message.findMany({
    where: { toPhone: phone, direction: 'outbound', fromPhone: { in: addresses }, ...answerableTexts },
    orderBy: { createdAt: 'desc' },
    take: 20,
    select: { body: true },
  });
  return texts.map((text) => text.body);
}
