import type { SmsFailureKind } from './send-step-message.types.js';

/** Error codes from Twilio's catalogue that decide what a failed create means (see shared/docs/domain.md). */
const failureKinds = new Map<number, SmsFailureKind>([
  [21610, 'opted_out'],
  [21211, 'undeliverable'],
  [21614, 'undeliverable'],
  [30005, 'undeliverable'],
  [30006, 'undeliverable'],
  [30007, 'carrier_filtered'],
]);

/**
 * Our own setup is wrong (credentials, sender number, account): every send would fail the same way, so the
 * enrollments wait (retried, loudly logged) for an operator rather than all closing as failed.
 */
const setupCodes = new Set([20003, 20404, 21212, 21606, 21659, 30032]);

/**
 * Refusals that processed nothing and pass with time, as a 429 does: 21611, the sender's queue at Twilio is full
 * (multi-segment texts queue at a long code's segment a second).
 */
const laterCodes = new Set([21611]);

export type TwilioErrorClass =
  { kind: 'retryable'; setup: boolean; code?: number } | { kind: SmsFailureKind; code?: number };

interface TwilioRestError {
  status: number;
  code?: number;
}

/** twilio-node's RestException: Twilio answered with an HTTP error status and (usually) one of its error codes. */
function isTwilioRestError(error: unknown): error is TwilioRestError {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';
}

/**
 * Whether Twilio may have taken the message this failed call asked for: with no answer (a timeout, a reset) it may
 * still be creating it, and a 5xx (its edge's 502 and 504 above all) may come after its backend took it. A 4xx,
 * 429 included, processed nothing.
 */
export const twilioMayHaveTaken = (error: unknown): boolean => !isTwilioRestError(error) || error.status >= 500;

export const failureKindForCode = (code: number | null): SmsFailureKind =>
  (code !== null && failureKinds.get(code)) || 'rejected';

/**
 * 429 (and a full queue) was never processed; 5xx, network errors and timeouts are "maybe sent" (a retry asks Twilio first, once the
 * claim has expired): all of them go back to Temporal's retry policy, as does a refusal of our own setup. Anything
 * else Twilio refused is final.
 */
export function classifyTwilioError(error: unknown): TwilioErrorClass {
  if (!isTwilioRestError(error)) return { kind: 'retryable', setup: false };
  const { status, code } = error;
  const withCode = code === undefined ? {} : { code };
  if (status === 429 || code === 20429 || status >= 500 || (code !== undefined && laterCodes.has(code)))
    return { kind: 'retryable', setup: false, ...withCode };
  if (status === 401 || status === 403 || (code !== undefined && setupCodes.has(code)))
    return { kind: 'retryable', setup: true, ...withCode };
  return { kind: failureKindForCode(code ?? null), ...withCode };
}
