/**
 * Bearer-token authentication: each configured token names a user and a role. The presented
 * token is compared with every configured one in constant time and without stopping at the
 * first match, so timing says nothing about which tokens exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '@homelab-mcp/core';
import type { Caller, Role } from '../catalog/types.ts';

export interface TokenEntry {
  user: string;
  role: Role;
  token: string;
}

export interface Authenticated extends Caller {
  /** Stable key for rate limiting and session ownership (not the token itself). */
  key: string;
  /**
   * Set for a caller that came with an OAuth access token: whether its grant still stands
   * (not revoked, not expired). A session it opened ends when this turns false.
   */
  alive?: () => boolean;
}

/** An authenticator: the caller for an Authorization header, and the current caller of a key. */
export interface Authenticator {
  (authorization: string | undefined): Authenticated | undefined;
  /**
   * The caller the token behind `key` is now (its user and role in the configuration in force),
   * or undefined when that token is no longer configured. Open sessions look their caller up
   * here on every call, so a demotion or a removed token applies at once, not at the next session.
   */
  resolve(key: string): Authenticated | undefined;
}

/**
 * The key of a token: a hash prefix, stable across reloads (an index would change when tokens
 * are reordered) and useless for finding the token.
 */
const keyOf = (token: string) => `tok:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;

/** @example const auth = createAuthenticator(tokens); const caller = auth(req.headers.authorization); auth.resolve(caller.key); */
export function createAuthenticator(tokens: TokenEntry[]): Authenticator {
  // Each token's SHA-256 once, not on every request: a request hashes only what it presents,
  // then compares fixed-size digests in constant time with every token (as safeEqual does).
  const entries = tokens.map((t) => ({ ...t, key: keyOf(t.token), digest: createHash('sha256').update(t.token, 'utf8').digest() }));
  const byKey = new Map(entries.map((e) => [e.key, { user: e.user, role: e.role, key: e.key }] as const));
  const auth = (authorization: string | undefined) => {
    const presented = bearerToken(authorization);
    if (presented === undefined) return undefined;
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: Authenticated | undefined;
    for (const e of entries) {
      if (timingSafeEqual(digest, e.digest) && e.token.length > 0 && !found) found = { user: e.user, role: e.role, key: e.key };
    }
    return found;
  };
  return Object.assign(auth, { resolve: (key: string) => byKey.get(key) });
}
