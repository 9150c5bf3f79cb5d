/**
 * install-edge.sh as a user runs it: a real shell (dash, and bash when present) fetching the
 * bundle from a real HTTP server on 127.0.0.1, installing under a temporary --root so that the
 * machine is never touched. `node` and `apt-get` are fake scripts first on PATH, so the Node
 * version check and the apt-get fallback run without installing anything.
 * The units are checked with systemd-analyze where it exists; their ExecStart (and
 * Dockerfile.edge's entrypoint and health check) run the real edge bundle when it is built,
 * including socket activation through systemd-socket-activate. As root, one test runs the
 * script on the real paths inside a private mount namespace (overlays over /etc and
 * /usr/local, fake systemctl) to check the systemctl calls of each mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPastedNode, execStart, pastedNodeLine, run, unitEnvironment, verifyUnits, which, type RunResult } from './unit-lib.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(REPO, 'deploy/install-edge.sh');
const UNIT_DIR = join(REPO, 'deploy/systemd');
const SERVICE = readFileSync(join(UNIT_DIR, 'homelab-edge.service'), 'utf8');
const SOCKET = readFileSync(join(UNIT_DIR, 'homelab-edge.socket'), 'utf8');
const EDGE_BUNDLE = join(REPO, 'packages/edge/dist/homelab-edge.mjs');
const HUB_BUNDLE = join(REPO, 'packages/hub/dist/homelab-hub.mjs');
const NODE18 = join(REPO, 'packages/testkit/clients/node_modules/node18/bin/node');

const BUNDLE = '#!/usr/bin/env node\n// a stand-in for homelab-edge.mjs\nconsole.log("edge");\n';
const BUNDLE_SHA = createHash('sha256').update(BUNDLE).digest('hex');
const TOKEN = `tok-${randomBytes(16).toString('hex')}`;

// Absolute paths: some tests run the script with a PATH that holds only the tools it needs.
const SHELLS = ['dash', 'bash'].map((s) => which(s)).filter((p): p is string => p !== undefined);
if (SHELLS.length === 0) SHELLS.push(which('sh') ?? '/bin/sh');
const SH = SHELLS[0]!;

let work: string;
let server: Server;
let base: string;
let bundleGets = 0;
const unexpected: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'install-edge-test-'));
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/edge/homelab-edge.mjs') {
      bundleGets++;
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(BUNDLE);
    } else if (req.url === '/missing/homelab-edge.mjs') {
      res.writeHead(404).end('not found');
    } else {
      unexpected.push(`${req.method} ${req.url}`);
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (work) rmSync(work, { recursive: true, force: true });
  expect(unexpected, 'requests the fake hub did not expect').toEqual([]);
});

interface Fakes {
  dir: string;
  /** Where installed files go (--root). */
  root: string;
  bin: string;
  aptLog: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A scratch folder with a fake `node` printing `nodeVersion` and a fake `apt-get` that logs its
 * arguments and, on `install`, makes `node` report `afterApt` (when given).
 * `pathTail` is what follows the fakes on PATH.
 */
function fakes(name: string, nodeVersion: string | null, afterApt?: string, pathTail = process.env.PATH ?? ''): Fakes {
  const dir = join(work, name);
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const state = join(dir, 'node-version');
  const aptLog = join(dir, 'apt-get.log');
  const nodeImpl = join(dir, 'node-impl');
  writeFileSync(nodeImpl, `#!/bin/sh\ncat '${state}'\n`, { mode: 0o755 });
  if (nodeVersion !== null) {
    writeFileSync(state, `${nodeVersion}\n`);
    writeFileSync(join(bin, 'node'), readFileSync(nodeImpl), { mode: 0o755 });
  }
  // Installing "nodejs" creates or upgrades the fake node, as Debian's package would.
  const onInstall = afterApt ? `printf '%s\\n' '${afterApt}' > '${state}'; cp '${nodeImpl}' '${bin}/node'` : ':';
  writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${aptLog}'\ncase " $* " in *" install "*) ${onInstall} ;; esac\nexit 0\n`, { mode: 0o755 });
  return { dir, root: join(dir, 'root'), bin, aptLog, env: { PATH: `${bin}${delimiter}${pathTail}`, HOME: dir, TMPDIR: dir } };
}

/**
 * A PATH folder holding only the tools the script needs, so that a test can take one away
 * (node, curl). Fails loudly when the machine lacks one of them.
 */
function toolFarm(dir: string, tools: string[]): string {
  const farm = join(dir, 'tools');
  mkdirSync(farm, { recursive: true });
  for (const t of tools) {
    const p = which(t);
    if (!p) throw new Error(`this test needs ${t} on PATH`);
    symlinkSync(p, join(farm, t));
  }
  return farm;
}
// hostname is left out on purpose: the script falls back to uname -n without it.
const SCRIPT_TOOLS = ['cat', 'dirname', 'mktemp', 'chmod', 'mv', 'cp', 'mkdir', 'rm', 'tr', 'awk', 'sed', 'grep', 'sha256sum', 'id', 'uname'];

