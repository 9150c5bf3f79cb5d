/**
 * deploy/docker-compose.yml and Dockerfile.hub without a Docker engine (none runs here): the
 * compose file is checked against the rules its header promises (a schema of the keys it uses),
 * and the image's entrypoint and the compose health check run the real hub bundle with the same
 * flags, as the image's user (uid 1000) when the test runs as root, with the config, env file and
 * data laid out as the compose file mounts them. The hub must write nowhere but /data and /tmp:
 * the config folder is read-only to it, as the container's root filesystem is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { freePort, HUB_BUNDLE } from '@homelab-mcp/testkit';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE_TEXT = readFileSync(join(REPO, 'deploy/docker-compose.yml'), 'utf8');
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile.hub'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'homelab-compose-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The part of the Compose specification this file uses; unknown keys are errors here. */
const bindMount = z.string().regex(/^\.\/[^:]+:\/etc\/homelab-hub\/[^:]*:ro$/, 'a bind mount of a file or folder beside the compose file under /etc/homelab-hub, read-only');
const ComposeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  services: z.strictObject({
    hub: z.strictObject({
      image: z.string().min(1),
      restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']),
      user: z.string().regex(/^[1-9]\d*:[1-9]\d*$/, 'a numeric uid:gid that is not root'),
      read_only: z.literal(true),
      tmpfs: z.array(z.string()).refine((t) => t.includes('/tmp'), 'has /tmp'),
      cap_drop: z.tuple([z.literal('ALL')]),
      security_opt: z.array(z.string()).refine((o) => o.includes('no-new-privileges:true'), 'has no-new-privileges:true'),
      env_file: z.array(z.string().min(1)).min(1),
      ports: z.array(z.string().regex(/^127\.0\.0\.1:\d+:8765$/, 'published on 127.0.0.1 only')).min(1),
      volumes: z.array(z.union([bindMount, z.literal('hub-data:/data')])).refine((v) => v.includes('hub-data:/data') && v.some((m) => m.endsWith(':/etc/homelab-hub/hub.yaml:ro')), 'the data volume at /data and hub.yaml at /etc/homelab-hub/hub.yaml'),
      healthcheck: z.strictObject({
        test: z.tuple([z.literal('CMD')], z.string()),
        interval: z.string().regex(/^\d+[smh]$/),
        timeout: z.string().regex(/^\d+[smh]$/),
        start_period: z.string().regex(/^\d+[smh]$/),
        retries: z.number().int().positive(),
      }),
      stop_grace_period: z.string().regex(/^\d+[smh]$/),
    }),
  }),
  volumes: z.strictObject({ 'hub-data': z.null() }),
});

const compose = ComposeSchema.parse(parse(COMPOSE_TEXT));
const hub = compose.services.hub;
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)![1]!) as string[];
const imageCheck = JSON.parse(/^ {2}CMD (\[.*\])$/m.exec(DOCKERFILE)![1]!) as string[];

describe('deploy/docker-compose.yml', () => {
  it('matches Dockerfile.hub: its user, its data volume, its health check', () => {
    expect(DOCKERFILE).toMatch(/^USER node$/m);
    expect(DOCKERFILE).toMatch(/^RUN install -d -o node -g node -m 0700 \/data$/m);
    expect(DOCKERFILE).toMatch(/^VOLUME \["\/data"\]$/m);
    // The node image's `node` user is uid 1000: the compose file runs as the image's user.
    expect(hub.user).toBe('1000:1000');
    expect(hub.healthcheck.test.slice(1)).toEqual(imageCheck);
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', '/bin/sh', '-c']);
    expect(entrypoint[4]).toContain('--config /etc/homelab-hub/hub.yaml');
    expect(entrypoint[4]).toContain('--data /data');
  });

  it('runs the hub as the image would (uid 1000, config read-only, secrets from the env file) and passes its health check', { timeout: 60_000 }, async (ctx) => {
    ctx.skip(!existsSync(HUB_BUNDLE), `${HUB_BUNDLE} is not built (pnpm build)`);
    const root = process.getuid?.() === 0;
    const etc = join(work, 'etc-homelab-hub');
    const data = join(work, 'data');
    const tmp = join(work, 'tmp');
    mkdirSync(etc, { recursive: true });
    mkdirSync(data, { mode: 0o700 });
    mkdirSync(tmp, { mode: 0o1777 });
    const port = await freePort();
    const token = `compose-test-token-${process.pid}-0123456789abcdef`;
    writeFileSync(join(etc, 'hub.yaml'), ['auth:', '  tokens:', '    - { user: ann, role: admin, token: "${HUB_TOKEN_ANN}" }', ''].join('\n'), { mode: 0o644 });
    // hub.env as compose reads it into the container's environment.
    const envFile = `HUB_TOKEN_ANN=${token}\n`;
    const fromEnvFile = Object.fromEntries(envFile.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    if (root) {
      // mkdtemp makes the work folder 0700: the image's user must be able to enter it.
      chmodSync(work, 0o755);
      chownSync(data, 1000, 1000);
      chmodSync(etc, 0o555);
    }
    const sub = (s: string) =>
      s
        .replaceAll('/etc/homelab-hub/', `${etc}/`)
        .replaceAll('/usr/local/lib/homelab-hub/homelab-hub.mjs', HUB_BUNDLE)
        .replaceAll('--data /data', `--data ${data}`)
        .replaceAll('0.0.0.0:8765', `127.0.0.1:${port}`)
        .replaceAll('port:8765', `port:${port}`)
        .replaceAll('exec node ', `exec ${process.execPath} `);
    const [sh, dashC, script, name] = entrypoint.slice(2) as [string, string, string, string];
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tmp, TMPDIR: tmp, ...fromEnvFile };
    // tini is left out (not installed here); it only execs what follows it.
    const child: ChildProcess = spawn(sh, [dashC, sub(script), name], { env, stdio: ['ignore', 'pipe', 'pipe'], ...(root ? { uid: 1000, gid: 1000 } : {}) });
    let log = '';
    child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const check = hub.healthcheck.test.slice(1).map(sub);
    const healthy = () =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, check.slice(1), { env, stdio: 'ignore' });
        c.once('exit', (code) => resolve(code ?? 1));
      });
    try {
      expect(check[0]).toBe('node');
      const deadline = Date.now() + 30_000;
      while ((await healthy()) !== 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the hub never passed the health check; it said:\n${log}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/readyz`, { headers: { authorization: `Bearer ${token}` } })).status, log).not.toBe(401);
      expect((await fetch(`${url}/readyz`, { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } })).status).toBe(401);
      // The flag of the unit and `pnpm start` reached V8.
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=4');
      if (root) expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).toMatch(/^Uid:\s+1000\s/m);
      expect(readdirSync(data)).toContain('audit');
      expect(readdirSync(etc)).toEqual(['hub.yaml']);
      child.kill('SIGTERM');
      expect(await exited, log).toBe(0);
      expect(await healthy()).toBe(1);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      if (root) chmodSync(etc, 0o755);
    }
  });
});
