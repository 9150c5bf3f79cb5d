/**
 * Network probes: is a TCP port open, does a host answer, what does a URL return. The hub
 * probes from where it runs, an edge from its device, with the same code: this file ships in
 * the edge bundle, so it uses only `node:` built-ins (no zod, no pino, no fetch/undici) and
 * nothing newer than Node 18 (no `AbortSignal.any`).
 *
 * Every probe has a deadline and bounded output, and a result that says what went wrong in
 * words (refused, timed out, DNS, TLS) rather than throwing: a closed port is an answer, not a
 * failure. Only bad arguments (`INVALID_ARGUMENTS`) and cancellation (`CANCELLED`) throw.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, isIP, type LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HomelabError } from './errors.ts';

/** Why a TCP connect did not succeed, for callers that branch on it. */
export type ConnectFailure = 'refused' | 'timeout' | 'dns' | 'unreachable' | 'reset' | 'other';

export interface PortCheck {
  host: string;
  port: number;
  open: boolean;
  /** Connect time (after DNS): to the handshake when open, to the refusal when refused. */
  latencyMs?: number;
  error?: string;
  /** Set when not open. */
  reason?: ConnectFailure;
  /** The address DNS gave (or the literal), when known. */
  address?: string;
}

export interface PingResult {
  host: string;
  method: 'icmp' | 'tcp';
  reachable: boolean;
  sent: number;
  received: number;
  rttMs?: { min: number; avg: number; max: number };
  error?: string;
  /** With `method: 'tcp'`: why ICMP was not used. */
  fallbackReason?: string;
  /** With `method: 'tcp'`: the ports tried. */
  tcpPorts?: number[];
}

export interface HttpProbe {
  /** The URL as probed, without credentials and with secret-looking query values hidden. */
  url: string;
  ok: boolean;
  status?: number;
  statusText?: string;
  /** Time to the response headers. */
  latencyMs?: number;
  error?: string;
  /** The start of a textual body, at most 512 characters. */
  bodySnippet?: string;
  /** Body bytes read (at most `maxBodyBytes`). */
  bodyBytes?: number;
  /** The body was longer than `maxBodyBytes` and was not read to the end. */
  bodyTruncated?: boolean;
  headers?: Record<string, string>;
  /** A redirect's target (not followed), without credentials. */
  location?: string;
  /** What `ok` was judged against: the expected status, or '2xx/3xx'. */
  expected: string;
  /** The server certificate of an https URL. */
  tls?: { subject?: string; issuer?: string; validTo?: string; daysLeft?: number; protocol?: string };
}

export const DEFAULT_PORT_TIMEOUT_MS = 5_000;
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
export const DEFAULT_TCP_PING_PORTS: readonly number[] = [22, 80, 443];
export const MAX_PING_COUNT = 20;
export const MAX_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const SNIPPET_CHARS = 512;
const MAX_HEADERS = 40;
const MAX_HEADER_VALUE = 256;
/** Bytes of ping output kept per stream: 20 replies print about 1.5 KB. */
const PING_MAX_OUTPUT = 64 * 1024;
/** Between SIGINT (ping prints its statistics) and SIGKILL. */
const PING_KILL_GRACE_MS = 1_000;

// ---------------------------------------------------------------------------------------------
// Arguments

const HOST_RE = /^[A-Za-z0-9._:%-]+$/;

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function invalid(message: string): HomelabError {
  return new HomelabError('INVALID_ARGUMENTS', message);
}

/**
 * Checks a host name or IP address (IPv6 may be bracketed). It never starts with `-`, so it
 * cannot be read as an option of `ping`.
 */
export function validateHost(v: unknown, arg = 'host'): string {
  let h = typeof v === 'string' ? v.trim() : v;
  if (typeof h === 'string' && h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (typeof h !== 'string' || h.length === 0 || h.length > 253 || !HOST_RE.test(h) || h.startsWith('-')) {
    throw invalid(`${arg} must be a host name or IP address such as nas.lan or 192.168.1.10, got ${shown(v)}`);
  }
  return h;
}

/** Checks a TCP port number, 1 to 65535. */
export function validatePort(v: unknown, arg = 'port'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid(`${arg} must be an integer from 1 to 65535, got ${shown(v)}`);
  return v;
}

/** Checks a deadline in milliseconds, 1 ms to 120 s. */
export function validateTimeoutMs(v: unknown, arg = 'timeoutMs'): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > MAX_TIMEOUT_MS) throw invalid(`${arg} must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${shown(v)}`);
  return Math.round(v);
}

