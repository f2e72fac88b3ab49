import { createHash, randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../common/db.js';
import { ApiError } from './errors.js';

const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** Keys look like `lf_<64 hex>`; the first 11 characters are kept as a recognisable prefix. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `lf_${randomBytes(32).toString('hex')}`;
  return { key, prefix: key.slice(0, 11), hash: hashApiKey(key) };
}

declare module 'express-serve-static-core' {
  interface Request {
    tenantId?: string;
    apiKeyId?: string;
  }
}

/** Every call under /v1 acts for exactly one tenant: the one whose key it presents. */
export function requireTenant(db: Db): RequestHandler {
  return async (req, _res, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1]) throw new ApiError(401, 'unauthorized', 'Send a tenant API key as "Authorization: Bearer <key>"');
    const apiKey = await db.apiKey.findUnique({ where: { hash: hashApiKey(match[1]) } });
    // A rotated key carries a revocation time in the future: it works until then.
    if (!apiKey || (apiKey.revokedAt && apiKey.revokedAt <= new Date())) throw new ApiError(401, 'unauthorized', 'The API key is unknown or revoked');
    req.tenantId = apiKey.tenantId;
    req.apiKeyId = apiKey.id;
    next();
  };
}

export function tenantOf(req: { tenantId?: string }): string {
  if (!req.tenantId) throw new ApiError(401, 'unauthorized', 'No tenant on this request');
  return req.tenantId;
}
