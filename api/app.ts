import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { CapacitySettings } from '../common/capacity/settings.js';
import type { Db } from '../common/db.js';
import { loggedUrl } from './logged-url.js';
import { createApiMetrics, type ApiMetrics } from '../common/metrics.js';
import { rateLimitPerKey, refusedCredentialsLimit, securityHeaders } from './abuse.js';
import { requireOperator, requireTenant } from './auth.js';
import { dashboardRouter } from './dashboard/router.js';
import { dashboardSessionAuth } from './dashboard/sessions.js';
import type { SignalRelay } from './signal-relay.js';
import { errorHandler, unknownRoute } from './errors.js';
import { refuseUnstorableText } from './unstorable-text.js';
import { docsRouter } from './openapi/docs-route.js';
import { analyticsRouter } from './routes/analytics.js';
import { appointmentsRouter } from './routes/appointments.js';
import { enrollmentBatchRouter } from './routes/enrollment-batch.js';
import { enrollmentsRouter } from './routes/enrollments.js';
import { eventsRouter } from './routes/events.js';
import { conversationRouter } from './routes/conversation.js';
import { healthRouter } from './routes/health.js';
import { leadsRouter } from './routes/leads.js';
import { optOutsRouter } from './routes/opt-outs.js';
import { reportsRouter } from './routes/reports.js';
import { operatorSendersRouter } from './routes/operator-senders.js';
import { operatorSendingRouter, sendingRouter } from './routes/sending.js';
import { sequencesRouter } from './routes/sequences.js';
import { settingsRouter } from './routes/settings.js';
import { shortLinksRouter } from './routes/short-links.js';
import { twilioWebhooksRouter } from './routes/twilio-webhooks.js';
import type { InboundSpool } from './webhooks/inbound-spool.js';
import { webhookEndpointsRouter } from './routes/webhook-endpoints.js';

export interface AppDeps {
  db: Db;
  temporal: Client;
  logger: Logger;
  taskQueue: string;
  temporalUiUrl: string;
  smsMode: 'twilio' | 'outbox';
  signalRelay: SignalRelay;
  /** Where an inbound SMS the database could not take waits to be processed (api/webhooks/inbound-spool.ts). */
  inboundSpool: Pick<InboundSpool, 'keep' | 'keepStatus' | 'holdsFrom'>;
  twilioAuthToken: string | undefined;
  publicBaseUrl: string | undefined;
  /** Where tracked links in messages point (config's shortLinkBaseUrl); unset: they go out untracked. */
  shortLinkBaseUrl?: string | undefined;
  /** Requests per minute per API key (API_RATE_LIMIT_PER_MINUTE); default 600. */
  requestsPerMinute?: number | undefined;
  /** The worker's sending limits (the same settings), shown by GET /v1/sending. */
  capacity: CapacitySettings;
  /** What messages go out from when a tenant has no sender of its own (config's defaultSenderOf). */
  defaultSender: string;
  /** OPERATOR_API_KEY: unset, the operator routes answer 403. */
  operatorApiKey?: string | undefined;
  /** The process's registry (api/index.ts); unset: the app gets one of its own. Served at GET /metrics. */
  metrics?: ApiMetrics | undefined;
  /** WEBHOOK_ALLOW_PRIVATE_URLS: webhook endpoints on http and private addresses (development and tests only). */
  allowPrivateWebhookUrls?: boolean | undefined;
  /** TRUST_PROXY: the proxies whose X-Forwarded-For names the client (the address per-client limits count on). */
  trustProxy?: number | string[] | false | undefined;
}

/** Per API key, in each API process: an abuse guard (api/abuse.ts). */
const defaultRequestsPerMinute = 600;
const requestIdPattern = /^[\w.:-]{1,128}$/;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  app.use(securityHeaders);
  const metrics = deps.metrics ?? createApiMetrics();
  app.use(metrics.httpMiddleware);
  app.use(
    pinoHttp({
      logger: deps.logger,
      // A caller's X-Request-Id is honoured when it is sane, so one ID follows a request across services.
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        // The parsed query and params are left out: the URL carries them, masked (a parsed query has lost the `+` that
        // marks a number as one).
        req: ({ query: _query, params: _params, ...req }: { url: string; query: unknown; params: unknown }) => ({
          ...req,
          url: loggedUrl(req.url),
        }),
      },
    }),
  );
  // 10,000 batch rows fit in a few MiB; anything larger is refused before it is parsed.
  app.use(express.json({ limit: '5mb' }));
  app.use(refuseUnstorableText);
  app.use(healthRouter(deps));
  // Like /health, no key: Prometheus scrapes it (keep it off the public internet at the proxy).
  app.get('/metrics', metrics.handler);
  app.use(docsRouter());
  app.use(
    twilioWebhooksRouter({
      db: deps.db,
      signalRelay: deps.signalRelay,
      inboundSpool: deps.inboundSpool,
      defaultSender: deps.defaultSender,
      authToken: deps.twilioAuthToken,
      publicBaseUrl: deps.publicBaseUrl,
      shortLinkBaseUrl: deps.shortLinkBaseUrl,
      metrics,
    }),
  );

  // Public like the webhooks: the short links in messages (docs/links.md).
  app.use(shortLinksRouter(deps));

  // Before /v1's tenant authentication: operator routes take the operator key only, and end here whatever the path.
  // Limited per client address before the key is checked, so guesses are limited too.
  const operator = express.Router();
  operator.use(rateLimitPerKey(deps.requestsPerMinute ?? defaultRequestsPerMinute));
  operator.use(requireOperator(deps.operatorApiKey));
  operator.use(operatorSendersRouter(deps));
  // Last: it answers 404 for any path nobody else took.
  operator.use(operatorSendingRouter(deps));
  app.use('/v1/operator', operator);

  app.use(
    dashboardRouter({
      db: deps.db,
      temporalUiUrl: deps.temporalUiUrl,
      publicBaseUrl: deps.publicBaseUrl,
      requestsPerMinute: deps.requestsPerMinute ?? defaultRequestsPerMinute,
    }),
  );

  const v1 = express.Router();
  // A dashboard session (cookie) opens the page's read-only routes; everything else takes the Bearer key.
  const refusedCredentials = refusedCredentialsLimit(deps.requestsPerMinute ?? defaultRequestsPerMinute);
  v1.use(requireTenant(deps.db, refusedCredentials, dashboardSessionAuth(deps.db)));
  v1.use(rateLimitPerKey(deps.requestsPerMinute ?? defaultRequestsPerMinute));
  v1.use(settingsRouter(deps));
  v1.use(leadsRouter({ ...deps, metrics }));
  v1.use(conversationRouter(deps));
  v1.use(sequencesRouter(deps));
  v1.use(enrollmentBatchRouter(deps));
  v1.use(enrollmentsRouter(deps));
  v1.use(appointmentsRouter(deps));
  v1.use(optOutsRouter({ ...deps, metrics }));
  v1.use(reportsRouter(deps));
  v1.use(analyticsRouter(deps));
  v1.use(sendingRouter(deps));
  v1.use(webhookEndpointsRouter(deps));
  v1.use(eventsRouter(deps));
  app.use('/v1', v1);

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
