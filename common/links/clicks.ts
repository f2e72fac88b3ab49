// Who opened a short link, and what that counts for: every request is recorded; only a person's counts as a click,
// and a message counts as clicked once, at its first human click (docs/links.md).
import { recordClick } from '../analytics/aggregate.js';
import { isbot } from 'isbot';
import type { Prisma, ShortLink } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { recordEvent } from '../events.js';

export type AgentClass = 'browser' | 'bot' | 'head' | 'no_user_agent';

/**
 * Link scanners isbot does not know: mail and carrier security scanners that fetch every link they pass. Scanners
 * that borrow a phone browser's user agent cannot be told apart and count as people.
 */
const scannerPattern = /proofpoint|mimecast|barracuda|cloudmark|forcepoint|zscaler|urldefense|safelinks/i;

/**
 * A HEAD request only looks (a preview or a checker); a link preview (iMessage's "facebookexternalhit/1.1 Facebot
 * Twitterbot/1.0", WhatsApp, Telegram, Slack, Skype, Google-PageRenderer, …) or another bot names itself in its user
 * agent; a phone's browser always sends one.
 */
export function classifyAgent(method: string, userAgent: string | undefined): AgentClass {
  if (method === 'HEAD') return 'head';
  if (!userAgent?.trim()) return 'no_user_agent';
  return isbot(userAgent) || scannerPattern.test(userAgent) ? 'bot' : 'browser';
}

export const isHumanAgent = (agent: AgentClass) => agent === 'browser';

/**
 * Records one request for a live link. A human click that is the message's first marks every link of the message
 * (one statement: of two first clicks at once, the second finds the mark and counts nothing) and is counted.
 */
export async function recordLinkClick(db: Db, link: ShortLink, agent: AgentClass, at: Date): Promise<void> {
  const human = isHumanAgent(agent);
  await db.$transaction(async (tx) => {
    await tx.linkClick.create({
      data: {
        tenantId: link.tenantId,
        linkId: link.id,
        messageId: link.messageId,
        enrollmentId: link.enrollmentId,
        step: link.step,
        variant: link.variant,
        agentClass: agent,
        human,
        at,
      },
    });
    if (!human) return;
    const { count } = await tx.shortLink.updateMany({
      where: { tenantId: link.tenantId, messageId: link.messageId, messageClickedAt: null },
      data: { messageClickedAt: at },
    });
    if (count > 0) await onFirstHumanClick(tx, link, at);
  });
}

/** The one place a message's click is counted, in the transaction that records it: once per message. */
async function onFirstHumanClick(tx: Prisma.TransactionClient, link: ShortLink, at: Date): Promise<void> {
  // The lead as the link has it now: an erasure nulls it on the link first, under the link rows' locks taken above.
  const { leadId } = await tx.shortLink.findUniqueOrThrow({ where: { id: link.id }, select: { leadId: true } });
  await recordClick(tx, { ...link, at });
  await recordEvent(tx, {
    tenantId: link.tenantId,
    type: 'message.clicked',
    leadId,
    data: {
      messageId: link.messageId,
      leadId,
      enrollmentId: link.enrollmentId,
      step: link.step,
      appointmentId: link.appointmentId,
      variant: link.variant,
      url: link.target,
      clickedAt: at.toISOString(),
    },
  });
}
