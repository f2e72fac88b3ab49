import { afterEach, describe, expect, it, vi } from 'vitest';
import { resultOfClosedRow } from '../../activities/delivery-results.js';
import { isTooLate, validityPeriodSeconds, type SendDeadline } from '../../activities/send-deadline.js';
import type { Message } from '../../generated/prisma/client.js';

const row = (fields: Partial<Message>) =>
  ({ id: 'm1', status: 'skipped', skipReason: null, twilioSid: null, errorCode: null, ...fields }) as Message;
const missed = { outcome: 'missed' } as const;
const hardDeadline = (at: Date): SendDeadline<typeof missed> => ({ at, hard: true, outcomeWhenMissed: missed });

describe('what a closed row answers to a retry', () => {
  it('a row skipped as missed answers the deadline’s own outcome', () => {
    expect(resultOfClosedRow(row({ skipReason: 'missed' }), hardDeadline(new Date()))).toBe(missed);
  });

  it('a skip names an opt-out, a halt, or its own reason', () => {
    const deadline = hardDeadline(new Date());
    expect(resultOfClosedRow(row({ skipReason: 'opted_out' }), deadline)).toEqual({
      outcome: 'opted_out',
      messageId: 'm1',
    });
    expect(resultOfClosedRow(row({ skipReason: 'replied' }), deadline)).toEqual({
      outcome: 'halted',
      messageId: 'm1',
      reason: 'replied',
    });
    expect(resultOfClosedRow(row({ skipReason: 'missing value for firstName' }), deadline)).toEqual({
      outcome: 'skipped',
      messageId: 'm1',
      reason: 'missing value for firstName',
    });
  });

  it('a create Twilio refused with 21610 is an opt-out; a failed delivery reported after a SID is still sent', () => {
    const deadline = hardDeadline(new Date());
    expect(resultOfClosedRow(row({ status: 'failed', errorCode: 21610 }), deadline)).toEqual({
      outcome: 'opted_out',
      messageId: 'm1',
    });
    expect(resultOfClosedRow(row({ status: 'failed', errorCode: 30007 }), deadline)).toEqual({
      outcome: 'failed',
      messageId: 'm1',
      kind: 'carrier_filtered',
      errorCode: 30007,
    });
    expect(resultOfClosedRow(row({ status: 'undelivered', twilioSid: 'SM1' }), deadline)).toEqual({
      outcome: 'sent',
      messageId: 'm1',
      twilioSid: 'SM1',
    });
  });

  it('a pending row never answers', () => {
    expect(() => resultOfClosedRow(row({ status: 'pending' }), hardDeadline(new Date()))).toThrow(/still pending/);
  });
});

describe('a send deadline', () => {
  afterEach(() => vi.useRealTimers());

  it('a hard one is too late with less than a second left (Twilio’s smallest ValidityPeriod), a soft one only once past', () => {
    vi.useFakeTimers({ now: new Date('2026-06-01T10:00:00Z') });
    const at = new Date('2026-06-01T10:00:00.500Z');
    expect(isTooLate({ at, hard: true, outcomeWhenMissed: null })).toBe(true);
    expect(isTooLate({ at, hard: false, outcomeWhenMissed: null })).toBe(false);
  });

  it('tells Twilio to keep a message until the deadline, at most 10 hours', () => {
    vi.useFakeTimers({ now: new Date('2026-06-01T10:00:00Z') });
    expect(validityPeriodSeconds(hardDeadline(new Date('2026-06-01T10:05:00.900Z')))).toBe(300);
    expect(validityPeriodSeconds(hardDeadline(new Date('2026-06-03T10:00:00Z')))).toBe(36_000);
  });

  it('gives a step its run’s deadline a minute at least, but never past the window’s close as the gate judged it', () => {
    vi.useFakeTimers({ now: new Date('2026-06-01T10:00:00Z') });
    const planned = { at: new Date('2026-06-01T10:00:01.500Z'), hard: false, outcomeWhenMissed: null };
    expect(validityPeriodSeconds(planned)).toBe(60);
    // Before: 60 s whatever the gate said, 19 s past the close here.
    expect(validityPeriodSeconds(planned, new Date('2026-06-01T10:00:41.500Z'))).toBe(41);
    expect(
      validityPeriodSeconds({ ...planned, at: new Date('2026-06-01T12:00:00Z') }, new Date('2026-06-01T11:00:00Z')),
    ).toBe(3600);
  });
});
