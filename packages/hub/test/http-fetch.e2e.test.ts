/**
 * http_fetch through the bundled hub, against servers of this test on 127.0.0.1. Everything
 * here is loopback, which the guard refuses: the refusals run on a hub without allowHosts, the
 * allowed paths on a hub that allows exactly one server (`127.0.0.1:<its port>`), and the hub's
 * own port on a hub that allows all of 127.0.0.0/8. A second server (`secret`, standing for a
 * router's admin page) is never allowed and must never be hit.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, serveLoopback, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-fetch-0123456789abcdef';
const VIEWER = 'viewer-token-fetch-0123456789abcdef';
const GiB = 1024 * 1024 * 1024;
const BLOB = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));

let open: HubProcess; // no allowHosts
let hub: HubProcess; // allowHosts: the web server's port only
let wide: HubProcess; // allowHosts: 127.0.0.0/8
let web: { port: number; stop(): Promise<void> };
let secret: { port: number; stop(): Promise<void> };
let base: string;
const webHits: string[] = [];
const secretHits: string[] = [];
const hooks: Array<{ method: string; headers: IncomingMessage['headers']; body: string }> = [];
const endless = { sent: 0, closed: false };

function webHandler(req: IncomingMessage, res: ServerResponse): void {
  webHits.push(req.url!);
  const path = req.url!.split('?')[0];
  const redirect = (to: string, status = 302): void => void res.writeHead(status, { location: to }).end();
  switch (path) {
    case '/page':
      return void res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!doctype html><html><head><title>Router notes</title><script>var leak = "script-body";</script></head><body><h1>Firmware 2.4</h1><p>Read <a href="https://example.org/changelog">the changelog</a> first.</p><table><tr><th>port</th><th>use</th></tr><tr><td>22</td><td>ssh</td></tr></table></body></html>');
    case '/data':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"pihole","tags":["2024.07","latest"],"stable":true}');
    case '/gzip':
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"compressed":true}'));
    case '/blob':
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(BLOB);
    case '/headers':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    case '/endless': {
      // Says 2 GiB and would send them: the hub must stop reading at its cap.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(2 * GiB) });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && endless.sent < 2 * GiB) {
          endless.sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => (endless.closed = true));
      return pump();
    }
    case '/hang':
      return; // never answers
    case '/hook': {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        hooks.push({ method: req.method!, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return;
    }
    case '/r1':
      return redirect('/r2?token=query-secret-123', 301);
    case '/r2':
      return redirect(`http://127.0.0.1:${web.port}/page`, 307);
    case '/to-loopback':
      return redirect(`http://127.0.0.1:${secret.port}/admin`);
    case '/to-localhost':
      return redirect(`http://localhost:${secret.port}/admin`);
    case '/to-metadata':
      return redirect('http://169.254.169.254/latest/meta-data/iam/');
    case '/to-file':
      return redirect('file:///etc/passwd');
    case '/loop':
      return redirect('/loop');
    case '/post-elsewhere':
      return redirect(`http://127.0.0.1:${secret.port}/hook`, 307);
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
  }
}

const tokens = { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }, { user: 'vera', role: 'viewer', token: VIEWER }], rateLimit: { perMinute: 6000, burst: 1000 } };

beforeAll(async () => {
  web = await serveLoopback(createServer(webHandler));
  secret = await serveLoopback(createServer((req, res) => (secretHits.push(req.url!), res.end('router admin page'))));
  base = `http://127.0.0.1:${web.port}`;
  const config = (allowHosts: string[]) => ({ auth: tokens, local: { enabled: false }, approval: { mode: 'session' }, internet: { allowHosts, fetch: { timeoutMs: 5000 } } });
  [open, hub, wide] = await Promise.all([startHubProcess({ config: config([]) }), startHubProcess({ config: config([`127.0.0.1:${web.port}`]) }), startHubProcess({ config: config(['127.0.0.0/8']) })]);
});

afterAll(async () => {
  await Promise.all([open?.stop(), hub?.stop(), wide?.stop()]);
  await Promise.all([web?.stop(), secret?.stop()]);
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function fetchOn(h: HubProcess, args: Record<string, unknown>, token = ADMIN): Promise<Result> {
  await using client = await connectClient(h.url, token, 'modern');
  return (await client.callTool({ name: 'http_fetch', arguments: args })) as Result;
}

describe('refused destinations (no allowHosts)', () => {
  it.each([
    ['127.0.0.1', () => `${base}/page`, /127\.0\.0\.1 is loopback: .*internet\.allowHosts/],
    ['::1', () => `http://[::1]:${web.port}/page`, /::1 is loopback/],
    ['a decimal IPv4 (2130706433)', () => `http://2130706433:${web.port}/page`, /127\.0\.0\.1 is loopback/],
    ['a hex IPv4 (0x7f.1)', () => `http://0x7f.1:${web.port}/page`, /127\.0\.0\.1 is loopback/],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${web.port}/page`, /loopback, as IPv4 inside IPv6/],
    ['a name that resolves to loopback (localhost)', () => `http://localhost:${web.port}/page`, /localhost resolves to .*127\.0\.0\.1.* is loopback/],
    ['cloud metadata (169.254.169.254)', () => 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local/],
    ['the unspecified address', () => `http://0.0.0.0:${web.port}/page`, /0\.0\.0\.0 is the unspecified/],
  ])('%s', async (_what, url, message) => {
    const hits = webHits.length;
    const r = await fetchOn(open, { url: url() });
    expect(r.isError).toBe(true);
    expect(r.structuredContent.refused).toBe(true);
    expect(resultText(r)).toMatch(message);
    expect(webHits.length).toBe(hits);
  });

  it('a viewer is refused the same (the guard is not a matter of role)', async () => {
    const r = await fetchOn(open, { url: `${base}/page` }, VIEWER);
    expect(resultText(r)).toMatch(/^http_fetch refused http:\/\/127\.0\.0\.1:\d+\/page: 127\.0\.0\.1 is loopback/);
  });
});

describe('with allowHosts: 127.0.0.1:<one server>', () => {
  it('HTML comes back as Markdown, without the page\'s scripts', async () => {
    const r = await fetchOn(hub, { url: `${base}/page` }, VIEWER);
    expect(r.isError).toBeFalsy();
    const text = resultText(r);
    expect(text).toMatch(new RegExp(`^GET ${base}/page → 200 OK \\(text/html; charset=utf-8, \\d+ bytes read, shown as Markdown\\)\\ntitle: Router notes\\n\\n# Firmware 2\\.4`));
    expect(text).toContain('Read [the changelog](https://example.org/changelog) first.');
    expect(text).toMatch(/\| 22 +\| ssh \|/);
    expect(text).not.toContain('script-body');
    expect(r.structuredContent).toMatchObject({ status: 200, format: 'markdown', title: 'Router notes', truncated: false });
  });

  it('JSON is pretty-printed (gzip decoded too)', async () => {
    const r = await fetchOn(hub, { url: `${base}/data` });
    expect(resultText(r).split('\n\n')[1]).toBe('{\n  "name": "pihole",\n  "tags": [\n    "2024.07",\n    "latest"\n  ],\n  "stable": true\n}');
    const z = await fetchOn(hub, { url: `${base}/gzip` });
    expect(resultText(z)).toContain('{\n  "compressed": true\n}');
  });

  it('binary is described with its sha256, not dumped', async () => {
    const r = await fetchOn(hub, { url: `${base}/blob` });
    const sha = createHash('sha256').update(BLOB).digest('hex');
    expect(r.structuredContent).toMatchObject({ format: 'binary', sha256: sha, bytesRead: 3000 });
    expect(resultText(r)).toContain(`[binary body not shown: application/octet-stream, 2.9 KiB read; sha256 of what was read: ${sha}]`);
  });

  it('HEAD answers status and headers only', async () => {
    const r = await fetchOn(hub, { url: `${base}/data`, method: 'HEAD' }, VIEWER);
    expect(r.structuredContent).toMatchObject({ method: 'HEAD', status: 200, format: 'empty', headers: { 'content-type': 'application/json' } });
  });

  it('a 2 GiB answer is cut at max_bytes, and the hub stops reading (memory bounded)', async () => {
    const r = await fetchOn(hub, { url: `${base}/endless`, max_bytes: 100_000 });
    expect(r.structuredContent).toMatchObject({ truncated: true, bytesRead: 100_000, format: 'text' });
    expect(resultText(r)).toMatch(/\[cut: only the first 97\.7 KiB of 2\.0 GiB were read\]$/);
    // The hub dropped the connection: the server saw it close long before 2 GiB.
    await expect.poll(() => endless.closed).toBe(true);
    expect(endless.sent).toBeLessThan(64 * 1024 * 1024);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${hub.child.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss).toBeLessThan(512 * 1024 * 1024);
  });

  it('follows redirects, each hop checked, and says where it went', async () => {
    const r = await fetchOn(hub, { url: `${base}/r1` });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.url).toBe(`${base}/page`);
    expect(r.structuredContent.redirects).toEqual([
      { method: 'GET', url: `${base}/r1`, status: 301 },
      { method: 'GET', url: `${base}/r2?token=query-secret-123`, status: 307 },
    ]);
    expect(resultText(r)).toContain(`after 2 redirects: ${base}/r1 (301) → ${base}/r2?token=query-secret-123 (307)`);
  });

  it.each([
    ['to another loopback port', '/to-loopback', /refused http:\/\/127\.0\.0\.1:\d+\/admin \(reached by a redirect from .*\/to-loopback\): 127\.0\.0\.1 is loopback/],
    ['to localhost', '/to-localhost', /refused http:\/\/localhost:\d+\/admin .*localhost resolves to .* is loopback/],
    ['to cloud metadata', '/to-metadata', /refused http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/ .*link-local/],
    ['to file:', '/to-file', /refused a redirect from .*\/to-file to a file: URL/],
  ])('a redirect %s is refused', async (_what, path, message) => {
    const r = await fetchOn(hub, { url: `${base}${path}` }, VIEWER);
    expect(r.isError).toBe(true);
    expect(r.structuredContent.refused).toBe(true);
    expect(resultText(r)).toMatch(message);
    expect(secretHits).toEqual([]);
  });

  it('redirects are bounded (internet.fetch.maxRedirects)', async () => {
    const r = await fetchOn(hub, { url: `${base}/loop` });
    expect(resultText(r)).toBe(`http_fetch stopped after 5 redirects (internet.fetch.maxRedirects); the last pointed to ${base}/loop`);
  });

  it('time is bounded (internet.fetch.timeoutMs)', async () => {
    const r = await fetchOn(hub, { url: `${base}/hang` });
    expect(resultText(r)).toBe(`http_fetch GET ${base}/hang: no complete answer within 5000 ms (internet.fetch.timeoutMs)`);
  });

  it('sends the caller\'s headers, never the hub\'s token; refuses Host and hop-by-hop headers', async () => {
    const r = await fetchOn(hub, { url: `${base}/headers`, headers: { Accept: 'application/json', 'X-Trace': 'abc' } });
    const seen = JSON.parse(resultText(r).split('\n\n')[1]!);
    expect(seen).toMatchObject({ accept: 'application/json', 'x-trace': 'abc', host: `127.0.0.1:${web.port}` });
    expect(seen.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(ADMIN);
    for (const h of ['Host', 'Transfer-Encoding', 'Connection', 'Content-Length']) {
      const bad = await fetchOn(hub, { url: `${base}/headers`, headers: { [h]: 'x' } });
      expect(resultText(bad)).toBe(`headers: ${h} cannot be set (the hub sets it, or it belongs to one connection)`);
    }
  });

  it('a POST is a write: held with a preview showing the request, refused to a viewer, sent once approved', async () => {
    const args = { url: `${base}/hook`, method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'model-key-123' }, body: '{"event":"backup"}' };
    const denied = await fetchOn(hub, args, VIEWER);
    expect(denied.isError).toBe(true);
    expect(denied.structuredContent).toMatchObject({ status: 'denied', reason: 'viewers cannot write' });
    expect(hooks).toEqual([]);

    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    const held = (await client.callTool({ name: 'http_fetch', arguments: args })) as Result;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview).toMatchObject({ tool: 'http_fetch', where: [`127.0.0.1:${web.port}`] });
    expect(held.structuredContent.preview.action).toBe(`POST ${base}/hook from the hub, with headers Content-Type: application/json; X-Api-Key: model-key-123, and a body of 18 bytes`);
    expect(hooks).toEqual([]);
    // A GET in the same session is a read: not held.
    expect(((await client.callTool({ name: 'http_fetch', arguments: { url: `${base}/data` } })) as Result).structuredContent.status).toBe(200);

    await client.callTool({ name: 'approve_writes', arguments: {} });
    const sent = (await client.callTool({ name: 'http_fetch', arguments: args })) as Result;
    expect(sent.structuredContent).toMatchObject({ method: 'POST', status: 200, format: 'json' });
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ method: 'POST', body: '{"event":"backup"}', headers: { 'x-api-key': 'model-key-123', 'content-type': 'application/json' } });

    // A 307 would resend the POST to another origin than the one approved: not followed.
    const moved = (await client.callTool({ name: 'http_fetch', arguments: { ...args, url: `${base}/post-elsewhere` } })) as Result;
    expect(resultText(moved)).toMatch(/did not follow 307 .* it would send the POST again to another origin/);
    expect(secretHits).toEqual([]);
  });

  it('every hop is an http_request event in the journal, without tokens or query secrets', async () => {
    await fetchOn(hub, { url: `${base}/r1`, headers: { Authorization: 'Bearer model-secret-xyz' } });
    await fetchOn(hub, { url: `${base}/to-metadata` });
    const events = () => readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail?.upstream === 'http_fetch');
    await expect.poll(() => events().map((e) => `${e.detail.method} ${e.detail.url} ${e.detail.status ?? e.detail.error}`)).toEqual(
      expect.arrayContaining([`GET ${base}/r1 301`, `GET ${base}/r2 307`, `GET ${base}/page 200`, `GET ${base}/to-metadata 302`, expect.stringMatching(/^GET http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/ refused: .*link-local/)]),
    );
    expect(events().find((e) => e.detail.url === `${base}/page`)?.detail.bytes).toBeGreaterThan(100);
    const journal = journalText(hub);
    for (const secretText of [ADMIN, VIEWER, 'query-secret-123', 'model-secret-xyz']) expect(journal).not.toContain(secretText);
  });
});

/** Every line a hub journaled, as text. */
function journalText(h: HubProcess): string {
  const dir = join(h.dir, 'data', 'audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
}

describe('the hub itself', () => {
  it('is refused even when allowHosts covers its address', async () => {
    const r = await fetchOn(wide, { url: `${wide.base}/mcp` });
    expect(r.structuredContent.refused).toBe(true);
    expect(resultText(r)).toBe(`http_fetch refused ${wide.base}/mcp: 127.0.0.1 port ${wide.port} is the hub itself: http_fetch never calls the hub`);
    // The same allowHosts entry lets another loopback server through.
    const ok = await fetchOn(wide, { url: `http://127.0.0.1:${secret.port}/` });
    expect(ok.structuredContent).toMatchObject({ status: 200, format: 'text' });
  });
});
