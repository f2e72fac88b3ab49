// GET /docs in headless Chromium (Debian's package): Swagger UI renders every operation of the OpenAPI document from
// this server's own assets, with no request leaving localhost. A screenshot goes to .data/ (kept out of git).
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../../api/openapi/operations.js';
import { expectNoRequestLeftLocalhost, launchBrowser, recordingPage } from '../support/browser.js';
import { stackForFile } from '../support/stack.js';

const stack = stackForFile();
let browser: Browser;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  browser = await launchBrowser();
  server = stack.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the API reference page', () => {
  it('renders every documented operation from local assets, nothing fetched from elsewhere', async () => {
    const { page, requests, errors } = await recordingPage(browser);
    await page.goto(`${baseUrl}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const rendered = await page.locator('.opblock').count();
    expect(rendered).toBe(operations.length);
    expect(await page.locator('.info .title').innerText()).toContain('Lead follow-up API');
    mkdirSync('.data', { recursive: true });
    await page.screenshot({ path: '.data/api-docs.png', fullPage: false });
    expectNoRequestLeftLocalhost(requests);
    expect(errors).toEqual([]);
  }, 60_000);
});
