/**
 * The edge's HTTP front: authentication, Host/Origin checks, body limit, `/healthz`,
 * `/mcp`, and systemd socket activation with idle exit. Plain `node:http`: no framework,
 * because every MB of idle memory counts on a Pi.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { bearerToken } from '@homelab-mcp/core';
import { jsonBytes } from './json-bytes.ts';
import type { Logger } from './log.ts';
import type { McpHandler } from './mcp.ts';

export interface EdgeServerOptions {
  mcp: McpHandler;
  token?: string;
  /**
   * Host/Origin names accepted besides the built-in ones (see {@link hostAccepted}): the names
   * the hub's edge URL uses (`--allowed-host`).
   */
  allowedHosts: string[];
  /** This device's names (hostname, node name); accepted bare and under local-only suffixes. */
  deviceNames?: string[];
  maxBodyBytes: number;
  log: Logger;
  version: string;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];
/**
 * Suffixes only the local network's resolver answers for: a web page elsewhere cannot make
 * `pi.lan` resolve to this device, while it can do so for `pi.evil.example`.
 */
const LOCAL_SUFFIXES = ['', '.local', '.lan', '.home', '.internal', '.home.arpa', '.localdomain'];

/**
 * Whether a Host or Origin name (lower case, no port) may reach the edge. DNS rebinding needs a
 * name the attacker's DNS answers: IP literals, loopback names, this device's names (bare or
 * under a local-only suffix) and the configured names are safe; any other name is refused,
 * token or not (a token in a browser's hands must not be replayable by a page).
 *
 * @example hostAccepted('evil.example', new Set()) // false
 */
export function hostAccepted(name: string, allowed: ReadonlySet<string>): boolean {
  if (allowed.has(name)) return true;
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return isIP(bare) !== 0;
}

function hostName(hostHeader: string): string {
  // "[::1]:8222" -> "[::1]", "pi.lan:8222" -> "pi.lan"
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  const i = hostHeader.indexOf(':');
  return (i >= 0 ? hostHeader.slice(0, i) : hostHeader).toLowerCase();
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  // As bytes, at once and built in pieces: a string handed to a socket that is still busy stays
  // on the JS heap until it is written, and the whole answer as one string is several MB there.
  const bytes = jsonBytes(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers }).end(bytes);
}

// node:crypto costs ~1 MB of private memory once loaded: loaded on the first authenticated request.
const requireBuiltin = createRequire(import.meta.url);
let crypto: typeof import('node:crypto') | undefined;
const lazyCrypto = () => (crypto ??= requireBuiltin('node:crypto') as typeof import('node:crypto'));

/**
 * A constant-time check of presented tokens against `token`, as core's `safeEqual` does it (both
 * sides hashed, so neither the length nor a common prefix leaks through timing), with the
 * expected side's digest computed once instead of on every request.
 *
 * @example const ok = tokenChecker('s3cret-token-0123456789'); ok('guess') // false
 */
export function tokenChecker(token: string): (presented: string) => boolean {
  let expected: Buffer | undefined;
  return (presented) => {
    const { createHash, timingSafeEqual } = lazyCrypto();
    expected ??= createHash('sha256').update(token, 'utf8').digest();
    return timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), expected) && token.length > 0;
  };
}

/** Bodies up to this size are always taken: every ordinary call is far smaller. */
const SMALL_BODY = 64 * 1024;

