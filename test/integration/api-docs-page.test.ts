// GET /docs in headless Chromium (Debian's package): Swagger UI renders every operation of the OpenAPI document from
// this server's own assets, with no request leaving localhost. A screenshot goes to .data/ (kept out of git).
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { operations } from '../../api/openapi/operations.js';
import { browserForFile, expectNoRequestLeftLocalhost, recordingPage } from '../support/browser.js';
import { stackForFile } from '../support/stack.js';

const stack = stackForFile();
const site = browserForFile(stack);

describe('the API reference page', () => {
  it('renders every documented operation from local assets, nothing fetched from elsewhere', async () => {
    const { page, requests, errors } = await recordingPage(site.browser);
    await page.goto(`${site.baseUrl}/docs`);
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
