import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { rateLimitPerKey, securityHeaders } from './abuse.js';
import { requireTenant } from './auth.js';
import type { SignalRelay } from './signal-relay.js';
import { errorHandler, unknownRoute } from './errors.js';
import { enrollmentBatchRouter } from './routes/enrollment-batch.js';
import { enrollmentsRouter } from './routes/enrollments.js';
import { healthRouter } from './routes/health.js';
import { leadsRouter } from './routes/leads.js';
import { optOutsRouter } from './routes/opt-outs.js';
import { reportsRouter } from './routes/reports.js';
import { sequencesRouter } from './routes/sequences.js';
import { settingsRouter } from './routes/settings.js';
import { twilioWebhooksRouter } from './routes/twilio-webhooks.js';

export interface AppDeps {
  db: Db;
  temporal: Client;
  logger: Logger;
  taskQueue: string;
  temporalUiUrl: string;
  smsMode: 'twilio' | 'outbox';
  signalRelay: SignalRelay;
  twilioAuthToken: string | undefined;
  publicBaseUrl: string | undefined;
  /** Requests per minute per API key; default 600. */
  requestsPerMinute?: number | undefined;
}

/** Per API key, in each API process: an abuse guard (api/abuse.ts). */
const defaultRequestsPerMinute = 600;
const requestIdPattern = /^[\w.:-]{1,128}$/;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
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
    }),
  );
  // 10,000 batch rows fit in a few MiB; anything larger is refused before it is parsed.
  app.use(express.json({ limit: '5mb' }));
  app.use(healthRouter(deps));
  app.use(twilioWebhooksRouter({ db: deps.db, signalRelay: deps.signalRelay, authToken: deps.twilioAuthToken, publicBaseUrl: deps.publicBaseUrl }));

  const v1 = express.Router();
  v1.use(requireTenant(deps.db));
  v1.use(rateLimitPerKey(deps.requestsPerMinute ?? defaultRequestsPerMinute));
  v1.use(settingsRouter(deps));
  v1.use(leadsRouter(deps));
  v1.use(sequencesRouter(deps));
  v1.use(enrollmentBatchRouter(deps));
  v1.use(enrollmentsRouter(deps));
  v1.use(optOutsRouter(deps));
  v1.use(reportsRouter(deps));
  app.use('/v1', v1);

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