/** A free loopback port, for programs that must be told one (a tiny race is acceptable). */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const installed = (root: string, p: string) => join(root, p);
const mode = (p: string) => statSync(p).mode & 0o777;
/** The options that fetch the stand-in bundle from the fake hub and verify it. */
const withUrl = () => ['--bundle-url', `${base}/edge/homelab-edge.mjs`, '--sha256', BUNDLE_SHA];

describe.each(SHELLS)('install-edge.sh under %s', (shell) => {
  it('installs the verified bundle, the token, the settings and both units under --root', async () => {
    const f = fakes(`happy-${basename(shell)}`, 'v20.11.0');
    const before = bundleGets;
    const r = await run(shell, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(bundleGets).toBe(before + 1);

    const bundle = installed(f.root, 'usr/local/lib/homelab-edge/homelab-edge.mjs');
    expect(readFileSync(bundle, 'utf8')).toBe(BUNDLE);
    expect(mode(bundle)).toBe(0o755);

    const token = installed(f.root, 'etc/homelab-edge/token');
    expect(readFileSync(token, 'utf8')).toBe(TOKEN);
    expect(mode(token)).toBe(0o600);

    expect(readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.service'), 'utf8')).toBe(SERVICE);
    expect(readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.socket'), 'utf8')).toBe(SOCKET);
    expect(mode(installed(f.root, 'etc/systemd/system/homelab-edge.service'))).toBe(0o644);

    const settings = readFileSync(installed(f.root, 'etc/default/homelab-edge'), 'utf8');
    expect(settings).toMatch(/^HOMELAB_EDGE_LISTEN=0\.0\.0\.0:8222$/m);
    expect(settings).toMatch(/^HOMELAB_EDGE_ARGS=$/m);

    // Nothing else: no socket drop-in without --socket, no temporary files left behind.
    expect(readdirSync(installed(f.root, 'etc/systemd/system')).sort()).toEqual(['homelab-edge.service', 'homelab-edge.socket']);
    expect(readdirSync(installed(f.root, 'etc/homelab-edge'))).toEqual(['token']);
    expect(readdirSync(installed(f.root, 'usr/local/lib/homelab-edge'))).toEqual(['homelab-edge.mjs']);
    expect(readdirSync(f.dir).filter((n) => n.startsWith('install-edge.'))).toEqual([]);

    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(r.stdout).toContain('sha256 verified');
    expect(r.stdout).toMatch(/curl http:\/\/\S+:8222\/healthz/);
    expect(r.stdout).toContain('nothing started');
    expect(existsSync(f.aptLog)).toBe(false);
  });
});

describe("install-edge.sh's closing hint", () => {
  // uname -n as devices really answer, and what hub.yaml must get from each.
  const names: Array<[string, string]> = [
    ['pi-kitchen', 'pi-kitchen'],
    ['Kitchen Pi (2).home.lan', 'Kitchen-Pi--2-'],
    ['_nas_', 'nas_'],
    ['a-device-name-far-longer-than-thirty-two-characters', 'a-device-name-far-longer-than-th'],
    ['...', 'edge'],
  ];
  it.each(names)('is a hub.yaml nodes: entry that check-config accepts, for a device named %j', async (uname, node) => {
    const f = fakes(`hint-${node}`, 'v20.11.0');
    writeFileSync(join(f.bin, 'uname'), `#!/bin/sh\nprintf '%s\\n' '${uname}'\n`, { mode: 0o755 });
    writeFileSync(join(f.bin, 'hostname'), '#!/bin/sh\necho 192.0.2.10 fe80::1\n', { mode: 0o755 });
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('topology.yaml');
    const line = pastedNodeLine(r.stdout);
    expect(line).toBe(`  - { name: ${node}, url: "http://192.0.2.10:8222/mcp", tokenFile: secrets/${node}.token }`);
    expect(r.stdout).toContain(`/etc/homelab-hub/secrets/${node}.token`);
    // The token is never printed: the person pastes it into the command on the hub.
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    // Without the token file (the hint's step 1), the hub says which file is missing.
    const missing = await checkPastedNode(HUB_BUNDLE, f.dir, line!);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`nodes[0].tokenFile`);
    mkdirSync(join(f.dir, 'secrets'), { recursive: true });
    writeFileSync(join(f.dir, 'secrets', `${node}.token`), `${TOKEN}\n`, { mode: 0o600 });
    const checked = await checkPastedNode(HUB_BUNDLE, f.dir, line!);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });
});

describe('install-edge.sh refuses, clearly, before changing anything', () => {
  it('refuses a bundle whose sha256 differs and installs nothing', async () => {
    const f = fakes('bad-sha', 'v20.11.0');
    const wrong = createHash('sha256').update('something else').digest('hex');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-url', `${base}/edge/homelab-edge.mjs`, '--sha256', wrong], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`has sha256 ${BUNDLE_SHA}, expected ${wrong}`);
    expect(r.stderr).toContain('nothing was changed');
    expect(existsSync(f.root)).toBe(false);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it('names --token when no token is given', async () => {
    const f = fakes('no-token', 'v20.11.0');
    const r = await run(SH, [SCRIPT, '--root', f.root, ...withUrl()], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--token TOKEN \(or --token-file FILE\) is required/);
    expect(existsSync(f.root)).toBe(false);
  });

  it('refuses a token the edge would refuse, without echoing it', async () => {
    const f = fakes('short-token', 'v20.11.0');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', 'short-secret', ...withUrl()], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('too short (12 characters)');
    expect(r.stderr).not.toContain('short-secret');
    // A token given without --token is not echoed back either.
    const r2 = await run(SH, [SCRIPT, '--root', f.root, TOKEN], f.env);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('unexpected argument');
    expect(r2.stderr).not.toContain(TOKEN);
    expect(existsSync(f.root)).toBe(false);
  });

  it('names the URL when the bundle cannot be downloaded', async () => {
    const f = fakes('404', 'v20.11.0');
    const url = `${base}/missing/homelab-edge.mjs`;
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-url', url], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not download the bundle from ${url}`);
    expect(existsSync(f.root)).toBe(false);
  });

  it('rejects a --listen that is not HOST:PORT', async () => {
    const f = fakes('bad-listen', 'v20.11.0');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl(), '--listen', '8222'], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--listen: expected HOST:PORT (for example 0.0.0.0:8222), got '8222'");
    const r2 = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl(), '--socket', '--listen', 'pi.local:8222'], f.env);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('systemd needs an IP address');
    expect(existsSync(f.root)).toBe(false);
  });

  it('prints usage for --help and exits 0', async () => {
    const r = await run(SH, [SCRIPT, '--help'], { PATH: process.env.PATH });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: curl -fsSL https:\/\/HUB\/edge\/install\.sh \| sudo sh -s -- --token TOKEN --sha256 HASH/m);
    for (const opt of ['--token-file', '--hub', '--bundle-url', '--bundle-file', '--sha256', '--listen', '--socket', '--no-start', '--upgrade', '--root']) {
      expect(r.stdout).toContain(opt);
    }
  });
});

