// Prometheus metrics for the API and the worker. Each process builds its own registry (never prom-client's global
// one), so tests can build several apps side by side. Activities and webhook handlers get small recording
// interfaces through their deps and import no metrics library.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';

const prefix = 'leadfollowup_';

/** What the send core reports about outbound messages (worker side). */
export interface MessageMetrics {
  /** A message row reached a final status for the first time: simulated, accepted, queued, …, failed or skipped. */
  messageRecorded(status: string): void;
  /** Twilio refused a call (`send`) or reported a delivery error (`status_callback`); no code counts as `none`. */
  twilioError(code: number | undefined, source: 'send' | 'status_callback'): void;
  /** An opt-out was recorded, by where it came from (`inbound_keyword`, `twilio_error_21610`, …). */
  optOutRecorded(source: string): void;
  /** A send was held back for sending capacity (`kill_switch`, `number_rate`, `warmup`, `budget_daily`, …). */
  capacityWait(reason: string): void;
  /** A tenant's budget crossed its alert threshold (`daily` or `monthly`). */
  budgetAlert(budget: string): void;
}

export type WebhookKind = 'inbound' | 'status';
export type WebhookOutcome =
  'processed' | 'duplicate' | 'bad_signature' | 'unknown_tenant' | 'unknown_message' | 'kept' | 'untracked';

/** What the Twilio webhook handlers report (API side). */
export interface WebhookMetrics extends Pick<MessageMetrics, 'twilioError' | 'optOutRecorded'> {
  webhook(kind: WebhookKind, outcome: WebhookOutcome): void;
}

/** For callers built without metrics (unit tests, scripts): records nothing. */
export const noMetrics: MessageMetrics & WebhookMetrics = {
  messageRecorded() {},
  twilioError() {},
  optOutRecorded() {},
  capacityWait() {},
  budgetAlert() {},
  webhook() {},
};

function sharedCounters(registry: Registry) {
  const twilioErrors = new Counter({
    name: `${prefix}twilio_errors_total`,
    help: 'Twilio errors by error code and where they were seen (send: a refused API call; status_callback: a delivery report)',
    labelNames: ['code', 'source'] as const,
    registers: [registry],
  });
  const optOuts = new Counter({
    name: `${prefix}opt_outs_total`,
    help: 'Opt-outs recorded, by source (inbound_keyword, twilio_error_21610, erasure, api)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  return {
    twilioError: (code: number | undefined, source: 'send' | 'status_callback') =>
      twilioErrors.inc({ code: code === undefined ? 'none' : String(code), source }),
    optOutRecorded: (source: string) => optOuts.inc({ source }),
  };
}

export interface ProcessMetrics {
  registry: Registry;
}

export interface ApiMetrics extends ProcessMetrics, WebhookMetrics {
  /** Times every request; the route label is the Express route pattern (`/v1/enrollments/:id`), never the raw URL. */
  httpMiddleware: RequestHandler;
  /** Answers a scrape with the registry in Prometheus text format. */
  handler: RequestHandler;
}

export interface WorkerMetrics extends ProcessMetrics, MessageMetrics {
  /** 1 when the last scrape reached the Temporal SDK's own exporter, 0 when it did not. */
  sdkMetricsUp: Gauge;
}

/** Requests answered before any route matched (401, 404, a malformed body) share one label value. */
const unmatchedRoute = 'unmatched';

/**
 * Express sets `req.route` when a route matches, while `req.baseUrl` still names the router's mount path (`/v1`); an
 * error leaving the router restores `baseUrl` before the response goes out. So the pattern is taken at that moment.
 */
function trackRoutePattern(req: Request): () => string {
  let pattern: string | undefined;
  let route: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      if (value && typeof value.path === 'string') pattern = `${req.baseUrl}${value.path}`;
    },
  });
  return () => pattern ?? unmatchedRoute;
}

export function createApiMetrics(options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'HTTP request duration by method, Express route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: `${prefix}webhooks_total`,
    help: 'Twilio webhooks by kind (inbound, status) and outcome (processed, duplicate, bad_signature, unknown_tenant, unknown_message, kept, untracked)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  return {
    registry,
    ...sharedCounters(registry),
    webhook: (kind, outcome) => webhooks.inc({ kind, outcome }),
    httpMiddleware(req, res, next) {
      const stop = duration.startTimer();
      const routeOf = trackRoutePattern(req);
      // `close` without `finish`: the client went away first; the request is still timed, with what was set.
      let recorded = false;
      const record = () => {
        if (recorded) return;
        recorded = true;
        stop({ method: req.method, route: routeOf(), status_code: String(res.statusCode) });
      };
      res.once('finish', record);
      res.once('close', record);
      next();
    },
    async handler(_req, res) {
      res.type(registry.contentType).send(await registry.metrics());
    },
  };
}

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const messages = new Counter({
    name: `${prefix}messages_total`,
    help: 'Outbound messages by the status their send recorded (simulated, accepted, queued, …, failed, skipped)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const capacityWaits = new Counter({
    name: `${prefix}capacity_waits_total`,
    help: 'Send attempts held back for sending capacity, by reason (kill_switch, number_rate, tenant_rate, warmup, budget_daily, budget_monthly)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const budgetAlerts = new Counter({
    name: `${prefix}budget_alerts_total`,
    help: "Tenants' budgets crossing their alert threshold, by budget (daily, monthly)",
    labelNames: ['budget'] as const,
    registers: [registry],
  });
  const sdkMetricsUp = new Gauge({
    name: `${prefix}temporal_sdk_metrics_up`,
    help: "1 when this scrape included the Temporal SDK's metrics, 0 when its exporter did not answer",
    registers: [registry],
  });
  return {
    registry,
    ...sharedCounters(registry),
    messageRecorded: (status) => messages.inc({ status }),
    capacityWait: (reason) => capacityWaits.inc({ reason }),
    budgetAlert: (budget) => budgetAlerts.inc({ budget }),
    sdkMetricsUp,
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's `/metrics`: its own registry followed by the Temporal SDK's metrics, fetched from the runtime's
 * Prometheus exporter (a loopback address of its own, see worker/logging.ts), so one scrape target has both.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: WorkerMetrics;
  /** The SDK exporter's `/metrics` URL; without it only the worker's own metrics are served. */
  sdkMetricsUrl?: string | undefined;
  logger: Logger;
}): Promise<MetricsServer> {
  const { metrics, sdkMetricsUrl, logger } = options;
  async function sdkMetrics(): Promise<string> {
    if (!sdkMetricsUrl) return '';
    try {
      const response = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      metrics.sdkMetricsUp.set(1);
      return text.endsWith('\n') || text === '' ? text : `${text}\n`;
    } catch (error) {
      metrics.sdkMetricsUp.set(0);
      logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'Temporal SDK metrics exporter did not answer',
      );
      return '';
    }
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://worker').pathname;
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    void (async () => {
      try {
        const sdk = await sdkMetrics();
        const own = await metrics.registry.metrics();
        res
          .writeHead(200, { 'Content-Type': metrics.registry.contentType })
          .end(`${own}${own.endsWith('\n') ? '' : '\n'}${sdk}`);
      } catch (error) {
        logger.error({ err: error }, 'metrics scrape failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
