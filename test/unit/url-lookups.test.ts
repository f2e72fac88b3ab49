// Tenants' hosts are looked up two at a time (getaddrinfo holds one of libuv's four threads while a name server takes
// its time, and those threads resolve our database and Twilio too), and a pile of waiting lookups is refused at once.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { checkTarget, UnsafeUrlError } from '../../common/webhooks/url-safety.js';

// Name servers that answer only when the test lets them.
const { lookup, answerAll } = vi.hoisted(() => {
  const waiting: Array<() => void> = [];
  return {
    lookup: vi.fn(
      () =>
        new Promise<Array<{ address: string; family: number }>>((resolve) =>
          waiting.push(() => resolve([{ address: '203.0.113.10', family: 4 }])),
        ),
    ),
    answerAll: () => waiting.splice(0).forEach((answer) => answer()),
  };
});
vi.mock('node:dns/promises', () => ({ lookup }));

describe("a tenant's hosts whose name servers do not answer", () => {
  afterAll(() => answerAll());

  it('take two lookups at once; past 50 waiting, another host is refused at once as not resolving', async () => {
    const checks = Array.from({ length: 52 }, (_, index) =>
      checkTarget(`https://slow-${index}.example/hooks`, { allowPrivate: false }).catch((error: unknown) => error),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(lookup).toHaveBeenCalledTimes(2);
    const started = performance.now();
    const refused = await checkTarget('https://one-more.example/hooks', { allowPrivate: false }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(UnsafeUrlError);
    expect((refused as UnsafeUrlError).resolved).toMatchObject({ kind: 'does not resolve' });
    expect(performance.now() - started).toBeLessThan(1000);
    answerAll();
    void Promise.all(checks);
  });
});