function cancelled(what: string): HomelabError {
  return new HomelabError('CANCELLED', `${what} was cancelled`);
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** `host:port`, with IPv6 literals bracketed. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// check_port

/** What a failed connect means, in words, from the error Node gives. */
export function describeConnectError(err: NodeJS.ErrnoException, host: string, port: number): { reason: ConnectFailure; error: string } {
  const code = err.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return { reason: 'refused', error: `connection refused: the host answered, but nothing listens on ${hostPort(host, port)} (or a firewall rejects it)` };
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return { reason: 'dns', error: `DNS lookup of ${host} failed: no such host (${code})` };
    case 'EAI_AGAIN':
      return { reason: 'dns', error: `DNS lookup of ${host} failed: the resolver did not answer (EAI_AGAIN)` };
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return { reason: 'unreachable', error: `host unreachable: no route to ${host} (${code}); it may be down or on a network this side cannot reach` };
    case 'ENETUNREACH':
      return { reason: 'unreachable', error: `network unreachable: this side has no route to ${host} (ENETUNREACH)` };
    case 'ETIMEDOUT':
      return { reason: 'timeout', error: `connect to ${hostPort(host, port)} timed out (ETIMEDOUT): a firewall may drop the packets, or the host is down` };
    case 'ECONNRESET':
      return { reason: 'reset', error: `connection reset by ${hostPort(host, port)}` };
    default:
      return { reason: 'other', error: `connect to ${hostPort(host, port)} failed: ${err.message}` };
  }
}

/**
 * Opens a TCP connection and closes it at once. Refused, timed out and DNS failure are told
 * apart in `error` (and `reason`).
 * @example await checkPort({ host: 'nas.lan', port: 445, timeoutMs: 3000 }) // { open: true, latencyMs: 0.8, ... }
 */
