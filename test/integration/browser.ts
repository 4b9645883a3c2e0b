/**
 * Debian's chromium driven by playwright-core (no browser download), as the dashboard tests and the
 * README screenshot use it. Every page records its console errors, uncaught errors, dialogs (an
 * alert() would be one) and every request it makes, so a test can say none left 127.0.0.1.
 */
import { accessSync, constants } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here (one line), or undefined when they can. */
export function browserMissing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return `no ${CHROMIUM}: npm test's pretest installs Debian's chromium when run as root`;
  }
}

export interface Browsing {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browsing> {
  const { chromium } = await import('playwright-core');
  // Flags as this machine's notes give them: no sandbox (root), and no background traffic (the
  // network is closed; these also keep every request the page's own). playwright itself starts it
  // with a new empty profile folder (--user-data-dir) and removes it at close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
    },
  };
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
  requests: string[];
}

export async function openPage(browser: Browser, opts: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ colorScheme: opts.colorScheme ?? 'light', viewport: opts.viewport ?? { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const watched: WatchedPage = { page, context, consoleErrors: [], pageErrors: [], dialogs: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') watched.consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => watched.pageErrors.push(String(err)));
  page.on('dialog', (d) => {
    watched.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('request', (r) => watched.requests.push(r.url()));
  return watched;
}
