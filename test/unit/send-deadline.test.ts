// How long a workflow lets send attempts come past a hard deadline must cover what settling a send then takes.
import { describe, expect, it } from 'vitest';
import { claimExpiredAfterMs } from '../../activities/send-gate.js';
import { sendAttemptTimeoutMs, settleAfterDeadlineMs } from '../../workflows/activity-options.js';

describe('attempts past a deadline', () => {
  it('come until a claim taken just before it has expired and one more attempt has run', () => {
    expect(settleAfterDeadlineMs).toBeGreaterThanOrEqual(claimExpiredAfterMs + sendAttemptTimeoutMs);
  });
});
