/**
 * Delegation between chained hubs: hub A calls a tool of an upstream of `type: hub` (hub B)
 * with its own token for B, and says in `_meta` for whom it calls. B serves the call with the
 * lower of its token's role and the claimed one, so a viewer of A gets only what a viewer of B
 * gets. A claim can only ever lower the role: a client of B gains nothing by sending one.
 */
import type { Caller, Role } from '../catalog/types.ts';

export const ACTING_FOR_META_KEY = 'dev.homelab-mcp/actingFor';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
/** Longest claimed user name kept for the journal (the claim is the upstream hub's text). */
const MAX_USER = 128;

/** The `_meta` hub A sends with a call to hub B for this caller. */
export function actingForMeta(caller: Caller): Record<string, unknown> {
  return { [ACTING_FOR_META_KEY]: { user: caller.actingFor ?? caller.user, role: caller.role } };
}

/**
 * The caller a `tools/call` is served as: the token's caller, lowered to the role claimed in
 * `meta` (an unknown or malformed role claims viewer). Without a claim, the caller unchanged.
 * @example actingAs({ user: 'hubA', role: 'admin' }, { 'dev.homelab-mcp/actingFor': { user: 'vic', role: 'viewer' } }) // { user: 'hubA', role: 'viewer', actingFor: 'vic' }
 */
export function actingAs(caller: Caller, meta: Record<string, unknown> | undefined): Caller {
  if (!meta || !(ACTING_FOR_META_KEY in meta)) return caller;
  const claim = meta[ACTING_FOR_META_KEY];
  const c = claim !== null && typeof claim === 'object' ? (claim as { user?: unknown; role?: unknown }) : {};
  const claimed: Role = typeof c.role === 'string' && Object.hasOwn(RANK, c.role) ? (c.role as Role) : 'viewer';
  const role = RANK[claimed] < RANK[caller.role] ? claimed : caller.role;
  const user = typeof c.user === 'string' && c.user !== '' ? c.user.slice(0, MAX_USER) : '(unnamed)';
  return { ...caller, role, actingFor: user };
}
