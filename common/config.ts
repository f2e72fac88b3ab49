import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const seconds = z.coerce.number().int().min(0).max(3600);
const perSecond = z.coerce.number().int().min(1).max(10_000);
const dailyCount = z.coerce.number().int().min(0).max(10_000_000);
const readableFile = z
  .string()
  .min(1)
  .refine((path) => {
    try {
      accessSync(path, constants.R_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  }, 'no readable file at this path');

const proxyName = /^(loopback|linklocal|uniquelocal)$/;
const isProxyAddress = (entry: string) => {
  const [address = '', prefix, ...rest] = entry.split('/');
  return rest.length === 0 && isIP(address) !== 0 && (prefix === undefined || /^\d{1,3}$/.test(prefix));
};
/**
 * Which proxies in front of the API may say who the client is (X-Forwarded-For), as Express's `trust proxy` takes it:
 * a number of hops, or addresses, CIDR ranges and `loopback`/`linklocal`/`uniquelocal`. Unset: none, and a client is
 * the address that connected. Never "trust everyone": any client could then pick the address its limits count on.
 */
const trustProxy = z
  .string()
  .trim()
  .optional()
  .transform((value, context): number | string[] | false => {
    if (!value || value === 'false') return false;
    if (/^\d{1,2}$/.test(value)) return Number(value);
    const entries = value.split(',').map((entry) => entry.trim());
    const bad = entries.filter((entry) => !proxyName.test(entry) && !isProxyAddress(entry));
    if (bad.length === 0) return entries;
    context.addIssue({
      code: 'custom',
      message: `must be a hop count, or addresses, CIDR ranges, loopback, linklocal or uniquelocal (not ${bad.join(', ')})`,
    });
    return z.NEVER;
  });

export const configSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(3000),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^:\s]+:\d+$/, 'must be host:port')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('lead-followup'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(16, 'looks too short for a Twilio auth token').optional(),
  TWILIO_FROM_NUMBER: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15005550006')
    .optional(),
  TWILIO_MESSAGING_SERVICE_SID: z
    .string()
    .regex(/^MG[0-9a-fA-F]{32}$/, 'must be MG followed by 32 hex digits')
    .optional(),
  TWILIO_API_BASE_URL: z.url().optional(),
  PUBLIC_BASE_URL: z.url().optional(),
  // Production Temporal (self-hosted with TLS, or Temporal Cloud): configuration only, see common/temporal-connection.ts.
  TEMPORAL_TLS: z
    .enum(['true', 'false'], 'must be true or false')
    .transform((value) => value === 'true')
    .optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: readableFile.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: readableFile.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: readableFile.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  // Operability: metrics and graceful shutdown.
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_SHUTDOWN_GRACE_SECONDS: seconds.default(30),
  API_SHUTDOWN_GRACE_SECONDS: seconds.default(20),
  // Where the API keeps an inbound SMS the database could not take, until it can (api/webhooks/inbound-spool.ts).
  INBOUND_SPOOL_DIR: z.string().min(1).default('.data/inbound-spool'),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  TRUST_PROXY: trustProxy,
  // Sending capacity (worker): throughput, warm-up of new numbers, the price budgets are counted in.
  NUMBER_MAX_SENDS_PER_SECOND: perSecond.default(1),
  TENANT_MAX_SENDS_PER_SECOND: perSecond.default(10),
  WARMUP_FIRST_DAY_LIMIT: dailyCount.default(20),
  WARMUP_DAILY_INCREASE: dailyCount.default(50),
  WARMUP_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  WARMED_UP_DAILY_LIMIT: dailyCount.default(1000),
  SMS_COST_PER_SEGMENT: z
    .string()
    .regex(/^\d{1,4}(\.\d{1,6})?$/, 'must be a decimal amount like 0.0083')
    .default('0.0083'),
  CAPACITY_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  KILL_SWITCH_RECHECK_SECONDS: z.coerce.number().int().min(1).max(300).default(5),
  // Operator routes (/v1/operator: the global kill switch); unset, they are off. Never logged.
  OPERATOR_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  // Keys the opt-out registry's phone hashes (HMAC-SHA256), so a stored hash cannot be reversed by hashing every
  // number. Required outside development and test; never logged. See optOutHashSecret.
  OPT_OUT_HASH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // Webhook endpoints on http and on loopback/private addresses (refused otherwise: SSRF). Development and tests only.
  WEBHOOK_ALLOW_PRIVATE_URLS: z
    .enum(['true', 'false'], 'must be true or false')
    .transform((value) => value === 'true')
    .default(false),
});