describe('install-edge.sh gets Node.js >= 18', () => {
  it('installs Debian nodejs with apt-get when node is too old, then goes on', async () => {
    const f = fakes('node16', 'v16.20.0', 'v18.19.0');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('node v16.20.0 is older than v18');
    expect(readFileSync(f.aptLog, 'utf8')).toBe('update\ninstall -y nodejs\n');
    expect(r.stdout).toContain('using node v18.19.0');
    expect(readFileSync(installed(f.root, 'usr/local/lib/homelab-edge/homelab-edge.mjs'), 'utf8')).toBe(BUNDLE);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it('works from a pipe, as `curl ... | sudo sh -s -- ...` runs it', async () => {
    const f = fakes('pipe', 'v16.20.0', 'v18.19.0');
    const r = await run(SH, ['-s', '--', '--root', f.root, '--token', TOKEN, ...withUrl()], f.env, 20_000, readFileSync(SCRIPT, 'utf8'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(f.aptLog, 'utf8')).toBe('update\ninstall -y nodejs\n');
    expect(readFileSync(installed(f.root, 'etc/homelab-edge/token'), 'utf8')).toBe(TOKEN);
    expect(readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.service'), 'utf8')).toBe(SERVICE);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it('installs it when there is no node at all', async () => {
    const f = fakes('no-node', null, 'v18.19.0', toolFarm(join(work, 'no-node'), [...SCRIPT_TOOLS, 'curl']));
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('node not found');
    expect(readFileSync(f.aptLog, 'utf8')).toBe('update\ninstall -y nodejs\n');
  });

  it('fails clearly when Debian nodejs is still too old, and installs nothing', async () => {
    const f = fakes('node12', 'v12.22.12');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.code).toBe(1);
    expect(readFileSync(f.aptLog, 'utf8')).toBe('update\ninstall -y nodejs\n');
    expect(r.stderr).toContain("this system's nodejs is v12.22.12, the edge needs v18 or newer");
    expect(existsSync(f.root)).toBe(false);
  });
});

describe('install-edge.sh options', () => {
  it('downloads with wget when curl is missing', async () => {
    const f = fakes('wget', 'v20.11.0', undefined, toolFarm(join(work, 'wget'), [...SCRIPT_TOOLS, 'wget']));
    const before = bundleGets;
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(bundleGets).toBe(before + 1);
    expect(readFileSync(installed(f.root, 'usr/local/lib/homelab-edge/homelab-edge.mjs'), 'utf8')).toBe(BUNDLE);
  });

  it('fetches from --hub URL/edge/homelab-edge.mjs and reads --token-file', async () => {
    const f = fakes('hub', 'v20.11.0');
    const tokenFile = join(f.dir, 'token-in');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const before = bundleGets;
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token-file', tokenFile, `--hub=${base}/`], f.env);
    expect(r.code).toBe(0);
    expect(bundleGets).toBe(before + 1);
    expect(r.stdout).toContain('not verified');
    expect(readFileSync(installed(f.root, 'etc/homelab-edge/token'), 'utf8')).toBe(TOKEN);
  });

  it('installs from --bundle-file', async () => {
    const f = fakes('bundle-file', 'v20.11.0');
    const file = join(f.dir, 'homelab-edge.mjs');
    writeFileSync(file, BUNDLE);
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', file, '--sha256', BUNDLE_SHA.toUpperCase()], f.env);
    expect(r.code).toBe(0);
    expect(readFileSync(installed(f.root, 'usr/local/lib/homelab-edge/homelab-edge.mjs'), 'utf8')).toBe(BUNDLE);
  });

  it('writes a socket drop-in for --socket --listen', async () => {
    const f = fakes('socket', 'v20.11.0');
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl(), '--socket', '--listen', '192.0.2.10:9000'], f.env);
    expect(r.code).toBe(0);
    const dropIn = readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.socket.d/listen.conf'), 'utf8');
    expect(dropIn.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['[Socket]', 'ListenStream=', 'ListenStream=192.0.2.10:9000', '']);
    expect(readFileSync(installed(f.root, 'etc/default/homelab-edge'), 'utf8')).toMatch(/^HOMELAB_EDGE_LISTEN=192\.0\.2\.10:9000$/m);
    expect(r.stdout).toContain('curl http://192.0.2.10:9000/healthz');
  });

  it('keeps local settings on reinstall and only rewrites the address for --listen', async () => {
    const f = fakes('reinstall', 'v20.11.0');
    const settingsFile = installed(f.root, 'etc/default/homelab-edge');
    expect((await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, ...withUrl()], f.env)).code).toBe(0);
    writeFileSync(settingsFile, readFileSync(settingsFile, 'utf8').replace(/^HOMELAB_EDGE_ARGS=$/m, 'HOMELAB_EDGE_ARGS=--disable-gpio'));
    const edited = readFileSync(settingsFile, 'utf8');

    const newToken = `new-${randomBytes(16).toString('hex')}`;
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', newToken, ...withUrl()], f.env);
    expect(r.code).toBe(0);
    expect(readFileSync(settingsFile, 'utf8')).toBe(edited);
    expect(readFileSync(installed(f.root, 'etc/homelab-edge/token'), 'utf8')).toBe(newToken);

    const r2 = await run(SH, [SCRIPT, '--root', f.root, '--token', newToken, ...withUrl(), '--listen', '10.0.0.5:8300'], f.env);
    expect(r2.code).toBe(0);
    expect(readFileSync(settingsFile, 'utf8')).toBe(edited.replace('HOMELAB_EDGE_LISTEN=0.0.0.0:8222', 'HOMELAB_EDGE_LISTEN=10.0.0.5:8300'));
    expect(mode(settingsFile)).toBe(0o644);
  });
});