export function checkPort(o: { host: string; port: number; timeoutMs?: number; signal?: AbortSignal; lookup?: LookupFunction }): Promise<PortCheck> {
  const host = validateHost(o.host);
  const port = validatePort(o.port);
  const timeoutMs = validateTimeoutMs(o.timeoutMs ?? DEFAULT_PORT_TIMEOUT_MS);
  const signal = o.signal;
  if (signal?.aborted) return Promise.reject(cancelled('check_port'));
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // A literal needs no lookup; for a name, connect time is measured from the lookup's end.
    let resolvedAt: number | undefined = isIP(host) ? started : undefined;
    let address: string | undefined = isIP(host) ? host : undefined;
    let settled = false;
    const sock = connect({ host, port, ...(o.lookup ? { lookup: o.lookup } : {}) });
    const done = (r: Omit<PortCheck, 'host' | 'port'> | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (r instanceof Error) reject(r);
      else resolve({ host, port, ...r, ...(address ? { address } : {}) });
    };
    const since = () => round(performance.now() - (resolvedAt ?? started));
    const timer = setTimeout(() => {
      done(
        resolvedAt === undefined
          ? { open: false, reason: 'dns', error: `DNS lookup of ${host} did not finish within ${timeoutMs} ms` }
          : { open: false, reason: 'timeout', error: `no answer from ${hostPort(host, port)} within ${timeoutMs} ms: a firewall may drop the packets, or the host is down` },
      );
    }, timeoutMs);
    const onAbort = () => done(cancelled('check_port'));
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('lookup', (err, addr) => {
      if (err) return;
      resolvedAt = performance.now();
      address = addr;
    });
    sock.once('connect', () => done({ open: true, latencyMs: since() }));
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const d = describeConnectError(err, host, port);
      done({ open: false, ...d, ...(d.reason === 'refused' ? { latencyMs: since() } : {}) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// ping_host

/** What `ping` printed, as far as it can be read (iputils and BusyBox formats). */
export interface PingOutput {
  transmitted?: number;
  received?: number;
  rttMs?: { min: number; avg: number; max: number };
  /** Reply lines seen (`64 bytes from ...`): counts replies even when no summary was printed. */
  replyLines: number;
  /** The line saying ICMP sockets are not permitted here. */
  permissionDenied?: string;
  /** The line saying the name did not resolve. */
  dnsError?: string;
  /** First line of stderr, for other failures. */
  message?: string;
}

const STATS_RE = /(\d+) packets transmitted, (\d+) (?:packets )?received/;
const RTT_RE = /(?:rtt|round-trip) min\/avg\/max(?:\/(?:mdev|stddev))? = ([\d.]+)\/([\d.]+)\/([\d.]+)/;
const REPLY_RE = /^\d+ bytes from .*time[=<]([\d.]+) ?ms/;
const PERMISSION_RE = /operation not permitted|permission denied|are you root|cap_net_raw/i;
const DNS_RE = /name or service not known|temporary failure in name resolution|no address associated with hostname|unknown host|bad address|cannot resolve|nodename nor servname/i;

/**
 * Reads the output of iputils or BusyBox `ping`: the statistics lines, the replies, and the
 * messages that mean "not permitted here" or "no such host". Pure, tested on captured output.
 */
export function parsePingOutput(stdout: string, stderr = ''): PingOutput {
  const out: PingOutput = { replyLines: 0 };
  const stats = STATS_RE.exec(stdout);
  if (stats) {
    out.transmitted = Number(stats[1]);
    out.received = Number(stats[2]);
  }
  const rtt = RTT_RE.exec(stdout);
  if (rtt) out.rttMs = { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) };
  const times: number[] = [];
  for (const line of stdout.split('\n')) {
    const m = REPLY_RE.exec(line.trim());
    if (m) times.push(Number(m[1]));
  }
  out.replyLines = times.length;
  // No summary (ping killed hard): the reply lines still say what came back.
  if (!out.rttMs && times.length > 0) out.rttMs = { min: Math.min(...times), avg: round(times.reduce((a, b) => a + b, 0) / times.length), max: Math.max(...times) };
  const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const perm = lines.find((l) => PERMISSION_RE.test(l));
  if (perm) out.permissionDenied = perm;
  const dns = lines.find((l) => DNS_RE.test(l));
  if (dns) out.dnsError = dns;
  const first = stderr.split('\n').map((l) => l.trim()).find(Boolean);
  if (first) out.message = first;
  return out;
}

interface SpawnResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
}

/**
 * Runs a short-lived program with a deadline and capped output (core cannot use the edge's
 * runner). At the deadline the process group gets SIGINT, which makes `ping` print its
 * statistics, then SIGKILL after a grace; an abort kills at once.
 */
function runBounded(file: string, args: string[], o: { env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal; maxBytes: number }): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const kept = { stdout: 0, stderr: 0 };
    const capture = (which: 'stdout' | 'stderr') => (b: Buffer) => {
      const room = o.maxBytes - kept[which];
      if (room <= 0) return;
      const part = b.length > room ? b.subarray(0, room) : b;
      chunks[which].push(part);
      kept[which] += part.length;
    };
    child.stdout!.on('data', capture('stdout'));
    child.stderr!.on('data', capture('stderr'));
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup('SIGINT');
      killTimer = setTimeout(() => killGroup('SIGKILL'), PING_KILL_GRACE_MS);
    }, o.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup('SIGKILL');
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    const cleanup = () => {
      settled = true;
      clearTimeout(deadline);
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      if (settled) return;
      cleanup();
      reject(err);
    });
    child.once('exit', () => {
      // A stray grandchild may hold the pipes open: read what is there, then stop waiting.
      setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
      }, 200).unref();
    });
    child.once('close', (code) => {
      if (settled) return;
      cleanup();
      resolve({ stdout: Buffer.concat(chunks.stdout).toString('utf8'), stderr: Buffer.concat(chunks.stderr).toString('utf8'), exitCode: code, timedOut, aborted });
    });
  });
}

/** The deadline ping_host uses when none is given: a second per echo plus three. */
export function defaultPingTimeoutMs(count: number): number {
  return (count - 1) * 1000 + 3000;
}

/**
 * TCP "ping": connects to each of `ports` at once per round; the host counts as answering a
 * round when any port accepts or refuses (a refusal is the host's own TCP stack answering).
 */