export type Config = z.infer<typeof configSchema>;

/**
 * `path` (with its query string, if any) under the public base URL, keeping any path prefix a proxy puts in front of the
 * service. The query is kept apart and exactly as it came: written into the path its "?" would be escaped as %3F, and
 * set as the URL's search it would be re-encoded ("O'Brien" as "O%27Brien"), either way not the URL Twilio signed.
 */
export function publicUrl(base: string, path: string): string {
  const url = new URL(base);
  const queryAt = path.indexOf('?');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${queryAt < 0 ? path : path.slice(0, queryAt)}`;
  return queryAt < 0 ? url.href : `${url.origin}${url.pathname}${path.slice(queryAt)}`;
}

const loopbackHosts = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

/**
 * Where tracked short links point: PUBLIC_BASE_URL. Unset, or a loopback address while texts go to real phones (which
 * could not open it), links go out as they are, untracked (docs/links.md).
 */
export function shortLinkBaseUrl(config: Config): string | undefined {
  const base = config.PUBLIC_BASE_URL;
  if (!base) return undefined;
  return smsMode(config).kind === 'twilio' && loopbackHosts.test(new URL(base).hostname) ? undefined : base;
}

export const inboundWebhookPath = '/webhooks/twilio/inbound';
export const statusWebhookPath = '/webhooks/twilio/status';

export type SmsMode =
  | {
      kind: 'twilio';
      accountSid: string;
      authToken: string;
      sender: { from: string } | { messagingServiceSid: string };
      apiBaseUrl?: string;
      statusCallbackUrl?: string;
    }
  | { kind: 'outbox' };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Parses the settings once; every bad value is reported on its own line, naming the variable. */
/** Parses settings from the environment with any schema; every bad value becomes one line naming its variable. */
export function parseSettings<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  // An empty value (`NAME=` in a .env file) means unset, so the default applies.
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = issue.path.join('.');
      const reason = !env[name] && issue.code === 'invalid_type' ? 'is required' : issue.message;
      return `Invalid setting ${name}: ${reason}`;
    }),
  );
}

/**
 * Settings renamed to the names of Temporal's own client environment configuration
 * (https://docs.temporal.io/references/client-environment-configuration): the old names are still read, with a warning.
 */
export const renamedSettings = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

/** The environment with each old name's value under its new name (a set new name wins), and a warning per old name. */
export function underCurrentNames(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; warnings: string[] } {
  const current = { ...env };
  const warnings: string[] = [];
  for (const [old, renamed] of Object.entries(renamedSettings)) {
    if (!env[old]) continue;
    warnings.push(`${old} is deprecated: set ${renamed} instead${env[renamed] ? ` (${renamed} is set and wins)` : ''}`);
    if (!env[renamed]) current[renamed] = env[old];
    delete current[old];
  }
  return { env: current, warnings };
}

export function loadConfig(original: NodeJS.ProcessEnv = process.env): Config {
  const { env, warnings } = underCurrentNames(original);
  for (const warning of warnings) process.emitWarning(warning, 'DeprecationWarning');
  const config = parseSettings(configSchema, env);
  // The auth token alone verifies webhooks (outbox mode still sends nothing); the SID needs it to send.
  if (config.TWILIO_ACCOUNT_SID && !config.TWILIO_AUTH_TOKEN) {
    throw new ConfigError(['Invalid setting TWILIO_AUTH_TOKEN: is required when TWILIO_ACCOUNT_SID is set']);
  }
  if (config.TWILIO_ACCOUNT_SID && !config.TWILIO_FROM_NUMBER && !config.TWILIO_MESSAGING_SERVICE_SID) {
    throw new ConfigError([
      'Invalid setting TWILIO_FROM_NUMBER: set it or TWILIO_MESSAGING_SERVICE_SID when Twilio credentials are set',
    ]);
  }
  const temporalProblems = temporalTlsProblems(config);
  if (temporalProblems.length) throw new ConfigError(temporalProblems);
  optOutHashSecret(env);
  return config;
}

/** Where nothing real is stored, so a published key is no loss: NODE_ENV unset, development or test. */
const developmentEnvironments = new Set([undefined, 'development', 'test']);
const developmentOptOutHashSecret = 'development-only-opt-out-hash-secret-do-not-deploy';

/**
 * The key of this process's opt-out hashes: OPT_OUT_HASH_SECRET, or a fixed development key where nothing real is
 * stored. loadConfig checks it, so an entry point refuses to start without it in production; common/opt-outs.ts
 * reads it on first use, so every caller (and every test) gets the same key without passing it around.
 */
export function optOutHashSecret(env: NodeJS.ProcessEnv = process.env): string {
  const { OPT_OUT_HASH_SECRET: secret } = parseSettings(configSchema.pick({ OPT_OUT_HASH_SECRET: true }), env);
  if (secret) return secret;
  if (developmentEnvironments.has(env.NODE_ENV || undefined)) return developmentOptOutHashSecret;
  throw new ConfigError([
    `Invalid setting OPT_OUT_HASH_SECRET: is required when NODE_ENV is ${env.NODE_ENV} (at least 32 characters, e.g. \`openssl rand -hex 32\`)`,
  ]);
}

