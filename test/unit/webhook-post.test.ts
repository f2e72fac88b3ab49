// A webhook attempt is bounded as a whole: a host whose name server never answers fails the attempt within its
// timeout (the relay's lease assumes so), and a stopping worker's cancel ends the wait at once.
import { describe, expect, it, vi } from 'vitest';
import { postWebhook } from '../../common/webhooks/post.js';

// A tenant's name server that never answers.
vi.mock('node:dns/promises', () => ({ lookup: () => new Promise(() => {}) }));

const request = { headers: {}, body: '{}' };

describe('postWebhook and a lookup that never answers', () => {
  it('fails the attempt within its timeout', async () => {
    const started = performance.now();
    const outcome = await postWebhook('https://crm.example/hooks', request, { allowPrivate: false, timeoutMs: 300 });
    expect(outcome).toMatchObject({ statusCode: null, error: 'no answer within 300 ms' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('ends at once when the worker stops', async () => {
    const stopping = new AbortController();
    const attempt = postWebhook('https://crm.example/hooks', request, {
      allowPrivate: false,
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