async function tcpPing(host: string, count: number, ports: number[], timeoutMs: number, signal: AbortSignal | undefined, fallbackReason: string): Promise<PingResult> {
  const perRound = Math.max(200, Math.min(3000, Math.floor(timeoutMs / count)));
  const rtts: number[] = [];
  let lastError: string | undefined;
  let sent = 0;
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) throw cancelled('ping_host');
    sent++;
    const results = await Promise.all(ports.map((port) => checkPort({ host, port, timeoutMs: perRound, ...(signal ? { signal } : {}) })));
    const answered = results.filter((r) => r.open || r.reason === 'refused');
    if (answered.length > 0) rtts.push(Math.min(...answered.map((r) => r.latencyMs ?? 0)));
    else {
      const dns = results.find((r) => r.reason === 'dns');
      if (dns) return { host, method: 'tcp', reachable: false, sent: 0, received: 0, error: dns.error, fallbackReason, tcpPorts: ports };
      lastError = results.map((r) => `port ${r.port}: ${r.error}`).join('; ');
    }
  }
  const base: PingResult = { host, method: 'tcp', reachable: rtts.length > 0, sent, received: rtts.length, fallbackReason, tcpPorts: ports };
  if (rtts.length > 0) base.rttMs = { min: Math.min(...rtts), avg: round(rtts.reduce((a, b) => a + b, 0) / rtts.length), max: Math.max(...rtts) };
  else base.error = `no TCP answer on ports ${ports.join(', ')} (${lastError ?? 'no answer'})`;
  return base;
}

/**
 * Pings a host with the system `ping` (`-c N -W secs -n`), or, where `ping` is missing or ICMP
 * is not permitted (no CAP_NET_RAW, a container), with TCP connects to `tcpPorts`
 * (`method: 'tcp'`).
 * @example await pingHost({ host: '192.168.1.1', count: 3 }) // { method: 'icmp', reachable: true, sent: 3, received: 3, rttMs: {...} }
 */
