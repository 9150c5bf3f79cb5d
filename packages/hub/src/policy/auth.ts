/**
 * Bearer-token authentication: each configured token names a user and a role. The presented
 * token is compared with every configured one in constant time and without stopping at the
 * first match, so timing says nothing about which tokens exist.
 */
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
}

/** @example const auth = createAuthenticator(tokens); const caller = auth(req.headers.authorization); */
export function createAuthenticator(tokens: TokenEntry[]): (authorization: string | undefined) => Authenticated | undefined {
  const entries = tokens.map((t, i) => ({ ...t, key: `${t.user}#${i}` }));
  return (authorization) => {
    const presented = bearerToken(authorization);
    if (presented === undefined) return undefined;
    let found: Authenticated | undefined;
    for (const e of entries) {
      if (safeEqual(presented, e.token) && !found) found = { user: e.user, role: e.role, key: e.key };
    }
    return found;
  };
}
