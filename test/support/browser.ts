// Headless Chromium for page tests: Debian's `chromium` (scripts/bootstrap.sh installs it in test mode) driven by
// playwright-core, whose own browser download cannot work on these machines.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import type { TestStack } from './stack.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Without the background-networking flags Chromium reaches out to Google services at start (refused here, and a
// request leaving localhost that a page test would have to tell apart from the page's own).
const launchArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Playwright gives every launch a fresh temporary profile (--user-data-dir) and removes it on close(). */
function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: launchArgs });
}

export interface BrowserSite {
  browser: Browser;
  /** Where the file's app listens: `http://127.0.0.1:<port>`. */
  baseUrl: string;
}

/**
 * A page test file's browser and its stack's app listening on a loopback port, from before its tests to after them;
 * read the fields inside the tests. Call after stackForFile, whose app exists by then.
 */
export function browserForFile(stack: Pick<TestStack, 'app'>): BrowserSite {
  const site = {} as BrowserSite;
  let server: Server | undefined;
  beforeAll(async () => {
    site.browser = await launchBrowser();
    server = stack.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    site.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await site.browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });
  return site;
}

export interface RecordingPage {
  page: Page;
  /** Every URL the page asked for (documents, scripts, fetches, images, …), in order. */
  requests: string[];
  /** What the page printed as console errors and uncaught exceptions. */
  errors: string[];
}

/** A page in a fresh context that records every request it makes and every error it reports. */
export async function recordingPage(browser: Browser): Promise<RecordingPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, requests, errors };
}

const localHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a URL stays on this machine (data: and blob: URLs never leave the page). */
export function isLocalUrl(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return localHosts.has(hostname);
}

export function expectNoRequestLeftLocalhost(requests: string[]): void {
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((url) => !isLocalUrl(url))).toEqual([]);
}
