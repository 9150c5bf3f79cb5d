/**
 * Attacks on the hub's secrets through the `local` node, and on secret files of the edges
 * through the file tools (issue #10, items 1 and 2, hub side), through the bundled hub, its
 * local node's child process and real edges. Each attack must fail.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, isAlive, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-user-token-0123456789abcdef';
const OPERATOR = 'operator-user-token-0123456789ab';
const VIEWER = 'viewer-user-token-0123456789abcd';
/** A secret only the hub's environment holds, and one hub.yaml takes as `${VAR}`. */
const HUB_SECRET = 'hub-env-secret-3b1f9c0e7d';
const CONFIG_SECRET = 'config-secret-a8e2c4f6b0d1';
/** A secret-looking variable of an edge's environment (get_env masks it below admin). */
const EDGE_PASSWORD = 'edge-db-password-5c7e9a1b3d';
const dir = mkdtempSync(join(tmpdir(), 'sec-local-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const call = async (url: string, token: string, name: string, args: Record<string, unknown>) => {
  await using client = await connectClient(url, token, 'modern');
  return (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any; _meta?: Record<string, unknown> };
};
/** Everything a client gets back, as one string: no secret may appear anywhere in it. */
const whole = (r: unknown) => JSON.stringify(r);

describe('the embedded default (pnpm start): local runs without the hub\'s secrets', () => {
  let hub: HubProcess;
  let token: string;
  beforeAll(async () => {
    hub = await startHubProcess({ env: { HOMELAB_TEST_SECRET: HUB_SECRET, SOME_API_TOKEN: HUB_SECRET } });
    token = readFileSync(join(hub.dir, 'data', 'token'), 'utf8').trim();
  });
  afterAll(async () => hub?.stop());

  it('get_env on local shows none of the hub\'s environment, even to the admin', async () => {
    const r = await call(hub.url, token, 'get_env', { node: 'local' });
    expect(r.isError).toBeFalsy();
    expect(whole(r)).not.toContain(HUB_SECRET);
    expect(whole(r)).not.toContain('HOMELAB_TEST_SECRET');
    expect(whole(r)).toContain('PATH'); // it did answer with an environment
    const one = await call(hub.url, token, 'get_env', { node: 'local', key: 'SOME_API_TOKEN' });
    expect(whole(one)).not.toContain(HUB_SECRET);
  });

  it('run_command on local does not see them either', async () => {
    await using client = await connectClient(hub.url, token, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const ran = await client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: 'env' } });
    expect(resultText(ran)).toContain('PATH=');
    expect(whole(ran)).not.toContain(HUB_SECRET);
  });

  it('read_file refuses the hub\'s environment, token and data to the admin', async () => {
    const paths = ['/proc/self/environ', `/proc/${hub.child.pid}/environ`, `/proc/${hub.child.pid}/task/${hub.child.pid}/environ`, join(hub.dir, 'data', 'token')];
    for (const path of paths) {
      const r = await call(hub.url, token, 'read_file', { node: 'local', path });
      expect(r.isError, path).toBe(true);
      // The child's own /proc entries the edge refuses by itself; the hub's, the hub refuses.
      expect(resultText(r), path).toMatch(/denied by the hub's file policy|the edge never serves/);
      expect(whole(r), path).not.toContain(HUB_SECRET);
      expect(whole(r), path).not.toContain(token);
    }
  });
});

