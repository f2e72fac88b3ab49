// Dashboard sign-in: the browser holds a random token in an HttpOnly cookie; PostgreSQL holds only the token's hash,
// the tenant and the API key it signed in with. The key itself never reaches the cookie, the URL or the database.
import { createHash, randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { Request, Response } from 'express';
import type { Db } from '../../common/db.js';
import type { AlternativeAuth, TenantKey } from '../auth.js';

export const sessionCookie = 'lf_dashboard';
const sessionHours = 12;
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const tokenOf = (req: Request) => parseCookies(req.get('cookie') ?? '')[sessionCookie];

export async function startSession(db: Db, tenant: TenantKey, now = new Date()) {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + sessionHours * 3_600_000);
  // Expired sessions go as new ones start, so the table holds about a day of sign-ins at most.
  await db.dashboardSession.deleteMany({ where: { expiresAt: { lte: now } } });
  await db.dashboardSession.create({ data: { id: hashToken(token), ...tenant, expiresAt } });
  return { token, expiresAt };
}

/** The tenant a request's session acts for: null without a live session, or once its API key was revoked. */
export async function sessionOf(db: Db, req: Request, now = new Date()): Promise<TenantKey | null> {
  const token = tokenOf(req);
  if (!token) return null;
  const session = await db.dashboardSession.findUnique({ where: { id: hashToken(token) } });
  if (!session || session.expiresAt <= now) return null;
  const key = await db.apiKey.findUnique({ where: { id: session.apiKeyId }, select: { revokedAt: true } });
  if (!key || (key.revokedAt && key.revokedAt <= now)) return null;
  return { tenantId: session.tenantId, apiKeyId: session.apiKeyId };
}

export async function endSession(db: Db, req: Request): Promise<void> {
  const token = tokenOf(req);
  if (token) await db.dashboardSession.deleteMany({ where: { id: hashToken(token) } });
}

/**
 * Over https (directly, or as the proxy in front says with X-Forwarded-Proto) the cookie is Secure. A client that
 * claims https over plain http only gets a cookie its browser will not send back.
 */
const overHttps = (req: Request) => req.secure || req.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';

const cookieOptions = (req: Request) =>
  ({ httpOnly: true, sameSite: 'strict', secure: overHttps(req), path: '/' }) as const;

export function setSessionCookie(req: Request, res: Response, session: { token: string; expiresAt: Date }): void {
  res.cookie(sessionCookie, session.token, { ...cookieOptions(req), expires: session.expiresAt });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(sessionCookie, cookieOptions(req));
}

/** The read-only /v1 routes the dashboard's page fetches with its session instead of a key (paths under /v1). */
const pageRoutes = [/^\/analytics\//, /^\/sending$/];

/** For requireTenant: a session opens GET requests on the page's routes only; everything else still needs a key. */
export function dashboardSessionAuth(db: Db): AlternativeAuth {
  return async (req) =>
    req.method === 'GET' && pageRoutes.some((route) => route.test(req.path)) ? sessionOf(db, req) : null;
}
