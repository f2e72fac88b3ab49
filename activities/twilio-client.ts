// Factory for the real twilio-node REST client.
//
// Why a custom httpClient: twilio-node has no base-URL option; every resource
// builds absolute https://api.twilio.com/... URLs. To point the *real* client at
// a local fake (tests) we subclass its RequestClient and rewrite the origin
// just before the request is sent. Everything else (auth header, form
// encoding, RestException mapping) stays twilio-node's own code.
import twilio from 'twilio';
import type RequestClientNs from 'twilio/lib/base/RequestClient.js';

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** e.g. "http://127.0.0.1:4567" — replaces https://api.twilio.com (tests / fakes). */
  apiBaseUrl?: string;
  /** Per-request timeout; default 10s (twilio-node's own default is 30s). */
  timeoutMs?: number;
}

const DEFAULT_TWILIO_TIMEOUT_MS = 10_000;

// api.twilio.com plus edge/region variants (api.sydney.au1.twilio.com) that
// twilio-node produces when TWILIO_EDGE / TWILIO_REGION are set in the env.
const TWILIO_API_HOST = /^api(\.[a-z0-9-]+)*\.twilio\.com$/i;

type RequestOptions<TData> = RequestClientNs.RequestOptions<TData>;

class BaseUrlRequestClient extends twilio.RequestClient {
  readonly #base: URL;

  constructor(baseUrl: string, opts: RequestClientNs.RequestClientOptions) {
    super(opts);
    this.#base = new URL(baseUrl);
  }

  override request<TData>(opts: RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: this.#rewrite(opts.uri) });
  }

  #rewrite(uri: string): string {
    const original = new URL(uri);
    if (original.protocol !== 'https:' || !TWILIO_API_HOST.test(original.hostname)) return uri;
    // Keep any path prefix on the base URL (e.g. http://host/twilio).
    const prefix = this.#base.pathname.replace(/\/+$/, '');
    return `${this.#base.origin}${prefix}${original.pathname}${original.search}`;
  }
}

export function createTwilioClient(opts: TwilioClientOptions): twilio.Twilio {
  const timeout = opts.timeoutMs ?? DEFAULT_TWILIO_TIMEOUT_MS;
  const requestClientOpts: RequestClientNs.RequestClientOptions = {
    timeout,
    // Temporal owns retries. twilio-node's autoRetry (429 only, exponential
    // backoff) would hide attempts from Temporal's history and stretch the
    // activity past its timeout, so it stays off. (false is also the default.)
    autoRetry: false,
  };
  const httpClient = opts.apiBaseUrl
    ? new BaseUrlRequestClient(opts.apiBaseUrl, requestClientOpts)
    : new twilio.RequestClient(requestClientOpts);

  // When httpClient is passed, Twilio ignores its own timeout/autoRetry opts
  // (they only configure the lazily built default client); set them anyway so
  // intent is visible. Credentials go only to the client, never to logs.
  return twilio(opts.accountSid, opts.authToken, { httpClient, timeout, autoRetry: false });
}
