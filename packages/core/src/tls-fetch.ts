/**
 * A fetch with a service's own TLS trust, for the homelab services that run self-signed
 * certificates (Proxmox, PBS, Pi-hole, ...): trust a CA file, or pin the server's certificate
 * by its SHA-256 fingerprint, or (explicitly, and logged by the caller) skip verification.
 * Verification is never turned off silently: with none of the three this module is not used
 * and the system's trust applies.
 *
 * Built on node:http(s) with an Agent of its own rather than on undici's Agent: Node's global
 * fetch cannot take a per-request TLS trust, and bundling undici for it cost every hub 3.6 MB of
 * memory at start (88.0-88.7 MB -> 92.0 MB idle, measured), used or not. It speaks just what the
 * HTTP helper asks of a fetch: a method, headers, a string/bytes/form body, a signal, no
 * redirects followed; the answer is a web Response whose body streams.
 *
 * @example
 * const f = tlsFetch({ fingerprint256: 'AB:CD:...' });
 * const http = createHttpClient({ onRequest }).with({ fetch: f });
 * await f.close();
 */
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FetchLike } from './http.ts';

export interface TlsTrust {
  /** PEM text of the CA (or the self-signed certificate itself) to trust instead of the system's. */
  ca?: string;
  /** SHA-256 fingerprint of the server's certificate (hex, with or without colons): that certificate is trusted, whoever issued it and whatever name it carries; no other is. */
  fingerprint256?: string;
  /** No verification at all (`insecureTls: true`): anyone on the path can read and change the traffic. */
  insecure?: boolean;
}

/** `ab:cd:...` or `ABCD...` → `AB:CD:...` (the form Node's `fingerprint256` has), or undefined when it is not 32 bytes of hex. */
export function normalizeFingerprint(fp: string): string | undefined {
  const hex = fp.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** Longest a pinned connection may take to finish its TLS handshake. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** The error a pin mismatch fails the request with (`cause.code`, as the HTTP helper reads it). */
function pinMismatch(): Error {
  return Object.assign(new Error('TLS certificate is not the pinned one'), { code: 'CERT_FINGERPRINT_MISMATCH' });
}

/**
 * An https Agent that hands a new connection to a request only once its certificate matched
 * the pin: nothing of the request (its credential above all) is written to a server that is
 * not the pinned one. (Node's Agent waits for a `createConnection` that answers through its
 * callback.)
 */
class PinnedAgent extends HttpsAgent {
  readonly #pin: string;
  constructor(options: ConstructorParameters<typeof HttpsAgent>[0], pin: string) {
    super(options);
    this.#pin = pin;
  }
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const socket = (HttpsAgent.prototype.createConnection as (o: unknown) => TLSSocket).call(this, options);
    const onError = (err: Error) => {
      clearTimeout(stall);
      callback?.(err, socket);
    };
    // A host that accepts TCP but never finishes the handshake: the socket is not left open.
    const stall = setTimeout(() => socket.destroy(Object.assign(new Error('TLS handshake did not finish'), { code: 'ETIMEDOUT' })), HANDSHAKE_TIMEOUT_MS);
    stall.unref();
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(stall);
      socket.removeListener('error', onError);
      if (socket.getPeerCertificate().fingerprint256 === this.#pin) return callback?.(null, socket);
      socket.destroy();
      callback?.(pinMismatch(), socket);
    });
    return undefined;
  }
}

/** A fetch that trusts as `trust` says, and `close()` for its kept-alive connections. */
export function tlsFetch(trust: TlsTrust): FetchLike & { close(): Promise<void> } {
  const pin = trust.fingerprint256 === undefined ? undefined : normalizeFingerprint(trust.fingerprint256);
  if (trust.fingerprint256 !== undefined && !pin) throw new Error('fingerprint: expected a SHA-256 fingerprint, 64 hex digits (colons allowed)');
  // A pin replaces the chain and name checks (a self-signed certificate for "pve" reached by IP
  // is the usual case). No TLS session resumption with a pin: a resumed connection shows no
  // peer certificate, so it could not be checked.
  const options = { keepAlive: true, ...(trust.ca ? { ca: trust.ca } : {}), rejectUnauthorized: !(trust.insecure || pin), ...(pin ? { maxCachedSessions: 0 } : {}) };
  const https = pin ? new PinnedAgent(options, pin) : new HttpsAgent(options);

  const f = ((url: URL, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason);
      const secure = url.protocol === 'https:';
      // A trust of its own means the service is meant to be reached over TLS: over plain HTTP
      // the credential would go out in clear, unchecked.
      if (!secure) return reject(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('plain http with a TLS key'), { code: 'TLS_KEY_ON_HTTP' }) }));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => (headers[k] = v));
      let body: Buffer | undefined;
      if (init.body instanceof URLSearchParams) {
        body = Buffer.from(init.body.toString());
        headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
      } else if (typeof init.body === 'string') body = Buffer.from(init.body);
      else if (init.body instanceof Uint8Array) body = Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
      else if (init.body != null) return reject(new TypeError('tlsFetch: the body must be a string, bytes or URLSearchParams'));
      if (body) headers['content-length'] = String(body.length);
      const opts: RequestOptions = { method: init.method ?? 'GET', headers, agent: https };
      const req = httpsRequest(url, opts);
      // The caller's deadline or cancel ends the request whatever stage it is in: a pinned
      // connection is handed to the request only after its handshake, and until then Node's own
      // abort would wait for a socket that may never come (a host that accepts TCP and stalls).
      // (Also while the body streams: a stalled body ends with the deadline too.)
      let response: IncomingMessage | undefined;
      const onAbort = () => {
        response?.destroy(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
        req.destroy();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      // `on`, not `once`: a destroyed request may report more than one error, and an unheard
      // one would end the process.
      req.on('error', (err: Error) => {
        done();
        reject(Object.assign(new TypeError('fetch failed'), { cause: err }));
      });
      req.once('response', (res: IncomingMessage) => {
        response = res;
        res.once('close', done);
        try {
          const status = res.statusCode ?? 0;
          // Node takes 100-999; a Response only 200-599 (it throws, and here an uncaught throw
          // would end the hub): any other status is a broken answer.
          if (status < 200 || status > 599) {
            res.destroy();
            return reject(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(`HTTP status ${status}`), { code: 'BAD_STATUS' }) }));
          }
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) out.append(k, x);
            else if (v !== undefined) out.set(k, v);
          }
          const noBody = status === 204 || status === 304 || init.method === 'HEAD';
          if (noBody) res.resume();
          // A status line's reason may hold bytes a Response refuses; the status says enough.
          const statusText = /^[\x20-\x7e]*$/.test(res.statusMessage ?? '') ? (res.statusMessage ?? '') : '';
          resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText, headers: out }));
        } catch (err) {
          res.destroy();
          reject(Object.assign(new TypeError('fetch failed'), { cause: err }));
        }
      });
      req.end(body);
    })) as FetchLike & { close(): Promise<void> };
  f.close = async () => {
    https.destroy();
  };
  return f;
}