/** The hub's `local-node` child process (the hub starts no other in the embedded default). */
function localChildOf(hubPid: number): number {
  const pids = readFileSync(`/proc/${hubPid}/task/${hubPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const child = pids.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('local-node'));
  if (!child) throw new Error(`no local-node child under hub ${hubPid}`);
  return child;
}

describe('the local node\'s process', () => {
  it('is started again when it dies, and dies with the hub', async () => {
    const hub = await startHubProcess();
    try {
      const token = readFileSync(join(hub.dir, 'data', 'token'), 'utf8').trim();
      const first = localChildOf(hub.child.pid!);
      process.kill(first, 'SIGKILL');
      // Until the new child serves, local is unreachable; then it answers again, from a new process.
      await expect.poll(async () => (await call(hub.url, token, 'get_env', { node: 'local', key: 'PATH' })).isError ?? false, { timeout: 20_000, interval: 200 }).toBe(false);
      const second = localChildOf(hub.child.pid!);
      expect(second).not.toBe(first);
      expect(hub.output()).toContain('restarting the local node');
      hub.child.kill('SIGKILL');
      await expect.poll(() => isAlive(second), { timeout: 20_000, interval: 100 }).toBe(false);
    } finally {
      await hub.stop();
    }
  }, 60_000);
});

describe('the local node\'s process: cancellation', () => {
  it('a cancelled run_command on local is killed', async () => {
    const hub = await startHubProcess();
    try {
      const token = readFileSync(join(hub.dir, 'data', 'token'), 'utf8').trim();
      await using client = await connectClient(hub.url, token, 'legacy');
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const pidFile = join(hub.dir, 'sleeper.pid');
      const ac = new AbortController();
      const running = client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: `echo $$ > ${pidFile}; sleep 600`, timeout_s: 600 } }, { signal: ac.signal, timeout: 700_000 });
      running.catch(() => undefined);
      await expect.poll(() => readFileSync(pidFile, 'utf8').trim().length > 0 ? 'started' : 'not yet', { timeout: 20_000, interval: 100 }).toBe('started');
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      expect(isAlive(pid)).toBe(true);
      ac.abort();
      await expect(running).rejects.toThrow();
      await expect.poll(() => isAlive(pid), { timeout: 20_000, interval: 100 }).toBe(false);
    } finally {
      await hub.stop();
    }
  }, 60_000);
});

describe('a configured hub: its config file and secrets, and per-role policies', () => {
  let hub: HubProcess;
  let edge: EdgeProcess;
  let oldEdge: StrippingProxy;
  const files = join(dir, 'files');
  beforeAll(async () => {
    // An edge's files: an authorized_keys (denied to viewers by default) reached through an
    // innocent-looking symlink, and a plain file.
    mkdirSync(join(files, 'home', '.ssh'), { recursive: true });
    writeFileSync(join(files, 'home', '.ssh', 'authorized_keys'), 'ssh-ed25519 AAAAC3-secret-key user@host\n');
    symlinkSync(join(files, 'home', '.ssh', 'authorized_keys'), join(files, 'notes.txt'));
    writeFileSync(join(files, 'plain.txt'), 'nothing secret\n');
    edge = await startEdgeProcess({ env: { DB_PASSWORD: EDGE_PASSWORD, HARMLESS_SETTING: 'visible-value' } });
    oldEdge = await startStrippingProxy(edge.url);
    hub = await startHubProcess({
      env: { ADMIN_TOKEN: ADMIN, HA_SECRET: CONFIG_SECRET },
      config: {
        auth: {
          tokens: [
            { user: 'ann', role: 'admin', token: '${ADMIN_TOKEN}' },
            { user: 'otto', role: 'operator', token: OPERATOR },
            { user: 'vic', role: 'viewer', token: VIEWER },
          ],
        },
        approval: { mode: 'confirm' },
        perDeviceTools: true,
        nodes: [
          { name: 'pi', url: edge.url, token: edge.token },
          { name: 'old-pi', url: oldEdge.url, token: edge.token },
        ],
        // Never connected (port 9 is discard); here for its `${HA_SECRET}` header only.
        upstreams: { ha: { url: 'http://127.0.0.1:9/api/mcp', headers: { Authorization: 'Bearer ${HA_SECRET}' } } },
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await oldEdge?.close();
    await edge?.stop();
  });

  it('get_env on local never shows a ${VAR} of hub.yaml, to viewer or admin', async () => {
    for (const token of [VIEWER, ADMIN]) {
      const r = await call(hub.url, token, 'get_env', { node: 'local' });
      expect(r.isError).toBeFalsy();
      expect(whole(r)).not.toContain(CONFIG_SECRET);
      expect(whole(r)).not.toContain(ADMIN);
    }
  });

  it('read_file refuses hub.yaml on local to the admin, and /etc/shadow to the viewer', async () => {
    const config = await call(hub.url, ADMIN, 'read_file', { node: 'local', path: join(hub.dir, 'hub.yaml') });
    expect(config.isError).toBe(true);
    expect(resultText(config)).toMatch(/denied by the hub's file policy/);
    expect(whole(config)).not.toContain('ADMIN_TOKEN');
    const shadow = await call(hub.url, VIEWER, 'read_file', { node: 'local', path: '/etc/shadow' });
    expect(shadow.isError).toBe(true);
    expect(resultText(shadow)).toMatch(/denied by the hub's file policy/);
  });

  it('a viewer cannot read a denied file on an edge through a symlink; an admin can', async () => {
    const link = join(files, 'notes.txt');
    const viewer = await call(hub.url, VIEWER, 'read_file', { node: 'pi', path: link });
    expect(viewer.isError).toBe(true);
    expect(resultText(viewer)).toMatch(/denied by the hub's file policy/);
    expect(whole(viewer)).not.toContain('AAAAC3-secret-key');
    // The per-device copy carries the same policy.
    const copy = await call(hub.url, VIEWER, 'pi__read_file', { path: link });
    expect(copy.isError).toBe(true);
    expect(whole(copy)).not.toContain('AAAAC3-secret-key');
    const direct = await call(hub.url, VIEWER, 'read_file', { node: 'pi', path: join(files, 'home', '.ssh', 'authorized_keys') });
    expect(direct.isError).toBe(true);
    expect(whole(direct)).not.toContain('AAAAC3-secret-key');
    // The viewer still reads what is not denied, and the policy is the role's, not the file's.
    expect(resultText(await call(hub.url, VIEWER, 'read_file', { node: 'pi', path: join(files, 'plain.txt') }))).toContain('nothing secret');
    expect(whole(await call(hub.url, ADMIN, 'read_file', { node: 'pi', path: link }))).toContain('AAAAC3-secret-key');
  });

  it('get_env masks secret-looking values for viewer and operator, not for admin', async () => {
    for (const token of [VIEWER, OPERATOR]) {
      const r = await call(hub.url, token, 'get_env', { node: 'pi' });
      expect(r.isError).toBeFalsy();
      expect(whole(r)).not.toContain(EDGE_PASSWORD);
      expect(whole(r)).toContain('[masked]');
      expect(whole(r)).toContain('visible-value');
      // The edge's acknowledgement is between hub and edge: the client never sees it.
      expect(whole(r)).not.toContain('dev.homelab-mcp/policy');
    }
    expect(whole(await call(hub.url, ADMIN, 'get_env', { node: 'pi' }))).toContain(EDGE_PASSWORD);
  });

  it('an edge that does not acknowledge the policy (too old) has its answer withheld', async () => {
    const r = await call(hub.url, VIEWER, 'read_file', { node: 'old-pi', path: join(files, 'notes.txt') });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(/old-pi.*upgrade/s);
    expect(whole(r)).not.toContain('AAAAC3-secret-key');
    const env = await call(hub.url, OPERATOR, 'get_env', { node: ['old-pi', 'pi'] });
    expect(whole(env)).not.toContain(EDGE_PASSWORD);
    expect(resultText(env)).toMatch(/old-pi.*upgrade/s);
  });
});

describe('a reload changes the policy of open sessions', () => {
  it('a path denied to viewers in an edit of hub.yaml is refused in a session opened before it', async () => {
    const open = join(dir, 'reload-open.txt');
    writeFileSync(open, 'readable before the edit\n');
    const config = { auth: { tokens: [{ user: 'vic', role: 'viewer', token: VIEWER }] } };
    const hub = await startHubProcess({ config });
    try {
      await using client = await connectClient(hub.url, VIEWER, 'legacy');
      const before = await client.callTool({ name: 'read_file', arguments: { node: 'local', path: open } });
      expect(resultText(before)).toContain('readable before the edit');
      writeFileSync(join(hub.dir, 'hub.yaml'), JSON.stringify({ dataDir: './data', ...config, access: { viewer: { denyPaths: [`${dir}/reload-*`] } } }));
      await expect.poll(() => hub.output(), { timeout: 20_000, interval: 100 }).toContain('config reloaded');
      const after = await client.callTool({ name: 'read_file', arguments: { node: 'local', path: open } });
      expect(after.isError).toBe(true);
      expect(resultText(after)).toMatch(/denied by the hub's file policy/);
      expect(whole(after)).not.toContain('readable before the edit');
    } finally {
      await hub.stop();
    }
  }, 60_000);
});

interface StrippingProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * An edge as one released before the file policy behaves: the hub's policy never reaches it
 * (removed from each request) and its answers carry no acknowledgement. In front of a real edge.
 */
async function startStrippingProxy(target: string): Promise<StrippingProxy> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (body.length) {
        const msg = JSON.parse(body.toString('utf8'));
        if (msg?.params?._meta) delete msg.params._meta['dev.homelab-mcp/policy'];
        body = Buffer.from(JSON.stringify(msg));
      }
      const headers = { ...req.headers, host: to.host, 'content-length': String(body.length) };
      const out = request({ hostname: to.hostname, port: to.port, path: req.url, method: req.method, headers }, (answer: IncomingMessage) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          let text = Buffer.concat(parts).toString('utf8');
          if (/json/.test(answer.headers['content-type'] ?? '') && text) {
            const m = JSON.parse(text);
            if (m?.result?._meta) delete m.result._meta['dev.homelab-mcp/policy'];
            text = JSON.stringify(m);
          }
          const { 'content-length': _l, 'transfer-encoding': _t, ...h } = answer.headers;
          res.writeHead(answer.statusCode ?? 502, { ...h, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        });
      });
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