/**
 * Reads the body up to `limit` bytes; resolves undefined (and answers 413) past it. `hold(n)`
 * claims n more bytes of the edge's body budget and returns false when it is spent: the
 * request then gets 503 (busy), because a heap of a few tens of MB cannot hold several large
 * bodies at once (each costs its bytes again as a string and as parsed JSON).
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, hold: (n: number) => boolean): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const tooLarge = () => send(res, 413, { jsonrpc: '2.0', id: null, error: { code: -32600, message: `Request body too large: limit is ${limit} bytes` } }, { connection: 'close' });
    const busy = () =>
      send(res, 503, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'busy: this edge is already holding as many large requests as its memory allows; retry shortly' } }, { connection: 'close', 'retry-after': '1' });
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      tooLarge();
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const refuse = (answer: () => void, afterBody: boolean) => {
      over = true;
      chunks.length = 0;
      // Read the rest into nothing. A busy refusal waits for the end of the body (at most
      // `limit` bytes, none of them kept): answered with "connection: close" while the client
      // still sends, the socket would close under it and the client would see a reset, not 503.
      if (afterBody) {
        req.once('end', answer);
        req.once('error', () => res.destroy());
      } else answer();
      req.resume();
      resolve(undefined);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over) {
        // A body still arriving past the limit after a busy refusal is not waited for.
        if (size > limit && !res.headersSent) res.destroy();
        return;
      }
      if (size > limit) return refuse(tooLarge, false);
      if (size > SMALL_BODY && !hold(size > SMALL_BODY + c.length ? c.length : size)) return refuse(busy, true);
      chunks.push(c);
    });
    req.on('end', () => !over && resolve(Buffer.concat(chunks)));
    req.on('error', () => !over && resolve(undefined));
  });
}

/** Keys (kind and name or source) remembered; beyond this the oldest is forgotten (and logs again). */
const MAX_REFUSAL_KEYS = 1024;
/** Lines per window over all keys: a flood of made-up names cannot flood the log either. */
const MAX_REFUSAL_LINES = 100;

/**
 * A warn-level log of refused requests, at most one line per `key` per `windowMs` (and
 * {@link MAX_REFUSAL_LINES} in all); a key's next line says how many of its refusals were not
 * logged (`suppressedSinceLast`).
 *
 * @example const refused = createRefusalLog(log); refused('unauthorized\u0000192.0.2.9', 'refused: no valid bearer token (401)', { source });
 */
export function createRefusalLog(log: Logger, windowMs = 10_000, now: () => number = Date.now): (key: string, msg: string, fields: Record<string, unknown>) => void {
  const seen = new Map<string, { at: number; suppressed: number }>();
  let window = { at: -Infinity, lines: 0 };
  return (key, msg, fields) => {
    const t = now();
    const entry = seen.get(key);
    if (entry && t - entry.at < windowMs) {
      entry.suppressed++;
      return;
    }
    if (t - window.at >= windowMs) window = { at: t, lines: 0 };
    if (!entry && seen.size >= MAX_REFUSAL_KEYS) seen.delete(seen.keys().next().value!);
    if (window.lines >= MAX_REFUSAL_LINES) {
      seen.set(key, { at: t, suppressed: (entry?.suppressed ?? 0) + 1 });
      return;
    }
    window.lines++;
    seen.set(key, { at: t, suppressed: 0 });
    log.warn(msg, { ...fields, ...(entry?.suppressed ? { suppressedSinceLast: entry.suppressed } : {}) });
  };
}

/**
 * Creates the HTTP server. `activity` counts requests in flight and the time of the last
 * one, for idle exit.
 *
 * @example
 * const { server } = createEdgeServer({ mcp, token, allowedHosts: [], maxBodyBytes: 8 << 20, log, version });
 * server.listen(8222, '127.0.0.1');
 */
