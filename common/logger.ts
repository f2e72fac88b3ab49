import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets or personal data; pino replaces them before anything is written. */
const redactPaths = [
  'authToken',
  '*.authToken',
  'password',
  '*.password',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers.cookie',
  // The dashboard's session cookie as it is set: it signs a browser in as the tenant.
  'res.headers["set-cookie"]',
  // An activity's task token can complete it from outside: not for logs.
  'taskToken',
  'config.DATABASE_URL',
  'config.TWILIO_AUTH_TOKEN',
  'config.OPT_OUT_HASH_SECRET',
  // Temporal credentials (common/temporal-connection.ts): the Cloud API key, the mTLS private key, a bearer header.
  'config.TEMPORAL_API_KEY',
  'apiKey',
  '*.apiKey',
  'clientCertPair.key',
  'tls.clientCertPair.key',
  '*.tls.clientCertPair.key',
  'metadata.authorization',
  '*.metadata.authorization',
  // Webhook endpoints' signing secrets (a row logged whole must not leak them).
  'secret',
  '*.secret',
  'previousSecret',
  '*.previousSecret',
  // A tenant's alert webhook secret (a tenant row logged whole).
  'alertWebhookSecret',
  '*.alertWebhookSecret',
  // HTTP client errors (axios, as inside twilio-node) carry their request config, Basic auth header included.
  'err.config',
  'error.config',
  '*.err.config',
  '*.error.config',
];

/** Writes to stdout unless given a destination (a test reading back what would have been written). */
export function createLogger(options: { level: string; name: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { service: options.name },
    },
    destination,
  );
}

/** Phone numbers go into logs and memos masked: enough to tell two apart, not enough to contact anyone. */
export function maskPhone(phone: string): string {
  return phone.length <= 6 ? '***' : `${phone.slice(0, 3)}***${phone.slice(-3)}`;
}
