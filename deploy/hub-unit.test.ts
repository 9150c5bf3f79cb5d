/**
 * deploy/systemd/homelab-hub.service as a user installs it: checked with systemd-analyze where
 * it exists, and its ExecStart, expanded the way systemd expands it, runs the real hub bundle
 * (no systemd runs here as PID 1: the sandboxing lines are verified, not enforced). The Node
 * flags it passes are the ones Dockerfile.hub and `pnpm start` pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
});