export function createEdgeServer(opts: EdgeServerOptions): { server: Server; activity: { inFlight: number; last: number } } {
  const activity = { inFlight: 0, last: Date.now() };
  // Bytes of large request bodies held right now (read, parsed, or in a running call).
  let bodyBytesHeld = 0;
  const allowed = new Set([...LOOPBACK_NAMES, ...opts.allowedHosts.map((h) => h.toLowerCase())]);
  for (const n of opts.deviceNames ?? []) for (const s of LOCAL_SUFFIXES) if (n) allowed.add(`${n.toLowerCase()}${s}`);

  const tokenOk = opts.token ? tokenChecker(opts.token) : undefined;

  /** What a request holds until its response closes; released by its one 'close' listener. */
  interface Held {
    /** Bytes of the edge's body budget. */
    bytes: number;
    /** Aborts the call's work when the client goes away before its answer was written. */
    abort?: AbortController;
  }

  const server = createServer(async (req, res) => {
    activity.inFlight++;
    activity.last = Date.now();
    const held: Held = { bytes: 0 };
    res.on('close', () => {
      activity.inFlight--;
      activity.last = Date.now();
      bodyBytesHeld -= held.bytes;
      held.bytes = 0;
      // The response closing before we answered means the client went away: stop the work.
      if (held.abort && !res.writableFinished) held.abort.abort();
    });
    try {
      await route(req, res, held);
    } catch (err) {
      opts.log.error('request failed', { err: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, { jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } });
      else res.destroy();
    }
  });
  // Tool calls can run for minutes; the request itself must still arrive promptly.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;

  // Refusals are logged without letting a flood flood the log: one line per kind and name (or
  // source address) per 10 s, carrying how many were left out since the last one.
  const refusalLog = createRefusalLog(opts.log);
  const refused = (req: IncomingMessage, name: string, header: 'Host' | 'Origin', value: string) =>
    refusalLog(`forbidden_host\u0000${name}`, `refused a request whose ${header} names "${name}" (403): not a name of this edge; if the hub's URL for this edge uses it, start the edge with --allowed-host ${name || 'NAME'} (allowedHosts in its --config file)`, {
      refusal: 'forbidden_host',
      source: req.socket.remoteAddress,
      [header.toLowerCase()]: value.slice(0, 200),
      allowWith: '--allowed-host',
    });

  async function route(req: IncomingMessage, res: ServerResponse, held: Held): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const host = hostName(req.headers.host ?? '');
    if (!hostAccepted(host, allowed)) {
      // DNS rebinding: a browser page on another name resolving to this address. Or a hub whose
      // URL for this edge uses a name the edge does not know: the log says which flag to add.
      refused(req, host, 'Host', req.headers.host ?? '');
      req.resume();
      send(res, 403, { error: 'forbidden host' });
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        // Unparseable origin: refused below.
      }
      if (!hostAccepted(hostName(originHost), allowed)) {
        refused(req, hostName(originHost), 'Origin', origin);
        req.resume();
        send(res, 403, { error: 'forbidden origin' });
        return;
      }
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, { status: 'ok', version: opts.version });
      return;
    }
    if (path !== '/mcp') {
      send(res, 404, { error: 'not found' });
      return;
    }
    if (tokenOk) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === undefined || !tokenOk(presented)) {
        // A bare 401: no hint about what was wrong, and no OAuth metadata (clients such as
        // Claude Code would then ignore the static bearer header they were given). The log says
        // whether a token came at all, never the token.
        const source = req.socket.remoteAddress ?? '';
        refusalLog(`unauthorized\u0000${source}`, 'refused: no valid bearer token (401)', { refusal: 'unauthorized', source, path, bearer: presented === undefined ? 'missing' : 'wrong' });
        req.resume();
        send(res, 401);
        return;
      }
    }
    if (req.method !== 'POST') {
      // Stateless server: no GET stream to open and no session to DELETE.
      send(res, 405, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed: this server is stateless; use POST' } }, { allow: 'POST' });
      return;
    }
    const raw = await readBody(req, res, opts.maxBodyBytes, (n) => {
      if (bodyBytesHeld + n > opts.maxBodyBytes) return false;
      bodyBytesHeld += n;
      held.bytes += n;
      return true;
    });
    if (raw === undefined) return;
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      send(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the body is not valid JSON' } });
      return;
    }
    const ac = (held.abort = new AbortController());
    // The answer's share of the reply budget is held until its bytes are handed to the socket.
    const lease = opts.mcp.lease();
    try {
      const reply = await opts.mcp.handle(body, (h) => {
        const v = req.headers[h];
        return Array.isArray(v) ? v[0] : v;
      }, ac.signal, lease);
      if (res.destroyed) return;
      send(res, reply.status, reply.body);
    } finally {
      lease.release();
    }
  }

  return { server, activity };
}

/**
 * The listening socket systemd passed (socket activation), or undefined.
 * systemd sets LISTEN_PID to our pid and LISTEN_FDS to the count; the first is fd 3.
 */
export function inheritedSocketFd(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  if (!env.LISTEN_FDS || Number(env.LISTEN_FDS) < 1) return undefined;
  if (env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) !== pid) return undefined;
  return 3;
}
