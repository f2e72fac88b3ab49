import { vi } from 'vitest';

/**
 * Polls until `probe` gives a value (for conditions outside an expect, e.g. between steps of a scenario). vitest's
 * `waitUntil` does the polling: it stops at the first truthy value and fails at once if `probe` throws; the wrapper
 * only names what was awaited in the error.
 */
export async function until<T>(
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  try {
    return await vi.waitUntil(probe, { timeout: timeoutMs, interval: 100 });
  } catch (error) {
    throw new Error(`gave up waiting for ${what}`, { cause: error });
  }
}
