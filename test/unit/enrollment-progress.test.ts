import { describe, expect, it } from 'vitest';
import { progressOf, type ProgressInput, type ProgressMessage } from '../../api/enrollment-progress.js';

const startedAt = new Date('2026-03-02T09:00:00Z');
const policy = { timeZone: 'Europe/London', window: { start: '08:00', end: '20:00' }, minGapSeconds: 0, maxPerDay: 10 };
const enrollmentId = 'e1';
const input = (overrides: Partial<ProgressInput> & { now: Date }): ProgressInput => ({
  enrollment: {
    status: 'running',
    haltedAt: null,
    startedAt,
    paused: false,
    skippedToStep: null,
  },
  steps: [{ delaySeconds: 60 }, { delaySeconds: 3600 }],
  messages: [],
  policy,
  expiresAt: new Date(startedAt.getTime() + 30 * 86_400_000),
  ...overrides,
});
const message = (step: number, fields: Partial<ProgressMessage>): ProgressMessage => ({
  enrollmentId,
  idempotencyKey: `${enrollmentId}:${step}`,
  status: 'queued',
  sentAt: null,
  updatedAt: startedAt,
  claimedAt: null,
  heldReason: null,
  heldUntil: null,
  heldDetail: null,
  heldRetryAt: null,
  ...fields,
});

describe('an enrollment’s progress from its rows', () => {
  it('waits for the first step’s delay from the enrollment’s start', () => {
    const { progress } = progressOf(input({ now: new Date(startedAt.getTime() + 1000) }));
    expect(progress).toMatchObject({ step: 0, waitingFor: 'delay', nextSendAt: '2026-03-02T09:01:00.000Z' });
  });

  it('counts the next step’s delay from the last send, and holds it for the window', () => {
    const sentAt = new Date('2026-03-02T19:30:00Z');
    const { progress } = progressOf(
      input({ now: new Date('2026-03-02T19:31:00Z'), messages: [message(0, { sentAt, updatedAt: sentAt })] }),
    );
    // Due 20:30 London, after the window closes: tomorrow 08:00.
    expect(progress).toMatchObject({
      step: 1,
      messagesSent: 1,
      waitingFor: 'window',
      nextSendAt: '2026-03-03T08:00:00.000Z',
    });
  });

  it('shows a held send’s hold from its message row', () => {
    const heldUntil = new Date('2026-03-02T10:00:00Z');
    const heldRetryAt = new Date('2026-03-02T09:05:00Z');
    const { progress, capacityHold } = progressOf(
      input({
        now: new Date('2026-03-02T09:02:00Z'),
        messages: [
          message(0, { status: 'pending', heldReason: 'budget_daily', heldUntil, heldDetail: 'spent', heldRetryAt }),
        ],
      }),
    );
    expect(progress).toMatchObject({ step: 0, waitingFor: 'capacity', nextSendAt: heldRetryAt.toISOString() });
    expect(capacityHold).toEqual({
      reason: 'budget_daily',
      until: heldUntil.toISOString(),
      detail: 'spent',
      attempt: 0,
      nextAttemptAt: heldRetryAt.toISOString(),
    });
  });

  it('a hold the run has left (paused, skipped past, or its look passed after the window closed) is not shown', () => {
    const heldUntil = new Date('2026-03-02T21:00:00Z');
    const heldRetryAt = new Date('2026-03-02T19:45:00Z');
    const held = message(0, {
      status: 'pending',
      heldReason: 'kill_switch',
      heldUntil,
      heldDetail: 'paused',
      heldRetryAt,
    });
    const base = input({ now: new Date('2026-03-02T19:40:00Z'), messages: [held] });
    const paused = progressOf({ ...base, enrollment: { ...base.enrollment, paused: true } });
    expect(paused).toMatchObject({ progress: { waitingFor: 'pause', nextSendAt: null }, capacityHold: null });
    const skipped = progressOf({ ...base, enrollment: { ...base.enrollment, skippedToStep: 1 } });
    expect(skipped).toMatchObject({ progress: { step: 1 }, capacityHold: null });
    // 20:10 London: the look at 19:45 passed, the window closed at 20:00; the run waits for tomorrow's window.
    const looked = progressOf({ ...base, now: new Date('2026-03-02T20:10:00Z') });
    expect(looked).toMatchObject({
      progress: { waitingFor: 'window', nextSendAt: '2026-03-03T08:00:00.000Z' },
      capacityHold: null,
    });
    // 19:50: the look is overdue (the worker down) with the window open: the hold is still why nothing went.
    const overdue = progressOf({ ...base, now: new Date('2026-03-02T19:50:00Z') });
    expect(overdue).toMatchObject({
      progress: { waitingFor: 'capacity', nextSendAt: heldRetryAt.toISOString() },
      capacityHold: { reason: 'kill_switch' },
    });
  });

  it('a claimed send is being sent; a pause and a skip come from the row', () => {
    const now = new Date('2026-03-02T09:02:00Z');
    const claimed = progressOf(input({ now, messages: [message(0, { status: 'pending', claimedAt: now })] })).progress;
    expect(claimed).toMatchObject({ step: 0, waitingFor: 'send' });
    const base = input({ now });
    expect(progressOf({ ...base, enrollment: { ...base.enrollment, paused: true } }).progress).toMatchObject({
      waitingFor: 'pause',
      paused: true,
    });
    expect(progressOf({ ...base, enrollment: { ...base.enrollment, skippedToStep: 1 } }).progress).toMatchObject({
      step: 1,
      waitingFor: 'send',
    });
  });

  it('waits for nothing once closed or halted', () => {
    const now = new Date('2026-03-02T09:02:00Z');
    const base = input({ now });
    expect(progressOf({ ...base, enrollment: { ...base.enrollment, haltedAt: now } }).progress).toMatchObject({
      waitingFor: 'nothing',
      nextSendAt: null,
    });
  });
});
