import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from './service.ts';

const dir = mkdtempSync(join(tmpdir(), 'service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logs: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
const log = {
  info: (obj: Record<string, unknown>, msg: string) => void logs.push({ level: 'info', msg, obj }),
  warn: (obj: Record<string, unknown>, msg: string) => void logs.push({ level: 'warn', msg, obj }),
  error: (obj: Record<string, unknown>, msg: string) => void logs.push({ level: 'error', msg, obj }),
};
const listen = (s: HttpServer, port = 0) => new Promise<number>((r) => s.listen(port, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

describe('the TLS keys of a service', () => {
  const Schema = z.strictObject({ url: z.string(), ...serviceTlsShape }).superRefine(checkOneTlsTrust);

  it('take one of caFile, fingerprint and insecureTls, and a fingerprint must be one', () => {
    expect(Schema.safeParse({ url: 'x', fingerprint: 'ab'.repeat(32) }).success).toBe(true);
    const two = Schema.safeParse({ url: 'x', caFile: 'ca.pem', insecureTls: true });
    expect(two.error?.issues).toMatchObject([{ path: ['insecureTls'], message: 'set one of caFile, fingerprint and insecureTls, not caFile and insecureTls' }]);
    expect(Schema.safeParse({ url: 'x', fingerprint: 'AB:CD' }).error?.issues[0]?.message).toMatch(/^a SHA-256 certificate fingerprint: 64 hex digits/);
  });

  it('pin a real self-signed HTTPS service; caFile errors name the key and the file; insecureTls is logged', async () => {
    const key = join(dir, 'pve.key');
    const cert = join(dir, 'pve.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=pve'], { stdio: 'ignore' });
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, res) => res.end('{"data":{"version":"9.1"}}'));
    const port = await listen(server as unknown as HttpServer);
    try {
      const reports: HttpRequestReport[] = [];
      const ctx = { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log, baseDir: dir };
      expect(serviceHttp(ctx, {}, 'integrations.proxmox').http).toBe(ctx.http);

      const pinned = serviceHttp(ctx, { fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 }, 'integrations.proxmox');
      const res = await pinned.http.request({ url: `https://127.0.0.1:${port}/api2/json/version`, timeoutMs: 10_000, maxBytes: 1024 });
      expect(res.json()).toEqual({ data: { version: '9.1' } });
      expect(reports).toHaveLength(1);
      await pinned.close();

      expect(() => serviceHttp(ctx, { caFile: 'nope.pem' }, 'integrations.proxmox')).toThrow(`integrations.proxmox.caFile: cannot read ${join(dir, 'nope.pem')} (ENOENT)`);
      writeFileSync(join(dir, 'not-a-cert.pem'), 'hello');
      expect(() => serviceHttp(ctx, { caFile: 'not-a-cert.pem' }, 'integrations.proxmox')).toThrow(/holds no PEM certificate/);

      const insecure = serviceHttp(ctx, { insecureTls: true }, 'integrations.pihole');
      expect(logs.at(-1)).toMatchObject({ level: 'warn', msg: expect.stringMatching(/^integrations\.pihole\.insecureTls is true: the service's certificate is not checked/) });
      expect((await insecure.http.request({ url: `https://127.0.0.1:${port}/`, timeoutMs: 10_000, maxBytes: 1024 })).status).toBe(200);
      await insecure.close();
    } finally {
      server.close();
    }
  });
});

describe('createServiceLink', () => {
  const http = createHttpClient();
  const checkAt = (port: () => number, token: string) => async (signal: AbortSignal) => {
    const res = await http.request({ url: `http://127.0.0.1:${port()}/api`, headers: { authorization: token }, timeoutMs: 5000, maxBytes: 1024, signal });
    if (res.status === 401) throw Object.assign(new Error('401'), { status: 401 });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  };

  it('comes up by itself when the service starts after the hub, and says why until then', async () => {
    // A port that refuses: bound, then closed; the service later listens there.
    const probe = createHttpServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const link = createServiceLink({ label: `Proxmox at 127.0.0.1:${port}`, credentialKey: 'integrations.proxmox.token', check: checkAt(() => port, 'good'), log, retryMs: { first: 20, max: 200 } });
    try {
      await expect.poll(() => link.state().status).toBe('not ready');
      expect(link.state().why).toBe(`Proxmox at 127.0.0.1:${port} is unreachable: 127.0.0.1:${port}: connection refused`);
      await expect(link.ready()).rejects.toThrow(`Proxmox at 127.0.0.1:${port} is unreachable`);
      const service = createHttpServer((q, res) => res.writeHead(q.headers.authorization === 'good' ? 200 : 401).end('{}'));
      await listen(service, port);
      try {
        await expect.poll(() => link.state().status, { timeout: 10_000 }).toBe('ready');
        await link.ready();
        expect(logs.some((l) => l.level === 'info' && l.msg === `Proxmox at 127.0.0.1:${port} is ready`)).toBe(true);
      } finally {
        service.close();
      }
    } finally {
      link.close();
    }
  });

  it('names the rejected credential by its key, never its value, and a tool’s 401 turns a ready link to auth failed', async () => {
    expect(createServiceLink({ label: 'x', credentialKey: 'k', check: async () => undefined, log }).failed(new Error('HTTP 500: boom'))).toBe('HTTP 500: boom');
    let accept = 'right';
    const service = createHttpServer((q, res) => res.writeHead(q.headers.authorization === accept ? 200 : 401).end('{}'));
    const port = await listen(service);
    const wrong = createServiceLink({ label: 'Pi-hole at ns1', credentialKey: 'integrations.pihole.password', check: checkAt(() => port, 'wrong-secret'), log, retryMs: { first: 20, max: 100 } });
    const right = createServiceLink({ label: 'Pi-hole at ns2', credentialKey: 'integrations.pihole.password', check: checkAt(() => port, 'right'), log, retryMs: { first: 20, max: 100 } });
    try {
      await expect.poll(() => wrong.state()).toMatchObject({ status: 'auth failed', why: 'Pi-hole at ns1 rejected the credential (integrations.pihole.password)' });
      expect(JSON.stringify(logs)).not.toContain('wrong-secret');
      await expect.poll(() => right.state().status).toBe('ready');
      accept = 'rotated';
      expect(right.failed(Object.assign(new Error('401'), { status: 401 }))).toBe('Pi-hole at ns2 rejected the credential (integrations.pihole.password)');
      expect(right.state().status).toBe('auth failed');
      accept = 'right'; // the background retry finds it accepted again
      await expect.poll(() => right.state().status, { timeout: 10_000 }).toBe('ready');
    } finally {
      wrong.close();
      right.close();
      service.close();
    }
  });

  it('a closed link stops retrying and says it was closed', async () => {
    let checks = 0;
    const link = createServiceLink({ label: 'n8n at x', credentialKey: 'integrations.n8n.apiKey', check: async () => {
        checks++;
        throw new Error('down');
      }, log, retryMs: { first: 10, max: 10 } });
    await expect.poll(() => checks).toBeGreaterThan(2);
    link.close();
    const after = checks;
    await new Promise((r) => setTimeout(r, 100));
    expect(checks).toBeLessThanOrEqual(after + 1); // at most the one already running
    await expect(link.ready()).rejects.toThrow('n8n at x: the integration was closed (reloaded)');
  });
});
