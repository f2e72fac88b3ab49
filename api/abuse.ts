import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import ipaddr from 'ipaddr.js';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from './errors.js';

/** The usual hardening headers (nosniff, no framing, HSTS, …) on every answer, errors included. */
export const securityHeaders: RequestHandler = helmet();

/**
 * Requests per API key per minute, counted in this process: an abuse guard in front of the database and Temporal,
 * not a quota. A caller over it gets 429 with Retry-After and the one error shape.
 */
export function rateLimitPerKey(requestsPerMinute: number): RequestHandler {
  const limiter = new RateLimiterMemory({ points: requestsPerMinute, duration: 60 });
  return async (req, res, next) => {
    try {
      await limiter.consume(req.apiKeyId ?? clientAddress(req));
      next();
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw tooMany(res, rejection.msBeforeNext, 'for this API key');
    }
  };
}

function tooMany(res: Response, msBeforeNext: number, whose: string): ApiError {
  const retryAfter = Math.max(1, Math.ceil(msBeforeNext / 1000));
  res.setHeader('Retry-After', String(retryAfter));
  return new ApiError(429, 'rate_limited', `Too many requests ${whose}; retry in ${retryAfter} s`);
}

/**
 * The client as per-address limits count it: an IPv6 client is its /64, since one host may use any address in it (a
 * new one per request would pass any per-address limit).
 */
export function clientAddress(req: Request): string {
  const ip = req.ip ?? 'unknown';
  if (!ipaddr.IPv6.isValid(ip)) return ip;
  const address = ipaddr.IPv6.parse(ip);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address().toString();
  return `${address.parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}

/**
 * Refused credentials per client address a minute: each costs a hash and a database lookup, and the per-key limit
 * counts only requests whose key was found. Past it, the address gets 429 before its credentials are looked at,
 * unless they are a key found valid lately here (a tenant's live integration behind the same address as a guesser,
 * or as a job still sending a rotated-out key, goes on).
 */
export function refusedCredentialsLimit(refusalsPerMinute: number) {
  const refusals = new RateLimiterMemory({ points: refusalsPerMinute, duration: 60 });
  /** Hashes of keys found valid lately; bounded, emptied when full. */
  const validLately = new Set<string>();
  return {
    async before(req: Request, res: Response, keyHash: string | null): Promise<void> {
      if (keyHash && validLately.has(keyHash)) return;
      const seen = await refusals.get(clientAddress(req));
      if (seen && seen.consumedPoints >= refusalsPerMinute)
        throw tooMany(res, seen.msBeforeNext, 'with refused credentials from this address');
    },
    /** Counted before the 401 is answered: a client that hangs up early is counted too. */
    async refused(req: Request, keyHash: string | null): Promise<void> {
      if (keyHash) validLately.delete(keyHash);
      await refusals.penalty(clientAddress(req));
    },
    accepted(keyHash: string): void {
      if (validLately.size >= 10_000) validLately.clear();
      validLately.add(keyHash);
    },
  };
}

export type RefusedCredentialsLimit = ReturnType<typeof refusedCredentialsLimit>;
