// In-process fake of Twilio's Programmable Messaging REST API (2010-04-01
// Messages resource), used to drive the REAL twilio-node client in tests via
// createTwilioClient({ apiBaseUrl: fake.url }).
//
// Implements: create (POST Messages.json), fetch (GET Messages/SM….json),
// list (GET Messages.json with To/From/DateSent filters + Page/PageSize), and
// fault injection for the create path (and optionally fetch/list).
// Response bodies mirror Twilio's JSON (snake_case, RFC 2822 dates, numeric
// counters as strings) so twilio-node's deserializers behave as in production.
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const API = '/2010-04-01';

export type TwilioFault =
  // `problem`: the error body in RFC 9457's form (type, title, status, code), which twilio-node throws as its
  // TwilioServiceException rather than RestException.
  | { kind: 'twilioError'; code: number; status?: number; message?: string; problem?: boolean }
  | { kind: 'http'; status: 429 | 500 | 502 | 503 | 504 }
  | { kind: 'timeout' } // never answer; socket held until close()
  | { kind: 'sentThenTimeout' } // message IS created, but no answer ("maybe sent")
  | { kind: 'createdLate'; ms: number } // no answer; the message is created `ms` later (Twilio still at it)
  | { kind: 'slow'; ms: number }; // answers normally, after `ms` (a call in flight for a while)

export interface InjectOptions {
  /** How many matching requests this fault applies to (default 1). */
  times?: number;
  /** Only requests whose To equals this (create/list). */
  to?: string;
  /** Which operation to fault (default 'create'). */
  on?: 'create' | 'fetch' | 'list';
}

/** `pending`: a `slow` call not answered yet. */
export type CallOutcome = 'created' | 'error' | 'timeout' | 'sentThenTimeout' | 'createdLate' | 'pending';

export interface CreateCall {
  to: string | undefined;
  from: string | undefined;
  messagingServiceSid: string | undefined;
  body: string | undefined;
  /** Every form field as sent (repeated fields such as MediaUrl become arrays). */
  params: Record<string, string | string[]>;
  at: Date;
  outcome: CallOutcome;
  sid?: string;
  /** HTTP status / Twilio error code for outcome 'error'. */
  status?: number;
  errorCode?: number;
}

/** Twilio message resource exactly as serialized on the wire. */
export interface FakeMessage {
  account_sid: string;
  api_version: '2010-04-01';
  body: string;
  date_created: string;
  date_sent: string | null;
  date_updated: string;
  direction: 'outbound-api';
  error_code: number | null;
  error_message: string | null;
  from: string | null;
  messaging_service_sid: string | null;
  num_media: string;
  num_segments: string;
  price: string | null;
  price_unit: string;
  sid: string;
  status: string;
  subresource_uris: { media: string };
  to: string;
  uri: string;
}

export interface TwilioFakeOptions {
  /** If set, Basic-auth password must equal it; otherwise any non-empty token passes. */
  authToken?: string;
  /** Clock for date_created / call.at (lets tests use a fixed time). */
  now?: () => Date;
}

export interface TwilioFake {
  url: string;
  port: number;
  calls: CreateCall[];
  messages: FakeMessage[];
  /** How many list requests (pages of the message list) were answered or faulted. */
  listRequests(): number;
  inject(fault: TwilioFault, opts?: InjectOptions): void;
  createCallsTo(phone: string): number;
  getMessage(sid: string): FakeMessage | undefined;
  /** Simulate carrier progress, e.g. { status: 'undelivered', error_code: 30007 }. */
  updateMessage(
    sid: string,
    patch: Partial<Pick<FakeMessage, 'status' | 'error_code' | 'error_message' | 'date_sent'>>,
  ): FakeMessage;
  reset(): void;
  close(): Promise<void>;
}

// Messages as Twilio returns them (see twilio.com/docs/api/errors).
const ERROR_MESSAGES: Record<number, string> = {
  20003: 'Authenticate',
  20404: 'The requested resource was not found',
  20429: 'Too Many Requests',
  20500: 'Internal Server Error',
  20503: 'Service Unavailable',
  21211: "Invalid 'To' Phone Number",
  21602: 'Message body is required.',
  21603: "A 'From' phone number is required.",
  21604: "A 'To' phone number is required.",
  21610: 'Attempt to send to unsubscribed recipient',
  21614: "'To' number is not a valid mobile number",
  21617: 'The concatenated message body exceeds the 1600 character limit.',
  30003: 'Unreachable destination handset',
  30005: 'Unknown destination handset',
  30006: 'Landline or unreachable carrier',
  30007: 'Message filtered',
};

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;

