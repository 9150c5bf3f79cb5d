import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startCaddy, startDeadUpstream, type CaddyProcess } from '@homelab-mcp/testkit';
import { CaddyConfigSchema, caddyIntegration, redactCaddyConfig, type CaddyInstance } from './index.ts';

// Two real Caddy processes (an HA pair), each serving one route: proxy1 to a live upstream,
// proxy2 to one that drops every connection (and holds its port, so nothing else answers there).
let proxy1: CaddyProcess;
let proxy2: CaddyProcess;
let app: Server;
let appAddr: string;
let deadAddr: string;
let dead: Awaited<ReturnType<typeof startDeadUpstream>>;
let caddy: CaddyInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };

beforeAll(async () => {
  app = createServer((_q, res) => res.end('app'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appAddr = `127.0.0.1:${(app.address() as AddressInfo).port}`;
  dead = await startDeadUpstream();
  deadAddr = dead.addr;
  [proxy1, proxy2] = await Promise.all([startCaddy({ routes: [{ host: 'app.test', upstream: appAddr }] }), startCaddy({ routes: [{ host: 'dead.test', upstream: deadAddr }, { host: 'static.test', body: 'hi' }] })]);
  // One request through proxy2 to the dead upstream: Caddy answers 502 and counts the failure.
  // (node:http, as fetch does not let a Host header through.)
  const status = await new Promise<number>((resolve, reject) =>
    request(proxy2.httpUrl, { headers: { host: 'dead.test' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end(),
  );
  expect(status).toBe(502);
  const config = CaddyConfigSchema.parse({ instances: [{ name: 'proxy1', url: proxy1.adminUrl }, { name: 'proxy2', url: proxy2.adminUrl }] });
  caddy = caddyIntegration.setup(config, { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });
}, 60_000);
afterAll(async () => {
  await caddy?.close?.();
  await Promise.all([proxy1?.stop(), proxy2?.stop()]);
  app?.close();
  await dead?.close();
});

const tool = (name: string) => caddy.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}) => tool(name).call(args, { signal: new AbortController().signal });

describe('caddy (two real Caddy processes)', () => {
  it('caddy_sites: each instance’s hosts, upstreams with their counters, and TLS, in parallel', async () => {
    const r = await call('caddy_sites');
    expect(r.isError).toBeFalsy();
    const text = r.content[0]!.text;
    expect(text).toContain(`## proxy1\n- app.test on 127.0.0.1:${new URL(proxy1.httpUrl).port} -> reverse_proxy ${appAddr} [0 in flight, 0 recent fails] (TLS: off)`);
    expect(text).toContain(`## proxy2\n- dead.test on 127.0.0.1:${new URL(proxy2.httpUrl).port} -> reverse_proxy ${deadAddr} [0 in flight, 1 recent fails] (TLS: off)`);
    expect(text).toContain('- static.test on');
    expect(text).toContain('-> static_response 200');
    const [one, two] = (r.structuredContent as { instances: Array<{ instance: string; sites: Array<{ hosts: string[]; upstreams: string[] }> }> }).instances;
    expect(one).toMatchObject({ instance: 'proxy1', ok: true, sites: [{ hosts: ['app.test'], upstreams: [appAddr] }] });
    expect(two!.sites.map((s) => s.hosts[0])).toEqual(['dead.test', 'static.test']);
    expect(reports.every((q) => q.url.startsWith('http://127.0.0.1:'))).toBe(true);
  });

  it('instance picks one; an unknown one is named with the ones there are', async () => {
    const r = await call('caddy_sites', { instance: 'proxy2' });
    expect(r.content[0]!.text).not.toContain('app.test');
    const bad = await call('caddy_sites', { instance: 'proxy9' });
    expect(bad).toMatchObject({ isError: true, content: [{ text: 'caddy_sites: argument "instance": expected one of proxy1, proxy2' }] });
  });

  it('caddy_config: the running JSON at a path; a path Caddy does not have is that instance’s error; a malformed one is refused', async () => {
    const r = await call('caddy_config', { path: 'apps/http/servers/srv0/listen', instance: 'proxy1' });
    expect(r.content[0]!.text).toMatch(/^## proxy1\n\[/);
    const [only] = (r.structuredContent as { instances: Array<{ instance: string; config: string }> }).instances;
    expect(only!.instance).toBe('proxy1');
    expect(JSON.parse(only!.config)).toEqual([`127.0.0.1:${new URL(proxy1.httpUrl).port}`]);
    const missing = await call('caddy_config', { path: 'apps/tls/automation' });
    expect(missing.content[0]!.text).toMatch(/## proxy1\nerror: Caddy proxy1 at 127\.0\.0\.1:\d+: .*(invalid traversal|not found|unknown)/i);
    const bad = await call('caddy_config', { path: '../../etc/passwd' });
    expect(bad.isError).toBe(true);
    expect(bad.content[0]!.text).toMatch(/^caddy_config: argument "path": a config path such as apps\/http\/servers/);
  });

  it('caddy_diff: hosts one instance serves and the other does not', async () => {
    const r = await call('caddy_diff');
    expect(r.content[0]!.text).toBe(`3 hosts served differently:\n- app.test: proxy1 -> ${appAddr}; not on proxy2\n- dead.test: proxy2 -> ${deadAddr}; not on proxy1\n- static.test: proxy2 -> static_response 200; not on proxy1`);
    // One instance has nothing to compare with: no caddy_diff.
    const one = caddyIntegration.setup(CaddyConfigSchema.parse({ url: proxy1.adminUrl }), { http: createHttpClient(), log });
    expect(one.tools.map((t) => t.def.name)).toEqual(['caddy_sites', 'caddy_config']);
    await one.close?.();
  });

  it('health: both ready, and the upstream that failed is a problem to look at', async () => {
    const h = await caddy.health!(new AbortController().signal);
    expect(h).toMatchObject({ ok: false, detail: 'proxy1 ready; proxy2 ready, 1 upstream failing', problems: [`Caddy proxy2: upstream ${deadAddr} has 1 recent failed request`] });
  });

  it('a stopped instance is that instance’s error; the other still answers', async () => {
    const lone = await startCaddy({ routes: [{ host: 'gone.test', body: 'x' }] });
    const inst = caddyIntegration.setup(CaddyConfigSchema.parse({ instances: [{ name: 'a', url: proxy1.adminUrl }, { name: 'b', url: lone.adminUrl }] }), { http: createHttpClient(), log });
    try {
      await lone.stop();
      const r = await inst.tools.find((t) => t.def.name === 'caddy_sites')!.call({}, { signal: new AbortController().signal });
      expect(r.content[0]!.text).toMatch(/## a\n- app\.test/);
      expect(r.content[0]!.text).toMatch(/## b\nerror: 127\.0\.0\.1:\d+: connection refused/);
      const h = await inst.health!(new AbortController().signal);
      expect(h.ok).toBe(false);
      expect(h.detail).toMatch(/^a ready; b: Caddy b at 127\.0\.0\.1:\d+ is unreachable: 127\.0\.0\.1:\d+: connection refused$/);
    } finally {
      await inst.close?.();
    }
  });
});

describe('redactCaddyConfig', () => {
  it('keeps the shape and placeholders, hides DNS tokens, private keys, basic_auth hashes and header values', () => {
    const config = {
      apps: {
        tls: { certificates: { load_pem: [{ certificate: '-----BEGIN CERTIFICATE-----x', key: '-----BEGIN PRIVATE KEY-----y' }] }, automation: { policies: [{ issuers: [{ challenges: { dns: { provider: { name: 'cloudflare', api_token: 'cf-secret-token' } } } }] }, { issuers: [{ challenges: { dns: { provider: { name: 'cloudflare', api_token: '{env.CF_API_TOKEN}' } } } }] }] } },
        http: { servers: { s: { routes: [{ handle: [{ handler: 'authentication', providers: { http_basic: { accounts: [{ username: 'ann', password: '$2a$14$hash' }], hash: { algorithm: 'bcrypt' } } } }, { handler: 'reverse_proxy', headers: { request: { set: { Authorization: ['Bearer upstream-secret'] } } }, upstreams: [{ dial: '10.0.0.5:80' }] }] }] } } },
      },
    };
    const out = JSON.stringify(redactCaddyConfig(config));
    for (const secret of ['cf-secret-token', 'PRIVATE KEY', '$2a$14$hash', 'upstream-secret']) expect(out).not.toContain(secret);
    expect(out).toContain('{env.CF_API_TOKEN}');
    expect(out).toContain('10.0.0.5:80');
    expect(out).toContain('"username":"ann"');
    expect(out).toContain('BEGIN CERTIFICATE');
  });
});

describe('CaddyConfigSchema', () => {
  it('takes url or instances, unique names, TLS keys per instance', () => {
    expect(CaddyConfigSchema.safeParse({ url: 'http://127.0.0.1:2019' }).success).toBe(true);
    const issues = (v: unknown) => CaddyConfigSchema.safeParse(v).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({})).toEqual(['url: set url (one Caddy) or instances (several), not both and not neither']);
    expect(issues({ instances: [{ name: 'a', url: 'http://x:2019' }, { name: 'a', url: 'http://y:2019' }] })).toEqual(['instances.1.name: "a" is already the name of another instance']);
    expect(issues({ url: 'ftp://x' })).toEqual(['url: an http(s) URL of the admin API, e.g. http://proxy.lan:2019']);
    expect(issues({ instances: [{ name: 'a', url: 'http://x:2019' }], insecureTls: true })).toEqual(['instances: with instances, set headers and TLS keys on each instance']);
  });
});
