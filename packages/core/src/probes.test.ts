/**
 * The probes against real sockets, servers and the real `ping`, all on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHomelabError } from './errors.ts';
import { checkPort, displayUrl, formatHttpProbe, formatPing, formatPortCheck, parsePingOutput, pingHost, probeHttp } from './probes.ts';

const dir = mkdtempSync(join(tmpdir(), 'probes-test-'));
const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/ping/${name}`, import.meta.url), 'utf8');
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  cleanups.push(() => new Promise<void>((res) => { (server as HttpServer).closeAllConnections?.(); server.close(() => res()); }));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/**
 * A listening socket that never accepts: a worker thread listens with a backlog of 1 and then
 * blocks, so the kernel completes two handshakes and drops every later SYN, which is what a
 * firewall that drops packets looks like to a client. All on 127.0.0.1.
 */
async function silentListener(): Promise<{ port: number }> {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const s = require('node:net').createServer();
     s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       Atomics.wait(new Int32Array(workerData), 0, 0);
       process.exit(0);
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((res) => worker.once('message', res));
  // Fill the accept queue: connect until one connect does not complete.
  const fillers: Socket[] = [];
  for (let i = 0; i < 10; i++) {
    const s = connect(port, '127.0.0.1');
    fillers.push(s);
    const connected = await new Promise<boolean>((res) => {
      const t = setTimeout(() => res(false), 300);
      s.once('connect', () => (clearTimeout(t), res(true)));
      s.once('error', () => (clearTimeout(t), res(false)));
    });
    if (!connected) break;
  }
  cleanups.push(async () => {
    for (const s of fillers) s.destroy();
    const exited = new Promise((res) => worker.once('exit', res));
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    await exited;
  });
  return { port };
}

