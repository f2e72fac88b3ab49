// GET /dashboard: a tenant's analytics in a browser, signed in with its API key (kept server-side, see sessions.ts).
// The page's script reads the same /v1 JSON routes as any client, authorised by the session cookie.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Db } from '../../common/db.js';
import { rateLimitPerKey } from '../abuse.js';
import { tenantOfApiKey } from '../auth.js';
import { ApiError } from '../errors.js';
import { dashboardPage, loginPage } from './pages.js';
import { clearSessionCookie, endSession, sessionOf, setSessionCookie, startSession } from './sessions.js';

export interface DashboardDeps {
  db: Db;
  /** For operators: the page links there (the dashboard itself needs no Temporal UI). */
  temporalUiUrl: string;
  /** The public address a proxy serves the API at: sign-in forms posted from it are same-origin too. */
  publicBaseUrl?: string | undefined;
  requestsPerMinute: number;
}

const assetsDir = fileURLToPath(new URL('./assets', import.meta.url));
// Chart.js's browser build, served from node_modules: no CDN, and the version is the one package-lock.json pins.
const chartJsDir = path.dirname(createRequire(import.meta.url).resolve('chart.js'));

/** Scripts, styles, data and forms from this origin only; no inline script or style, no framing. */
const pagePolicy = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    objectSrc: ["'none'"],
  },
});

/**
 * CSRF: the session cookie is SameSite=Strict, so no other site's form or fetch carries it; a POST must also come
 * with an Origin naming this host (or PUBLIC_BASE_URL), which stops another site from signing a browser in or out.
 */
function sameOriginPosts(publicBaseUrl: string | undefined): RequestHandler {
  const publicOrigin = publicBaseUrl ? new URL(publicBaseUrl).origin : undefined;
  return (req, _res, next) => {
    const origin = req.get('origin');
    const host = origin && origin !== 'null' ? URL.parse(origin)?.host : undefined;
    if (!host || (host !== req.get('host') && origin !== publicOrigin))
      throw new ApiError(403, 'forbidden', 'Dashboard forms are accepted from the dashboard itself only');
    next();
  };
}

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

export function dashboardRouter({ db, temporalUiUrl, publicBaseUrl, requestsPerMinute }: DashboardDeps): Router {
  const router = Router();
  // Referrer-Policy: helmet's no-referrer makes Chromium send `Origin: null` with the page's own form posts;
  // same-origin still tells other sites (the Temporal UI link) nothing.
  router.use('/dashboard', pagePolicy, helmet.referrerPolicy({ policy: 'same-origin' }));
  // With `root`, only the file name is checked for dot-folders: node_modules may sit under one (a checkout in .data/).
  router.get('/dashboard/assets/chart.umd.min.js', (_req, res) =>
    res.sendFile('chart.umd.min.js', { root: chartJsDir }),
  );
  router.use('/dashboard/assets', express.static(assetsDir, { fallthrough: false, index: false }));

  const forms = [
    sameOriginPosts(publicBaseUrl),
    // Before the key is checked, per client address: guesses are limited too.
    rateLimitPerKey(requestsPerMinute),
    express.urlencoded({ extended: false, limit: '4kb' }),
  ];
  router.get('/dashboard/login', noStore, (_req, res) => {
    res.type('html').send(loginPage());
  });
  router.post('/dashboard/login', noStore, ...forms, async (req, res) => {
    const apiKey = typeof req.body?.apiKey === 'string' ? req.body.apiKey.trim() : '';
    const tenant = apiKey ? await tenantOfApiKey(db, apiKey) : null;
    if (!tenant) {
      res
        .status(401)
        .type('html')
        .send(loginPage({ error: 'That API key is unknown or revoked.' }));
      return;
    }
    setSessionCookie(req, res, await startSession(db, tenant));
    res.redirect(303, '/dashboard');
  });
  router.post('/dashboard/logout', noStore, ...forms, async (req, res) => {
    await endSession(db, req);
    clearSessionCookie(req, res);
    res.redirect(303, '/dashboard/login');
  });
  router.get('/dashboard', noStore, async (req, res) => {
    const session = await sessionOf(db, req);
    if (!session) {
      res.redirect(303, '/dashboard/login');
      return;
    }
    const tenant = await db.tenant.findUniqueOrThrow({
      where: { id: session.tenantId },
      select: { businessName: true },
    });
    res.type('html').send(dashboardPage({ tenantName: tenant.businessName, temporalUiUrl }));
  });
  return router;
}
