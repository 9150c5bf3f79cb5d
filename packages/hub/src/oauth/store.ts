/**
 * What the hub's OAuth authorization server remembers across restarts: registered clients and
 * grant families (one per consent). Tokens are stored only as SHA-256 hashes, with the user,
 * the key of the hub token they stand for (never the token), the client, scope and expiry.
 * The file is DATA/oauth/state.json, mode 0600, written atomically (temporary file + rename).
 * Counts are bounded: the oldest family (or client without a family) goes first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

export interface OAuthClient {
  clientId: string;
  clientName: string;
  redirectUris: string[];
  createdAt: number;
}

/** One consent: its current access and refresh token, and the refresh tokens it rotated away. */
export interface Grant {
  familyId: string;
  user: string;
  /** The key of the hub token the person gave (see policy/auth.ts keyOf): re-resolved on every request. */
  key: string;
  clientId: string;
  scope: string;
  resource: string;
  accessHash: string;
  accessExpiresAt: number;
  refreshHash: string;
  refreshExpiresAt: number;
  /** Refresh tokens already rotated away: presenting one again revokes the family. */
  usedRefresh: string[];
  createdAt: number;
}

const clientSchema = z.strictObject({ clientId: z.string().max(512), clientName: z.string().max(200), redirectUris: z.array(z.string().max(512)).max(5), createdAt: z.number() });
const grantSchema = z.strictObject({
  familyId: z.string().max(64),
  user: z.string().max(200),
  key: z.string().max(64),
  clientId: z.string().max(512),
  scope: z.string().max(64),
  resource: z.string().max(600),
  accessHash: z.string().length(64),
  accessExpiresAt: z.number(),
  refreshHash: z.string().length(64),
  refreshExpiresAt: z.number(),
  usedRefresh: z.array(z.string().length(64)).max(64),
  createdAt: z.number(),
});
const fileSchema = z.strictObject({ v: z.literal(1), clients: z.array(clientSchema), grants: z.array(grantSchema) });

export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
export const newSecret = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

/** Rotated-away refresh tokens kept per family for reuse detection. */
const MAX_USED_REFRESH = 32;

export interface OAuthStoreOptions {
  dir: string;
  maxClients: number;
  maxGrants: number;
  /** Grants one hub token may hold (default 50): one token cannot pin every client slot. */
  maxGrantsPerKey?: number;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

export function createOAuthStore(opts: OAuthStoreOptions) {
  const file = join(opts.dir, 'state.json');
  const clients = new Map<string, OAuthClient>();
  const grants = new Map<string, Grant>();
  const byAccess = new Map<string, string>();
  const byRefresh = new Map<string, string>();
  const byUsedRefresh = new Map<string, string>();

  const index = (g: Grant) => {
    byAccess.set(g.accessHash, g.familyId);
    byRefresh.set(g.refreshHash, g.familyId);
    for (const h of g.usedRefresh) byUsedRefresh.set(h, g.familyId);
  };
  const unindex = (g: Grant) => {
    byAccess.delete(g.accessHash);
    byRefresh.delete(g.refreshHash);
    for (const h of g.usedRefresh) byUsedRefresh.delete(h);
  };

  try {
    const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) {
      for (const c of parsed.data.clients) clients.set(c.clientId, c);
      for (const g of parsed.data.grants) {
        grants.set(g.familyId, g);
        index(g);
      }
    } else opts.log?.warn({ file }, 'oauth: the state file is not readable; starting with no clients and no grants');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.log?.warn({ file, err: String(err) }, 'oauth: the state file could not be read; starting with no clients and no grants');
  }

  function save(): void {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    // An existing directory keeps its mode otherwise: the temporary file's name is predictable.
    chmodSync(opts.dir, 0o700);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ v: 1, clients: [...clients.values()], grants: [...grants.values()] }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }

  function dropGrant(g: Grant): void {
    unindex(g);
    grants.delete(g.familyId);
  }

  return {
    client: (id: string) => clients.get(id),
    clientCount: () => clients.size,
    /** Adds a client; when full, the oldest client without a grant goes. False when every client holds a grant. */
    addClient(c: OAuthClient, now: number): boolean {
      this.sweep(now);
      if (clients.has(c.clientId)) {
        // A client ID metadata document fetched again: its current metadata replaces the old.
        clients.set(c.clientId, c);
        save();
        return true;
      }
      if (clients.size >= opts.maxClients) {
        const held = new Set([...grants.values()].map((g) => g.clientId));
        const idle = [...clients.values()].filter((x) => !held.has(x.clientId)).sort((a, b) => a.createdAt - b.createdAt)[0];
        if (!idle) return false;
        clients.delete(idle.clientId);
      }
      clients.set(c.clientId, c);
      save();
      return true;
    },
    grant: (familyId: string) => grants.get(familyId),
    grantByAccess: (hash: string) => grants.get(byAccess.get(hash) ?? ''),
    grantByRefresh: (hash: string) => grants.get(byRefresh.get(hash) ?? ''),
    /** The family a rotated-away refresh token belonged to. */
    grantByUsedRefresh: (hash: string) => grants.get(byUsedRefresh.get(hash) ?? ''),
    grants: () => [...grants.values()],
    addGrant(g: Grant, now: number): Grant[] {
      this.sweep(now, false);
      const evicted: Grant[] = [];
      const own = [...grants.values()].filter((x) => x.key === g.key).sort((a, b) => a.createdAt - b.createdAt);
      for (const x of own.slice(0, Math.max(0, own.length - ((opts.maxGrantsPerKey ?? 50) - 1)))) {
        dropGrant(x);
        evicted.push(x);
      }
      while (grants.size >= opts.maxGrants) {
        // The hub token holding the most grants (the new one's first) loses its oldest: one
        // person consenting again and again never evicts another person's grants.
        const counts = new Map<string, number>([[g.key, 1]]);
        for (const x of grants.values()) counts.set(x.key, (counts.get(x.key) ?? 0) + 1);
        const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] === g.key ? -1 : b[0] === g.key ? 1 : 0))[0]![0];
        const own = [...grants.values()].filter((x) => x.key === top);
        const oldest = (own.length ? own : [...grants.values()]).sort((a, b) => a.createdAt - b.createdAt)[0]!;
        dropGrant(oldest);
        evicted.push(oldest);
      }
      grants.set(g.familyId, g);
      index(g);
      save();
      return evicted;
    },
    /** Rotates a family's tokens: the old refresh token joins the used ones. */
    rotate(g: Grant, next: { accessHash: string; accessExpiresAt: number; refreshHash: string; refreshExpiresAt: number }): void {
      unindex(g);
      g.usedRefresh = [...g.usedRefresh, g.refreshHash].slice(-MAX_USED_REFRESH);
      Object.assign(g, next);
      index(g);
      save();
    },
    revoke(g: Grant): void {
      if (!grants.has(g.familyId)) return;
      dropGrant(g);
      save();
    },
    /** Drops families whose refresh token expired. */
    sweep(now: number, write = true): void {
      let changed = false;
      for (const g of [...grants.values()]) {
        if (g.refreshExpiresAt <= now) {
          dropGrant(g);
          changed = true;
        }
      }
      if (changed && write) save();
    },
  };
}

export type OAuthStore = ReturnType<typeof createOAuthStore>;
