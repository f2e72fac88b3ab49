// Whether the lead's current run is an enrollment claim's: by the memo naming it, or, for a run started before memos
// named their enrollment, by whether it started before the claim was written.
import { describe, expect, it } from 'vitest';
import { claimedRun } from '../../api/claim-runs.js';

const claim = { id: 'enrollment-b', startedAt: new Date('2026-12-05T10:00:00Z') };
const run = (memo: Record<string, unknown> | undefined, startTime: string) => ({
  runId: 'run-1',
  memo,
  startTime: new Date(startTime),
});

describe('claimedRun', () => {
  it.each([
    ['the memo names the claim', run({ enrollmentId: 'enrollment-b' }, '2026-12-05T10:00:01Z'), 'run-1'],
    ['the memo names another enrollment', run({ enrollmentId: 'enrollment-a' }, '2026-12-05T10:00:01Z'), null],
    ['no memo, started long before the claim (an earlier enrollment)', run(undefined, '2026-12-01T09:00:00Z'), null],
    [
      'no memo, started a minute before or since (it cannot be told)',
      run({ phone: '+44***123' }, '2026-12-05T09:59:30Z'),
      undefined,
    ],
  ])('%s', (_what, current, expected) => {
    expect(claimedRun(current, claim)).toBe(expected);
  });
});
