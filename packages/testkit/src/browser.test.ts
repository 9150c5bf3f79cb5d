// The browser harness itself, against a page served by node:http on loopback: what the UI's
// browser tests assert ("no console errors", "no third-party requests") is only as good as
// what the harness records, so each record is proved here with a page that produces it.
import { createServer, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, isLoopbackUrl, type TestBrowser } from './browser.ts';
import { startDeadUpstream } from './prometheus.ts';
import { serveLoopback } from './serve.ts';

let browser: TestBrowser;
let base: string;
let stop: () => Promise<void>;
let dead: Awaited<ReturnType<typeof startDeadUpstream>>;
/** Open SSE streams: the test pushes an event into them when it wants. */
const streams = new Set<ServerResponse>();
const seen: string[] = [];

beforeAll(async () => {
  dead = await startDeadUpstream();
  const server = createServer((req, res) => {
    seen.push(req.url!);
    const send = (type: string, body: string, headers: Record<string, string> = {}) => res.writeHead(200, { 'content-type': type, ...headers }).end(body);
    if (req.url === '/') {
      return send('text/html', `<!doctype html><title>t</title><ul id="events"></ul><img src="https://example.com/pixel.png" alt=""><script src="/app.js"></script>`, { 'content-security-policy': "default-src 'self'; img-src *; connect-src *" });
    }
    if (req.url === '/app.js') {
      return send(
        'text/javascript',
        `console.error('an error from the page');
         fetch('http://192.0.2.1/collect').catch(() => {});
         fetch('http://127.0.0.1:${dead.port}/gone').catch(() => {});
         new EventSource('/events').onmessage = (e) => {
           const li = document.createElement('li');
           li.textContent = e.data;
           document.getElementById('events').append(li);
         };`,
      );
    }
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }).write('data: first\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (req.url!.startsWith('/inline')) return send('text/html', `<!doctype html><title>t</title><script>document.title = 'ran'</script>`, { 'content-security-policy': "script-src 'self'" });
    if (req.url === '/hop') return res.writeHead(302, { location: '/inline?after=hop' }).end();
    if (req.url === '/throws.js') return send('text/javascript', 'null.boom();');
    if (req.url === '/throws') return send('text/html', '<!doctype html><title>t</title><script src="/throws.js"></script>');
    res.writeHead(404).end();
  });
  const served = await serveLoopback(server);
  base = `http://127.0.0.1:${served.port}`;
  stop = served.stop;
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  for (const s of streams) s.end();
  await browser?.close();
  await stop?.();
  await dead?.close();
});

describe('launchBrowser', () => {
  it('records console errors and failed requests, refuses every host but loopback, and lets an SSE stream through', async () => {
    await using tab = await browser.newPage();
    await tab.page.goto(base);
    await tab.page.waitForSelector('#events li');
    expect(await tab.page.textContent('#events')).toBe('first');
    for (const s of streams) s.write('data: second\n\n');
    await expect.poll(() => tab.page.textContent('#events')).toBe('firstsecond');

    expect(tab.consoleErrors).toContain('an error from the page');
    await expect.poll(() => tab.refused.slice().sort()).toEqual(['http://192.0.2.1/collect', 'https://example.com/pixel.png']);
    await expect.poll(() => tab.failedRequests.map((f) => f.url)).toContain(`http://127.0.0.1:${dead.port}/gone`);
    expect(tab.failedRequests.find((f) => f.url.includes('192.0.2.1'))!.error).toMatch(/^net::ERR_BLOCKED_BY_CLIENT/);
    expect(tab.requests).toEqual(expect.arrayContaining([`${base}/`, `${base}/app.js`, `${base}/events`]));
    // The loopback server saw its own requests, the refused ones went nowhere.
    expect(seen).toEqual(expect.arrayContaining(['/', '/app.js', '/events']));
  });

  it('records a CSP violation and an uncaught exception as console errors, and every redirect hop', async () => {
    await using tab = await browser.newPage();
    await tab.page.goto(`${base}/hop`);
    expect(await tab.page.title()).toBe('t'); // the inline script did not run
    await expect.poll(() => tab.consoleErrors.join('\n')).toMatch(/Content Security Policy/);
    expect(tab.requests).toEqual([`${base}/hop`, `${base}/inline?after=hop`]);

    await tab.page.goto(`${base}/throws`);
    await expect.poll(() => tab.consoleErrors.join('\n')).toMatch(/pageerror: .*null/);
  });

  it('gives each page its own cookies', async () => {
    await using a = await browser.newPage();
    await using b = await browser.newPage();
    await a.context.addCookies([{ name: 'k', value: 'v', url: base }]);
    expect(await a.context.cookies()).toHaveLength(1);
    expect(await b.context.cookies()).toEqual([]);
  });

  it('uses a fresh profile dir and removes it at close', async () => {
    let profile: string;
    {
      await using own = await launchBrowser();
      profile = own.profileDir;
      expect(existsSync(profile)).toBe(true);
      await using tab = await own.newPage();
      await tab.page.goto(`${base}/inline`);
    }
    expect(existsSync(profile)).toBe(false);
  });

  it('names the package when Chromium is not installed', async () => {
    await expect(launchBrowser({ executablePath: '/nonexistent/chromium' })).rejects.toThrow(/Chromium not found at \/nonexistent\/chromium .*apt-get install -y --no-install-recommends chromium/);
  });
});

describe('isLoopbackUrl', () => {
  it('takes 127/8, ::1 and localhost only', () => {
    for (const url of ['http://127.0.0.1:1/', 'http://127.1.2.3/', 'http://[::1]:8/', 'ws://localhost/x']) expect(isLoopbackUrl(url), url).toBe(true);
    for (const url of ['http://192.0.2.1/', 'https://example.com/', 'http://127.0.0.1.example.com/', 'http://nas.lan/', 'not a url']) expect(isLoopbackUrl(url), url).toBe(false);
  });
});