describe('the systemd units', () => {
  it('pass systemd-analyze verify (and a broken copy does not)', async (ctx) => {
    const analyze = which('systemd-analyze');
    ctx.skip(!analyze, 'systemd-analyze not found (Debian: apt-get install -y --no-install-recommends systemd); the units were not verified');
    const dir = join(work, 'verify');
    const r = await verifyUnits(analyze!, dir, { 'homelab-edge.service': SERVICE, 'homelab-edge.socket': SOCKET });
    const ours = r.stderr.split('\n').filter((l) => l.includes('homelab-edge'));
    expect(ours).toEqual([]);
    expect(r.code).toBe(0);

    // The same check notices a mistake, so the pass above means something.
    const bad = await verifyUnits(analyze!, dir, { 'homelab-edge.service': SERVICE.replace('Restart=on-failure', 'Restart=sometimes'), 'homelab-edge.socket': SOCKET.replace('Accept=no', 'Accept=perhaps') });
    expect(bad.stderr).toMatch(/homelab-edge\.service:\d+: .*sometimes/);
    expect(bad.stderr).toMatch(/homelab-edge\.socket:\d+: .*perhaps/);
  });

  const nodeFlags = () => {
    const argv = execStart(SERVICE, unitEnvironment(SERVICE));
    return argv.slice(1, argv.indexOf('/usr/local/lib/homelab-edge/homelab-edge.mjs'));
  };
  const acceptsFlags = async (node: string) => {
    const r = await run(node, [...nodeFlags(), '-e', 'process.stdout.write(process.version)'], { PATH: process.env.PATH });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  };

  it('passes the Node flags the edge bench chose, which this Node accepts', async () => {
    expect(nodeFlags()).toEqual(['--max-semi-space-size=1', '--max-old-space-size=32', '--v8-pool-size=1', '--optimize-for-size']);
    await acceptsFlags(process.execPath);
  });

  it('passes Node flags that Node 18 (Raspberry Pi OS bookworm) accepts', async (ctx) => {
    ctx.skip(!existsSync(NODE18), `Node 18 not found at ${NODE18} (testkit's optional dependency node18)`);
    await acceptsFlags(NODE18);
  });
});

