/**
 * Git's real smart HTTP server (`git http-backend`, run as a CGI program per request) on
 * 127.0.0.1 for tests of https-style clones with credentials: the bare repositories under
 * `root`, and, when `username`/`token` are given, a 401 with a Basic challenge for any request
 * without exactly those credentials. Every request is recorded (method, path, whether and which
 * Authorization it carried), so a test can see what a client sent.
 *
 * @example
 * await using srv = await startGitHttp({ root: bareDir, username: 'x-access-token', token: 'tok' });
 * // git clone http://127.0.0.1:PORT/repo.git  (with an Authorization header)
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { serveLoopback } from './serve.ts';

export interface GitHttpRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
}

export interface GitHttpServer extends AsyncDisposable {
  url: string;
  port: number;
  requests(): GitHttpRequest[];
  stop(): Promise<void>;
}

export async function startGitHttp(opts: { root: string; username?: string; token?: string }): Promise<GitHttpServer> {
  const requests: GitHttpRequest[] = [];
  const expected = opts.token ? `Basic ${Buffer.from(`${opts.username ?? 'x-access-token'}:${opts.token}`).toString('base64')}` : undefined;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization;
    const rec: GitHttpRequest = { method: req.method ?? '', path: u.pathname, status: 0, ...(auth ? { authorization: auth } : {}) };
    requests.push(rec);
    if (expected && auth !== expected) {
      rec.status = 401;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: opts.root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on('data', (b: Buffer) => {
      if (started) return void res.write(b);
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      rec.status = status;
      res.writeHead(status, headers);
      started = true;
      res.write(head.subarray(end + 4));
    });
    child.on('close', () => {
      if (!started) {
        rec.status = 500;
        res.writeHead(500).end();
      } else res.end();
    });
  });
  const { port, stop } = await serveLoopback(server);
  return { url: `http://127.0.0.1:${port}`, port, requests: () => [...requests], stop, [Symbol.asyncDispose]: stop };
}
