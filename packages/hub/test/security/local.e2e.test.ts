/**
 * Attacks on the hub's secrets through the `local` node, and on secret files of the edges
 * through the file tools (issue #10, items 1 and 2, hub side), through the bundled hub, its
 * local node's child process and real edges. Each attack must fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { linkSync, mkdirSync, renameSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, HUB_BUNDLE, isAlive, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';
import { spawnListening } from '../../../testkit/src/listening-process.ts';

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
  // The edge bundle as `--hub-child` (as deployed and here), or the hub's own `local-node`.
  const child = pids.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some((a) => a === '--hub-child' || a === 'local-node'));
  if (!child) throw new Error(`no local node child under hub ${hubPid}`);
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
    // Refused by path (the policy) and by identity (the local edge's private files): either says so.
    expect(resultText(config)).toMatch(/denied by the hub's file policy|the edge never serves/);
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

/** Every regular file under `root`, for a file of the hub's data dir (its audit journal). */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const isRoot = process.getuid?.() === 0;

describe('the hub\'s own files on local, by identity: hard links and bind mounts (red team, item 1)', () => {
  let hub: HubProcess;
  const links = join(dir, 'links');
  const bind = join(dir, 'bind');
  let mounted = false;
  beforeAll(async () => {
    mkdirSync(links, { recursive: true });
    hub = await startHubProcess({
      env: { ADMIN_TOKEN: ADMIN },
      config: {
        auth: {
          tokens: [
            { user: 'ann', role: 'admin', token: '${ADMIN_TOKEN}' },
            { user: 'otto', role: 'operator', token: OPERATOR },
            { user: 'vic', role: 'viewer', token: VIEWER },
          ],
        },
      },
    });
    // A call, so that the audit journal has a file in the data dir.
    await call(hub.url, ADMIN, 'list_nodes', {});
    while (filesUnder(join(hub.dir, 'data')).length === 0) await new Promise((r) => setTimeout(r, 50));
    if (isRoot) {
      mkdirSync(bind, { recursive: true });
      const r = spawnSync('mount', ['--bind', hub.dir, bind], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mount --bind ${hub.dir} ${bind}: ${r.stderr}`);
      mounted = true;
    }
  }, 60_000);
  afterAll(async () => {
    if (mounted) spawnSync('umount', [bind]);
    await hub?.stop();
  });

  it('a hard link to hub.yaml is refused to every role', async () => {
    const link = join(links, 'innocent.yaml');
    linkSync(join(hub.dir, 'hub.yaml'), link);
    for (const token of [VIEWER, OPERATOR, ADMIN]) {
      const r = await call(hub.url, token, 'read_file', { node: 'local', path: link });
      expect(r.isError, token).toBe(true);
      expect(whole(r)).not.toContain('ADMIN_TOKEN');
      expect(whole(r)).not.toContain(OPERATOR);
    }
  });

  it('a hard link to a file of the data dir (the journal) is refused', async () => {
    const journal = filesUnder(join(hub.dir, 'data'))[0]!;
    const link = join(links, 'journal-copy.txt');
    linkSync(journal, link);
    const r = await call(hub.url, OPERATOR, 'read_file', { node: 'local', path: link });
    expect(r.isError).toBe(true);
    expect(whole(r)).not.toContain('list_nodes');
    // A file with one name outside the hub's files is still served.
    writeFileSync(join(links, 'plain.txt'), 'just a file\n');
    expect(resultText(await call(hub.url, VIEWER, 'read_file', { node: 'local', path: join(links, 'plain.txt') }))).toContain('just a file');
  });

  it.skipIf(!isRoot)('through a bind mount of the hub\'s directory: no read of hub.yaml or the journal, no listing or write of the data dir', async () => {
    for (const token of [VIEWER, OPERATOR, ADMIN]) {
      const config = await call(hub.url, token, 'read_file', { node: 'local', path: join(bind, 'hub.yaml') });
      expect(config.isError, token).toBe(true);
      expect(whole(config)).not.toContain('ADMIN_TOKEN');
    }
    const journal = filesUnder(join(bind, 'data'))[0]!;
    const read = await call(hub.url, VIEWER, 'read_file', { node: 'local', path: journal });
    expect(read.isError).toBe(true);
    expect(whole(read)).not.toContain('list_nodes');
    const listed = await call(hub.url, VIEWER, 'list_directory', { node: 'local', path: join(bind, 'data') });
    expect(listed.isError).toBe(true);
    // An operator with approval writes neither into the data dir nor hub.yaml (a new admin token).
    const before = readFileSync(join(hub.dir, 'hub.yaml'), 'utf8');
    await using client = await connectClient(hub.url, OPERATOR, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const planted = await client.callTool({ name: 'write_file', arguments: { node: 'local', path: join(bind, 'data', 'planted.txt'), content: 'x' } });
    expect(planted.isError).toBe(true);
    expect(() => statSync(join(hub.dir, 'data', 'planted.txt'))).toThrow();
    const rewritten = await client.callTool({ name: 'write_file', arguments: { node: 'local', path: join(bind, 'hub.yaml'), content: '{"auth":{"tokens":[]}}' } });
    expect(rewritten.isError).toBe(true);
    expect(readFileSync(join(hub.dir, 'hub.yaml'), 'utf8')).toBe(before);
  });

  it('hub.yaml saved as a new file (as editors do: a new inode) is refused through a hard link too', async () => {
    const file = join(hub.dir, 'hub.yaml');
    writeFileSync(`${file}.new`, readFileSync(file, 'utf8'));
    renameSync(`${file}.new`, file);
    const link = join(links, 'after-save.yaml');
    linkSync(file, link);
    const r = await call(hub.url, ADMIN, 'read_file', { node: 'local', path: link });
    expect(r.isError).toBe(true);
    expect(whole(r)).not.toContain('ADMIN_TOKEN');
  });
});

/** The one child of `pid` (the hub under its shell). */
function onlyChildOf(pid: number): number {
  const pids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  if (pids.length !== 1) throw new Error(`expected one child of ${pid}, found ${pids.join(', ') || 'none'}`);
  return pids[0]!;
}

describe('the environment of the process that started the hub (red team, item 2)', () => {
  it('no role reads /proc/<parent>/environ of a shell that started the hub with its tokens', async () => {
    const hubDir = mkdtempSync(join(dir, 'parent-'));
    writeFileSync(join(hubDir, 'hub.yaml'), JSON.stringify({ dataDir: './data', auth: { tokens: [{ user: 'ann', role: 'admin', token: '${T_ADMIN}' }, { user: 'otto', role: 'operator', token: OPERATOR }] } }));
    // `; exit` keeps the shell from exec'ing node: it stays the hub's parent, holding T_ADMIN.
    const shell = await spawnListening('hub under sh', '/bin/sh', ['-c', `"${process.execPath}" "${HUB_BUNDLE}" serve --listen 127.0.0.1:0 --config hub.yaml; exit $?`], {
      cwd: hubDir,
      env: { ...process.env, T_ADMIN: ADMIN },
      timeoutMs: 20_000,
    });
    const shellPid = shell.child.pid!;
    const hubPid = onlyChildOf(shellPid);
    const url = `http://127.0.0.1:${shell.port}/mcp`;
    try {
      for (const token of [OPERATOR, ADMIN]) {
        for (const path of [`/proc/${shellPid}/environ`, `/proc/${shellPid}/task/${shellPid}/environ`]) {
          const r = await call(url, token, 'read_file', { node: 'local', path });
          expect(r.isError, `${path} as ${token}`).toBe(true);
          expect(resultText(r)).toMatch(/denied by the hub's file policy/);
          expect(whole(r)).not.toContain(ADMIN);
        }
      }
    } finally {
      // The hub by its pid (the shell does not pass SIGTERM on), then the shell ends with it.
      process.kill(hubPid, 'SIGTERM');
      await shell.stop();
    }
  }, 60_000);
});

describe('broader defaults (red team, item 3)', () => {
  let hub: HubProcess;
  let sleeper: ChildProcess;
  const PASSWORD = 'cmdline-password-7d3e1a9c';
  beforeAll(async () => {
    // A process with a password on its command line and one in its environment.
    sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', '--', `--password=${PASSWORD}`], { env: { PATH: process.env.PATH ?? '', SERVICE_SECRET: PASSWORD }, stdio: 'ignore' });
    hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'otto', role: 'operator', token: OPERATOR }, { user: 'vic', role: 'viewer', token: VIEWER }] } } });
  });
  afterAll(async () => {
    await hub?.stop();
    if (sleeper?.pid && sleeper.exitCode === null) {
      const gone = new Promise((r) => sleeper.once('exit', r));
      sleeper.kill('SIGTERM');
      await gone;
    }
  });

  it('a viewer reads no process\'s command line, descriptors or environment; an operator no environment', async () => {
    const pid = sleeper.pid!;
    for (const path of [`/proc/${pid}/cmdline`, `/proc/${pid}/task/${pid}/cmdline`, `/proc/${pid}/environ`, `/proc/${pid}/fd/0`]) {
      const r = await call(hub.url, VIEWER, 'read_file', { node: 'local', path });
      expect(r.isError, path).toBe(true);
      expect(resultText(r), path).toMatch(/denied by the hub's file policy/);
      expect(whole(r)).not.toContain(PASSWORD);
    }
    for (const path of [`/proc/${pid}/environ`, `/proc/${pid}/task/${pid}/environ`]) {
      const r = await call(hub.url, OPERATOR, 'read_file', { node: 'local', path });
      expect(r.isError, path).toBe(true);
      expect(whole(r)).not.toContain(PASSWORD);
    }
    // Nor, since round 3, a command line: passwords given as arguments.
    for (const path of [`/proc/${pid}/cmdline`, `/proc/${pid}/task/${pid}/cmdline`]) {
      const r = await call(hub.url, OPERATOR, 'read_file', { node: 'local', path });
      expect(r.isError, path).toBe(true);
      expect(resultText(r), path).toMatch(/denied by the hub's file policy/);
      expect(whole(r)).not.toContain(PASSWORD);
    }
  });
});

