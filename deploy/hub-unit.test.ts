/**
 * deploy/systemd/homelab-hub.service as a user installs it: checked with systemd-analyze where
 * it exists, and its ExecStart, expanded the way systemd expands it, runs the real hub bundle
 * (no systemd runs here as PID 1: the sandboxing lines are verified, not enforced). The Node
 * flags it passes are the ones Dockerfile.hub and `pnpm start` pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { execStart, run, unitEnvironment, verifyUnits, which } from './unit-lib.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const UNIT = readFileSync(join(REPO, 'deploy/systemd/homelab-hub.service'), 'utf8');
const HUB_BUNDLE = join(REPO, 'packages/hub/dist/homelab-hub.mjs');
const INSTALLED_BUNDLE = '/usr/local/lib/homelab-hub/homelab-hub.mjs';
const work = mkdtempSync(join(tmpdir(), 'homelab-hub-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The Node flags of the unit's ExecStart: what sits between `node` and the bundle. */
function unitNodeFlags(): string[] {
  const argv = execStart(UNIT, unitEnvironment(UNIT));
  return argv.slice(1, argv.indexOf(INSTALLED_BUNDLE));
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('homelab-hub.service', () => {
  it('passes systemd-analyze verify (and a broken copy does not)', async (ctx) => {
    const analyze = which('systemd-analyze');
    ctx.skip(!analyze, 'systemd-analyze not found (Debian: apt-get install -y --no-install-recommends systemd); the unit was not verified');
    const dir = join(work, 'verify');
    const r = await verifyUnits(analyze!, dir, { 'homelab-hub.service': UNIT });
    expect(r.stderr.split('\n').filter((l) => l.includes('homelab-hub'))).toEqual([]);
    expect(r.code).toBe(0);

    const bad = await verifyUnits(analyze!, dir, { 'homelab-hub.service': UNIT.replace('ProtectSystem=strict', 'ProtectSystem=very') });
    expect(bad.stderr).toMatch(/homelab-hub\.service:\d+: .*very/);
  });

  it('passes the same Node flags as Dockerfile.hub and `pnpm start`, and this Node accepts them', async () => {
    const flags = unitNodeFlags();
    expect(flags).toEqual(['--max-semi-space-size=4']);
    const dockerfile = readFileSync(join(REPO, 'Dockerfile.hub'), 'utf8');
    expect(dockerfile).toContain(`exec node ${flags.join(' ')} /usr/local/lib/homelab-hub/homelab-hub.mjs serve`);
    const start = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toContain(`node ${flags.join(' ')} packages/hub/dist/homelab-hub.mjs serve`);
    const r = await run(process.execPath, [...flags, '-e', 'process.stdout.write(process.version)'], { PATH: process.env.PATH });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('runs the real hub: config from /etc/homelab-hub, secrets from /etc/default/homelab-hub, data in the state directory', { timeout: 60_000 }, async (ctx) => {
    ctx.skip(!existsSync(HUB_BUNDLE), `${HUB_BUNDLE} is not built (pnpm --filter @homelab-mcp/hub build)`);
    const root = join(work, 'root');
    const state = join(root, 'var/lib/homelab-hub');
    mkdirSync(join(root, 'etc/homelab-hub'), { recursive: true });
    mkdirSync(join(root, 'etc/default'), { recursive: true });
    const port = await freePort();
    const token = `unit-test-token-${process.pid}-0123456789abcdef`;
    writeFileSync(join(root, 'etc/homelab-hub/hub.yaml'), [`listen: 127.0.0.1:${port}`, 'auth:', '  tokens:', '    - { user: ann, role: admin, token: "${HUB_TOKEN_ANN}" }', ''].join('\n'));
    const settings = join(root, 'etc/default/homelab-hub');
    writeFileSync(settings, `HUB_TOKEN_ANN=${token}\n`, { mode: 0o600 });
    // What systemd gives the service: the unit's environment, the settings file, STATE_DIRECTORY.
    const env = { ...unitEnvironment(UNIT, settings), STATE_DIRECTORY: state, PATH: process.env.PATH ?? '' };
    const argv = execStart(UNIT, env).map((a) => (a.startsWith('/usr/local/lib/homelab-hub/') ? join(REPO, 'packages/hub/dist', a.slice('/usr/local/lib/homelab-hub/'.length)) : a.startsWith('/etc/') ? join(root, a) : a));
    expect(argv[0]).toBe('node');
    mkdirSync(state, { recursive: true, mode: 0o700 });
    const child: ChildProcess = spawn(process.execPath, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await expect.poll(async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.status, { timeout: 20_000, interval: 200 }).toBe(200);
      // The token came through ${HUB_TOKEN_ANN} from the settings file.
      expect((await fetch(`${url}/readyz`, { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } })).status).toBe(401);
      const ready = await fetch(`${url}/readyz`, { headers: { authorization: `Bearer ${token}` } });
      expect([200, 503]).toContain(ready.status);
      // The node flag reached V8: the process runs with it.
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain('--max-semi-space-size=4');
      // Its data went to the state directory, nowhere else.
      expect(readdirSync(state)).toContain('audit');
      expect(existsSync(join(root, 'etc/homelab-hub/data'))).toBe(false);
      // SIGTERM (systemctl stop) ends it cleanly, well within TimeoutStopSec.
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
      expect(code, log).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  it('installs hub.yaml root:homelab-hub 0640 and secret files homelab-hub 0600, which the hub reads as that user (and it refuses a secret file every user can read)', { timeout: 60_000 }, async (ctx) => {
    ctx.skip(process.getuid?.() !== 0, 'needs root: the files are chowned to the hub user and the hub runs as it');
    const sysusers = which('systemd-sysusers');
    ctx.skip(!sysusers, 'systemd-sysusers not found (Debian: apt-get install -y --no-install-recommends systemd)');
    expect(UNIT).toMatch(/^User=homelab-hub$/m);
    expect(UNIT).toMatch(/^Group=homelab-hub$/m);
    // The user as systemd-sysusers creates it from our file, in a scratch root (not this machine's).
    const sysroot = join(work, 'sysroot');
    mkdirSync(join(sysroot, 'etc'), { recursive: true });
    const made = await run(sysusers!, ['--root', sysroot, join(REPO, 'deploy/systemd/homelab-hub.sysusers')], { PATH: process.env.PATH ?? '' });
    expect(made.code, made.stderr).toBe(0);
    const entry = readFileSync(join(sysroot, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('homelab-hub:'))!.split(':');
    const [uid, gid] = [Number(entry[2]), Number(entry[3])];

    // The modes and owners are those the install lines (unit header and deploy/README.md) give.
    const readme = readFileSync(join(REPO, 'deploy/README.md'), 'utf8');
    for (const text of [UNIT, readme]) {
      expect(text).toContain('install -D -o root -g homelab-hub -m 0640 hub.yaml /etc/homelab-hub/hub.yaml');
      expect(text).toContain('install -d -o homelab-hub -g homelab-hub -m 0700 /etc/homelab-hub/secrets');
    }
    expect(readme).toContain('install -o homelab-hub -g homelab-hub -m 0600 /dev/stdin /etc/homelab-hub/secrets/');
    const etc = join(work, 'modes/etc/homelab-hub');
    mkdirSync(join(etc, 'secrets'), { recursive: true });
    for (let d = etc; d !== work; d = join(d, '..')) chmodSync(d, 0o755);
    chmodSync(work, 0o755);
    const hubYaml = join(etc, 'hub.yaml');
    writeFileSync(hubYaml, 'local: {enabled: false}\nnodes:\n  - {name: pi-attic, url: "http://127.0.0.1:8222/mcp", tokenFile: secrets/pi-attic.token}\n');
    chownSync(hubYaml, 0, gid);
    chmodSync(hubYaml, 0o640);
    chownSync(join(etc, 'secrets'), uid, gid);
    chmodSync(join(etc, 'secrets'), 0o700);
    const tokenFile = join(etc, 'secrets/pi-attic.token');
    writeFileSync(tokenFile, 'attic-token-0123456789abcdef\n');
    chownSync(tokenFile, uid, gid);
    chmodSync(tokenFile, 0o600);
    const check = () =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const child = spawn(process.execPath, [HUB_BUNDLE, 'check-config', hubYaml], { uid, gid, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
        child.once('close', (code) => done({ code, out }));
      });
    expect(await check()).toEqual({ code: 0, out: `${hubYaml}: ok\n` });
    chmodSync(tokenFile, 0o644);
    const refused = await check();
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`secret file ${tokenFile} is readable by every user (mode 0644); refused`);
    expect(refused.out).not.toContain('attic-token');
  });
});

