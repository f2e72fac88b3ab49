// One POST to a tenant's endpoint. The host is resolved and checked first (url-safety.ts), and the connection goes
// to one of the checked addresses: the socket never does a lookup of its own, so a DNS answer that changes between
// the check and the connect (rebinding) cannot redirect it. Redirects are not followed: a 3xx is a failed attempt.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { errorSummary } from '../error-summary.js';
import { checkTarget, UnsafeUrlError, type UrlPolicy } from './url-safety.js';

export interface PostOutcome {
  /** The HTTP status, when the endpoint answered at all. */
  statusCode: number | null;
  durationMs: number;
  /** Why the attempt failed; null when the endpoint answered 2xx. */
  error: string | null;
}

// Kept-alive connections, so a busy endpoint is not paying a handshake per event. A reused socket was connected to
// an address that was checked when it was opened. An idle one is closed after 30 s, and at most 256 are open at once:
// tenants cycling through hosts and ports cannot pile up the worker's file descriptors. Per host, as many as the relay
// serves endpoints at once (many tenants' endpoints may be one CRM's host): a request queued here for a socket would
// spend its timeout waiting, and count as that endpoint's failure.
const agentOptions = { keepAlive: true, maxSockets: 16, maxTotalSockets: 256, timeout: 30_000 };
const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

/** A lookup that answers with the addresses already checked, in the shape net.connect asks for (one, or all). */
function checkedLookup(addresses: Array<{ address: string; family: number }>): LookupFunction {
  return (_hostname, options, callback) => {
    const first = addresses[0] as { address: string; family: number };
    if ((options as { all?: boolean }).all)
      (callback as unknown as (error: null, all: typeof addresses) => void)(null, addresses);
    else callback(null, first.address, first.family);
  };
}

/** The work's answer, or the signal's reason once it aborts first (a lookup cannot be cancelled, only left). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * `options.timeoutMs` bounds the whole attempt, the host's lookup included (a tenant's name server that never answers
 * must not outlast the relay's lease on the delivery); `options.cancel` cuts it short (a worker stopping). A refused
 * host's address goes to `options.logger`, never into the outcome, which the tenant reads.
 */
export async function postWebhook(
  rawUrl: string,
  request: { headers: Record<string, string>; body: string },
  options: UrlPolicy & { timeoutMs: number; cancel?: AbortSignal; logger?: Logger },
): Promise<PostOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const signal = options.cancel
    ? AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.cancel])
    : AbortSignal.timeout(options.timeoutMs);
  try {
    const { url, addresses } = await untilAborted(checkTarget(rawUrl, options), signal);
    const client = url.protocol === 'https:' ? https : http;
    const statusCode = await new Promise<number>((resolve, reject) => {
      const outgoing = client.request(
        url,
        {
          method: 'POST',
          agent: agents[url.protocol as keyof typeof agents],
          lookup: checkedLookup(addresses),
          headers: { ...request.headers, 'Content-Length': Buffer.byteLength(request.body).toString() },
          signal,
        },
        (response) => {
          // The body is not needed, but reading it to the end lets the connection be reused.
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
          response.once('error', reject);
        },
      );
      outgoing.once('error', reject);
      outgoing.end(request.body);
    });
    const ok = statusCode >= 200 && statusCode < 300;
    return {
      statusCode,
      durationMs: elapsed(),
      error: ok
        ? null
        : statusCode >= 300 && statusCode < 400
          ? `HTTP ${statusCode} (redirects are not followed)`
          : `HTTP ${statusCode}`,
    };
  } catch (error) {
    if (error instanceof UnsafeUrlError) {
      if (error.resolved) options.logger?.warn(error.resolved, 'webhook URL refused');
      return { statusCode: null, durationMs: elapsed(), error: `unsafe URL: ${error.reason}` };
    }
    const timedOut = error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
    return {
      statusCode: null,
      durationMs: elapsed(),
      error: errorSummary(timedOut ? `no answer within ${options.timeoutMs} ms` : error),
    };
  }
}