export async function pingHost(o: {
  host: string;
  count?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  tcpPorts?: number[];
  /** Environment `ping` runs with (its PATH finds `ping`); default this process's. */
  env?: NodeJS.ProcessEnv;
}): Promise<PingResult> {
  const host = validateHost(o.host);
  const count = o.count ?? 3;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PING_COUNT) throw invalid(`count must be an integer from 1 to ${MAX_PING_COUNT}, got ${shown(count)}`);
  const timeoutMs = validateTimeoutMs(o.timeoutMs ?? defaultPingTimeoutMs(count));
  const ports = o.tcpPorts ?? [...DEFAULT_TCP_PING_PORTS];
  if (!Array.isArray(ports) || ports.length === 0 || ports.length > 10) throw invalid(`tcpPorts must list 1 to 10 ports, got ${shown(ports)}`);
  ports.forEach((p) => validatePort(p, 'tcpPorts'));
  if (o.signal?.aborted) throw cancelled('ping_host');

  // -W: how long to wait for a reply after the last echo; what the deadline leaves, 1 to 10 s.
  const waitS = Math.max(1, Math.min(10, Math.floor(timeoutMs / 1000) - (count - 1) - 1));
  let r: SpawnResult;
  try {
    // LC_ALL=C: the statistics line is parsed; a localized ping would word it differently.
    r = await runBounded('ping', ['-c', String(count), '-W', String(waitS), '-n', host], {
      env: { ...(o.env ?? process.env), LC_ALL: 'C' },
      timeoutMs,
      ...(o.signal ? { signal: o.signal } : {}),
      maxBytes: PING_MAX_OUTPUT,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return tcpPing(host, count, ports, timeoutMs, o.signal, 'ping is not installed');
    // EPERM: ping carries file capabilities the process may not gain (no-new-privileges, a
    // reduced bounding set); EACCES: not executable for this user.
    if (code === 'EPERM' || code === 'EACCES') return tcpPing(host, count, ports, timeoutMs, o.signal, `ping may not be executed here (${code})`);
    throw new HomelabError('PING_FAILED', `could not run ping: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw cancelled('ping_host');
  const p = parsePingOutput(r.stdout, r.stderr);
  const noReplies = !p.received && p.replyLines === 0;
  const unprefixed = (line: string) => line.replace(/^[^:]*ping: /, '');
  if (p.dnsError) return { host, method: 'icmp', reachable: false, sent: 0, received: 0, error: `DNS lookup of ${host} failed: ${unprefixed(p.dnsError).replace(`${host}: `, '')}` };
  if (noReplies && p.permissionDenied) return tcpPing(host, count, ports, timeoutMs, o.signal, `ICMP is not permitted here (${unprefixed(p.permissionDenied)})`);
  // Exit 2 and no statistics: ping could not even start (no socket, no route); TCP may still get through.
  if (noReplies && r.exitCode === 2 && p.transmitted === undefined) return tcpPing(host, count, ports, timeoutMs, o.signal, `ping could not run (${unprefixed(p.message ?? 'exit 2, no output')})`);
  const received = p.received ?? p.replyLines;
  const sent = p.transmitted ?? Math.max(received, count);
  const res: PingResult = { host, method: 'icmp', reachable: received > 0, sent, received };
  if (p.rttMs && received > 0) res.rttMs = p.rttMs;
  if (received === 0) {
    res.error =
      p.transmitted === undefined
        ? `ping failed${r.timedOut ? ` (no result within ${timeoutMs} ms)` : ` (exit ${r.exitCode})`}: ${p.message ?? 'no output'}`
        : `no reply to ${sent} ICMP echo request${sent === 1 ? '' : 's'}${r.timedOut ? ` within ${timeoutMs} ms` : ''}: the host is down, or it or a firewall drops ICMP (check_port tries a TCP port)`;
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// probe_http

const SECRET_PARAM_RE = /token|key|secret|pass|auth|sig|session|code|credential/i;

/**
 * A URL safe to show: no user:password, and the values of query parameters whose names look
 * secret (`token`, `api_key`, `sig`, ...) hidden.
 * @example displayUrl('http://u:p@nas:5000/x?api_key=abc&q=1') // 'http://nas:5000/x?api_key=***&q=1'
 */
export function displayUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return '(invalid url)';
  }
  u.username = '';
  u.password = '';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM_RE.test(k)) u.searchParams.set(k, '***');
  return u.toString().replace(/%2A%2A%2A/g, '***');
}

/** Checks that `v` is an absolute http(s) URL. */
export function validateHttpUrl(v: unknown, arg = 'url'): URL {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) throw invalid(`${arg} must be an http:// or https:// URL of at most 2048 characters, got ${shown(typeof v === 'string' ? displayUrl(v) : v)}`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalid(`${arg} must be an absolute http:// or https:// URL such as http://nas.lan:8080/health`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`${arg} must use http or https, not ${u.protocol.replace(/:$/, '')}`);
  return u;
}

const TLS_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet (is the clock right?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate is in the chain (a private CA this side does not trust)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate cannot be verified (an intermediate certificate is missing, or an unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate was issued by a CA this side does not trust',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name',
};

function describeHttpError(err: NodeJS.ErrnoException, u: URL): string {
  const code = err.code ?? '';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  if (TLS_CODES[code]) return `TLS error: ${TLS_CODES[code]} (${code})`;
  if (code === 'EPROTO' || /wrong version number|packet length too long|ssl|tls/i.test(err.message)) {
    return `TLS handshake failed: ${err.message.split('\n')[0]}${/wrong version number|packet length/i.test(err.message) ? ' (does the server speak plain HTTP on this port?)' : ''}`;
  }
  if (code.startsWith('HPE_')) return `invalid HTTP response: ${err.message} (${code})`;
  if (code === 'ECONNRESET') return `the server closed the connection without an answer (ECONNRESET)`;
  return describeConnectError(err, host, port).error;
}

const TEXTUAL_RE = /^text\/|json|xml|javascript|html|yaml|x-www-form-urlencoded/i;

function snippetOf(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.length === 0 || (contentType && !TEXTUAL_RE.test(contentType))) return undefined;
  // eslint-disable-next-line no-control-regex
  const text = body.toString('utf8').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS - 1)}…` : text;
}

function headersOf(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(res.headers)) {
    // Cookies are session secrets; nobody asked for them.
    if (k === 'set-cookie' || v === undefined) continue;
    if (n++ >= MAX_HEADERS) break;
    const s = Array.isArray(v) ? v.join(', ') : v;
    out[k] = k === 'location' ? displayUrl(s) === '(invalid url)' ? s.slice(0, MAX_HEADER_VALUE) : displayUrl(s) : s.slice(0, MAX_HEADER_VALUE);
  }
  return out;
}

function certificateOf(res: IncomingMessage): HttpProbe['tls'] {
  const sock = res.socket as TLSSocket | null;
  if (!sock || typeof sock.getPeerCertificate !== 'function') return undefined;
  const c = sock.getPeerCertificate();
  if (!c || Object.keys(c).length === 0) return undefined;
  const validTo = c.valid_to ? new Date(c.valid_to) : undefined;
  const tls: NonNullable<HttpProbe['tls']> = {};
  const name = (x: unknown) => {
    const o = x as Record<string, string | string[]> | undefined;
    const v = o?.CN ?? o?.O;
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const subject = name(c.subject);
  const issuer = name(c.issuer);
  if (subject) tls.subject = subject;
  if (issuer) tls.issuer = issuer;
  if (validTo && !Number.isNaN(validTo.getTime())) {
    tls.validTo = validTo.toISOString();
    tls.daysLeft = Math.floor((validTo.getTime() - Date.now()) / 86_400_000);
  }
  const protocol = sock.getProtocol?.();
  if (protocol) tls.protocol = protocol;
  return tls;
}

/**
 * GETs a URL once (node:http/https; redirects are reported, not followed) and says whether the
 * status is the expected one (default: any 2xx or 3xx). Reads at most `maxBodyBytes` of the body.
 * Credentials in the URL are sent, never shown.
 * @example await probeHttp({ url: 'http://nas.lan:5000/', expectedStatus: 200 }) // { ok: true, status: 200, latencyMs: 12, ... }
 */
export async function probeHttp(o: {
  url: string;
  expectedStatus?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxBodyBytes?: number;
  lookup?: LookupFunction;
  /** Extra CA certificates (PEM) to trust, for a homelab's private CA; the system CAs still count. */
  ca?: string | Buffer | Array<string | Buffer>;
}): Promise<HttpProbe> {
  const u = validateHttpUrl(o.url);
  const expected = o.expectedStatus;
  if (expected !== undefined && (typeof expected !== 'number' || !Number.isInteger(expected) || expected < 100 || expected > 599)) {
    throw invalid(`expected_status must be an HTTP status code from 100 to 599, got ${shown(expected)}`);
  }
  const timeoutMs = validateTimeoutMs(o.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS);
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (typeof maxBody !== 'number' || !Number.isInteger(maxBody) || maxBody < 0 || maxBody > MAX_BODY_BYTES) throw invalid(`maxBodyBytes must be an integer from 0 to ${MAX_BODY_BYTES}, got ${shown(maxBody)}`);
  const signal = o.signal;
  if (signal?.aborted) throw cancelled('probe_http');
  // https (and with it tls and crypto) is loaded on first use: eagerly it costs every edge
  // about 1.5 MB of memory for a tool most devices never call.
  const send = u.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  const ca = o.ca ? [...(await import('node:tls')).rootCertificates, ...(Array.isArray(o.ca) ? o.ca : [o.ca])] : undefined;
  const url = displayUrl(u);
  const expectedText = expected === undefined ? '2xx/3xx' : String(expected);
  const statusOk = (s: number) => (expected === undefined ? s >= 200 && s < 400 : s === expected);

  return new Promise((resolve, reject) => {
    const started = performance.now();
    let settled = false;
    let res: IncomingMessage | undefined;
    let result: HttpProbe | undefined;
    const body: Buffer[] = [];
    let bodyBytes = 0;
    let truncated = false;
    const req = send(u, {
      method: 'GET',
      // No pooled connection is kept behind: every probe is a fresh connect, as a user's would be.
      agent: false,
      headers: { 'user-agent': 'homelab-mcp-probe/1', accept: '*/*', connection: 'close' },
      ...(o.lookup ? { lookup: o.lookup } : {}),
      ...(ca ? { ca } : {}),
    });
    const finish = (extra?: { error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!result) {
        resolve({ url, ok: false, expected: expectedText, error: extra?.error ?? 'no response' });
      } else {
        const buf = Buffer.concat(body);
        const snippet = snippetOf(buf, res?.headers['content-type']);
        const r: HttpProbe = { ...result, bodyBytes, ...(truncated ? { bodyTruncated: true } : {}), ...(snippet ? { bodySnippet: snippet } : {}) };
        if (extra) {
          r.ok = false;
          r.error = extra.error;
        }
        resolve(r);
      }
      res?.destroy();
      req.destroy();
    };
    const timer = setTimeout(() => {
      finish({ error: res ? `the body did not arrive within ${timeoutMs} ms (status ${res.statusCode} came after ${result?.latencyMs} ms)` : `no response within ${timeoutMs} ms` });
    }, timeoutMs);
    const onAbort = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res?.destroy();
      req.destroy();
      reject(cancelled('probe_http'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', (err: NodeJS.ErrnoException) => finish({ error: describeHttpError(err, u) }));
    req.once('response', (r) => {
      res = r;
      const status = r.statusCode ?? 0;
      const headers = headersOf(r);
      result = {
        url,
        ok: statusOk(status),
        status,
        ...(r.statusMessage ? { statusText: r.statusMessage } : {}),
        latencyMs: round(performance.now() - started),
        expected: expectedText,
        headers,
        ...(status >= 300 && status < 400 && headers.location ? { location: headers.location } : {}),
      };
      if (u.protocol === 'https:') {
        const tls = certificateOf(r);
        if (tls) result.tls = tls;
      }
      r.on('data', (chunk: Buffer) => {
        const room = maxBody - bodyBytes;
        if (chunk.length > room) {
          // Enough read: a probe must not download a disk image because a URL pointed at one.
          if (room > 0) body.push(chunk.subarray(0, room));
          bodyBytes += Math.max(0, room);
          truncated = true;
          finish();
          return;
        }
        body.push(chunk);
        bodyBytes += chunk.length;
      });
      r.once('end', () => finish());
      r.once('error', (err) => finish({ error: `reading the body failed: ${err.message}` }));
      r.once('aborted', () => finish({ error: 'the server closed the connection in the middle of the body' }));
    });
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Text for people

const ms = (n: number | undefined) => (n === undefined ? '?' : n < 10 ? n.toFixed(2) : String(Math.round(n)));

/** One line for a port check. @example 'nas.lan:445 is open (connected in 0.81 ms)' */
export function formatPortCheck(r: PortCheck): string {
  const where = hostPort(r.host, r.port);
  return r.open ? `${where} is open (connected in ${ms(r.latencyMs)} ms)` : `${where} is not open: ${r.error ?? 'unknown error'}`;
}

/** One line for a ping. @example '192.168.1.1 answers ICMP ping: 3/3 replies, rtt min/avg/max 0.21/0.30/0.42 ms' */
export function formatPing(r: PingResult): string {
  const rtt = r.rttMs ? `, rtt min/avg/max ${ms(r.rttMs.min)}/${ms(r.rttMs.avg)}/${ms(r.rttMs.max)} ms` : '';
  if (r.method === 'icmp') {
    return r.reachable ? `${r.host} answers ICMP ping: ${r.received}/${r.sent} replies${rtt}` : `${r.host} is not reachable by ICMP ping: ${r.error ?? 'no reply'}`;
  }
  const why = r.fallbackReason ? ` (TCP connects instead of ICMP: ${r.fallbackReason})` : '';
  return r.reachable
    ? `${r.host} is up${why}: ${r.received}/${r.sent} TCP rounds answered on ports ${r.tcpPorts?.join(', ')}${rtt}`
    : `${r.host} is not reachable${why}: ${r.error ?? 'no answer'}`;
}

/** A few lines for an HTTP probe: verdict, status, redirect, certificate, body start. */
export function formatHttpProbe(r: HttpProbe): string {
  if (r.status === undefined) return `${r.url}: no HTTP answer: ${r.error ?? 'unknown error'}`;
  const lines = [
    `${r.url}: ${r.ok ? 'OK' : 'NOT OK'}, HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''} in ${ms(r.latencyMs)} ms (expected ${r.expected})${r.error ? `; ${r.error}` : ''}`,
  ];
  if (r.location) lines.push(`redirects to ${r.location} (not followed)`);
  if (r.tls) lines.push(`certificate: ${r.tls.subject ?? '?'} issued by ${r.tls.issuer ?? '?'}${r.tls.validTo ? `, valid until ${r.tls.validTo} (${r.tls.daysLeft} days left)` : ''}`);
  if (r.headers?.['content-type']) lines.push(`content-type: ${r.headers['content-type']}; ${r.bodyBytes ?? 0} bytes read${r.bodyTruncated ? ' (body cut)' : ''}`);
  if (r.bodySnippet) lines.push(`body: ${r.bodySnippet.length > 200 ? `${r.bodySnippet.slice(0, 199)}…` : r.bodySnippet}`);
  return lines.join('\n');
}