describe('the installed unit runs the real edge bundle', () => {
  /** Stops a child by its own handle and waits for it to be gone. */
  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }

  async function healthz(url: string, deadlineMs: number): Promise<number> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Installs the built bundle under a fresh root and returns the unit's command line, mapped into it. */
  async function installReal(name: string, listen: string): Promise<{ argv: string[]; env: Record<string, string> }> {
    const f = fakes(name, null, undefined, `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`);
    const r = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', EDGE_BUNDLE, '--listen', listen], f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const unit = readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.service'), 'utf8');
    const env = unitEnvironment(unit, installed(f.root, 'etc/default/homelab-edge'));
    const argv = execStart(unit, env).map((a) => (a.startsWith('/usr/local/lib/homelab-edge/') || a.startsWith('/etc/homelab-edge/') ? join(f.root, a) : a));
    expect(argv[0]).toBe('node');
    argv[0] = process.execPath;
    return { argv, env };
  }

  it('serves /healthz when started directly, with --idle-exit given but inactive', async (ctx) => {
    ctx.skip(!existsSync(EDGE_BUNDLE), `${EDGE_BUNDLE} is not built (pnpm --filter @homelab-mcp/edge build)`);
    const port = await freePort();
    const { argv } = await installReal('real-direct', `127.0.0.1:${port}`);
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    try {
      expect(await healthz(`http://127.0.0.1:${port}/healthz`, 10_000), log).toBe(200);
      // No LISTEN_FDS: the idle exit must not apply.
      await new Promise((r) => setTimeout(r, 1500));
      expect(child.exitCode, log).toBeNull();
    } finally {
      await stop(child);
    }
  });

  it('serves the socket systemd passes and exits 0 when idle', async (ctx) => {
    ctx.skip(!existsSync(EDGE_BUNDLE), `${EDGE_BUNDLE} is not built (pnpm --filter @homelab-mcp/edge build)`);
    const activate = which('systemd-socket-activate');
    ctx.skip(!activate, 'systemd-socket-activate not found (Debian package systemd)');
    // `install-edge.sh --socket --listen A` puts A in both the socket and the settings: the edge
    // must serve the socket it is given and not bind A again (that would fail: address in use).
    const port = await freePort();
    const { argv: unitArgv } = await installReal('real-socket', `127.0.0.1:${port}`);
    const argv = unitArgv.map((a, i) => (unitArgv[i - 1] === '--idle-exit' ? '1' : a));
    // systemd-socket-activate listens, waits for the first connection, then execs the edge with
    // LISTEN_FDS=1 and LISTEN_PID set, as systemd does for homelab-edge.socket.
    const child = spawn(activate!, ['-l', `127.0.0.1:${port}`, '-E', 'PATH', ...argv], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      expect(await healthz(`http://127.0.0.1:${port}/healthz`, 10_000), log).toBe(200);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      // 0, so Restart=on-failure leaves it down until the socket starts it again.
      expect(code, log).toBe(0);
    } finally {
      await stop(child);
    }
  });
});

