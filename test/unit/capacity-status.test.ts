import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { capacityHoldOf } from '../../api/capacity-hold.js';
import { Prisma, type SendingPause } from '../../generated/prisma/client.js';
import { budgetView, killSwitchView, rateView, warmupView } from '../../common/capacity/status.js';

const warmup = { firstDayLimit: 20, dailyIncrease: 50, days: 7, warmedUpDailyLimit: 1000 };
const pause = (scope: string, pausedBy: string, reason: string | null = null): SendingPause => ({
  scope,
  pausedBy,
  reason,
  pausedAt: new Date('2026-03-02T10:00:00Z'),
});

describe('warm-up view: the day, allowance and counts the gate uses', () => {
  const first = new Date('2026-03-01T09:00:00Z');

  it('a number that never sent is on day 1 with the first day’s allowance and no reset time yet', () => {
    expect(warmupView(null, 0, new Date('2026-03-02T12:00:00Z'), warmup)).toEqual({
      firstSentAt: null,
      day: 1,
      warmedUp: false,
      allowance: 20,
      sent: 0,
      left: 20,
      resetsAt: null,
    });
  });

  it('counts days from the first send and resets 24 h after each day began', () => {
    const view = warmupView(first, 30, new Date('2026-03-02T12:00:00Z'), warmup);
    expect(view).toMatchObject({
      day: 2,
      allowance: 70,
      sent: 30,
      left: 40,
      resetsAt: '2026-03-03T09:00:00.000Z',
      warmedUp: false,
    });
  });

  it('after the ramp the full allowance; never a negative number left', () => {
    expect(warmupView(first, 5, new Date('2026-03-09T10:00:00Z'), warmup)).toMatchObject({
      day: 9,
      warmedUp: true,
      allowance: 1000,
      left: 995,
    });
    expect(warmupView(first, 25, new Date('2026-03-01T10:00:00Z'), warmup).left).toBe(0);
  });
});

describe('budget view: exact decimal strings', () => {
  const period = { key: '2026-03-02', endsAt: new Date('2026-03-03T00:00:00Z') };

  it('limit, spent and what is left; never below zero', () => {
    expect(budgetView(new Prisma.Decimal('10'), new Prisma.Decimal('2.4566'), period)).toEqual({
      limit: '10',
      spent: '2.4566',
      left: '7.5434',
      period: '2026-03-02',
      resetsAt: '2026-03-03T00:00:00.000Z',
    });
    expect(budgetView(new Prisma.Decimal('1'), new Prisma.Decimal('1.01'), period).left).toBe('0');
  });

  it('no limit: nothing is left to count down', () => {
    expect(budgetView(null, new Prisma.Decimal('3.5'), period)).toMatchObject({
      limit: null,
      spent: '3.5',
      left: null,
    });
  });
});

describe('kill switch and rate views', () => {
  it('the tenant is paused by its own switch or the global one, and sees both', () => {
    const tenantId = 'tenant-a';
    expect(killSwitchView([], tenantId).paused).toBe(false);
    const both = killSwitchView([pause('global', 'operator', 'carrier incident'), pause(tenantId, 'key-1')], tenantId);
    expect(both).toEqual({
      paused: true,
      tenant: { on: true, since: '2026-03-02T10:00:00.000Z', by: 'key-1', reason: null },
      global: { on: true, since: '2026-03-02T10:00:00.000Z', by: 'operator', reason: 'carrier incident' },
    });
    expect(killSwitchView([pause('tenant-b', 'key-2')], tenantId).paused).toBe(false);
  });

  it('the current rate is the last minute’s sends per second', () => {
    expect(rateView(90, 1)).toEqual({ limitPerSecond: 1, sentLastMinute: 90, currentPerSecond: 1.5 });
    expect(rateView(1, 10).currentPerSecond).toBe(0.017);
  });
});

describe('capacity hold: read from the pending activity’s last failure', () => {
  const wait = {
    reason: 'warmup',
    until: '2026-03-03T09:00:00.000Z',
    detail: '+15005550006 is on warm-up day 1: 20 messages allowed',
  };
  const held = {
    attempt: 3,
    nextAttemptScheduleTime: { seconds: 1_772_445_600, nanos: 500_000_000 },
    lastFailure: {
      message: 'waiting',
      applicationFailureInfo: {
        type: 'CapacityWait',
        details: { payloads: [defaultPayloadConverter.toPayload(wait)] },
      },
    },
  };

  it('answers the wait, the attempt and the next attempt’s time', () => {
    expect(capacityHoldOf([held])).toEqual({ ...wait, attempt: 3, nextAttemptAt: '2026-03-02T10:00:00.500Z' });
  });

  it('is null when no pending activity waits for capacity', () => {
    expect(capacityHoldOf(undefined)).toBeNull();
    expect(
      capacityHoldOf([{ attempt: 2, lastFailure: { applicationFailureInfo: { type: 'TwilioUnavailable' } } }]),
    ).toBeNull();
  });
});
