/**
 * Real Chromium (Debian's `chromium`) for browser tests, driven by playwright-core, which never
 * downloads a browser of its own. Each launch gets a fresh profile in a temp dir, removed at
 * close, and the flags that keep Chromium off the network (it phones Google at every start
 * otherwise, and this machine's closed network refuses it).
 *
 * Each page is watched: console errors and uncaught exceptions, failed requests and every URL
 * requested are recorded, and any request to a host that is not loopback is refused (aborted and
 * recorded), so a test can assert "no third-party requests" instead of hoping for it.
 *
 * @example
 * await using browser = await launchBrowser();
 * await using tab = await browser.newPage();
 * await tab.page.goto(`${hub.base}/ui`);
 * expect(tab.refused).toEqual([]);
 * expect(tab.consoleErrors).toEqual([]);
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TEST_CLIENTS_MODULES } from './test-clients.ts';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';

/** Where Debian's package puts Chromium; `CHROMIUM_BIN` overrides it. */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/**
 * The flags the machine notes found necessary (headless is Playwright's own option): no
 * sandbox (tests run as root), no GPU, and no background traffic (QUIC, component updates,
 * sync, first-run pings). The resolver rule makes every name but loopback fail, so even a
 * request Playwright's routing does not see (a DNS prefetch, a preconnect) cannot leave.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

export interface LaunchBrowserOptions {
  /** Default CHROMIUM_BIN. */
  executablePath?: string;
  /** More Chromium flags after CHROMIUM_FLAGS. */
  args?: string[];
  timeoutMs?: number;
}

export interface FailedRequest {
  method: string;
  url: string;
  /** Chromium's reason (`net::ERR_CONNECTION_REFUSED`, `net::ERR_ABORTED` when a page left). */
  error: string;
}

/** One page in its own browser context (its own cookies), watched from its first request. */
export interface WatchedPage extends AsyncDisposable {
  page: Page;
  context: BrowserContext;
  /** `console.error` messages, CSP violations, and uncaught exceptions (`pageerror: ...`). */
  consoleErrors: string[];
  /** Requests that got no response, refused ones included. */
  failedRequests: FailedRequest[];
  /** Requests to a host other than loopback, refused before they left. */
  refused: string[];
  /** Every URL the page requested, in order: navigations, each redirect hop, assets, fetches. */
  requests: string[];
  close(): Promise<void>;
}

export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
  /** Chromium's --user-data-dir, fresh for this launch, removed by close(). */
  profileDir: string;
  /** A new isolated context (no cookies) with one watched page. */
  newPage(opts?: BrowserContextOptions): Promise<WatchedPage>;
  close(): Promise<void>;
}

/** 127.0.0.0/8, ::1 and `localhost`: what a test may talk to. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Schemes that reach a host; data:, blob: and about: stay inside the page. */
const NETWORK_SCHEME = /^(https?|wss?|ftp):/i;

/**
 * Starts Chromium headless with a fresh profile dir and the flags above.
 *
 * @example
 * await using browser = await launchBrowser();
 * await using tab = await browser.newPage({ viewport: { width: 390, height: 844 } });
 */
export async function launchBrowser(opts: LaunchBrowserOptions = {}): Promise<TestBrowser> {
  const executablePath = opts.executablePath ?? CHROMIUM_BIN;
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (CHROMIUM_BIN): install Debian's package with \`apt-get install -y --no-install-recommends chromium\` (.ci/run does)`);
  }
  // Loaded here, not at the top: every test imports the testkit, few drive a browser. It is one
  // of the test clients (packages/testkit/clients), so `pnpm install && pnpm start` never fetches it.
  const driver = join(TEST_CLIENTS_MODULES, 'playwright-core', 'index.mjs');
  if (!existsSync(driver)) throw new Error(`playwright-core is not installed at ${driver}: run \`pnpm test:clients\` (pnpm test does)`);
  const { chromium } = (await import(pathToFileURL(driver).href)) as typeof import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'homelab-chromium-'));
  let first: BrowserContext;
  try {
    // A persistent context is the only way to give Chromium our own --user-data-dir; its
    // browser still makes isolated contexts, one per page below.
    first = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...(opts.args ?? [])],
      timeout: opts.timeoutMs ?? 30_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium (${executablePath}) did not start: ${(err as Error).message}`, { cause: err });
  }
  const browser = first.browser()!;
  const close = async () => {
    await first.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  };
  return {
    browser,
    profileDir: profile,
    newPage: async (contextOpts = {}) => watch(await browser.newContext(contextOpts)),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function watch(context: BrowserContext): Promise<WatchedPage> {
  const consoleErrors: string[] = [];
  const failedRequests: FailedRequest[] = [];
  const refused: string[] = [];
  const requests: string[] = [];
  const offLoopback = (url: URL) => NETWORK_SCHEME.test(url.protocol) && !isLoopbackUrl(url.href);
  // Only the requests to refuse are routed: loopback traffic (an SSE stream) goes untouched.
  await context.route(offLoopback, async (route) => {
    refused.push(route.request().url());
    await route.abort('blockedbyclient');
  });
  await context.routeWebSocket(offLoopback, (ws) => {
    refused.push(ws.url());
    void ws.close({ code: 1008, reason: 'not loopback' });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => failedRequests.push({ method: r.method(), url: r.url(), error: r.failure()?.errorText ?? 'failed' }));
  const close = () => context.close();
  return { page, context, consoleErrors, failedRequests, refused, requests, close, [Symbol.asyncDispose]: close };
}