describe('Dockerfile.edge (no Docker engine here: its pieces are run directly)', () => {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile.edge'), 'utf8');
  const env = Object.fromEntries([...dockerfile.matchAll(/(HOMELAB_EDGE_[A-Z_]+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const healthcheck = JSON.parse(/^ {2}CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];

  it('passes the same Node flags as the systemd unit', () => {
    expect(env.HOMELAB_EDGE_NODE_FLAGS).toBe(unitEnvironment(SERVICE).HOMELAB_EDGE_NODE_FLAGS);
    expect(dockerfile).toMatch(/^COPY packages\/edge\/dist\/homelab-edge\.mjs \/usr\/local\/lib\/homelab-edge\/homelab-edge\.mjs$/m);
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', '/bin/sh', '-c']);
  });

  it('starts the edge with the token file and passes its health check, which fails once it stops', async (ctx) => {
    ctx.skip(!existsSync(EDGE_BUNDLE), `${EDGE_BUNDLE} is not built (pnpm --filter @homelab-mcp/edge build)`);
    const dir = join(work, 'docker');
    mkdirSync(dir, { recursive: true });
    const tokenFile = join(dir, 'secret');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const port = await freePort();
    const runEnv = { ...env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, HOMELAB_EDGE_LISTEN: `127.0.0.1:${port}`, HOMELAB_EDGE_TOKEN_FILE: tokenFile };
    // tini is left out (not installed here); it only execs what follows it.
    const [sh, dashC, script, name] = entrypoint.slice(2) as [string, string, string, string];
    const child = spawn(sh, [dashC, script.replace('/usr/local/lib/homelab-edge/homelab-edge.mjs', EDGE_BUNDLE), name], { env: runEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      let health: RunResult | undefined;
      for (let i = 0; i < 50; i++) {
        health = await run(healthcheck[0]!, healthcheck.slice(1), runEnv);
        if (health.code === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(health!.code, log).toBe(0);
      // With the token from the file the edge accepts it on /mcp and refuses a wrong one.
      const ask = (token: string) => fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
      expect((await ask('wrong-token-wrong-token')).status).toBe(401);
      expect((await ask(TOKEN)).status).not.toBe(401);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    }
    expect((await run(healthcheck[0]!, healthcheck.slice(1), runEnv)).code).toBe(1);
  });
});

describe('install-edge.sh as root, on the real paths, in a private mount namespace', () => {
  const isRoot = process.getuid?.() === 0;

  it('refuses to run as another user without --root', async (ctx) => {
    const setpriv = which('setpriv');
    ctx.skip(!isRoot || !setpriv, 'needs root and setpriv (util-linux) to run the script as nobody');
    const r = await run(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', SH, SCRIPT, '--token', TOKEN, ...withUrl()], { PATH: process.env.PATH });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("must run as root: pipe it to 'sudo sh -s -- ...'");
  });

  it('installs to /usr/local and /etc, calls systemctl for each mode, and switches modes', async (ctx) => {
    const unshare = which('unshare');
    ctx.skip(!isRoot || !unshare, 'needs root and unshare (util-linux) for a private mount namespace');
    // /etc and /usr/local become overlays whose writes land in this folder, /run a tmpfs with
    // /run/systemd/system (systemd "running"); node, apt-get and systemctl are fakes in
    // /usr/local/sbin, which comes first in systemd's search path, so the script, which
    // searches only there, uses them. Nothing outside the namespace sees any of it.
    const w = join(work, 'ns');
    for (const d of ['etc-u', 'etc-w', 'loc-u', 'loc-w']) mkdirSync(join(w, d), { recursive: true });
    const bundleFile = join(w, 'bundle.mjs');
    writeFileSync(bundleFile, BUNDLE);
    const realTokenBefore = existsSync('/etc/homelab-edge/token');
    const runs = ['', '--socket --listen 127.0.0.1:9001', ''];
    const inner = `set -eu
W='${w}'
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-u,workdir=$W/etc-w" /etc
mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$W/loc-u,workdir=$W/loc-w" /usr/local
mount -t tmpfs tmpfs /run
grep -q ' /etc overlay ' /proc/self/mounts
grep -q ' /usr/local overlay ' /proc/self/mounts
mkdir -p /run/systemd/system /usr/local/sbin
printf '#!/bin/sh\\necho v20.11.0\\n' > /usr/local/sbin/node
printf '#!/bin/sh\\necho "apt-get $*" >> %s/calls.log\\nexit 1\\n' "$W" > /usr/local/sbin/apt-get
printf '#!/bin/sh\\necho "systemctl $*" >> %s/calls.log\\n' "$W" > /usr/local/sbin/systemctl
chmod 755 /usr/local/sbin/node /usr/local/sbin/apt-get /usr/local/sbin/systemctl
: > "$W/isolated"
n=0
for mode in ${runs.map((m) => `'${m}'`).join(' ')}; do
  n=$((n + 1))
  echo "== run $n" >> "$W/calls.log"
  if ${SH} '${SCRIPT}' --token '${TOKEN}' --bundle-file "$W/bundle.mjs" $mode > "$W/run$n.out" 2>&1; then echo 0 > "$W/run$n.code"; else echo $? > "$W/run$n.code"; fi
done
`;
    writeFileSync(join(w, 'inner.sh'), inner);
    const r = await run(unshare!, ['--mount', '--propagation', 'private', SH, join(w, 'inner.sh')], { PATH: process.env.PATH });
    ctx.skip(!existsSync(join(w, 'isolated')), `could not isolate the file system (unshare/overlayfs): ${r.stderr.trim()}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const out = (n: number) => readFileSync(join(w, `run${n}.out`), 'utf8');
    for (const n of [1, 2, 3]) {
      expect(readFileSync(join(w, `run${n}.code`), 'utf8').trim(), out(n)).toBe('0');
      expect(out(n)).not.toContain(TOKEN);
    }
    expect(readFileSync(join(w, 'calls.log'), 'utf8').trim().split('\n')).toEqual([
      '== run 1',
      'systemctl daemon-reload',
      'systemctl disable --now homelab-edge.socket',
      'systemctl enable homelab-edge.service',
      'systemctl restart homelab-edge.service',
      '== run 2',
      'systemctl daemon-reload',
      'systemctl disable homelab-edge.service',
      'systemctl stop homelab-edge.service',
      'systemctl enable homelab-edge.socket',
      'systemctl restart homelab-edge.socket',
      '== run 3',
      'systemctl daemon-reload',
      'systemctl disable --now homelab-edge.socket',
      'systemctl enable homelab-edge.service',
      'systemctl restart homelab-edge.service',
    ]);
    expect(out(1)).toContain('started homelab-edge.service');
    expect(out(2)).toContain('started homelab-edge.socket');
    // Run 3 kept the settings from run 2, and its hint says so.
    expect(out(3)).toContain('curl http://127.0.0.1:9001/healthz');

    const token = join(w, 'etc-u/homelab-edge/token');
    expect(readFileSync(token, 'utf8')).toBe(TOKEN);
    expect(mode(token)).toBe(0o600);
    const bundle = join(w, 'loc-u/lib/homelab-edge/homelab-edge.mjs');
    expect(readFileSync(bundle, 'utf8')).toBe(BUNDLE);
    expect(mode(bundle)).toBe(0o755);
    expect(readFileSync(join(w, 'etc-u/systemd/system/homelab-edge.service'), 'utf8')).toBe(SERVICE);
    expect(readFileSync(join(w, 'etc-u/systemd/system/homelab-edge.socket'), 'utf8')).toBe(SOCKET);
    expect(readFileSync(join(w, 'etc-u/systemd/system/homelab-edge.socket.d/listen.conf'), 'utf8')).toContain('\nListenStream=127.0.0.1:9001\n');
    expect(readFileSync(join(w, 'etc-u/default/homelab-edge'), 'utf8')).toMatch(/^HOMELAB_EDGE_LISTEN=127\.0\.0\.1:9001$/m);
    expect(existsSync('/etc/homelab-edge/token')).toBe(realTokenBefore);
  });
});

describe('install-edge.sh --upgrade', () => {
  /** A stand-in bundle whose version the fake node below prints for `node FILE --version`. */
  const bundleOf = (version: string) => `#!/usr/bin/env node\n// version homelab-edge ${version}\nconsole.log("edge");\n`;
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const VERSIONED_NODE = `#!/bin/sh\ncase $1 in --version) echo v20.11.0 ;; *) sed -n 's|^// version ||p' "$1" ;; esac\n`;
  function upgradeFakes(name: string): Fakes & { old: string; next: string } {
    const f = fakes(name, 'v20.11.0');
    writeFileSync(join(f.bin, 'node'), VERSIONED_NODE, { mode: 0o755 });
    const old = join(f.dir, 'old.mjs');
    const next = join(f.dir, 'next.mjs');
    writeFileSync(old, bundleOf('0.0.9'));
    writeFileSync(next, bundleOf('0.1.0'));
    return { ...f, old, next };
  }
  const BUNDLE_PATH = 'usr/local/lib/homelab-edge/homelab-edge.mjs';

  it('swaps in the verified bundle, keeps the token, settings and units, and says old -> new', async () => {
    const f = upgradeFakes('upgrade');
    const i = await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', f.old, '--listen', '127.0.0.1:9100'], f.env);
    expect(i.code, i.stderr).toBe(0);
    const settingsFile = installed(f.root, 'etc/default/homelab-edge');
    writeFileSync(settingsFile, readFileSync(settingsFile, 'utf8').replace(/^HOMELAB_EDGE_ARGS=$/m, 'HOMELAB_EDGE_ARGS=--disable-gpio'));
    const settings = readFileSync(settingsFile, 'utf8');

    const r = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, '--bundle-file', f.next, '--sha256', sha(bundleOf('0.1.0'))], f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('bundle sha256 verified');
    expect(r.stdout).toContain('upgraded: homelab-edge 0.0.9 -> homelab-edge 0.1.0');
    expect(r.stdout).toContain('nothing restarted');
    // No closing hint: the edge is already in the hub's config.
    expect(r.stdout).not.toContain('under nodes:');
    expect(readFileSync(installed(f.root, BUNDLE_PATH), 'utf8')).toBe(bundleOf('0.1.0'));
    expect(mode(installed(f.root, BUNDLE_PATH))).toBe(0o755);
    expect(readFileSync(installed(f.root, 'etc/homelab-edge/token'), 'utf8')).toBe(TOKEN);
    expect(readFileSync(settingsFile, 'utf8')).toBe(settings);
    expect(readFileSync(installed(f.root, 'etc/systemd/system/homelab-edge.service'), 'utf8')).toBe(SERVICE);
    // The new file was written beside the old one and renamed over it: nothing left behind.
    expect(readdirSync(installed(f.root, 'usr/local/lib/homelab-edge'))).toEqual(['homelab-edge.mjs']);
    expect(readdirSync(f.dir).filter((n) => n.startsWith('install-edge.'))).toEqual([]);
  });

  it('fetches from the hub like an install does, and changes nothing when the same bundle is installed', async () => {
    const f = upgradeFakes('upgrade-same');
    writeFileSync(f.next, BUNDLE);
    expect((await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', f.old], f.env)).code).toBe(0);
    const before = bundleGets;
    const r = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, ...withUrl()], f.env);
    expect(r.code, r.stderr).toBe(0);
    expect(bundleGets).toBe(before + 1);
    expect(readFileSync(installed(f.root, BUNDLE_PATH), 'utf8')).toBe(BUNDLE);
    const ino = statSync(installed(f.root, BUNDLE_PATH)).ino;
    const again = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, ...withUrl()], f.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already current');
    expect(again.stdout).toContain('nothing changed, nothing restarted');
    expect(statSync(installed(f.root, BUNDLE_PATH)).ino).toBe(ino);
  });

  it("as the hub serves it (its URL and hash written in), needs only --upgrade, and refuses that hub's bundle with another hash", async () => {
    const f = upgradeFakes('upgrade-served');
    expect((await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', f.old], f.env)).code).toBe(0);
    const served = (hash: string) => {
      const file = join(f.dir, `served-${hash.slice(0, 8)}.sh`);
      writeFileSync(file, readFileSync(SCRIPT, 'utf8').replace(/^DEFAULT_HUB=''$/m, `DEFAULT_HUB='${base}'`).replace(/^DEFAULT_SHA256=''$/m, `DEFAULT_SHA256='${hash}'`));
      return file;
    };
    const wrong = sha('another build');
    const bad = await run(SH, [served(wrong), '--upgrade', '--root', f.root], f.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`expected ${wrong} (the hash ${base} wrote into this installer)`);
    expect(readFileSync(installed(f.root, BUNDLE_PATH), 'utf8')).toBe(bundleOf('0.0.9'));
    const r = await run(SH, ['-s', '--', '--upgrade', '--root', f.root], f.env, 20_000, readFileSync(served(BUNDLE_SHA), 'utf8'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`downloading ${base}/edge/homelab-edge.mjs`);
    expect(r.stdout).toContain('bundle sha256 verified');
    expect(readFileSync(installed(f.root, BUNDLE_PATH), 'utf8')).toBe(BUNDLE);
  });

  it('refuses without an installed edge, with a token or listen option, or with a bundle of another hash, and changes nothing', async () => {
    const f = upgradeFakes('upgrade-refuse');
    const none = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, '--bundle-file', f.next], f.env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('--upgrade: no edge is installed here');
    expect(none.stderr).toContain('install it first');
    expect(existsSync(f.root)).toBe(false);

    expect((await run(SH, [SCRIPT, '--root', f.root, '--token', TOKEN, '--bundle-file', f.old], f.env)).code).toBe(0);
    for (const extra of [['--token', TOKEN], ['--listen', '0.0.0.0:9000'], ['--socket']]) {
      const r = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, '--bundle-file', f.next, ...extra], f.env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`--upgrade keeps the installed token, settings and mode: drop ${extra[0]}`);
      expect(r.stderr).not.toContain(TOKEN);
    }
    const wrong = sha('something else');
    const bad = await run(SH, [SCRIPT, '--upgrade', '--root', f.root, '--bundle-file', f.next, '--sha256', wrong], f.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`expected ${wrong}`);
    expect(bad.stderr).toContain('nothing was changed');
    expect(readFileSync(installed(f.root, BUNDLE_PATH), 'utf8')).toBe(bundleOf('0.0.9'));
  });

  it('as root on the real paths: restarts the service, or in socket mode stops the running edge', async (ctx) => {
    const unshare = which('unshare');
    ctx.skip(process.getuid?.() !== 0 || !unshare, 'needs root and unshare (util-linux) for a private mount namespace');
    // As the namespace test above: overlays over /etc and /usr/local, fakes in /usr/local/sbin.
    const w = join(work, 'ns-upgrade');
    for (const d of ['etc-u', 'etc-w', 'loc-u', 'loc-w']) mkdirSync(join(w, d), { recursive: true });
    for (const v of ['0.0.9', '0.1.0', '0.1.1']) writeFileSync(join(w, `${v}.mjs`), bundleOf(v));
    writeFileSync(join(w, 'node'), VERSIONED_NODE, { mode: 0o755 });
    const wants = '/etc/systemd/system/sockets.target.wants';
    const inner = `set -eu
W='${w}'
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-u,workdir=$W/etc-w" /etc
mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$W/loc-u,workdir=$W/loc-w" /usr/local
mount -t tmpfs tmpfs /run
grep -q ' /etc overlay ' /proc/self/mounts
mkdir -p /run/systemd/system /usr/local/sbin
cp "$W/node" /usr/local/sbin/node
printf '#!/bin/sh\\necho "systemctl $*" >> %s/calls.log\\n' "$W" > /usr/local/sbin/systemctl
chmod 755 /usr/local/sbin/systemctl
: > "$W/isolated"
step() { echo "== $1" >> "$W/calls.log"; shift; if ${SH} '${SCRIPT}' "$@" >> "$W/out.log" 2>&1; then :; else echo "exit $?" >> "$W/calls.log"; fi; }
step install --token '${TOKEN}' --bundle-file "$W/0.0.9.mjs"
step upgrade-service --upgrade --bundle-file "$W/0.1.0.mjs"
mkdir -p ${wants} && ln -s /etc/systemd/system/homelab-edge.socket ${wants}/homelab-edge.socket
step upgrade-socket --upgrade --bundle-file "$W/0.1.1.mjs"
step upgrade-same --upgrade --bundle-file "$W/0.1.1.mjs"
`;
    writeFileSync(join(w, 'inner.sh'), inner);
    const r = await run(unshare!, ['--mount', '--propagation', 'private', SH, join(w, 'inner.sh')], { PATH: process.env.PATH });
    ctx.skip(!existsSync(join(w, 'isolated')), `could not isolate the file system (unshare/overlayfs): ${r.stderr.trim()}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = readFileSync(join(w, 'out.log'), 'utf8');
    expect(readFileSync(join(w, 'calls.log'), 'utf8').trim().split('\n'), out).toEqual([
      '== install',
      'systemctl daemon-reload',
      'systemctl disable --now homelab-edge.socket',
      'systemctl enable homelab-edge.service',
      'systemctl restart homelab-edge.service',
      '== upgrade-service',
      'systemctl daemon-reload',
      'systemctl restart homelab-edge.service',
      '== upgrade-socket',
      'systemctl daemon-reload',
      'systemctl stop homelab-edge.service',
      '== upgrade-same',
    ]);
    expect(out).toContain('upgraded: homelab-edge 0.0.9 -> homelab-edge 0.1.0 (/usr/local/lib/homelab-edge/homelab-edge.mjs, service mode)');
    expect(out).toContain('restarted homelab-edge.service');
    expect(out).toContain('upgraded: homelab-edge 0.1.0 -> homelab-edge 0.1.1 (/usr/local/lib/homelab-edge/homelab-edge.mjs, socket mode)');
    expect(out).toContain('homelab-edge.socket starts homelab-edge 0.1.1 on the next connection');
    expect(out).toContain('already current: homelab-edge 0.1.1 is installed');
    expect(out).not.toContain(TOKEN);
    expect(readFileSync(join(w, 'loc-u/lib/homelab-edge/homelab-edge.mjs'), 'utf8')).toBe(bundleOf('0.1.1'));
    expect(readFileSync(join(w, 'etc-u/homelab-edge/token'), 'utf8')).toBe(TOKEN);
  });
});
