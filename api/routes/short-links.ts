import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../../common/db.js';
import type { ShortLink } from '../../generated/prisma/client.js';
import { classifyAgent, recordLinkClick } from '../../common/links/clicks.js';
import { linkCodePattern } from '../../common/links/short-links.js';
import { clientAddress } from '../abuse.js';

/**
 * Unknown or expired codes per client address (req.ip: the forwarded one behind a TRUST_PROXY) in a minute before it is
 * refused for a minute: codes cannot be guessed, so only a prober misses often, and this keeps it off the database.
 */
const missesPerMinute = 60;
const missBlockSeconds = 60;
/**
 * Opens of one live link from one client address in a minute: far more than a person makes, and each one writes a
 * click row, so a loop over a code a text carried cannot fill the database or hold its connections from the webhooks.
 */
const hitsPerMinute = 120;

/**
 * When the link stops working: its days count from when its message went out, not from when the row was written (a
 * message held for days by a budget, the window or the kill switch went out with a link that would have expired).
 */
async function liveUntil(db: Db, link: ShortLink): Promise<Date> {
  const message = await db.message.findUnique({
    where: { id: link.messageId },
    select: { createdAt: true, sentAt: true },
  });
  const heldFor = message?.sentAt ? Math.max(0, message.sentAt.getTime() - message.createdAt.getTime()) : 0;
  return new Date(link.expiresAt.getTime() + heldFor);
}

/** One answer for a code that never existed and one that expired: a 404 tells a prober nothing. */
function linkNotFound(res: Response): void {
  res.status(404).type('text/plain').send('This link does not exist or has expired.\n');
}

/**
 * GET (and HEAD) /l/:code: public, no API key. Redirects (302) a live link and records the request; a person's click
 * counts, a link preview's is recorded apart and still redirected (the preview needs the page).
 */
export function shortLinksRouter({ db, logger }: { db: Db; logger: Logger }): Router {
  const router = Router();
  const misses = new RateLimiterMemory({ points: missesPerMinute, duration: 60, blockDuration: missBlockSeconds });
  const hits = new RateLimiterMemory({ points: hitsPerMinute, duration: 60 });
  const tooMany = (res: Response, msBeforeNext: number) => {
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(msBeforeNext / 1000))));
    res.status(429).type('text/plain').send('Too many requests.\n');
  };
  router.get('/l/:code', async (req, res) => {
    const client = clientAddress(req);
    const seen = await misses.get(client);
    if (seen && seen.consumedPoints > missesPerMinute) return void tooMany(res, seen.msBeforeNext);
    const { code } = req.params;
    const now = new Date();
    const link = linkCodePattern.test(code) ? await db.shortLink.findUnique({ where: { code } }) : null;
    if (!link || (link.expiresAt <= now && (await liveUntil(db, link)) <= now)) {
      await misses.consume(client).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      });
      linkNotFound(res);
      return;
    }
    // Per address and code: leads behind one proxy or carrier NAT share an address, not a code.
    const allowed = await hits.consume(`${client} ${code}`).catch((rejection: unknown) => {
      if (rejection instanceof RateLimiterRes) return rejection;
      throw rejection;
    });
    if (allowed.consumedPoints > hitsPerMinute) return void tooMany(res, allowed.msBeforeNext);
    try {
      await recordLinkClick(db, link, classifyAgent(req.method, req.get('user-agent')), now);
    } catch (error) {
      // The person still gets their page; the click is lost and the log says so.
      logger.error({ err: error, linkId: link.id }, 'link click not recorded');
    }
    // Every click reaches us (no cache); no referrer tells the target the code (helmet's Referrer-Policy: no-referrer).
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Robots-Tag', 'noindex');
    res.redirect(302, link.target);
  });
  return router;
}
