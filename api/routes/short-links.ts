import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../../common/db.js';
import { classifyAgent, recordLinkClick } from '../../common/links/clicks.js';
import { linkCodePattern } from '../../common/links/short-links.js';

/**
 * Unknown or expired codes per client address (req.ip: the forwarded one behind a TRUST_PROXY) in a minute before it is
 * refused for a minute: codes cannot be guessed, so only a prober misses often, and this keeps it off the database.
 */
const missesPerMinute = 60;
const missBlockSeconds = 60;

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
  router.get('/l/:code', async (req, res) => {
    const client = req.ip ?? 'unknown';
    const seen = await misses.get(client);
    if (seen && seen.consumedPoints > missesPerMinute) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(seen.msBeforeNext / 1000))));
      res.status(429).type('text/plain').send('Too many requests.\n');
      return;
    }
    const { code } = req.params;
    const now = new Date();
    const link = linkCodePattern.test(code) ? await db.shortLink.findUnique({ where: { code } }) : null;
    if (!link || link.expiresAt <= now) {
      await misses.consume(client).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      });
      linkNotFound(res);
      return;
    }
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
