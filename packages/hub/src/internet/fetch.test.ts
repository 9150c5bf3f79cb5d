import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveLoopback } from '@homelab-mcp/testkit';
import type { CallContext } from '../catalog/types.ts';
import { InternetConfigSchema } from './config.ts';
import type { InternetDeps } from './deps.ts';
import { fetchClass, fetchPreview, fetchTools, parseFetchArgs } from './fetch.ts';

let server: { port: number; stop(): Promise<void> };
let other: { port: number; stop(): Promise<void> };
const requests: Array<{ method: string; url: string }> = [];

beforeAll(async () => {
  server = await serveLoopback(
    createServer((req, res) => {
      requests.push({ method: req.method!, url: req.url! });
      if (req.url === '/big-headers') return void res.writeHead(200, { 'x-big': 'a'.repeat(40_000) }).end('ok');
      if (req.url === '/elsewhere') return void res.writeHead(302, { location: `http://127.0.0.1:${other.port}/echo` }).end();
      if (req.url === '/here') return void res.writeHead(302, { location: '/echo' }).end();
      if (req.url === '/echo') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      if (req.url === '/stall') {
        // The head, a little body, then nothing: the deadline covers the body too.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }),
  );
});
beforeAll(async () => {
  other = await serveLoopback(createServer((req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers))));
});
afterAll(() => Promise.all([server?.stop(), other?.stop()]));

const ctx = (): CallContext => ({ caller: { user: 'a', role: 'admin' }, session: 's', signal: new AbortController().signal });

function tool(over: Record<string, unknown> = {}) {
  const config = InternetConfigSchema.parse({ allowHosts: [`127.0.0.1:${server.port}`, `127.0.0.1:${other.port}`], fetch: { timeoutMs: 1000 }, ...over });
  const audit: Array<Record<string, unknown>> = [];
  const deps = { config: () => config, onHttpRequest: (r: Record<string, unknown>) => audit.push(r), hubListeners: () => [] } as unknown as InternetDeps;
  return { t: fetchTools(deps)[0]!, audit };
}

describe('http_fetch arguments', () => {
  it('GET and HEAD are reads, every other method a write', () => {
    expect(fetchClass({ url: 'http://x/' })).toBe('read');
    expect(fetchClass({ url: 'http://x/', method: 'head' })).toBe('read');
    for (const m of ['POST', 'put', 'DELETE', 'OPTIONS', 'TRACE', 42]) expect(fetchClass({ url: 'http://x/', method: m })).toBe('write');
  });

  it('names the bad argument', () => {
    expect(parseFetchArgs({ url: 'ftp://x/' }, 1000)).toBe('url must be an http:// or https:// URL, not ftp:');
    expect(parseFetchArgs({ url: 'http://x/', method: 'TRACE' }, 1000)).toBe('method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "TRACE"');
    expect(parseFetchArgs({ url: 'http://x/', body: 'a' }, 1000)).toBe('body: a GET request has no body; use POST, PUT or PATCH');
    expect(parseFetchArgs({ url: 'http://x/', max_bytes: 2000 }, 1000)).toBe('max_bytes must be an integer from 1 to 1000 (internet.fetch.maxBytes), got 2000');
    expect(parseFetchArgs({ url: 'http://x/', headers: { 'Keep-Alive': '1' } }, 1000)).toBe('headers: Keep-Alive cannot be set (the hub sets it, or it belongs to one connection)');
    expect(parseFetchArgs({ url: 'http://x/', headers: { 'X-A': 'a\r\nX-B: b' } }, 1000)).toBe('headers: the value of X-A must be one line of at most 8192 characters');
    expect(parseFetchArgs({ url: 'http://x/', node: 'pi' }, 1000)).toBe('node: is not a known argument of http_fetch (known: url, method, headers, body, max_bytes)');
  });

  it('the preview shows method, URL, headers with their values, and the body size', () => {
    const p = fetchPreview({ url: 'https://ntfy.example/hook', method: 'post', headers: { Authorization: 'Bearer tk-1' }, body: 'héllo' }, 1000);
    expect(p).toMatchObject({ tool: 'http_fetch', where: ['ntfy.example'], action: 'POST https://ntfy.example/hook from the hub, with headers Authorization: Bearer tk-1, and a body of 6 bytes' });
  });
});

describe('http_fetch bounds', () => {
  it('the deadline covers a body that stalls, and the hop is audited with the error', async () => {
    const { t, audit } = tool();
    const r = await t.call({ url: `http://127.0.0.1:${server.port}/stall` }, ctx());
    expect(r.isError).toBe(true);
    expect((r.content[0] as { text: string }).text).toBe(`http_fetch GET http://127.0.0.1:${server.port}/stall: 200, then reading the body failed: no complete answer within 1000 ms (internet.fetch.timeoutMs)`);
    expect(audit).toEqual([expect.objectContaining({ upstream: 'http_fetch', method: 'GET', status: 200, error: 'no complete answer within 1000 ms (internet.fetch.timeoutMs)' })]);
  });

  it('a bad allowHosts entry is refused by the config schema, naming the entry', () => {
    const r = InternetConfigSchema.safeParse({ allowHosts: ['https://nas.lan/'] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['allowHosts', 0], message: expect.stringContaining('"https://nas.lan/" is not a host name, address or CIDR range') });
  });

  it('a port in allowHosts allows that port only', async () => {
    const { t } = tool({ allowHosts: [`127.0.0.1:${server.port + 1 > 65535 ? 1 : server.port + 1}`] });
    const before = requests.length;
    const r = await t.call({ url: `http://127.0.0.1:${server.port}/` }, ctx());
    expect(r.isError).toBe(true);
    expect(requests.length).toBe(before);
  });

  it('response headers are bounded', async () => {
    const r = await tool().t.call({ url: `http://127.0.0.1:${server.port}/big-headers` }, ctx());
    expect((r.content[0] as { text: string }).text).toBe(`http_fetch GET http://127.0.0.1:${server.port}/big-headers: the response headers are larger than 32.0 KiB`);
  });

  it('Authorization and Cookie go with the origin they were given for, not to where a redirect points', async () => {
    const headers = { Authorization: 'Bearer given-for-first', Cookie: 'a=b', 'X-Other': 'kept' };
    const same = await tool().t.call({ url: `http://127.0.0.1:${server.port}/here`, headers }, ctx());
    expect(JSON.parse((same.content[0] as { text: string }).text.split('\n\n')[1]!)).toMatchObject({ authorization: 'Bearer given-for-first', cookie: 'a=b', 'x-other': 'kept' });
    const away = await tool().t.call({ url: `http://127.0.0.1:${server.port}/elsewhere`, headers }, ctx());
    const seen = JSON.parse((away.content[0] as { text: string }).text.split('\n\n')[1]!);
    expect(seen).toMatchObject({ 'x-other': 'kept' });
    expect(seen.authorization).toBeUndefined();
    expect(seen.cookie).toBeUndefined();
  });

  it('https is verified: a self-signed certificate is refused, not skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fetch-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    let hits = 0;
    const tls = await serveLoopback(createHttpsServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (_req, res) => (hits++, res.end('ok'))));
    try {
      const config = { allowHosts: [`127.0.0.1:${tls.port}`] };
      const r = await tool(config).t.call({ url: `https://127.0.0.1:${tls.port}/` }, ctx());
      expect(r.isError).toBe(true);
      expect((r.content[0] as { text: string }).text).toMatch(/^http_fetch GET https:\/\/127\.0\.0\.1:\d+\/: DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate/);
      expect(hits).toBe(0);
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
