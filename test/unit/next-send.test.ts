import { describe, expect, it } from 'vitest';
import { planNextSend } from '../../workflows/decisions/next-send.js';
import type { SendingPolicy } from '../../workflows/decisions/send-time.js';

const policy = (window: SendingPolicy['window']): SendingPolicy => ({
  timeZone: 'Europe/London',
  window,
  minGapSeconds: 0,
  maxPerDay: 10,
});
const at = (iso: string) => new Date(iso);
const expiresAt = at('2026-12-20T09:00:00Z');
const planAt = (now: string, window: SendingPolicy['window']) =>
  planNextSend({ now: at(now), dueAt: at(now), expiresAt, paused: false, policy: policy(window), recentSends: [] });

describe('planNextSend: how long Twilio may keep a step queued', () => {
  it('until the window closes, for a window that closes', () => {
    expect(planAt('2026-12-07T20:30:00Z', { start: '08:00', end: '21:00' })).toEqual({
      kind: 'send',
      notAfter: at('2026-12-07T21:00:00Z'),
    });
  });

  it('until the expiry, for a window from midnight to midnight: its midnight closes nothing', () => {
    // Before: until midnight, so a step sent at 23:59:20 had a minute in Twilio's queue and a slow sender lost it.
    expect(planAt('2026-12-07T23:59:20Z', { start: '00:00', end: '24:00' })).toEqual({
      kind: 'send',
      notAfter: expiresAt,
    });
  });

  it('until the window closes, for one that ends at midnight but opens later', () => {
    expect(planAt('2026-12-07T23:00:00Z', { start: '08:00', end: '24:00' })).toEqual({
      kind: 'send',
      notAfter: at('2026-12-08T00:00:00Z'),
    });
  });
});
