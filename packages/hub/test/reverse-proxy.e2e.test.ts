/**
 * The hub behind the TLS reverse proxies of deploy/, as a person installs them: Debian's Caddy
 * running deploy/caddy/Caddyfile and Debian's nginx running deploy/nginx/homelab-hub.conf, each
 * with a throwaway CA's certificate for `localhost` (only the name, the ports and the certificate
 * paths are rewritten; see packages/testkit/src/tls-proxy.ts). Through each:
 * - Claude Code (`claude mcp add` + `claude mcp list`) connects, trusting the CA through
 *   NODE_EXTRA_CA_CERTS;
 * - the SDK client on 2026-07-28 and on 2025-11-25 (with its GET stream), and over /sse;
 * - a long call's progress notification arrives while the call still runs (the upstream's
 *   `hold` waits until the test has seen it), so nothing buffers the stream;
 * - the hub names the proxy's client as the source of a refused request, never the
 *   X-Forwarded-For a client sent itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, SSEClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeCodeBinary, connectClient, fetchTrusting, makeTestCa, resultText, startCaddyFromFile, startHubProcess, startNginxFromFile, type HubProcess, type TestCa, type TlsProxy } from '@homelab-mcp/testkit';

const TOKEN = 'reverse-proxy-admin-token-0123456789';
const FIXTURE = fileURLToPath(new URL('./fixtures/asking-server.mjs', import.meta.url));
const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

let ca: TestCa;
let hub: HubProcess;

beforeAll(async () => {
  ca = makeTestCa();
  hub = await startHubProcess({
    config: {
      allowedHosts: ['localhost'],
      trustedProxies: ['127.0.0.1'],
      auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
      local: { enabled: false },
      upstreams: { askio: { command: process.execPath, args: [FIXTURE], env: { MODE: 'stdio' }, classes: { '*': 'read' } } },
    },
  });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  ca?.[Symbol.dispose]();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(file: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env, cwd: opts.cwd, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

const proxies: Array<[string, (o: Parameters<typeof startCaddyFromFile>[0]) => Promise<TlsProxy>, string]> = [
  ['Caddy', startCaddyFromFile, join(DEPLOY, 'caddy', 'Caddyfile')],
  ['nginx', startNginxFromFile, join(DEPLOY, 'nginx', 'homelab-hub.conf')],
];

describe.each(proxies)('behind %s (deploy file as shipped)', (_name, start, file) => {
  let proxy: TlsProxy;
  beforeAll(async () => {
    proxy = await start({ file, publicName: 'hub.example.com', backendPort: hub.port, ca });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
  });

  it('Claude Code adds the hub by its https URL and `claude mcp list` shows it connected (CA through NODE_EXTRA_CA_CERTS)', { timeout: 120_000 }, async () => {
    const home = realpathSync(mkdtempSync(join(tmpdir(), 'claude-proxy-home-')));
    const project = realpathSync(mkdtempSync(join(tmpdir(), 'claude-proxy-project-')));
    try {
      const env = { HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin', TERM: 'dumb', DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', NODE_EXTRA_CA_CERTS: ca.caFile };
      const claude = (...args: string[]) => run(claudeCodeBinary(), args, { env, cwd: project });
      const url = `${proxy.base}/mcp`;
      const added = await claude('mcp', 'add', '--transport', 'http', 'homelab', url, '--header', `Authorization: Bearer ${TOKEN}`);
      expect(added.code, added.stderr).toBe(0);
      const list = await claude('mcp', 'list');
      const line = list.stdout.split('\n').find((l) => l.startsWith('homelab: ')) ?? `(no line in)\n${list.stdout}${list.stderr}`;
      expect(line).toBe(`homelab: ${url} (HTTP) - ✔ Connected`);
      // Without the CA, the same URL fails: the certificate is what was checked.
      const { NODE_EXTRA_CA_CERTS: _ca, ...untrusting } = env;
      const listed = await run(claudeCodeBinary(), ['mcp', 'list'], { env: untrusting, cwd: project });
      expect(listed.stdout.split('\n').find((l) => l.startsWith('homelab: '))).toMatch(/✘ Failed to connect/);
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(project, { recursive: true, force: true });
    }
  });

  it.each(['modern', 'legacy'] as const)('the SDK client (%s) lists and calls tools, and a long call\'s progress arrives while it runs', { timeout: 60_000 }, async (era) => {
    await using client = await connectClient(`${proxy.base}/mcp`, TOKEN, era, { fetch: fetchTrusting(ca.caPem) });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['list_nodes', 'askio__hold', 'askio__release']));
    let started!: () => void;
    const progressed = new Promise<void>((r) => (started = r));
    let done = false;
    const held = client.callTool({ name: 'askio__hold', arguments: {} }, { onprogress: () => started() }).finally(() => (done = true));
    // `hold` answers only after `release`, which the test calls once it has seen the progress:
    // a proxy that buffered the stream until the answer would never let this resolve.
    await progressed;
    expect(done).toBe(false);
    expect(resultText(await client.callTool({ name: 'askio__release', arguments: {} }))).toBe('ok');
    expect(resultText(await held)).toBe('released');
  });

  it('a legacy /sse client connects and calls a tool', { timeout: 60_000 }, async () => {
    const client = new Client({ name: 'sse-through-proxy', version: '1.0.0' });
    const f = fetchTrusting(ca.caPem);
    await client.connect(new SSEClientTransport(new URL(`${proxy.base}/sse`), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } }, fetch: f, eventSourceInit: { fetch: (u, i) => f(u, { ...i, headers: { ...(i?.headers as Record<string, string>), Authorization: `Bearer ${TOKEN}` } }) } }));
    try {
      const r = await client.callTool({ name: 'list_nodes', arguments: {} });
      expect(r.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('a refused request is logged with the proxy\'s view of the client, not the X-Forwarded-For it sent', { timeout: 30_000 }, async () => {
    const spoofed = '203.0.113.77';
    const res = await fetchTrusting(ca.caPem)(`${proxy.base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer wrong-token-0123456789abcdef', 'x-forwarded-for': spoofed },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(res.status).toBe(401);
    await res.body?.cancel();
    await expect.poll(() => hub.output().split('\n').filter((l) => l.includes('"refusal"')).join('\n'), { timeout: 10_000 }).toMatch(/"source":"127\.0\.0\.1"/);
    expect(hub.output()).not.toContain(spoofed);
  });
});