async function httpServer(handler: RequestListener): Promise<string> {
  const port = await listen(createHttpServer(handler));
  return `http://127.0.0.1:${port}`;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('checkPort', () => {
  it('finds an open port and says how long the connect took', async () => {
    const port = await listen(createServer((s) => s.resume().end()));
    const r = await checkPort({ host: '127.0.0.1', port, timeoutMs: 2000 });
    expect(r).toMatchObject({ host: '127.0.0.1', port, open: true, address: '127.0.0.1' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.error).toBeUndefined();
    expect(formatPortCheck(r)).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port} is open \\(connected in [\\d.]+ ms\\)$`));
  });

  it('tells a refused port (host up, nothing listening) from a timeout', async () => {
    const port = await closedPort();
    const r = await checkPort({ host: '127.0.0.1', port, timeoutMs: 2000 });
    expect(r).toMatchObject({ open: false, reason: 'refused' });
    expect(r.error).toMatch(/connection refused: the host answered, but nothing listens on 127\.0\.0\.1:\d+/);
  });

  it('times out on a port whose packets are dropped', async () => {
    const { port } = await silentListener();
    const started = Date.now();
    const r = await checkPort({ host: '127.0.0.1', port, timeoutMs: 600 });
    // Dropped packets never answer: only the deadline ends the check, and not before it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(r).toMatchObject({ open: false, reason: 'timeout' });
    expect(r.error).toMatch(/no answer from 127\.0\.0\.1:\d+ within 600 ms/);
  });

  it('reports a DNS failure as such (resolver answering NXDOMAIN, without leaving the machine)', async () => {
    const lookup = ((hostname: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, a?: string, f?: number) => void) => {
      const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      process.nextTick(() => cb(err));
    }) as never;
    const r = await checkPort({ host: 'nosuch.lan', port: 80, timeoutMs: 2000, lookup });
    expect(r).toMatchObject({ open: false, reason: 'dns', error: 'DNS lookup of nosuch.lan failed: no such host (ENOTFOUND)' });
  });

  it('refuses bad arguments with the argument named', async () => {
    for (const [args, msg] of [
      [{ host: '127.0.0.1', port: 70000 }, /port must be an integer from 1 to 65535, got 70000/],
      [{ host: '127.0.0.1', port: 1.5 }, /port must be an integer/],
      [{ host: '-oProxyCommand=x', port: 22 }, /host must be a host name or IP address/],
      [{ host: 'a b', port: 22 }, /host must be/],
      [{ host: '127.0.0.1', port: 22, timeoutMs: 10 ** 7 }, /timeoutMs must be a number of milliseconds from 1 to 120000/],
    ] as const) {
      const err = await rejection(Promise.resolve().then(() => checkPort(args as never)));
      expect(isHomelabError(err, 'INVALID_ARGUMENTS'), String(err)).toBe(true);
      expect(err.message).toMatch(msg);
    }
  });

  it('stops at once when aborted', async () => {
    const { port } = await silentListener();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const err = await rejection(checkPort({ host: '127.0.0.1', port, timeoutMs: 60_000, signal: ac.signal }));
    // CANCELLED, not a timeout: the abort ended it (the 60 s deadline is past the test's own timeout).
    expect(isHomelabError(err, 'CANCELLED')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('parsePingOutput (captured iputils and BusyBox output)', () => {
  it('reads the statistics of iputils and BusyBox', () => {
    expect(parsePingOutput(fixture('iputils-ok.stdout'))).toEqual({ transmitted: 3, received: 3, rttMs: { min: 0.029, avg: 0.045, max: 0.057 }, replyLines: 3 });
    expect(parsePingOutput(fixture('busybox-ok.stdout'))).toEqual({ transmitted: 3, received: 3, rttMs: { min: 0.039, avg: 0.064, max: 0.08 }, replyLines: 3 });
    expect(parsePingOutput(fixture('iputils-sigint.stdout'))).toMatchObject({ transmitted: 2, received: 2, rttMs: { min: 0.031, avg: 0.036, max: 0.042 } });
  });

  it('reads total loss', () => {
    expect(parsePingOutput(fixture('iputils-loss.stdout'), fixture('iputils-loss.stderr'))).toEqual({ transmitted: 3, received: 0, replyLines: 0 });
    expect(parsePingOutput(fixture('busybox-loss.stdout'), fixture('busybox-loss.stderr'))).toEqual({ transmitted: 2, received: 0, replyLines: 0 });
  });

  it('recognizes "not permitted" in both implementations', () => {
    expect(parsePingOutput(fixture('iputils-eperm.stdout'), fixture('iputils-eperm.stderr'))).toMatchObject({ permissionDenied: 'ping: socket: Operation not permitted', message: 'ping: socktype: SOCK_RAW' });
    expect(parsePingOutput(fixture('busybox-eperm.stdout'), fixture('busybox-eperm.stderr'))).toMatchObject({ permissionDenied: 'ping: permission denied (are you root?)' });
    expect(parsePingOutput(fixture('iputils-eperm.stdout'), fixture('iputils-eperm.stderr')).transmitted).toBeUndefined();
  });

  it('recognizes a name that does not resolve, and passes other errors on', () => {
    expect(parsePingOutput(fixture('iputils-dns.stdout'), fixture('iputils-dns.stderr')).dnsError).toBe('ping: nosuch.invalid: Temporary failure in name resolution');
    expect(parsePingOutput(fixture('busybox-dns.stdout'), fixture('busybox-dns.stderr')).dnsError).toBe("ping: bad address 'nosuch.invalid'");
    const unreach = parsePingOutput(fixture('iputils-netunreach.stdout'), fixture('iputils-netunreach.stderr'));
    expect(unreach).toEqual({ replyLines: 0, message: 'ping: connect: Network is unreachable' });
  });

  it('counts reply lines when ping was killed before its summary', () => {
    const cut = fixture('iputils-ok.stdout').split('\n').slice(0, 3).join('\n');
    expect(parsePingOutput(cut)).toEqual({ replyLines: 2, rttMs: { min: 0.029, avg: 0.04, max: 0.051 } });
  });
});

describe('pingHost', () => {
  /** A directory holding only a `ping` script with this body, for PATH. */
  function fakePing(name: string, body: string): string {
    const d = join(dir, name);
    execFileSync('mkdir', ['-p', d]);
    writeFileSync(join(d, 'ping'), `#!/bin/sh\nPATH=/usr/bin:/bin\n${body}\n`);
    chmodSync(join(d, 'ping'), 0o755);
    return d;
  }

  it('pings 127.0.0.1 with the real ping', async () => {
    expect(existsSync('/usr/bin/ping') || existsSync('/bin/ping'), 'iputils-ping is installed').toBe(true);
    const r = await pingHost({ host: '127.0.0.1', count: 2 });
    expect(r).toMatchObject({ host: '127.0.0.1', method: 'icmp', reachable: true, sent: 2, received: 2 });
    expect(r.rttMs!.min).toBeGreaterThan(0);
    expect(r.rttMs!.max).toBeGreaterThanOrEqual(r.rttMs!.avg);
    expect(formatPing(r)).toMatch(/^127\.0\.0\.1 answers ICMP ping: 2\/2 replies, rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms$/);
  });

  it('falls back to TCP connects when ping is not installed', async () => {
    const open = await listen(createServer((s) => s.resume().end()));
    const empty = join(dir, 'empty-bin');
    execFileSync('mkdir', ['-p', empty]);
    const r = await pingHost({ host: '127.0.0.1', count: 2, tcpPorts: [open], env: { PATH: empty } });
    expect(r).toMatchObject({ method: 'tcp', reachable: true, sent: 2, received: 2, fallbackReason: 'ping is not installed', tcpPorts: [open] });
    expect(r.rttMs!.avg).toBeGreaterThanOrEqual(0);
    expect(formatPing(r)).toContain(`127.0.0.1 is up (TCP connects instead of ICMP: ping is not installed): 2/2 TCP rounds answered on ports ${open}`);
  });

  it('counts a refused connect as the host answering', async () => {
    const closed = await closedPort();
    const r = await pingHost({ host: '127.0.0.1', count: 1, tcpPorts: [closed], env: { PATH: join(dir, 'empty-bin') } });
    expect(r).toMatchObject({ method: 'tcp', reachable: true, received: 1 });
  });

  it('falls back to TCP when ping says ICMP is not permitted (real iputils message)', async () => {
    const open = await listen(createServer((s) => s.resume().end()));
    const stderr = fixture('iputils-eperm.stderr').replace(/'/g, '');
    const bin = fakePing('eperm', `printf '%s' '${stderr}' >&2\nexit 2`);
    const r = await pingHost({ host: '127.0.0.1', count: 1, tcpPorts: [22222, open], env: { PATH: bin } });
    expect(r).toMatchObject({ method: 'tcp', reachable: true, received: 1, fallbackReason: 'ICMP is not permitted here (socket: Operation not permitted)' });
  });

  it('falls back on BusyBox\'s "permission denied (are you root?)", exit 1', async () => {
    const open = await listen(createServer((s) => s.resume().end()));
    const bin = fakePing('bb-eperm', `echo 'PING 127.0.0.1 (127.0.0.1): 56 data bytes'\necho 'ping: permission denied (are you root?)' >&2\nexit 1`);
    const r = await pingHost({ host: '127.0.0.1', count: 1, tcpPorts: [open], env: { PATH: bin } });
    expect(r).toMatchObject({ method: 'tcp', reachable: true, fallbackReason: 'ICMP is not permitted here (permission denied (are you root?))' });
  });

  it('says when the TCP fallback gets no answer either', async () => {
    const { port } = await silentListener();
    const r = await pingHost({ host: '127.0.0.1', count: 1, timeoutMs: 1000, tcpPorts: [port], env: { PATH: join(dir, 'empty-bin') } });
    expect(r).toMatchObject({ method: 'tcp', reachable: false, sent: 1, received: 0 });
    expect(r.error).toMatch(new RegExp(`^no TCP answer on ports ${port} \\(port ${port}: no answer from 127\\.0\\.0\\.1:${port} within 1000 ms`));
  });

  it('falls back to TCP when ping cannot start for another reason (exit 2, no statistics)', async () => {
    const open = await listen(createServer((s) => s.resume().end()));
    const bin = fakePing('netunreach', `cat '${new URL('./__fixtures__/ping/iputils-netunreach.stderr', import.meta.url).pathname}' >&2\nexit 2`);
    const r = await pingHost({ host: '127.0.0.1', count: 1, tcpPorts: [open], env: { PATH: bin } });
    expect(r).toMatchObject({ method: 'tcp', reachable: true, fallbackReason: 'ping could not run (connect: Network is unreachable)' });
  });

  it('reports a DNS failure from ping without falling back', async () => {
    const bin = fakePing('dns', `echo 'ping: nosuch.lan: Temporary failure in name resolution' >&2\nexit 2`);
    const r = await pingHost({ host: 'nosuch.lan', count: 1, env: { PATH: bin } });
    expect(r).toEqual({ host: 'nosuch.lan', method: 'icmp', reachable: false, sent: 0, received: 0, error: 'DNS lookup of nosuch.lan failed: Temporary failure in name resolution' });
  });

  it('reports total loss from captured output', async () => {
    const bin = fakePing('loss', `cat '${new URL('./__fixtures__/ping/iputils-loss.stdout', import.meta.url).pathname}'\nexit 1`);
    const r = await pingHost({ host: '10.9.9.2', count: 3, env: { PATH: bin } });
    expect(r).toMatchObject({ method: 'icmp', reachable: false, sent: 3, received: 0 });
    expect(r.error).toMatch(/^no reply to 3 ICMP echo requests/);
    expect(formatPing(r)).toMatch(/^10\.9\.9\.2 is not reachable by ICMP ping: no reply to 3/);
  });

  it('kills a ping that does not finish by the deadline, even one that ignores SIGINT', async () => {
    const pidFile = join(dir, 'hang.pid');
    const bin = fakePing('hang', `trap '' INT\necho $$ > '${pidFile}'\nsleep 30`);
    // The fake ping sleeps 30 s, past this test's own timeout: only the deadline can end it.
    const r = await pingHost({ host: '127.0.0.1', count: 1, timeoutMs: 1000, env: { PATH: bin } });
    expect(r).toMatchObject({ method: 'icmp', reachable: false });
    expect(r.error).toMatch(/no result within 1000 ms/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('passes only a checked host to ping, and bounds count', async () => {
    for (const [args, msg] of [
      [{ host: '-f', count: 1 }, /host must be/],
      [{ host: '127.0.0.1', count: 21 }, /count must be an integer from 1 to 20, got 21/],
      [{ host: '127.0.0.1', count: 0 }, /count must be an integer from 1 to 20/],
      [{ host: '127.0.0.1', tcpPorts: [] }, /tcpPorts must list 1 to 10 ports/],
    ] as const) {
      const err = await rejection(pingHost(args as never));
      expect(isHomelabError(err, 'INVALID_ARGUMENTS'), String(err)).toBe(true);
      expect(err.message).toMatch(msg);
    }
  });

  it('stops the ping when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    const err = await rejection(pingHost({ host: '127.0.0.1', count: 10, signal: ac.signal }));
    // CANCELLED: the abort ended it, not the ten pings running out.
    expect(isHomelabError(err, 'CANCELLED')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('probeHttp', () => {
  let base: string;
  const seen: Array<{ url: string; authorization?: string }> = [];
  beforeAll(async () => {
    base = await httpServer((req, res) => {
      seen.push({ url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      const path = req.url!.split('?')[0];
      if (path === '/ok') return void res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'sid=secret-cookie' }).end('all good\n');
      if (path === '/fail') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"database is down"}');
      if (path === '/redirect') return void res.writeHead(302, { location: 'http://bob:hunter2@127.0.0.1:1/login?next=%2F' }).end();
      if (path === '/slow') return; // never answers
      if (path === '/slow-body') return void res.writeHead(200, { 'content-type': 'text/plain' }).write('partial ');
      if (path === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let sent = 0;
        const pump = () => {
          while (sent < 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (path === '/binary') return void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
      res.writeHead(404).end('not found');
    });
  });

  it('reports 200 as ok with latency, headers and the start of the body', async () => {
    const r = await probeHttp({ url: `${base}/ok` });
    expect(r).toMatchObject({ url: `${base}/ok`, ok: true, status: 200, statusText: 'OK', expected: '2xx/3xx', bodySnippet: 'all good', bodyBytes: 9 });
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.headers!['content-type']).toBe('text/plain');
    expect(r.headers!['set-cookie']).toBeUndefined();
    expect(formatHttpProbe(r)).toMatch(new RegExp(`^${base}/ok: OK, HTTP 200 OK in [\\d.]+ ms \\(expected 2xx/3xx\\)\\n`));
  });

  it('reports 500 as not ok, with the body that says why', async () => {
    const r = await probeHttp({ url: `${base}/fail` });
    expect(r).toMatchObject({ ok: false, status: 500, bodySnippet: '{"error":"database is down"}' });
    expect(formatHttpProbe(r)).toContain('NOT OK, HTTP 500 Internal Server Error');
  });

  it('judges against expected_status when given', async () => {
    expect(await probeHttp({ url: `${base}/ok`, expectedStatus: 204 })).toMatchObject({ ok: false, status: 200, expected: '204' });
    expect(await probeHttp({ url: `${base}/nothing-here`, expectedStatus: 404 })).toMatchObject({ ok: true, status: 404 });
  });

  it('reports a redirect without following it, and without the credentials in its target', async () => {
    const before = seen.length;
    const r = await probeHttp({ url: `${base}/redirect` });
    expect(r).toMatchObject({ ok: true, status: 302, location: 'http://127.0.0.1:1/login?next=%2F' });
    expect(JSON.stringify(r)).not.toContain('hunter2');
    expect(seen.length).toBe(before + 1); // not followed
    expect(formatHttpProbe(r)).toContain('redirects to http://127.0.0.1:1/login?next=%2F (not followed)');
  });

  it('gives up on a server that does not answer by the deadline', async () => {
    const started = Date.now();
    const r = await probeHttp({ url: `${base}/slow`, timeoutMs: 500 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(r).toEqual({ url: `${base}/slow`, ok: false, expected: '2xx/3xx', error: 'no response within 500 ms' });
    expect(formatHttpProbe(r)).toBe(`${base}/slow: no HTTP answer: no response within 500 ms`);
  });

  it('gives up on a body that does not end, keeping the status', async () => {
    const r = await probeHttp({ url: `${base}/slow-body`, timeoutMs: 500 });
    expect(r).toMatchObject({ ok: false, status: 200, bodySnippet: 'partial' });
    expect(r.error).toMatch(/^the body did not arrive within 500 ms/);
  });

  it('reads at most maxBodyBytes of a huge body', async () => {
    const r = await probeHttp({ url: `${base}/big`, maxBodyBytes: 100_000 });
    expect(r).toMatchObject({ ok: true, status: 200, bodyBytes: 100_000, bodyTruncated: true });
    expect(r.bodySnippet!.length).toBeLessThanOrEqual(512);
    const d = await probeHttp({ url: `${base}/big` });
    expect(d.bodyBytes).toBe(64 * 1024);
  });

  it('gives no snippet of a binary body', async () => {
    const r = await probeHttp({ url: `${base}/binary` });
    expect(r).toMatchObject({ ok: true, bodyBytes: 7 });
    expect(r.bodySnippet).toBeUndefined();
  });

  it('sends URL credentials but never shows them, and hides secret-looking query values', async () => {
    const r = await probeHttp({ url: `http://alice:s3cr3t@127.0.0.1:${new URL(base).port}/ok?api_key=k3y&x=1` });
    expect(r.ok).toBe(true);
    expect(seen.at(-1)!.authorization).toBe(`Basic ${Buffer.from('alice:s3cr3t').toString('base64')}`);
    expect(r.url).toBe(`${base}/ok?api_key=***&x=1`);
    expect(JSON.stringify(r) + formatHttpProbe(r)).not.toMatch(/s3cr3t|alice|k3y/);
    expect(displayUrl('https://u:p@nas:5000/x?token=abc&q=1')).toBe('https://nas:5000/x?token=***&q=1');
  });

  it('says "connection refused" for a closed port', async () => {
    const r = await probeHttp({ url: `http://127.0.0.1:${await closedPort()}/` });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^connection refused/);
  });

  it('explains TLS problems: a self-signed certificate, plain HTTP on an https URL', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const tlsPort = await listen(createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, s) => s.end('tls ok')));
    const r = await probeHttp({ url: `https://127.0.0.1:${tlsPort}/` });
    expect(r).toMatchObject({ ok: false, error: 'TLS error: the certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)' });
    const plain = await probeHttp({ url: `https://127.0.0.1:${new URL(base).port}/ok` });
    expect(plain.ok).toBe(false);
    expect(plain.error).toMatch(/^TLS handshake failed: .*\(does the server speak plain HTTP on this port\?\)$/);
    // Trusted (as a private CA would be) but issued for another name than the one asked for.
    const wrongName = await probeHttp({ url: `https://127.0.0.1:${tlsPort}/`, ca: readFileSync(cert) });
    expect(wrongName.error).toBe('TLS error: the certificate is for another host name (ERR_TLS_CERT_ALTNAME_INVALID)');
  });

  it('shows the certificate of an https URL it trusts', async () => {
    const key = join(dir, 'key-ip.pem');
    const cert = join(dir, 'cert-ip.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=nas.lan', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tlsPort = await listen(createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, s) => s.writeHead(200, { 'content-type': 'text/plain' }).end('tls ok')));
    const r = await probeHttp({ url: `https://127.0.0.1:${tlsPort}/`, ca: readFileSync(cert) });
    expect(r).toMatchObject({ ok: true, status: 200, bodySnippet: 'tls ok', tls: { subject: 'nas.lan', issuer: 'nas.lan' } });
    expect(r.tls!.daysLeft).toBeGreaterThanOrEqual(29);
    expect(r.tls!.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(formatHttpProbe(r)).toMatch(/certificate: nas\.lan issued by nas\.lan, valid until \d{4}-.*\((29|30) days left\)/);
  });

  it('accepts only http and https URLs', async () => {
    for (const [url, msg] of [
      ['ftp://127.0.0.1/', /url must use http or https, not ftp/],
      ['file:///etc/passwd', /url must use http or https, not file/],
      ['127.0.0.1:80', /url must use http or https|url must be an absolute/],
      ['not a url', /url must be an absolute http/],
    ] as const) {
      const err = await rejection(Promise.resolve().then(() => probeHttp({ url })));
      expect(isHomelabError(err, 'INVALID_ARGUMENTS'), String(err)).toBe(true);
      expect(err.message).toMatch(msg);
    }
    const err = await rejection(Promise.resolve().then(() => probeHttp({ url: `${base}/ok`, expectedStatus: 99 })));
    expect(err.message).toMatch(/expected_status must be an HTTP status code from 100 to 599, got 99/);
  });
});
