/**
 * The UI's login sessions. A person logs in once with a hub token; the browser then holds only a
 * cookie `<id>.<mac>`: a random id, signed with a per-process key, that names an entry here
 * holding the token's key (never the token). Each request looks the key up again
 * (`resolveCaller`), so a token removed from hub.yaml logs its sessions out at once, and a
 * demotion applies at the next page. Logout deletes the entry: a copied cookie is dead after it.
 * A hub restart logs everyone out (the key and the table are in memory, on purpose: nothing to
 * steal from the data dir).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const UI_COOKIE = 'hub_ui';
/** Sessions last 8 hours from login, whatever happens in between. */
export const UI_SESSION_MS = 8 * 60 * 60_000;
/** Most live sessions at once; one more ends the oldest. */
export const MAX_UI_SESSIONS = 10_000;
/**
 * Most live sessions per token; one more ends that token's oldest. Without it, whoever holds any
 * token (a viewer's) could log in 10,000 times and push everyone else's sessions out.
 */
export const MAX_UI_SESSIONS_PER_TOKEN = 32;

export interface UiSessionStore {
  /** A new session for the token with `key`: the cookie value to set. */
  create(key: string): string;
  /** The token key of a live session, or undefined (unknown, forged, expired or logged out). */
  verify(cookie: string | undefined): { key: string; id: string } | undefined;
  /** A per-session value the logout form carries (a cross-site form cannot know it). */
  csrf(id: string): string;
  checkCsrf(id: string, presented: string | undefined): boolean;
  destroy(id: string): void;
  size(): number;
}

export function createUiSessions(opts: { now?: () => number; secret?: Uint8Array } = {}): UiSessionStore {
  const now = opts.now ?? Date.now;
  const secret = opts.secret ?? randomBytes(32);
  const mac = (s: string) => createHmac('sha256', secret).update(s).digest('base64url');
  const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  // Insertion order is creation order: the first entry is the oldest.
  const live = new Map<string, { key: string; expires: number }>();
  // Each token's session ids, oldest first (ids of ended sessions are dropped lazily).
  const byKey = new Map<string, string[]>();
  let lastSweep = -Infinity;
  const sweep = () => {
    const t = now();
    if (t - lastSweep < 60_000 && live.size < MAX_UI_SESSIONS) return;
    lastSweep = t;
    for (const [id, s] of live) if (s.expires <= t) live.delete(id);
    for (const [k, ids] of byKey) {
      const kept = ids.filter((id) => live.has(id));
      if (kept.length) byKey.set(k, kept);
      else byKey.delete(k);
    }
  };
  return {
    create(key) {
      sweep();
      const own = (byKey.get(key) ?? []).filter((id) => live.has(id));
      while (own.length >= MAX_UI_SESSIONS_PER_TOKEN) live.delete(own.shift()!);
      while (live.size >= MAX_UI_SESSIONS) live.delete(live.keys().next().value!);
      const id = randomBytes(24).toString('base64url');
      live.set(id, { key, expires: now() + UI_SESSION_MS });
      own.push(id);
      byKey.set(key, own);
      return `${id}.${mac(`s\u0000${id}`)}`;
    },
    verify(cookie) {
      if (!cookie || cookie.length > 200) return undefined;
      const [id, m, extra] = cookie.split('.');
      if (!id || !m || extra !== undefined || !same(m, mac(`s\u0000${id}`))) return undefined;
      const s = live.get(id);
      if (!s) return undefined;
      if (s.expires <= now()) {
        live.delete(id);
        return undefined;
      }
      return { key: s.key, id };
    },
    csrf: (id) => mac(`csrf\u0000${id}`),
    checkCsrf: (id, presented) => typeof presented === 'string' && same(presented, mac(`csrf\u0000${id}`)),
    destroy(id) {
      live.delete(id);
    },
    size: () => live.size,
  };
}