const STDIO_SERVER = fileURLToPath(new URL('../../src/upstreams/__fixtures__/stdio-server.mjs', import.meta.url));

/** The hub's child running `script` (a stdio upstream), once the hub has started it. */
async function childRunning(hubPid: number, script: string): Promise<number> {
  // The hub starts its upstreams as it starts; a bounded number of looks, not a deadline.
  for (let i = 0; i < 600; i++) {
    const pids = readFileSync(`/proc/${hubPid}/task/${hubPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const found = pids.find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(script);
      } catch {
        return false;
      }
    });
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no child running ${script} under hub ${hubPid}`);
}

describe('the hub\'s other children on local: a stdio upstream\'s secrets (red team round 3, item 1)', () => {
  const SECRET = 'stdio-upstream-secret-e4a7c2f9b1';
  let hub: HubProcess;
  beforeAll(async () => {
    hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'otto', role: 'operator', token: OPERATOR }] },
        // Its key on the command line and in its configured environment, as such servers are run.
        mcpServers: { notes: { command: process.execPath, args: [STDIO_SERVER, '--api-key', SECRET], env: { NOTES_API_KEY: SECRET } } },
      },
    });
  });
  afterAll(async () => hub?.stop());

  it('neither admin nor operator reads /proc/<child>/environ or cmdline on local', async () => {
    const pid = await childRunning(hub.child.pid!, STDIO_SERVER);
    // The secret is really there: what is refused below would otherwise be read.
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toContain(SECRET);
    const paths = [`/proc/${pid}/environ`, `/proc/${pid}/cmdline`, `/proc/${pid}/task/${pid}/environ`, `/proc/${pid}/task/${pid}/cmdline`];
    for (const token of [ADMIN, OPERATOR]) {
      for (const path of paths) {
        const r = await call(hub.url, token, 'read_file', { node: 'local', path });
        expect(r.isError, `${token === ADMIN ? 'admin' : 'operator'} ${path}`).toBe(true);
        expect(resultText(r), path).toMatch(/denied by the hub's file policy/);
        expect(whole(r), path).not.toContain(SECRET);
      }
    }
  });
});

