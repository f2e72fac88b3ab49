import type { RequestHandler } from 'express';
import twilio from 'twilio';
import { publicUrl } from '../../common/config.js';
import { ApiError } from '../errors.js';

export interface SignatureOptions {
  /** Without it nothing can be verified, so every webhook is refused (never silently accepted). */
  authToken: string | undefined;
  /** The public URL Twilio calls; behind a TLS-terminating proxy the URL Express sees is not the one Twilio signed. */
  publicBaseUrl: string | undefined;
  /** Told about every refused request (for the webhook metrics). */
  onRefused?: (() => void) | undefined;
}

/** A URL no signature can be over (a Host header that is no host, without PUBLIC_BASE_URL) matches none. */
function signatureMatches(authToken: string, signature: string, url: string, params: Record<string, string>): boolean {
  try {
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false;
  }
}

/** X-Twilio-Signature over the full public URL and the sorted POST parameters (shared/docs/domain.md). */
export function verifyTwilioSignature({ authToken, publicBaseUrl, onRefused }: SignatureOptions): RequestHandler {
  return (req, res, next) => {
    const signature = req.get('x-twilio-signature');
    const url = publicBaseUrl
      ? publicUrl(publicBaseUrl, req.originalUrl)
      : `${req.protocol}://${req.get('host') ?? ''}${req.originalUrl}`;
    const params = (req.body ?? {}) as Record<string, string>;
    const reason = !authToken
      ? 'no TWILIO_AUTH_TOKEN is configured'
      : !signature
        ? 'missing X-Twilio-Signature'
        : !signatureMatches(authToken, signature, url, params)
          ? 'signature does not match'
          : null;
    if (reason) {
      req.log.warn({ url, reason }, 'webhook refused: bad signature');
      onRefused?.();
      next(new ApiError(403, 'forbidden', 'Twilio signature verification failed'));
      return;
    }
    next();
  };
}
