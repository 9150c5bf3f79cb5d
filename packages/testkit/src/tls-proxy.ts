/**
 * TLS reverse proxies for tests, run from the files in deploy/ as a person installs them: a
 * throwaway CA (openssl) with a certificate for `localhost` and 127.0.0.1, and Debian's Caddy or
 * nginx on a free loopback port in front of a backend. Only what cannot be the same here is
 * rewritten: the public name (to `localhost`), the ports and the certificate paths. Each
 * proxy is stopped by its own handle (`await using`).
 *
 * @example
 * const ca = makeTestCa();
 * await using proxy = await startNginxFromFile({ file: 'deploy/nginx/homelab-hub.conf', publicName: 'hub.example.com', backendPort: hub.port, ca });
 * // https://localhost:${proxy.port}/mcp, trusting ca.caFile
 */
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus.ts';
import { CADDY_BIN } from './caddy.ts';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface TestCa {
  /** The CA's certificate (PEM file): what a client must trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  caPem: string;
  /** The server's certificate and key, for `localhost` and 127.0.0.1, issued by the CA. */
  certFile: string;
  keyFile: string;
  dir: string;
  [Symbol.dispose](): void;
}

/** A CA and a server certificate it issued, valid for two days, in a temporary folder. */
export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-test-ca-'));
  chmodSync(dir, 0o755);
  const f = (n: string) => join(dir, n);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=homelab-mcp test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  ssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf')]);
  // nginx's workers and Caddy read these as whoever they run as.
  for (const n of ['server.key', 'server.crt', 'ca.pem']) chmodSync(f(n), 0o644);
  return {
    caFile: f('ca.pem'),
    caPem: readFileSync(f('ca.pem'), 'utf8'),
    certFile: f('server.crt'),
    keyFile: f('server.key'),
    dir,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsProxy extends AsyncDisposable {
  /** The TLS port on 127.0.0.1. */
  port: number;
  /** `https://localhost:<port>`. */
  base: string;
  /** The config the proxy runs, as rewritten from the deploy file. */
  config: string;
  output(): string;
  stop(): Promise<void>;
}

export interface StartTlsProxyOptions {
  /** The deploy file, as shipped. */
  file: string;
  /** The placeholder name the file uses (`hub.example.com`): becomes `localhost`. */
  publicName: string;
  /** Where the hub listens on 127.0.0.1 (the file's 127.0.0.1:8765). */
  backendPort: number;
  ca: TestCa;
  timeoutMs?: number;
}

/** Replaces `from` in `text`, failing when the file no longer has it (the test must follow the file). */
function must(text: string, from: string | RegExp, to: string, what: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`the deploy file no longer has ${what} (${String(from)}): update the test with it`);
  return typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
}

/** deploy/caddy/Caddyfile, with Caddy's admin API off and its state in a temporary folder. */
export async function startCaddyFromFile(opts: StartTlsProxyOptions): Promise<TlsProxy> {
  if (!existsSync(CADDY_BIN)) throw new Error(`${CADDY_BIN} not found: apt-get install -y --no-install-recommends caddy`);
  const port = await freePort();
  let text = readFileSync(opts.file, 'utf8');
  text = must(text, `${opts.publicName} {`, `localhost:${port} {\n\ttls ${opts.ca.certFile} ${opts.ca.keyFile}`, 'the site block');
  text = must(text, 'reverse_proxy 127.0.0.1:8765', `reverse_proxy 127.0.0.1:${opts.backendPort}`, 'the upstream');
  // Test-only globals: no admin endpoint, no ACME, no HTTP->HTTPS redirect listener on :80.
  const config = `{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n\tlocal_certs\n\thttp_port ${await freePort()}\n}\n\n${text}`;
  const dir = mkdtempSync(join(tmpdir(), 'homelab-caddyfile-'));
  writeFileSync(join(dir, 'Caddyfile'), config);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  return spawnProxy('caddy', CADDY_BIN, ['run', '--adapter', 'caddyfile', '--config', join(dir, 'Caddyfile')], { env, dir, port, config, timeoutMs: opts.timeoutMs });
}

