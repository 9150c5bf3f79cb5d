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
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
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

/** A fetch that trusts as `trust` says, and `close()` for its connections. */
export function tlsFetch(trust: TlsTrust): FetchLike & { close(): Promise<void> } {
  const pin = trust.fingerprint256 === undefined ? undefined : normalizeFingerprint(trust.fingerprint256);
  if (trust.fingerprint256 !== undefined && !pin) throw new Error('fingerprint: expected a SHA-256 fingerprint, 64 hex digits (colons allowed)');
  // A pin replaces the chain and name checks (a self-signed certificate for "pve" reached by IP
  // is the usual case); it is checked on every new connection before any request is sent.
  const base = buildConnector({ ...(trust.ca ? { ca: trust.ca } : {}), rejectUnauthorized: !(trust.insecure || pin) });
  const connect: buildConnector.connector = (opts, cb) =>
    base(opts, (err, socket) => {
      if (err) return cb(err, null);
      const tls = socket as TLSSocket;
      if (pin && typeof tls.getPeerCertificate === 'function') {
        const seen = tls.getPeerCertificate().fingerprint256;
        if (seen !== pin) {
          tls.destroy();
          return cb(Object.assign(new Error('TLS certificate is not the pinned one'), { code: 'CERT_FINGERPRINT_MISMATCH' }), null);
        }
      }
      cb(null, socket);
    });
  const agent = new Agent({ connect });
  const f = ((url: URL, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>) as FetchLike & { close(): Promise<void> };
  f.close = () => agent.close();
  return f;
}
