import type { RequestHandler } from 'express';
import helmet from 'helmet';
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
      await limiter.consume(req.apiKeyId ?? req.ip ?? 'unknown');
      next();
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      res.setHeader('Retry-After', String(retryAfter));
      throw new ApiError(429, 'rate_limited', `Too many requests for this API key; retry in ${retryAfter} s`);
    }
  };
}