/** deploy/nginx/homelab-hub.conf inside a minimal nginx.conf, with its pid, logs and temp files in a temporary folder. */
export async function startNginxFromFile(opts: StartTlsProxyOptions): Promise<TlsProxy> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} not found: apt-get install -y --no-install-recommends nginx-light`);
  const port = await freePort();
  let text = readFileSync(opts.file, 'utf8');
  text = must(text, 'listen 443 ssl http2;', `listen 127.0.0.1:${port} ssl http2;`, 'the TLS listener');
  text = must(text, 'listen [::]:443 ssl http2;', '', 'the IPv6 TLS listener');
  text = must(text, /listen 80;\s*listen \[::\]:80;/, `listen 127.0.0.1:${await freePort()};`, 'the redirect listeners');
  text = must(text, `server_name ${opts.publicName};`, 'server_name localhost;', 'server_name');  // both server blocks
  text = must(text, /ssl_certificate\s+\S+;/, `ssl_certificate ${opts.ca.certFile};`, 'ssl_certificate');
  text = must(text, /ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${opts.ca.keyFile};`, 'ssl_certificate_key');
  text = must(text, 'server 127.0.0.1:8765;', `server 127.0.0.1:${opts.backendPort};`, 'the upstream');
  const dir = mkdtempSync(join(tmpdir(), 'homelab-nginx-'));
  chmodSync(dir, 0o755);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, d));
    chmodSync(join(dir, d), 0o777);
  }
  const root = process.getuid?.() === 0;
  const config = [
    ...(root ? ['user nobody nogroup;'] : []),
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((d) => `  ${d === 'body' ? 'client_body' : d}_temp_path ${join(dir, d)};`),
    text,
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), config);
  return spawnProxy('nginx', NGINX_BIN, ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, dir, port, config, timeoutMs: opts.timeoutMs });
}

async function spawnProxy(what: string, bin: string, args: string[], o: { env: NodeJS.ProcessEnv; dir: string; port: number; config: string; timeoutMs?: number | undefined }): Promise<TlsProxy> {
  const child = spawn(bin, args, { cwd: o.dir, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    // nginx: SIGQUIT is its graceful stop, SIGTERM its fast one; either ends the workers too.
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      rmSync(o.dir, { recursive: true, force: true });
      throw new Error(`${what} exited before it listened:\n${out.slice(-4000)}\n--- config:\n${o.config}`);
    }
    if (await listening(o.port)) break;
    if (Date.now() > deadline) {
      await stopChild();
      rmSync(o.dir, { recursive: true, force: true });
      throw new Error(`${what} did not listen on 127.0.0.1:${o.port} within ${timeoutMs} ms:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild();
    rmSync(o.dir, { recursive: true, force: true });
  };
  return { port: o.port, base: `https://localhost:${o.port}`, config: o.config, output: () => out, stop, [Symbol.asyncDispose]: stop };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A fetch that trusts `caPem` (and only what Node trusts besides), streaming answers as they
 * come: what NODE_EXTRA_CA_CERTS gives a client process, for the SDK clients in a test process.
 */
export function fetchTrusting(caPem: string): typeof fetch {
  const agent = new Agent({ ca: caPem, keepAlive: true });
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const req = new Request(input, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    return await new Promise<Response>((resolve, reject) => {
      const r = request(req.url, { method: req.method, headers: Object.fromEntries(req.headers), agent, ...(init?.signal ? { signal: init.signal } : {}) }, (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) headers.append(k, x);
          else if (v !== undefined) headers.set(k, v);
        }
        const status = res.statusCode ?? 500;
        const empty = [101, 204, 205, 304].includes(status) || req.method === 'HEAD';
        if (empty) res.resume();
        resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers }));
      });
      r.once('error', reject);
      r.end(body);
    });
  }) as typeof fetch;
}
