import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, isHttpError, type HttpRequestReport } from './http.ts';
import { normalizeFingerprint, tlsFetch } from './tls-fetch.ts';

const dir = mkdtempSync(join(tmpdir(), 'tls-fetch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real HTTPS server with a self-signed certificate, as Proxmox or Pi-hole ship. */
function selfSigned(name: string, san?: string): { key: Buffer; cert: Buffer; fingerprint: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, ...(san ? ['-addext', `subjectAltName=${san}`] : [])], { stdio: 'ignore' });
  const pem = readFileSync(cert);
  return { key: readFileSync(key), cert: pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

let server: Server;
let url: string;
let requests = 0;
const pve = selfSigned('pve'); // a name the client never asks for: it connects by IP
const ipCert = selfSigned('nas', 'IP:127.0.0.1');
let ipServer: Server;
let ipUrl: string;

const listen = (s: Server) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`https://127.0.0.1:${(s.address() as AddressInfo).port}/api`)));
beforeAll(async () => {
  server = createServer({ key: pve.key, cert: pve.cert }, (_q, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":"ok"}');
  });
  url = await listen(server);
  ipServer = createServer({ key: ipCert.key, cert: ipCert.cert }, (_q, res) => res.end('{"data":"ip"}'));
  ipUrl = await listen(ipServer);
});
afterAll(() => {
  server.close();
  ipServer.close();
});

describe('tlsFetch', () => {
  const get = async (fetch: ReturnType<typeof tlsFetch> | undefined, target = url) => {
    const reports: HttpRequestReport[] = [];
    const base = createHttpClient({ onRequest: (r) => reports.push(r) });
    const http = fetch ? base.with({ fetch }) : base;
    try {
      return { res: await http.request({ url: target, timeoutMs: 10_000, maxBytes: 1024 }), reports };
    } catch (err) {
      return { err, reports };
    } finally {
      await fetch?.close();
    }
  };

  it('without a trust of its own, a self-signed certificate is refused', async () => {
    const { err } = await get(undefined);
    expect(isHttpError(err, 'unreachable') && err.detail).toBe('TLS certificate is self-signed and not trusted');
  });

  it('a pinned fingerprint trusts exactly that certificate, whatever its name, and reports to the same onRequest', async () => {
    const before = requests;
    const { res, reports } = await get(tlsFetch({ fingerprint256: pve.fingerprint.toLowerCase().replaceAll(':', '') }));
    expect(res?.json()).toEqual({ data: 'ok' });
    expect(requests).toBe(before + 1);
    expect(reports).toMatchObject([{ method: 'GET', status: 200 }]);
  });

  it('a pin holds on every new connection: none resumes a TLS session (a resumed one shows no certificate to check)', async () => {
    // A server that closes each connection: every request is a new handshake.
    const closing = createServer({ key: pve.key, cert: pve.cert }, (_q, res) => res.writeHead(200, { connection: 'close' }).end('{}'));
    const closingUrl = await listen(closing);
    const fetch = tlsFetch({ fingerprint256: pve.fingerprint });
    const http = createHttpClient().with({ fetch });
    try {
      const answers: Array<number | string> = [];
      for (let i = 0; i < 4; i++) answers.push(await http.request({ url: closingUrl, timeoutMs: 10_000, maxBytes: 1024 }).then((r) => r.status, (e: Error) => e.message));
      expect(answers).toEqual([200, 200, 200, 200]);
    } finally {
      await fetch.close();
      closing.close();
    }
  });

  it('another fingerprint is refused before any request is sent', async () => {
    const before = requests;
    const other = createHash('sha256').update('another certificate').digest('hex');
    const { err, reports } = await get(tlsFetch({ fingerprint256: other }));
    expect(isHttpError(err, 'unreachable') && err.detail).toBe('TLS certificate is not the one pinned (its SHA-256 fingerprint differs)');
    expect(requests).toBe(before);
    expect(reports).toMatchObject([{ error: 'TLS certificate is not the one pinned (its SHA-256 fingerprint differs)' }]);
  });

  it('a CA file trusts certificates it issued, and the name is still checked', async () => {
    expect((await get(tlsFetch({ ca: ipCert.cert.toString() }), ipUrl)).res?.text()).toBe('{"data":"ip"}');
    // Trusted, but issued for "pve", not 127.0.0.1.
    const { err } = await get(tlsFetch({ ca: pve.cert.toString() }));
    expect(isHttpError(err, 'unreachable') && err.detail).toBe('TLS certificate does not match the host name');
  });

  it('insecure skips verification (only when asked)', async () => {
    expect((await get(tlsFetch({ insecure: true }))).res?.status).toBe(200);
  });

  it('a host that accepts TCP and never finishes the handshake ends with the deadline, not never', async () => {
    const tarpit = createNetServer(() => undefined); // accepts, says nothing
    await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
    const f = tlsFetch({ fingerprint256: pve.fingerprint });
    try {
      const err = await createHttpClient()
        .with({ fetch: f })
        .request({ url: `https://127.0.0.1:${(tarpit.address() as AddressInfo).port}/`, timeoutMs: 300, maxBytes: 1024 })
        .catch((e: unknown) => e);
      expect(isHttpError(err, 'timeout')).toBe(true);
    } finally {
      await f.close();
      tarpit.close();
    }
  });

  it('a status outside 200-599 is a broken answer, not a crash of the process', async () => {
    // A TLS server that answers raw bytes: no HTTP server library would send status 600.
    const raw = createTlsServer({ key: pve.key, cert: pve.cert }, (sock) => sock.once('data', () => sock.end('HTTP/1.1 600 Odd\r\ncontent-length: 0\r\n\r\n')));
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const f = tlsFetch({ fingerprint256: pve.fingerprint });
    try {
      const err = await createHttpClient()
        .with({ fetch: f })
        .request({ url: `https://127.0.0.1:${(raw.address() as AddressInfo).port}/`, timeoutMs: 5000, maxBytes: 1024 })
        .catch((e: unknown) => e);
      expect(isHttpError(err, 'unreachable') && err.detail).toBe('the answer has an HTTP status outside 200-599');
    } finally {
      await f.close();
      raw.close();
    }
  });

  it('refuses a plain http:// URL when a TLS key is set: the credential would go out in clear', async () => {
    let got = 0;
    const plain = createHttpServer((_q, res) => (got++, res.end('{}')));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const f = tlsFetch({ fingerprint256: pve.fingerprint });
    try {
      const err = await createHttpClient()
        .with({ fetch: f })
        .request({ url: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/`, headers: { authorization: 'secret' }, timeoutMs: 5000, maxBytes: 1024 })
        .catch((e: unknown) => e);
      expect(isHttpError(err) && err.detail).toBe('the URL is plain http:// but a TLS key (caFile, fingerprint, insecureTls) is set: use https://, or drop the key');
      expect(got).toBe(0);
    } finally {
      await f.close();
      plain.close();
    }
  });

  it('refuses a fingerprint that is not 32 bytes of hex', () => {
    expect(() => tlsFetch({ fingerprint256: 'AB:CD' })).toThrow('fingerprint: expected a SHA-256 fingerprint, 64 hex digits (colons allowed)');
    expect(normalizeFingerprint('ab'.repeat(32))).toBe(Array(32).fill('AB').join(':'));
    expect(normalizeFingerprint('zz'.repeat(32))).toBeUndefined();
  });
});
