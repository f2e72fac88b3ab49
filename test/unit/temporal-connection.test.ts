import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { describeTemporalConnection, temporalConnectionOptions } from '../../common/temporal-connection.js';
import { projectRoot } from '../../scripts/stack/paths.js';
import { problemsOf } from '../support/config-problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'temporal-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const full = path.join(dir, name);
  writeFileSync(full, content);
  return full;
};
const certPath = file('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
const keyPath = file('client.key', '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n');
const caPath = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');

const base = { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/db' };

describe('Temporal connection options', () => {
  it('plain: the address alone, no TLS, no credentials (dev server)', () => {
    const options = temporalConnectionOptions(loadConfig({ ...base, TEMPORAL_ADDRESS: 'temporal:7233' }));
    expect(options).toEqual({ address: 'temporal:7233' });
    expect(describeTemporalConnection(options)).toEqual({ address: 'temporal:7233', tls: false, auth: 'none' });
  });

  it('mTLS: the client certificate pair, the server CA and the server name, read from their files', () => {
    const config = loadConfig({
      ...base,
      TEMPORAL_ADDRESS: 'temporal.internal.example:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: certPath,
      TEMPORAL_TLS_CLIENT_KEY_PATH: keyPath,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath,
      TEMPORAL_TLS_SERVER_NAME: 'temporal-frontend',
    });
    const options = temporalConnectionOptions(config);
    expect(options.address).toBe('temporal.internal.example:7233');
    expect(options.apiKey).toBeUndefined();
    expect(options.tls?.serverNameOverride).toBe('temporal-frontend');
    expect(Buffer.from(options.tls?.serverRootCACertificate ?? []).toString()).toContain('ca');
    expect(Buffer.from(options.tls?.clientCertPair?.crt ?? []).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(options.tls?.clientCertPair?.key ?? []).toString()).toContain('BEGIN PRIVATE KEY');
    expect(describeTemporalConnection(options)).toEqual({
      address: 'temporal.internal.example:7233',
      tls: true,
      auth: 'client_certificate',
    });
  });

  it('Temporal Cloud API key: TLS with the system CAs, the key, and the namespace header', () => {
    const config = loadConfig({
      ...base,
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'leads.a1b2c',
      TEMPORAL_API_KEY: 'cloud-key-123',
    });
    const options = temporalConnectionOptions(config);
    expect(options).toEqual({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: 'cloud-key-123',
      metadata: { 'temporal-namespace': 'leads.a1b2c' },
    });
    expect(describeTemporalConnection(options)).toEqual({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      tls: true,
      auth: 'api_key',
    });
  });

  it('server TLS only, with the system CAs, when TEMPORAL_TLS=true', () => {
    expect(temporalConnectionOptions(loadConfig({ ...base, TEMPORAL_TLS: 'true' }))).toEqual({
      address: '127.0.0.1:7233',
      tls: {},
    });
    expect(
      temporalConnectionOptions(loadConfig({ ...base, TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath })).tls
        ?.serverRootCACertificate,
    ).toBeDefined();
  });

  it('is what the SDK client takes as it is', async () => {
    for (const env of [
      {},
      { TEMPORAL_API_KEY: 'cloud-key-123' },
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath, TEMPORAL_TLS_SERVER_NAME: 'temporal' },
    ]) {
      const connection = Connection.lazy(temporalConnectionOptions(loadConfig({ ...base, ...env })));
      await connection.close();
    }
  });
});

describe('Temporal TLS settings', () => {
  it('default to plaintext, with the operability defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      WORKER_METRICS_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: 9464,
      WORKER_SHUTDOWN_GRACE_SECONDS: 30,
      API_SHUTDOWN_GRACE_SECONDS: 20,
    });
    expect(config.TEMPORAL_TLS).toBeUndefined();
    expect(config.TEMPORAL_API_KEY).toBeUndefined();
  });

  it('want a certificate and its key together', () => {
    expect(problemsOf({ ...base, TEMPORAL_TLS_CLIENT_CERT_PATH: certPath })).toEqual([
      'Invalid setting TEMPORAL_TLS_CLIENT_KEY_PATH: is required when TEMPORAL_TLS_CLIENT_CERT_PATH is set',
    ]);
    expect(problemsOf({ ...base, TEMPORAL_TLS_CLIENT_KEY_PATH: keyPath })).toEqual([
      'Invalid setting TEMPORAL_TLS_CLIENT_CERT_PATH: is required when TEMPORAL_TLS_CLIENT_KEY_PATH is set',
    ]);
  });

  it('want files that exist, one line per bad path', () => {
    const problems = problemsOf({
      ...base,
      TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'nope.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: dir,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing-ca.pem'),
    });
    expect(problems.sort()).toEqual([
      'Invalid setting TEMPORAL_TLS_CLIENT_CERT_PATH: no readable file at this path',
      'Invalid setting TEMPORAL_TLS_CLIENT_KEY_PATH: no readable file at this path',
      'Invalid setting TEMPORAL_TLS_SERVER_CA_CERT_PATH: no readable file at this path',
    ]);
  });

  it('refuse TEMPORAL_TLS=false next to settings that need TLS, and bad numbers', () => {
    expect(problemsOf({ ...base, TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'cloud-key-123' })).toEqual([
      'Invalid setting TEMPORAL_TLS: is false, but TEMPORAL_API_KEY needs TLS',
    ]);
    expect(problemsOf({ ...base, TEMPORAL_TLS: 'yes' })).toEqual([
      'Invalid setting TEMPORAL_TLS: must be true or false',
    ]);
    const problems = problemsOf({
      ...base,
      WORKER_METRICS_PORT: '-1',
      WORKER_SHUTDOWN_GRACE_SECONDS: 'soon',
      API_SHUTDOWN_GRACE_SECONDS: '1.5',
    });
    expect(problems.map((line) => line.split(':')[0]).sort()).toEqual([
      'Invalid setting API_SHUTDOWN_GRACE_SECONDS',
      'Invalid setting WORKER_METRICS_PORT',
      'Invalid setting WORKER_SHUTDOWN_GRACE_SECONDS',
    ]);
  });
});

describe('Temporal credentials in logs', () => {
  it('are redacted by the service logger', () => {
    // pino writes to the process's stdout itself, so the logger runs in a child process and its output is read back.
    const script = `
      import { createLogger } from './common/logger.ts';
      const logger = createLogger({ level: 'info', name: 'redact-test' });
      logger.info({ config: { TEMPORAL_API_KEY: 'cloud-key-123', TEMPORAL_ADDRESS: 'x:7233' }, apiKey: 'cloud-key-123', tls: { clientCertPair: { key: 'PRIVATE-KEY-PEM' } }, metadata: { authorization: 'Bearer cloud-key-123' } }, 'connecting');
      logger.info({ options: { apiKey: 'cloud-key-123', tls: { clientCertPair: { key: 'PRIVATE-KEY-PEM' } } } }, 'nested');
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: projectRoot,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(result.stdout).not.toContain('cloud-key-123');
    expect(result.stdout).not.toContain('PRIVATE-KEY-PEM');
    expect(lines[0]).toMatchObject({
      apiKey: '[redacted]',
      config: { TEMPORAL_API_KEY: '[redacted]', TEMPORAL_ADDRESS: 'x:7233' },
    });
  });
});