export async function startTwilioFake(opts: TwilioFakeOptions = {}): Promise<TwilioFake> {
  // Twilio's own clock: a test that sets the worker's clock (faking Date) leaves it alone.
  const now = opts.now ?? (() => new Date(performance.timeOrigin + performance.now()));
  const calls: CreateCall[] = [];
  const messages: FakeMessage[] = [];
  const faults: Array<{ fault: TwilioFault; remaining: number; to?: string; on: 'create' | 'fetch' | 'list' }> = [];
  const slowTimers = new Set<NodeJS.Timeout>();
  let listed = 0;
  /** Answers after `ms`, unless the client has gone away meanwhile (then, like a dropped request, nothing happens). */
  function later(res: ServerResponse, ms: number, answer: () => void): void {
    const timer = setTimeout(() => {
      slowTimers.delete(timer);
      if (!res.destroyed && !res.socket?.destroyed) answer();
    }, ms);
    slowTimers.add(timer);
  }

  function takeFault(on: 'create' | 'fetch' | 'list', to: string | undefined): TwilioFault | undefined {
    const i = faults.findIndex((f) => f.on === on && (f.to === undefined || f.to === to));
    const entry = faults[i];
    if (!entry) return undefined;
    if (--entry.remaining <= 0) faults.splice(i, 1);
    return entry.fault;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  // Twilio's legacy error envelope (twilio-node's RestException), or RFC 9457's (its TwilioServiceException).
  function sendError(res: ServerResponse, status: number, code: number, message?: string, problem = false): void {
    const title = message ?? ERROR_MESSAGES[code] ?? `Twilio error ${code}`;
    if (problem)
      return sendJson(res, status, { type: `https://www.twilio.com/docs/errors/${code}`, title, status, code });
    sendJson(res, status, {
      code,
      message: title,
      more_info: `https://www.twilio.com/docs/errors/${code}`,
      status,
    });
  }

  function faultStatusAndCode(fault: TwilioFault & { kind: 'twilioError' | 'http' }): [number, number] {
    if (fault.kind === 'twilioError') return [fault.status ?? 400, fault.code];
    return [fault.status, 20000 + fault.status]; // 429 → 20429, 500 → 20500, 503 → 20503
  }

  function createMessage(accountSid: string, p: Record<string, string | string[]>): FakeMessage {
    const sid = 'SM' + randomBytes(16).toString('hex');
    const date = rfc2822(now());
    const messagingServiceSid = first(p.MessagingServiceSid) ?? null;
    // Messaging Services have Smart Encoding on by default: Twilio keeps (and lists) the body it sent, not ours.
    const body = messagingServiceSid ? smartEncoded(first(p.Body) ?? '') : (first(p.Body) ?? '');
    const mediaCount = ([] as string[]).concat(p.MediaUrl ?? []).length;
    const uri = `${API}/Accounts/${accountSid}/Messages/${sid}.json`;
    const msg: FakeMessage = {
      account_sid: accountSid,
      api_version: '2010-04-01',
      body,
      date_created: date,
      date_sent: null,
      date_updated: date,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: first(p.From) ?? null,
      messaging_service_sid: messagingServiceSid,
      num_media: String(mediaCount),
      num_segments: String(segmentCount(body)),
      price: null,
      price_unit: 'USD',
      sid,
      // Twilio answers "accepted" when a Messaging Service picks the sender.
      status: messagingServiceSid && !first(p.From) ? 'accepted' : 'queued',
      subresource_uris: { media: `${API}/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      to: first(p.To) ?? '',
      uri,
    };
    messages.push(msg);
    return msg;
  }

  function handleCreate(res: ServerResponse, accountSid: string, raw: string, authOk: boolean): void {
    const params = parseForm(raw);
    const call: CreateCall = {
      to: first(params.To),
      from: first(params.From),
      messagingServiceSid: first(params.MessagingServiceSid),
      body: first(params.Body),
      params,
      at: now(),
      outcome: 'error',
    };
    calls.push(call);
    const fail = (status: number, code: number): void => {
      call.status = status;
      call.errorCode = code;
      sendError(res, status, code);
    };

    if (!authOk) return fail(401, 20003);

    const taken = takeFault('create', call.to);
    if (taken?.kind === 'slow') {
      call.outcome = 'pending';
      return later(res, taken.ms, () => answerCreate(res, accountSid, params, call, undefined));
    }
    answerCreate(res, accountSid, params, call, taken);
  }

  function answerCreate(
    res: ServerResponse,
    accountSid: string,
    params: Record<string, string | string[]>,
    call: CreateCall,
    fault: Exclude<TwilioFault, { kind: 'slow' }> | undefined,
  ): void {
    call.outcome = 'error';
    const fail = (status: number, code: number): void => {
      call.status = status;
      call.errorCode = code;
      sendError(res, status, code);
    };
    if (fault?.kind === 'timeout') {
      call.outcome = 'timeout';
      return; // hold the socket; close() tears it down
    }
    if (fault?.kind === 'sentThenTimeout') {
      call.outcome = 'sentThenTimeout';
      call.sid = createMessage(accountSid, params).sid;
      return;
    }
    if (fault?.kind === 'createdLate') {
      call.outcome = 'createdLate';
      const timer = setTimeout(() => {
        slowTimers.delete(timer);
        call.sid = createMessage(accountSid, params).sid;
      }, fault.ms);
      slowTimers.add(timer);
      return;
    }
    if (fault) {
      const [status, code] = faultStatusAndCode(fault);
      call.status = status;
      call.errorCode = code;
      if (fault.kind === 'http') return sendError(res, status, code);
      return sendError(res, status, code, fault.message, fault.problem);
    }

    // Minimal request validation, same codes Twilio uses.
    if (!call.to) return fail(400, 21604);
    if (!call.from && !call.messagingServiceSid) return fail(400, 21603);
    if (!call.body && !params.MediaUrl && !params.ContentSid) return fail(400, 21602);
    if ((call.body ?? '').length > 1600) return fail(400, 21617);

    const msg = createMessage(accountSid, params);
    call.outcome = 'created';
    call.sid = msg.sid;
    call.status = 201;
    sendJson(res, 201, msg);
  }

  function handleList(
    res: ServerResponse,
    accountSid: string,
    query: URLSearchParams,
    path: string,
    faultTaken = false,
  ): void {
    const to = query.get('To') ?? undefined;
    if (!faultTaken) listed += 1;
    const fault = faultTaken ? undefined : takeFault('list', to);
    if (fault?.kind === 'slow') return later(res, fault.ms, () => handleList(res, accountSid, query, path, true));
    if (fault?.kind === 'timeout' || fault?.kind === 'sentThenTimeout' || fault?.kind === 'createdLate') return;
    if (fault) return sendError(res, ...faultStatusAndCode(fault));

    const from = query.get('From');
    // DateSent filters compare by UTC day (Twilio semantics). Messages that are
    // still queued have date_sent null in Twilio; the fake falls back to
    // date_created so freshly created messages are findable for reconciliation.
    const day = (m: FakeMessage) => new Date(m.date_sent ?? m.date_created).toISOString().slice(0, 10);
    const on = query.get('DateSent')?.slice(0, 10);
    const after = query.get('DateSent>')?.slice(0, 10);
    const before = query.get('DateSent<')?.slice(0, 10);
    const matching = messages
      .filter((m) => m.account_sid === accountSid)
      .filter((m) => (to ? m.to === to : true) && (from ? m.from === from : true))
      .filter(
        (m) => (on ? day(m) === on : true) && (after ? day(m) >= after : true) && (before ? day(m) <= before : true),
      )
      .reverse(); // Twilio lists newest first

    const pageSize = clampInt(query.get('PageSize'), 50, 1, 1000);
    const page = clampInt(query.get('Page'), 0, 0, Number.MAX_SAFE_INTEGER);
    const slice = matching.slice(page * pageSize, (page + 1) * pageSize);
    const pageUri = (n: number) => {
      const q = new URLSearchParams(query);
      q.set('PageSize', String(pageSize));
      q.set('Page', String(n));
      q.delete('PageToken');
      return `${path}?${q.toString()}`;
    };
    sendJson(res, 200, {
      end: page * pageSize + Math.max(slice.length - 1, 0),
      first_page_uri: pageUri(0),
      messages: slice,
      next_page_uri: (page + 1) * pageSize < matching.length ? pageUri(page + 1) : null,
      page,
      page_size: pageSize,
      previous_page_uri: page > 0 ? pageUri(page - 1) : null,
      start: page * pageSize,
      uri: `${path}?${query.toString()}`,
    });
  }

  function handleFetch(res: ServerResponse, accountSid: string, sid: string, path: string, faultTaken = false): void {
    const fault = faultTaken ? undefined : takeFault('fetch', undefined);
    if (fault?.kind === 'slow') return later(res, fault.ms, () => handleFetch(res, accountSid, sid, path, true));
    if (fault?.kind === 'timeout' || fault?.kind === 'sentThenTimeout' || fault?.kind === 'createdLate') return;
    if (fault) return sendError(res, ...faultStatusAndCode(fault));
    const msg = messages.find((m) => m.sid === sid && m.account_sid === accountSid);
    if (!msg) return sendError(res, 404, 20404, `The requested resource ${path} was not found`);
    sendJson(res, 200, msg);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = Buffer.concat(chunks).toString('utf8');
      const list = MESSAGES_PATH.exec(url.pathname);
      const one = MESSAGE_PATH.exec(url.pathname);
      const accountSid = decodeURIComponent((list ?? one)?.[1] ?? '');
      const authOk = checkAuth(req.headers.authorization, accountSid, opts.authToken);

      if (list && req.method === 'POST') return handleCreate(res, accountSid, raw, authOk);
      if (!list && !one) return sendError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
      if (!authOk) return sendError(res, 401, 20003);
      if (list && req.method === 'GET') return handleList(res, accountSid, url.searchParams, url.pathname);
      if (one && req.method === 'GET')
        return handleFetch(res, accountSid, decodeURIComponent(one[2] ?? ''), url.pathname);
      sendError(res, 405, 20004, 'Method not allowed');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    messages,
    listRequests: () => listed,
    inject(fault, o = {}) {
      faults.push({ fault, remaining: o.times ?? 1, to: o.to, on: o.on ?? 'create' });
    },
    createCallsTo: (phone) => calls.filter((c) => c.to === phone).length,
    getMessage: (sid) => messages.find((m) => m.sid === sid),
    updateMessage(sid, patch) {
      const msg = messages.find((m) => m.sid === sid);
      if (!msg) throw new Error(`twilio-fake: unknown message ${sid}`);
      Object.assign(msg, patch, { date_updated: rfc2822(now()) });
      if (patch.error_code && patch.error_message === undefined)
        msg.error_message = ERROR_MESSAGES[patch.error_code] ?? null;
      return msg;
    },
    reset() {
      listed = 0;
      calls.length = 0;
      messages.length = 0;
      faults.length = 0;
    },
    close() {
      for (const timer of slowTimers) clearTimeout(timer);
      slowTimers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // drops held ("timeout") sockets and keep-alives
      });
    },
  };
}

function checkAuth(header: string | undefined, accountSid: string, token: string | undefined): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return false;
  const user = decoded.slice(0, sep);
  const pass = decoded.slice(sep + 1);
  return user === accountSid && pass.length > 0 && (token === undefined || pass === token);
}

function parseForm(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : ([] as string[]).concat(prev, v);
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function clampInt(v: string | null, dflt: number, min: number, max: number): number {
  const n = v === null ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(Math.max(n, min), max) : dflt;
}

// Twilio's date format: "Thu, 24 Aug 2023 05:01:45 +0000" (twilio-node parses
// exactly this pattern; toUTCString()'s "GMT" suffix would not deserialize).
function rfc2822(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

// GSM-7 (160 / 153 per segment) vs UCS-2 (70 / 67). Extension chars cost 2.
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT = '^{}\\[~]|€\f';

/** Some of the substitutions Twilio's Smart Encoding makes so that a body fits GSM-7. */
const smartEncodings: Record<string, string> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201C': '"',
  '\u201D': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2026': '...',
  '\u00A0': ' ',
};
const smartEncoded = (body: string) =>
  body.replace(/[\u2018\u2019\u201C\u201D\u2013\u2014\u2026\u00A0]/g, (c) => smartEncodings[c] ?? c);

export function segmentCount(body: string): number {
  let septets = 0;
  let gsm = true;
  for (const ch of body) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXT.includes(ch)) septets += 2;
    else gsm = false;
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  const units = body.length; // UTF-16 code units ≈ UCS-2
  return units <= 70 ? 1 : Math.ceil(units / 67);
}
