import type { Request, RequestHandler } from 'express';
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

function tooMany(res: Parameters<RequestHandler>[1], msBeforeNext: number, whose: string): ApiError {
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
 * Refused keys per client address a minute: each costs a hash and a database lookup, and the per-key limit counts
 * only requests whose key was found. An address over it gets 429 before its key is looked at.
 */
export function limitRefusedKeys(refusalsPerMinute: number): RequestHandler {
  const refusals = new RateLimiterMemory({ points: refusalsPerMinute, duration: 60 });
  return async (req, res, next) => {
    const client = clientAddress(req);
    const seen = await refusals.get(client);
    if (seen && seen.consumedPoints >= refusalsPerMinute)
      throw tooMany(res, seen.msBeforeNext, 'with refused API keys from this address');
    res.on('finish', () => {
      if (res.statusCode === 401) refusals.penalty(client).catch(() => undefined);
    });
    next();
  };
}
