// until(), the suite's wait for a condition outside an expect: vitest's waitUntil underneath, with what was awaited
// named in the error.
import { describe, expect, it } from 'vitest';
import { until } from '../support/wait.js';

describe('until', () => {
  it("answers the probe's first truthy value", async () => {
    const answers = [null, undefined, 0, 'ready'];
    let calls = 0;
    const value = await until(() => answers[calls++], 'the fourth answer');
    expect(value).toBe('ready');
    expect(calls).toBe(4);
  });

  it('fails at the first throw, naming what it waited for, with the probe’s error as the cause', async () => {
    let calls = 0;
    const probeError = new Error('the worker exited');
    const waiting = until(
      () => {
        calls += 1;
        throw probeError;
      },
      'the worker to log',
      120_000,
    );
    await expect(waiting).rejects.toThrow('gave up waiting for the worker to log');
    await expect(waiting).rejects.toHaveProperty('cause', probeError);
    expect(calls).toBe(1);
  });

  it('fails when the time is up, naming what it waited for', async () => {
    await expect(until(() => null, 'a value that never comes', 300)).rejects.toThrow(
      'gave up waiting for a value that never comes',
    );
  });
});
