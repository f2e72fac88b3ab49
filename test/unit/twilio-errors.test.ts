import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { classifyTwilioError } from '../../activities/twilio-errors.js';

const restError = (status: number, code?: number) =>
  new twilio.RestException({ statusCode: status, body: code === undefined ? {} : { code, message: 'x' } });

describe('classifyTwilioError (shared/docs/domain.md: Twilio errors worth classifying)', () => {
  it.each([
    [400, 21610, 'opted_out'],
    [400, 21211, 'undeliverable'],
    [400, 21614, 'undeliverable'],
    [400, 30005, 'undeliverable'],
    [400, 30006, 'undeliverable'],
    [400, 30007, 'carrier_filtered'],
    [400, 21408, 'rejected'],
    [400, 21606, 'retryable'],
    [401, 20003, 'retryable'],
    [429, 20429, 'retryable'],
    [400, 21611, 'retryable'],
    [500, 20500, 'retryable'],
    [503, undefined, 'retryable'],
  ])('HTTP %i with code %s is %s', (status, code, kind) => {
    expect(classifyTwilioError(restError(status, code)).kind).toBe(kind);
  });

  it('treats network errors and timeouts as retryable ("maybe sent" is reconciled by the next attempt)', () => {
    const timeout = Object.assign(new Error('timeout of 10000ms exceeded'), { code: 'ECONNABORTED' });
    expect(classifyTwilioError(timeout)).toEqual({ kind: 'retryable', setup: false });
  });

  it("marks our own setup mistakes (credentials, sender) as retryable setup errors, not the lead's failure", () => {
    expect(classifyTwilioError(restError(401, 20003))).toEqual({ kind: 'retryable', setup: true, code: 20003 });
    expect(classifyTwilioError(restError(400, 21606))).toEqual({ kind: 'retryable', setup: true, code: 21606 });
  });
});
