import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, isHttpError, type HttpRequestReport } from './http.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

/** A real HTTP server on 127.0.0.1:0. */
async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('createHttpClient', () => {
  it('sends method, headers and body; returns status, headers, text and json; reports the request without the query', async () => {
    let seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const base = await serve((req, res, body) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(201, { 'content-type': 'application/json', 'x-thing': 'yes' }).end('{"ok":true}');
    });
    const reports: HttpRequestReport[] = [];
    const http = createHttpClient({ onRequest: (r) => reports.push(r), userAgent: 'test-agent' });
    const res = await http.request({ method: 'post', url: `${base}/api/v1/query?query=up`, headers: { 'X-Scope-OrgID': 'tenant1' }, body: 'a=1', timeoutMs: 5000, maxBytes: 1024 });
    expect(res.status).toBe(201);
    expect(res.headers['x-thing']).toBe('yes');
    expect(res.json()).toEqual({ ok: true });
    expect(res.text()).toBe('{"ok":true}');
    expect(res.truncated).toBe(false);
    expect(seen).toMatchObject({ method: 'POST', url: '/api/v1/query?query=up', body: 'a=1' });
    expect(seen.headers).toMatchObject({ 'x-scope-orgid': 'tenant1', 'user-agent': 'test-agent' });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ method: 'POST', url: `${base}/api/v1/query`, status: 201 });
    expect(reports[0]!.error).toBeUndefined();
    expect(reports[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('moves URL credentials into a Basic header and keeps them out of reports', async () => {
    let auth: string | undefined;
    const base = await serve((req, res) => {
      auth = req.headers.authorization;
      res.end('x');
    });
    const reports: HttpRequestReport[] = [];
    const http = createHttpClient({ onRequest: (r) => reports.push(r) });
    await http.request({ url: base.replace('http://', 'http://bob:s3cret@') + '/x', timeoutMs: 5000, maxBytes: 10 });
    expect(auth).toBe(`Basic ${Buffer.from('bob:s3cret').toString('base64')}`);
    expect(JSON.stringify(reports)).not.toContain('s3cret');
  });

  it('gives up at the deadline with a timeout error naming the host, not hanging', async () => {
    const base = await serve(() => {
      /* never answers */
    });
    const reports: HttpRequestReport[] = [];
    const http = createHttpClient({ onRequest: (r) => reports.push(r) });
    // The server never answers: only the deadline can end the request (a hang fails the test's own timeout).
    const err = await http.request({ url: `${base}/slow?token=abc`, timeoutMs: 300, maxBytes: 10 }).catch((e: unknown) => e);
    expect(isHttpError(err, 'timeout')).toBe(true);
    expect((err as Error).message).toBe(`${new URL(base).host}: no answer within 300 ms`);
    expect((err as Error).message).not.toContain('token');
    expect(reports).toEqual([expect.objectContaining({ method: 'GET', url: `${base}/slow`, error: 'no answer within 300 ms' })]);
  });

  it('applies the deadline to a body that stalls after the headers', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const http = createHttpClient();
    const err = await http.request({ url: base, timeoutMs: 300, maxBytes: 1000 }).catch((e: unknown) => e);
    expect(isHttpError(err, 'timeout')).toBe(true);
  });

  it('tells a cancellation by the caller from a timeout', async () => {
    const base = await serve(() => {});
    const http = createHttpClient();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await http.request({ url: base, timeoutMs: 10_000, signal: ac.signal, maxBytes: 10 }).catch((e: unknown) => e);
    expect(isHttpError(err, 'aborted')).toBe(true);
    expect((err as Error).message).toContain('cancelled');
  });

  it('refuses a body larger than maxBytes (declared or streamed), and can truncate instead', async () => {
    const big = 'x'.repeat(10_000);
    const base = await serve((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 10; i++) res.write(big);
        res.end();
      } else res.writeHead(200, { 'content-length': String(big.length) }).end(big);
    });
    const reports: HttpRequestReport[] = [];
    const http = createHttpClient({ onRequest: (r) => reports.push(r) });
    for (const path of ['/declared', '/chunked']) {
      const err = await http.request({ url: base + path, timeoutMs: 5000, maxBytes: 4096 }).catch((e: unknown) => e);
      expect(isHttpError(err, 'too_large')).toBe(true);
      expect((err as Error).message).toContain('larger than 4096 bytes');
    }
    expect(reports.map((r) => [r.status, r.error])).toEqual([
      [200, 'the answer is larger than 4096 bytes'],
      [200, 'the answer is larger than 4096 bytes'],
    ]);
    const cut = await http.request({ url: `${base}/chunked`, timeoutMs: 5000, maxBytes: 4096, truncate: true });
    expect(cut.truncated).toBe(true);
    expect(cut.body.byteLength).toBe(4096);
    expect(cut.text()).toBe('x'.repeat(4096));
  });

  it('says "connection refused" for a port nothing listens on', async () => {
    const port = await closedPort();
    const reports: HttpRequestReport[] = [];
    const http = createHttpClient({ onRequest: (r) => reports.push(r) });
    const err = await http.request({ url: `http://127.0.0.1:${port}/-/ready`, timeoutMs: 5000, maxBytes: 100 }).catch((e: unknown) => e);
    expect(isHttpError(err, 'unreachable')).toBe(true);
    expect((err as Error).message).toBe(`127.0.0.1:${port}: connection refused`);
    expect(reports).toEqual([expect.objectContaining({ url: `http://127.0.0.1:${port}/-/ready`, error: 'connection refused' })]);
    expect(reports[0]!.status).toBeUndefined();
  });

  it('does not follow redirects unless asked', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/a') res.writeHead(302, { location: '/b' }).end();
      else res.end('b');
    });
    const http = createHttpClient();
    expect((await http.request({ url: `${base}/a`, timeoutMs: 5000, maxBytes: 100 })).status).toBe(302);
    const followed = await http.request({ url: `${base}/a`, timeoutMs: 5000, maxBytes: 100, redirect: 'follow' });
    expect([followed.status, followed.text()]).toEqual([200, 'b']);
  });

  it('names the host when the answer is not JSON, and rejects non-HTTP URLs', async () => {
    const base = await serve((_req, res) => res.end('<html>'));
    const http = createHttpClient();
    const res = await http.request({ url: base, timeoutMs: 5000, maxBytes: 100 });
    expect(() => res.json()).toThrow(`${new URL(base).host}: the answer (HTTP 200) is not JSON`);
    await expect(http.request({ url: 'file:///etc/passwd', timeoutMs: 5000, maxBytes: 100 })).rejects.toThrow('unsupported protocol file:');
  });

  it('never fails a request because the observer threw', async () => {
    const base = await serve((_req, res) => res.end('ok'));
    const http = createHttpClient({
      onRequest: () => {
        throw new Error('observer bug');
      },
    });
    expect((await http.request({ url: base, timeoutMs: 5000, maxBytes: 100 })).text()).toBe('ok');
  });
});
