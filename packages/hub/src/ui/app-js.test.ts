// The UI's script in real Chromium against a page of its own on loopback: a stream that keeps
// asking for a reload gets one, not an endless loop.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, serveLoopback, type TestBrowser } from '@homelab-mcp/testkit';
import appJs from './assets/app.js?raw';

let browser: TestBrowser;
let base: string;
let stop: () => Promise<void>;
let pages = 0;

beforeAll(async () => {
  const server = createServer((req, res) => {
    if (req.url === '/ui/audit') {
      pages++;
      return res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>t</title><script src="/ui/app.js" defer></script><span id="stream-status">connecting…</span><table><tbody id="audit-rows" data-stream="/ui/audit/stream"></tbody></table>`);
    }
    if (req.url === '/ui/app.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(appJs);
    // A journal that cannot be read: every stream asks for a reload at once.
    if (req.url === '/ui/audit/stream') return res.writeHead(200, { 'content-type': 'text/event-stream' }).end('event: reload\ndata: the journal cannot be read\n\n');
    res.writeHead(404).end();
  });
  const served = await serveLoopback(server);
  base = `http://127.0.0.1:${served.port}`;
  stop = served.stop;
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

describe('app.js', () => {
  it('reloads once when a stream asks, then stops and says why instead of reloading for ever', async () => {
    await using tab = await browser.newPage();
    await tab.page.goto(`${base}/ui/audit`);
    await expect.poll(() => tab.page.locator('#stream-status').textContent(), { timeout: 15_000 }).toBe('stopped: the journal cannot be read (reload the page)');
    expect(pages).toBe(2);
    expect(tab.consoleErrors).toEqual([]);
  });
});
