// A webhook attempt is bounded as a whole: a host whose name server never answers fails the attempt within its
// timeout (the relay's lease assumes so), and a stopping worker's cancel ends the wait at once. A refused host's
// address is the server's to know: the attempt's error, which the tenant reads, names only the rule.
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { postWebhook } from '../../common/webhooks/post.js';

// By default a tenant's name server that answers nothing, slowly: later than the attempts below wait.
const { lookup } = vi.hoisted(() => ({
  lookup: vi.fn<() => Promise<Array<{ address: string; family: number }>>>(
    () => new Promise((resolve) => setTimeout(() => resolve([]), 400)),
  ),
}));
vi.mock('node:dns/promises', () => ({ lookup }));

const request = { headers: {}, body: '{}' };

describe('postWebhook and a lookup that never answers', () => {
  it('fails the attempt within its timeout', async () => {
    const started = performance.now();
    const outcome = await postWebhook('https://crm.example/hooks', request, {
      allowPrivate: false,
      owner: 'tenant-a',
      timeoutMs: 300,
    });
    expect(outcome).toMatchObject({ statusCode: null, error: 'no answer within 300 ms' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('ends at once when the worker stops', async () => {
    const stopping = new AbortController();
    const attempt = postWebhook('https://crm.example/hooks', request, {
      allowPrivate: false,
      owner: 'tenant-b',
      timeoutMs: 60_000,
      cancel: stopping.signal,
    });
    stopping.abort();
    const outcome = await attempt;
    expect(outcome.statusCode).toBeNull();
    expect(outcome.error).not.toBeNull();
    expect(outcome.durationMs).toBeLessThan(1000);
  });
});

describe('postWebhook and a host resolving to a private address', () => {
  it('fails the attempt naming the rule, not the address; the host and address go to the server log only', async () => {
    lookup.mockResolvedValueOnce([{ address: '10.0.3.7', family: 4 }]);
    const logged: unknown[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const outcome = await postWebhook('https://billing.internal.example/hooks', request, {
      allowPrivate: false,
      owner: 'tenant-c',
      timeoutMs: 1000,
      logger,
    });
    expect(outcome).toMatchObject({
      statusCode: null,
      error:
        'unsafe URL: the host must resolve, and only to public internet addresses; webhook URLs must reach the public internet',
    });
    expect(outcome.error).not.toContain('10.0.3.7');
    expect(logged).toMatchObject([
      { host: 'billing.internal.example', address: '10.0.3.7', kind: 'a private address', msg: 'webhook URL refused' },
    ]);
  });
});
