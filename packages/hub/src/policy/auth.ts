/**
 * Bearer-token authentication: each configured token names a user and a role. The presented
 * token is compared with every configured one in constant time and without stopping at the
 * first match, so timing says nothing about which tokens exist.
 */
import { createHash } from 'node:crypto';
import { bearerToken, safeEqual } from '@homelab-mcp/core';
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
  const entries = tokens.map((t) => ({ ...t, key: keyOf(t.token) }));
  const byKey = new Map(entries.map((e) => [e.key, { user: e.user, role: e.role, key: e.key }] as const));
  const auth = (authorization: string | undefined) => {
    const presented = bearerToken(authorization);
    if (presented === undefined) return undefined;
    let found: Authenticated | undefined;
    for (const e of entries) {
      if (safeEqual(presented, e.token) && !found) found = { user: e.user, role: e.role, key: e.key };
    }
    return found;
  };
  return Object.assign(auth, { resolve: (key: string) => byKey.get(key) });
}
