import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Db } from '../common/db.js';
import type { RefusedCredentialsLimit } from './abuse.js';
import { ApiError } from './errors.js';

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');
const bearerToken = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];

/** Keys look like `lf_<64 hex>`; the first 11 characters are kept as a recognisable prefix. */
export const apiKeyPrefixLength = 11;

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `lf_${randomBytes(32).toString('hex')}`;
  return { key, prefix: key.slice(0, apiKeyPrefixLength), hash: hashApiKey(key) };
}

declare module 'express-serve-static-core' {
  interface Request {
    tenantId?: string;
    apiKeyId?: string;
  }
}

export interface TenantKey {
  tenantId: string;
  apiKeyId: string;
}

/** The tenant a key acts for, or null when the key is unknown or revoked. */
export async function tenantOfApiKey(db: Db, key: string): Promise<TenantKey | null> {
  const apiKey = await db.apiKey.findUnique({ where: { hash: hashApiKey(key) } });
  // A rotated key carries a revocation time in the future: it works until then.
  if (!apiKey || (apiKey.revokedAt && apiKey.revokedAt <= new Date())) return null;
  return { tenantId: apiKey.tenantId, apiKeyId: apiKey.id };
}

/** Another way a request may act for a tenant (the dashboard's session cookie); null when it does not apply. */
export type AlternativeAuth = (req: Request) => Promise<TenantKey | null>;

/**
 * Every call under /v1 acts for exactly one tenant: the one whose key it presents. A request without a Bearer key
 * may still be let in by `alternative` (the dashboard's session, on the read-only routes its page uses).
 */
export function requireTenant(db: Db, limit: RefusedCredentialsLimit, alternative?: AlternativeAuth): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    const keyHash = token ? hashApiKey(token) : null;
    await limit.before(req, res, keyHash);
    const tenant = token ? await tenantOfApiKey(db, token) : await alternative?.(req);
    if (!tenant) {
      await limit.refused(req, keyHash);
      if (token) throw new ApiError(401, 'unauthorized', 'The API key is unknown or revoked');
      throw new ApiError(401, 'unauthorized', 'Send a tenant API key as "Authorization: Bearer <key>"');
    }
    if (keyHash) limit.accepted(keyHash);
    req.tenantId = tenant.tenantId;
    req.apiKeyId = tenant.apiKeyId;
    next();
  };
}

export function tenantOf(req: { tenantId?: string }): string {
  if (!req.tenantId) throw new ApiError(401, 'unauthorized', 'No tenant on this request');
  return req.tenantId;
}

/** The tenant key a request came with: the actor in audited changes. */
export function apiKeyOf(req: { apiKeyId?: string }): string {
  if (!req.apiKeyId) throw new ApiError(401, 'unauthorized', 'No API key on this request');
  return req.apiKeyId;
}

/**
 * Operator routes (the global kill switch) take OPERATOR_API_KEY, never a tenant key. The key is compared as a hash
 * in constant time, so neither its length nor its first characters leak through timing. Unset: the routes are off.
 */
export function requireOperator(operatorApiKey: string | undefined): RequestHandler {
  const expected = operatorApiKey ? Buffer.from(hashApiKey(operatorApiKey), 'hex') : null;
  return (req, _res, next) => {
    if (!expected) throw new ApiError(403, 'forbidden', 'Operator routes are off: set OPERATOR_API_KEY to use them');
    const token = bearerToken(req);
    if (!token)
      throw new ApiError(401, 'unauthorized', 'Send the operator key as "Authorization: Bearer <OPERATOR_API_KEY>"');
    if (!timingSafeEqual(Buffer.from(hashApiKey(token), 'hex'), expected))
      throw new ApiError(403, 'forbidden', 'This key is not the operator key');
    next();
  };
}
