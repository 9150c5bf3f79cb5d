/**
 * A real Caddy (Debian's `caddy`) on loopback for tests: its admin API and one HTTP listener
 * on free ports, a JSON config with the routes a test gives, and its state (autosave, certs)
 * in a temporary folder. Stopped by its own handle (`await using`).
 *
 * @example
 * await using caddy = await startCaddy({ routes: [{ host: 'app.test', upstream: '127.0.0.1:8080' }] });
 * await fetch(`${caddy.adminUrl}/config/`);
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus.ts';

export const CADDY_BIN = process.env.CADDY_BIN ?? '/usr/bin/caddy';

export interface CaddyRoute {
  host: string;
  /** reverse_proxy to this `host:port`, with passive health checks (failures are counted). */
  upstream?: string;
  /** Else a static response with this body. */
  body?: string;
}

export interface CaddyProcess {
  adminUrl: string;
  /** The HTTP listener the routes are served on. */
  httpUrl: string;
  output(): string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function config(adminPort: number, httpPort: number, routes: CaddyRoute[]): string {
  return JSON.stringify({
    admin: { listen: `127.0.0.1:${adminPort}` },
    logging: { logs: { default: { level: 'WARN' } } },
    apps: {
      http: {
        servers: {
          srv0: {
            listen: [`127.0.0.1:${httpPort}`],
            automatic_https: { disable: true },
            routes: routes.map((r) => ({
              match: [{ host: [r.host] }],
              handle: [r.upstream ? { handler: 'reverse_proxy', upstreams: [{ dial: r.upstream }], health_checks: { passive: { fail_duration: '5m' } } } : { handler: 'static_response', body: r.body ?? 'ok' }],
              terminal: true,
            })),
          },
        },
      },
    },
  });
}

export interface StartCaddyOptions {
  routes: CaddyRoute[];
  /** The admin API's port (a test that points the hub at it before Caddy runs); default a free one. */
  adminPort?: number;
  timeoutMs?: number;
}

export async function startCaddy(opts: StartCaddyOptions): Promise<CaddyProcess> {
  if (!existsSync(CADDY_BIN)) throw new Error(`${CADDY_BIN} not found: apt-get install -y --no-install-recommends caddy`);
  const dir = mkdtempSync(join(tmpdir(), 'homelab-caddy-'));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(dir, opts);
    } catch (err) {
      // A probed port was taken before Caddy bound it: try others.
      if (attempt < 3 && opts.adminPort === undefined && /address already in use/i.test(String(err))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

async function startOnce(dir: string, opts: StartCaddyOptions): Promise<CaddyProcess> {
  const adminPort = opts.adminPort ?? (await freePort());
  const httpPort = await freePort();
  const file = join(dir, 'caddy.json');
  writeFileSync(file, config(adminPort, httpPort, opts.routes));
  // Caddy keeps its data and autosaved config under XDG folders: keep them in the test's.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const child = spawn(CADDY_BIN, ['run', '--config', file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stopChild = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`caddy exited before it was ready:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${adminUrl}/config/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild();
      throw new Error(`caddy was not ready within ${opts.timeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  return { adminUrl, httpUrl: `http://127.0.0.1:${httpPort}`, output: () => out, stop, [Symbol.asyncDispose]: stop };
}
