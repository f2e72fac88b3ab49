import { describe, expect, it } from 'vitest';
import { loadConfig, shortLinkBaseUrl, smsMode, underCurrentNames } from '../../common/config.js';
import { problemsOf } from '../support/config-problems.js';

const valid = { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/db' };

describe('config', () => {
  it('fills defaults and picks outbox mode without Twilio credentials', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      API_PORT: 3000,
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      LOG_LEVEL: 'info',
    });
    expect(smsMode(config)).toEqual({ kind: 'outbox' });
  });

  it("reads the pre-rename Temporal TLS names under Temporal's own names, with a warning each; a new name wins", () => {
    const renamed = underCurrentNames({
      ...valid,
      TEMPORAL_TLS_CERT_PATH: '/old/cert.pem',
      TEMPORAL_TLS_CA_PATH: '/old/ca.pem',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/new/ca.pem',
    });
    expect(renamed.env).toEqual({
      ...valid,
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/old/cert.pem',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/new/ca.pem',
    });
    expect(renamed.warnings).toEqual([
      'TEMPORAL_TLS_CERT_PATH is deprecated: set TEMPORAL_TLS_CLIENT_CERT_PATH instead',
      'TEMPORAL_TLS_CA_PATH is deprecated: set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead (TEMPORAL_TLS_SERVER_CA_CERT_PATH is set and wins)',
    ]);
  });

  it('reads TRUST_PROXY as a hop count or a list of proxies, and refuses trusting everyone', () => {
    expect(loadConfig(valid).TRUST_PROXY).toBe(false);
    expect(loadConfig({ ...valid, TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ ...valid, TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::1' }).TRUST_PROXY).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::1',
    ]);
    expect(problemsOf({ ...valid, TRUST_PROXY: 'true' })).toEqual([
      expect.stringMatching(/^Invalid setting TRUST_PROXY: must be a hop count, .*\(not true\)$/),
    ]);
  });

  it('reports one line per bad value, naming each variable', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://x',
      API_PORT: 'eighty',
      TEMPORAL_ADDRESS: 'nohost',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/^Invalid setting DATABASE_URL: /m);
    expect(problems.join('\n')).toMatch(/^Invalid setting API_PORT: /m);
    expect(problems.join('\n')).toMatch(/^Invalid setting TEMPORAL_ADDRESS: must be host:port$/m);
    expect(problems.join('\n')).toMatch(/^Invalid setting LOG_LEVEL: /m);
  });

  it('says a required value is missing', () => {
    expect(problemsOf({})).toEqual(['Invalid setting DATABASE_URL: is required']);
  });

  it('wants Twilio credentials and a sender together', () => {
    const sid = `AC${'a'.repeat(32)}`;
    expect(problemsOf({ ...valid, TWILIO_ACCOUNT_SID: sid })).toEqual([
      'Invalid setting TWILIO_AUTH_TOKEN: is required when TWILIO_ACCOUNT_SID is set',
    ]);
    expect(smsMode(loadConfig({ ...valid, TWILIO_AUTH_TOKEN: 'x'.repeat(32) }))).toEqual({ kind: 'outbox' });
    expect(problemsOf({ ...valid, TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 'x'.repeat(32) })).toEqual([
      expect.stringMatching(/^Invalid setting TWILIO_FROM_NUMBER/),
    ]);
    const config = loadConfig({
      ...valid,
      TWILIO_ACCOUNT_SID: sid,
      TWILIO_AUTH_TOKEN: 'x'.repeat(32),
      TWILIO_FROM_NUMBER: '+15005550006',
      PUBLIC_BASE_URL: 'https://sms.example.com',
    });
    expect(smsMode(config)).toMatchObject({
      kind: 'twilio',
      sender: { from: '+15005550006' },
      statusCallbackUrl: 'https://sms.example.com/webhooks/twilio/status',
    });
  });

  it('points short links at PUBLIC_BASE_URL, never at a loopback address a phone could not open', () => {
    const twilio = {
      ...valid,
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'x'.repeat(32),
      TWILIO_FROM_NUMBER: '+15005550006',
    };
    const linkBase = (env: Record<string, string>) => shortLinkBaseUrl(loadConfig(env));
    expect(linkBase({ ...twilio, PUBLIC_BASE_URL: 'https://sms.example.com/edge' })).toBe(
      'https://sms.example.com/edge',
    );
    expect(linkBase(twilio)).toBeUndefined();
    expect(linkBase({ ...twilio, PUBLIC_BASE_URL: 'http://localhost:3000' })).toBeUndefined();
    expect(linkBase({ ...twilio, PUBLIC_BASE_URL: 'http://127.0.0.1:3000' })).toBeUndefined();
    // Outbox mode texts nobody: local links are fine for a developer reading the log.
    expect(linkBase({ ...valid, PUBLIC_BASE_URL: 'http://localhost:3000' })).toBe('http://localhost:3000');
  });

  it('refuses private webhook URLs unless WEBHOOK_ALLOW_PRIVATE_URLS is true', () => {
    expect(loadConfig(valid).WEBHOOK_ALLOW_PRIVATE_URLS).toBe(false);
    expect(loadConfig({ ...valid, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }).WEBHOOK_ALLOW_PRIVATE_URLS).toBe(true);
    expect(problemsOf({ ...valid, WEBHOOK_ALLOW_PRIVATE_URLS: 'yes' })).toEqual([
      'Invalid setting WEBHOOK_ALLOW_PRIVATE_URLS: must be true or false',
    ]);
  });

  it('treats empty strings from .env files as unset', () => {
    expect(smsMode(loadConfig({ ...valid, TWILIO_ACCOUNT_SID: '', TWILIO_AUTH_TOKEN: '' }))).toEqual({
      kind: 'outbox',
    });
  });
});
