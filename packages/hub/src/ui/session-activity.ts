/**
 * Calls per user and session, for get_session_info and the UI's Sessions page. Bounded: sessions
 * come and go, and the one called least recently leaves first; one user cycling through client
 * names (each a "session" of a 2026-07-28 client) pushes out only their own oldest rows, never
 * another user's.
 */
import type { Role } from '../catalog/types.ts';
import type { SessionActivity } from './contract.ts';

export const MAX_ACTIVITY = 10_000;
export const MAX_ACTIVITY_PER_USER = 1_000;

export interface ActivityCall {
  caller: { user: string; role: Role; key?: string };
  session: string;
  client?: { name?: string; version?: string };
  tool: string;
}

/** @example const a = createSessionActivity(); a.record(call); a.calls('ann', 'client:claude-code') // 1 */
export function createSessionActivity(o: { max?: number; maxPerUser?: number; now?: () => number } = {}) {
  const max = o.max ?? MAX_ACTIVITY;
  const maxPerUser = o.maxPerUser ?? MAX_ACTIVITY_PER_USER;
  const now = o.now ?? Date.now;
  // Insertion order is least recently called first.
  const rows = new Map<string, SessionActivity>();
  const perUser = new Map<string, number>();
  const keyOf = (user: string, session: string) => `${user}\u0000${session}`;
  const forget = (k: string, user: string) => {
    rows.delete(k);
    const left = (perUser.get(user) ?? 1) - 1;
    if (left > 0) perUser.set(user, left);
    else perUser.delete(user);
  };
  return {
    record(e: ActivityCall): void {
      const k = keyOf(e.caller.user, e.session);
      const seen = rows.get(k);
      if (seen) rows.delete(k);
      else {
        if ((perUser.get(e.caller.user) ?? 0) >= maxPerUser) {
          for (const [ok, a] of rows) {
            if (a.user !== e.caller.user) continue;
            forget(ok, a.user);
            break;
          }
        }
        if (rows.size >= max) {
          const [oldest, a] = rows.entries().next().value!;
          forget(oldest, a.user);
        }
        perUser.set(e.caller.user, (perUser.get(e.caller.user) ?? 0) + 1);
      }
      // The client's name and version (capped): a 2026-07-28 call's envelope, or a 2025 session's initialize.
      const client = e.client?.name !== undefined ? { name: e.client.name, ...(e.client.version !== undefined ? { version: e.client.version } : {}) } : seen?.client;
      const key = e.caller.key;
      rows.set(k, Object.freeze({ user: e.caller.user, role: e.caller.role, ...(key ? { key } : {}), session: e.session, ...(client ? { client } : {}), calls: (seen?.calls ?? 0) + 1, lastCallAt: new Date(now()).toISOString(), lastTool: e.tool }));
    },
    calls: (user: string, session: string): number => rows.get(keyOf(user, session))?.calls ?? 0,
    list: (): SessionActivity[] => [...rows.values()],
    size: () => rows.size,
  };
}
