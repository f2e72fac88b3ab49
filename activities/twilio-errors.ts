import type { SmsFailureKind } from './send-step-message.types.js';

/** Error codes from Twilio's catalogue that decide what a failed create means (see shared/docs/domain.md). */
const optedOutCodes = new Set([21610]);
const undeliverableCodes = new Set([21211, 21614, 30005, 30006]);
const carrierFilteredCodes = new Set([30007]);

export type TwilioErrorClass = { kind: 'retryable'; code?: number } | { kind: SmsFailureKind; code?: number };

interface TwilioRestError {
  status: number;
  code?: number;
}

/** twilio-node's RestException: Twilio answered with an HTTP error status and (usually) one of its error codes. */
function isTwilioRestError(error: unknown): error is TwilioRestError {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';
}

/**
 * 429 and 5xx were never processed (or may have been: a retry reconciles first), and network errors and
 * timeouts are "maybe sent": all of them go back to Temporal's retry policy. Anything else Twilio refused is final.
 */
export function classifyTwilioError(error: unknown): TwilioErrorClass {
  if (!isTwilioRestError(error)) return { kind: 'retryable' };
  const { status, code } = error;
  if (status === 429 || code === 20429 || status >= 500) return code === undefined ? { kind: 'retryable' } : { kind: 'retryable', code };
  if (code !== undefined && optedOutCodes.has(code)) return { kind: 'opted_out', code };
  if (code !== undefined && undeliverableCodes.has(code)) return { kind: 'undeliverable', code };
  if (code !== undefined && carrierFilteredCodes.has(code)) return { kind: 'carrier_filtered', code };
  return code === undefined ? { kind: 'rejected' } : { kind: 'rejected', code };
}
