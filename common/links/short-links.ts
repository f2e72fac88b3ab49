// Tracked links (docs/links.md): a message's {{bookingLink}} and {{link:…}} URLs go out as /l/<code> on the public URL,
// written with the message row in one transaction, so a retry sends the same body with the same codes.
import { randomInt } from 'node:crypto';
import type { Message, Prisma } from '../../generated/prisma/client.js';
import { publicUrl } from '../config.js';
import { stepOfMessage } from '../event-writers.js';
import { isHttpUrl } from '../templates.js';

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 62^12 ≈ 3 × 10^21 codes: unguessable for any number of links this service will write. */
export const linkCodeLength = 12;
export const linkCodePattern = new RegExp(`^[0-9A-Za-z]{${linkCodeLength}}$`);

export const shortLinkPath = (code: string) => `/l/${code}`;

/** crypto.randomInt draws without modulo bias. */
export const newLinkCode = (): string =>
  Array.from({ length: linkCodeLength }, () => base62[randomInt(base62.length)]).join('');

export interface TrackedLink {
  position: number;
  code: string;
  target: string;
}

/**
 * What renderTemplate's `track` turns a link into, collecting the links to write with the message. Without a public
 * base URL (or for a URL that is not http(s)) the URL goes out as it is, untracked: a phone could not open the link.
 * The same URL twice in one message is one link.
 */
export function linkTracker(baseUrl: string | undefined) {
  const links: TrackedLink[] = [];
  const track = (written: string): string => {
    if (!baseUrl || !URL.canParse(written)) return written;
    // As a browser reads it ("https:example.com" saved before templates were checked for it is https://example.com/):
    // the redirect's Location must be absolute, or it lands on this host.
    const target = new URL(written).href;
    if (!isHttpUrl(target)) return written;
    let link = links.find((known) => known.target === target);
    if (!link) {
      link = { position: links.length, code: newLinkCode(), target };
      links.push(link);
    }
    return publicUrl(baseUrl, shortLinkPath(link.code));
  };
  return { links, track };
}

/** In the transaction that writes the message row: the row and its links exist together or not at all. */
export async function createShortLinks(
  tx: Prisma.TransactionClient,
  message: Message,
  links: TrackedLink[],
  expiryDays: number,
): Promise<void> {
  const expiresAt = new Date(message.createdAt.getTime() + expiryDays * 86_400_000);
  await tx.shortLink.createMany({
    data: links.map(({ position, code, target }) => ({
      code,
      tenantId: message.tenantId,
      messageId: message.id,
      position,
      leadId: message.leadId,
      enrollmentId: message.enrollmentId,
      appointmentId: message.appointmentId,
      step: stepOfMessage(message),
      variant: message.variant,
      target,
      expiresAt,
    })),
  });
}
