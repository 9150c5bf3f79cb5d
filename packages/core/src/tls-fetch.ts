/**
 * A fetch with a service's own TLS trust, for the homelab services that run self-signed
 * certificates (Proxmox, PBS, Pi-hole, ...): trust a CA file, or pin the server's certificate
 * by its SHA-256 fingerprint, or (explicitly, and logged by the caller) skip verification.
 * Verification is never turned off silently: with none of the three this module is not used
 * and the system's trust applies.
 *
 * undici's own fetch and Agent (not the global fetch, whose bundled undici cannot take an
 * Agent from the npm package reliably); kept out of `http.ts` so the edge bundle stays small.
 *
 * @example
 * const http = createHttpClient({ onRequest }).with({ fetch: tlsFetch({ fingerprint256: 'AB:CD:...' }) });
 */
import type { TLSSocket } from 'node:tls';
import type { Agent, buildConnector } from 'undici';
import type { FetchLike } from './http.ts';

// Loaded on first use: most hubs configure no service with a TLS trust of its own, and
// evaluating undici at start costs every hub ~3 MB of memory (measured).
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

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

/** A fetch that trusts as `trust` says, and `close()` for its connections. */
export function tlsFetch(trust: TlsTrust): FetchLike & { close(): Promise<void> } {
  const pin = trust.fingerprint256 === undefined ? undefined : normalizeFingerprint(trust.fingerprint256);
  if (trust.fingerprint256 !== undefined && !pin) throw new Error('fingerprint: expected a SHA-256 fingerprint, 64 hex digits (colons allowed)');
  let made: Promise<{ agent: Agent; fetch: (typeof import('undici'))['fetch'] }> | undefined;
  const make = () =>
    (made ??= loadUndici().then(({ Agent, buildConnector, fetch }) => {
      // A pin replaces the chain and name checks (a self-signed certificate for "pve" reached
      // by IP is the usual case); it is checked on every new connection before any request.
      // With a pin, no TLS session resumption: a resumed connection shows no peer certificate,
      // so it could not be checked (seen: a later connection to a fake Proxmox failed the pin).
      const base = buildConnector({ ...(trust.ca ? { ca: trust.ca } : {}), rejectUnauthorized: !(trust.insecure || pin), ...(pin ? { maxCachedSessions: 0 } : {}) });
      const connect: buildConnector.connector = (opts, cb) =>
        base(opts, (err, socket) => {
          if (err) return cb(err, null);
          const tls = socket as TLSSocket;
          if (pin && typeof tls.getPeerCertificate === 'function' && tls.getPeerCertificate().fingerprint256 !== pin) {
            tls.destroy();
            return cb(Object.assign(new Error('TLS certificate is not the pinned one'), { code: 'CERT_FINGERPRINT_MISMATCH' }), null);
          }
          cb(null, socket);
        });
      return { agent: new Agent({ connect }), fetch };
    }));
  const f = (async (url: URL, init: RequestInit) => {
    const { agent, fetch } = await make();
    return (await fetch(url, { ...(init as object), dispatcher: agent })) as unknown as Response;
  }) as FetchLike & { close(): Promise<void> };
  f.close = async () => {
    if (made) await (await made).agent.close();
  };
  return f;
}