/** The Temporal TLS settings that only make sense together; one line per setting at fault. */
function temporalTlsProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.TEMPORAL_TLS_CLIENT_CERT_PATH && !config.TEMPORAL_TLS_CLIENT_KEY_PATH)
    problems.push(
      'Invalid setting TEMPORAL_TLS_CLIENT_KEY_PATH: is required when TEMPORAL_TLS_CLIENT_CERT_PATH is set',
    );
  if (config.TEMPORAL_TLS_CLIENT_KEY_PATH && !config.TEMPORAL_TLS_CLIENT_CERT_PATH)
    problems.push(
      'Invalid setting TEMPORAL_TLS_CLIENT_CERT_PATH: is required when TEMPORAL_TLS_CLIENT_KEY_PATH is set',
    );
  if (config.TEMPORAL_TLS === false) {
    const needTls = [
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_SERVER_NAME',
      'TEMPORAL_API_KEY',
    ] as const;
    const set = needTls.filter((name) => config[name] !== undefined);
    if (set.length)
      problems.push(
        `Invalid setting TEMPORAL_TLS: is false, but ${set.join(', ')} ${set.length === 1 ? 'needs' : 'need'} TLS`,
      );
  }
  return problems;
}

export function smsMode(config: Config): SmsMode {
  if (!config.TWILIO_ACCOUNT_SID || !config.TWILIO_AUTH_TOKEN) return { kind: 'outbox' };
  return {
    kind: 'twilio',
    accountSid: config.TWILIO_ACCOUNT_SID,
    authToken: config.TWILIO_AUTH_TOKEN,
    sender: config.TWILIO_MESSAGING_SERVICE_SID
      ? { messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID }
      : { from: config.TWILIO_FROM_NUMBER ?? '' },
    ...(config.TWILIO_API_BASE_URL ? { apiBaseUrl: config.TWILIO_API_BASE_URL } : {}),
    // Twilio can only call back where it can reach us; without a public URL there are no status callbacks.
    ...(config.PUBLIC_BASE_URL ? { statusCallbackUrl: publicUrl(config.PUBLIC_BASE_URL, statusWebhookPath) } : {}),
  };
}

/** What messages go out from when their tenant has no sender of its own: the Twilio number or service, or `outbox`. */
export function defaultSenderOf(mode: SmsMode): string {
  if (mode.kind === 'outbox') return 'outbox';
  return 'from' in mode.sender ? mode.sender.from : mode.sender.messagingServiceSid;
}

/** For entry points: print one line per problem and exit non-zero instead of a stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  return orExit(() => loadConfig(env));
}

/** For entry points: a ConfigError prints its lines and exits 1; anything else is a real failure. */
export function orExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}
