// The API's request log keeps phone numbers masked (common/logger.ts): a number in a request's path or query, as
// typed or percent-encoded, is written as maskPhone writes it, in every line that carries the request.
import { Client } from '@temporalio/client';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createTenant, testDb } from '../support/fixtures.js';
import { capturedLog } from '../support/captured-log.js';
import { testAppDeps } from '../support/stack.js';

const db = testDb();
afterAll(() => db.$disconnect());

/** The app writing its log into `lines`, as it would write it to stdout. */
function loggedApp() {
  const { logger, lines } = capturedLog('request-log-test');
  return { app: createApp(testAppDeps(db, new Client(), 'unused', { logger })), lines };
}

describe('the request log', () => {
  it.each([
    ['DELETE', '/v1/opt-outs/%2B447700900123'],
    ['GET', '/v1/opt-outs/%2b447700900123/consent'],
    ['GET', '/v1/opt-outs/+447700900123/consent'],
    ['GET', '/v1/leads?phone=%2B447700900123&limit=5'],
    ['GET', '/v1/leads?phone=+447700900123'],
    ['GET', '/v1/leads?phone=%2B44%207700%20900123'],
    // No route reads one opt-out by its number: the 404's message names the path, masked too.
    ['GET', '/v1/opt-outs/%2B447700900123'],
  ])('masks the phone number in %s %s', async (method, url) => {
    const { app, lines } = loggedApp();
    const { auth } = await createTenant(db);
    const answer = await request(app)[method === 'DELETE' ? 'delete' : 'get'](url).set(auth).send({
      consentSource: 'test',
    });
    expect(answer.status).toBeLessThan(500);
    const logged = lines.join('');
    expect(lines.some((line) => line.includes('+44***123'))).toBe(true);
    for (const digits of ['7700900', '7700%20900123']) expect(logged).not.toContain(digits);
  });

  it('masks a national number in the opt-outs routes, which read it in the tenant’s region', async () => {
    const { app, lines } = loggedApp();
    const { auth } = await createTenant(db);
    const answer = await request(app).get('/v1/opt-outs/07700900123/consent').set(auth);
    expect(answer.status).toBe(200);
    expect(lines.join('')).toContain('"url":"/v1/opt-outs/077***123/consent"');
    expect(lines.join('')).not.toContain('7700900');
  });

  it('masks it in a path of another case, which Express routes the same', async () => {
    const { app, lines } = loggedApp();
    const { auth } = await createTenant(db);
    // Before: logged as typed, the national number whole.
    expect((await request(app).get('/v1/OPT-OUTS/07700900123/consent').set(auth)).status).toBe(200);
    expect(lines.join('')).toContain('"url":"/v1/OPT-OUTS/077***123/consent"');
    expect(lines.join('')).not.toContain('7700900');
  });

  it('leaves IDs, time zone offsets and other numbers in a URL as they are', async () => {
    const { app, lines } = loggedApp();
    const { auth } = await createTenant(db);
    const url = '/v1/leads/12345678-1234-4234-8234-123456789012?limit=50&since=2026-05-01T10:00:00%2B01:00';
    await request(app).get(url).set(auth);
    expect(lines.join('')).toContain(`"url":"${url}"`);
  });
});