describe('wider viewer defaults on an edge: apps\' .env files (red team round 3, item 3)', () => {
  let hub: HubProcess;
  let edge: EdgeProcess;
  const stack = join(dir, 'stack');
  const SECRET = 'compose-env-secret-91c3e7a5d2';
  beforeAll(async () => {
    mkdirSync(stack, { recursive: true });
    writeFileSync(join(stack, '.env'), `POSTGRES_PASSWORD=${SECRET}\n`);
    writeFileSync(join(stack, '.env.production'), `API_KEY=${SECRET}\n`);
    writeFileSync(join(stack, 'compose.yaml'), 'services: {}\n');
    edge = await startEdgeProcess();
    hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vic', role: 'viewer', token: VIEWER }] },
        nodes: [{ name: 'pi', url: edge.url, token: edge.token }],
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await edge?.stop();
  });

  it('a viewer reads no .env or .env.* file; the compose file beside it and the admin still can', async () => {
    for (const path of [join(stack, '.env'), join(stack, '.env.production')]) {
      const r = await call(hub.url, VIEWER, 'read_file', { node: 'pi', path });
      expect(r.isError, path).toBe(true);
      expect(resultText(r), path).toMatch(/denied by the hub's file policy/);
      expect(whole(r), path).not.toContain(SECRET);
    }
    expect(resultText(await call(hub.url, VIEWER, 'read_file', { node: 'pi', path: join(stack, 'compose.yaml') }))).toContain('services');
    expect(resultText(await call(hub.url, ADMIN, 'read_file', { node: 'pi', path: join(stack, '.env') }))).toContain(SECRET);
  });
});

describe('probe_http shows a viewer no page (red team, item 4: SSRF)', () => {
  let hub: HubProcess;
  let web: Server;
  let secretUrl: string;
  const PAGE = 'router-admin-password: 9f8e7d6c5b4a';
  beforeAll(async () => {
    web = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'x-api-key': 'header-secret-1a2b3c' });
      res.end(`<html><body>${PAGE}\nline two of the secret page</body></html>`);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    secretUrl = `http://127.0.0.1:${(web.address() as { port: number }).port}/secret.html`;
    hub = await startHubProcess({
      config: { perDeviceTools: true, auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'otto', role: 'operator', token: OPERATOR }, { user: 'vic', role: 'viewer', token: VIEWER }] } },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await new Promise<void>((r) => (web.closeAllConnections(), web.close(() => r())));
  });

  it('from the hub, from a node and through the per-device copy: status and timing, no body, in text and structuredContent', async () => {
    const answers = {
      hub: await call(hub.url, VIEWER, 'probe_http', { url: secretUrl }),
      from: await call(hub.url, VIEWER, 'probe_http', { url: secretUrl, from: 'local' }),
      copy: await call(hub.url, VIEWER, 'local__probe_http', { url: secretUrl }),
    };
    for (const [how, r] of Object.entries(answers)) {
      expect(r.isError, how).toBeFalsy();
      expect(r.structuredContent, how).toMatchObject({ ok: true, status: 200 });
      expect(r.structuredContent, how).not.toHaveProperty('bodySnippet');
      expect(resultText(r), how).toContain('HTTP 200');
      expect(resultText(r), how).toContain('content-type: text/html');
      expect(whole(r), how).not.toContain('router-admin-password');
      expect(whole(r), how).not.toContain('line two');
      expect(whole(r), how).not.toContain('header-secret');
    }
  });

  it('operators and admins still get the body', async () => {
    for (const token of [OPERATOR, ADMIN]) {
      const r = await call(hub.url, token, 'probe_http', { url: secretUrl, from: 'local' });
      expect(r.structuredContent).toMatchObject({ status: 200, bodySnippet: expect.stringContaining(PAGE) });
      expect(resultText(await call(hub.url, token, 'probe_http', { url: secretUrl }))).toContain(PAGE);
    }
  });
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
