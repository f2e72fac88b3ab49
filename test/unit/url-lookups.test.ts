// Tenants' hosts are looked up two at a time (getaddrinfo holds one of libuv's four threads while a name server takes
// its time, and those threads resolve our database and Twilio too), one per tenant among the two, a lookup whose caller
// gave up is never started, and a pile of waiting lookups is refused at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as UrlSafety from '../../common/webhooks/url-safety.js';

// Name servers that answer only when the test lets them; a host named fast-… answers at once.
const { lookup, answerAll } = vi.hoisted(() => {
  const waiting: Array<() => void> = [];
  const answer = [{ address: '203.0.113.10', family: 4 }];
  return {
    lookup: vi.fn((host: string) =>
      host.startsWith('fast-')
        ? Promise.resolve(answer)
        : new Promise<typeof answer>((resolve) => waiting.push(() => resolve(answer))),
    ),
    answerAll: () => waiting.splice(0).forEach((answer) => answer()),
  };
});
vi.mock('node:dns/promises', () => ({ lookup }));

const settle = () => new Promise((resolve) => setImmediate(resolve));
// Each test has the module to itself: its lookups left waiting must not hold the next test's slots.
let safety: typeof UrlSafety;
beforeEach(async () => {
  vi.resetModules();
  safety = await import('../../common/webhooks/url-safety.js');
});
const check = (url: string, owner: string) =>
  safety.checkTarget(url, { allowPrivate: false, owner }).catch((error: unknown) => error);
const lookedUp = (prefix: string) => lookup.mock.calls.filter(([host]) => String(host).startsWith(prefix)).length;

describe("a tenant's hosts whose name servers do not answer", () => {
  afterEach(async () => {
    answerAll();
    await settle();
    lookup.mockClear();
  });

  it('take two lookups at once; past 50 waiting, another host is refused at once as not resolving', async () => {
    const checks = Array.from({ length: 52 }, (_, index) => check(`https://slow-${index}.example/hooks`, `t-${index}`));
    await settle();
    expect(lookup).toHaveBeenCalledTimes(2);
    const started = performance.now();
    const refused = await check('https://one-more.example/hooks', 'another');
    expect(refused).toBeInstanceOf(safety.UnsafeUrlError);
    expect((refused as InstanceType<typeof safety.UnsafeUrlError>).resolved).toMatchObject({
      kind: 'does not resolve',
    });
    expect(performance.now() - started).toBeLessThan(1000);
    void Promise.all(checks);
  });

  it("one tenant's hosts take one of the two: another tenant's host is looked up at once", async () => {
    const stuck = Array.from({ length: 5 }, (_, index) => check(`https://slow-${index}.evil.example/`, 'evil'));
    await settle();
    expect(lookedUp('slow-')).toBe(1);
    // Before: the first two of the five took both slots, and this one waited 5 s, then was refused as not resolving.
    const started = performance.now();
    await expect(
      safety.checkTarget('https://fast-crm.example/hooks', { allowPrivate: false, owner: 'honest' }),
    ).resolves.toMatchObject({ addresses: [{ address: '203.0.113.10', family: 4 }] });
    expect(performance.now() - started).toBeLessThan(1000);
    void Promise.all(stuck);
  });

  it('a lookup whose caller gave up waiting is never started', async () => {
    const first = check('https://slow-a.stale.example/', 'stale');
    const second = check('https://slow-b.stale.example/', 'stale');
    await settle();
    expect(lookedUp('slow-')).toBe(1);
    // Both callers give up after 5 s; the first name server then answers.
    expect(await first).toBeInstanceOf(safety.UnsafeUrlError);
    expect(await second).toBeInstanceOf(safety.UnsafeUrlError);
    answerAll();
    await settle();
    // Before: the second's lookup started then, and took a slot for as long as its name server took.
    expect(lookedUp('slow-')).toBe(1);
  }, 15_000);
});
