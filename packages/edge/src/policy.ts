/**
 * The hub's per-call file policy (`_meta["dev.homelab-mcp/policy"]` of `tools/call`), and the
 * files an edge never serves whatever the policy says (its own token and config files,
 * `/proc/<t>/` for each of its thread ids, and to anyone the memory of any process or of the
 * kernel: see `opened-path.ts`). Matching is always on the real path of what was opened (see `opened-path.ts`), so a
 * symlink, a `/proc/self/fd/N` link or a hard link cannot smuggle a refused file out.
 */
import { HomelabError } from '@homelab-mcp/core';

/** The `_meta` key of the policy a hub sends with a call, and of the edge's acknowledgement. */
export const POLICY_META = 'dev.homelab-mcp/policy';

/** The policy of one call, as the hub sent it, compiled. */
export interface CallPolicy {
  /** True when the absolute path matches one of the hub's `denyPaths` globs. */
  denies(path: string): boolean;
  /** Replace secret-looking values in `get_env` with `[masked]`. */
  maskEnv: boolean;
}

/** Matches nothing, masks nothing: calls without a policy (a direct client, or an admin). */
export const NO_POLICY: CallPolicy = { denies: () => false, maskEnv: false };

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (const ch of seg) re += ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  // Without case: on a case-insensitive filesystem (the FAT /boot/firmware of a Raspberry Pi, a
  // casefolded ext4 directory) the kernel names an opened file as the caller spelled it, so
  // `/boot/firmware/USER-DATA` must meet the rule for `user-data`. Refusing `/etc/SHADOW` too costs nothing.
  return new RegExp(`^${re}$`, 'i');
}

/**
 * Compiles a `denyPaths` glob over absolute paths: `*` is any run of characters within one
 * segment, `**` any number of whole segments (zero included, so `X/**` matches `X` too), `?`
 * one character other than `/`. A pattern not starting with `/` or `**` is anchored at `/`.
 * Letters match without regard to case (see `segmentRegex`).
 *
 * @example globMatcher('/home/*\/.ssh/id_*')('/home/pi/.ssh/id_ed25519') // true
 */
export function globMatcher(pattern: string): (path: string) => boolean {
  const parts = pattern.split('/').filter((s) => s !== '');
  const segs = parts.map((p) => (p === '**' ? '**' : segmentRegex(p)));
  return (path: string) => {
    const names = path.split('/').filter((s) => s !== '');
    // Classic glob backtracking over segments; `**` runs are collapsed so it stays linear-ish.
    const memo = new Map<number, boolean>();
    const match = (i: number, j: number): boolean => {
      const key = i * (names.length + 1) + j;
      const hit = memo.get(key);
      if (hit !== undefined) return hit;
      let r: boolean;
      if (i === segs.length) r = j === names.length;
      else if (segs[i] === '**') r = match(i + 1, j) || (j < names.length && match(i, j + 1));
      else r = j < names.length && (segs[i] as RegExp).test(names[j]!) && match(i + 1, j + 1);
      memo.set(key, r);
      return r;
    };
    return match(0, 0);
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads the policy out of a request's `_meta`: undefined when the call carries none; throws
 * `INVALID_ARGUMENTS` naming the key when it is malformed (the call is then refused, never run
 * without the policy the hub meant).
 */
export function parsePolicy(meta: Record<string, unknown> | undefined): CallPolicy | undefined {
  const raw = meta?.[POLICY_META];
  if (raw === undefined) return undefined;
  const where = `_meta["${POLICY_META}"]`;
  if (!isObject(raw)) throw new HomelabError('INVALID_ARGUMENTS', `${where}: expected an object { denyPaths?: string[], maskEnv?: boolean }`);
  for (const k of Object.keys(raw)) {
    if (k !== 'denyPaths' && k !== 'maskEnv') throw new HomelabError('INVALID_ARGUMENTS', `${where}: unknown key "${k}"; this edge knows denyPaths and maskEnv (upgrade it?)`);
  }
  const { denyPaths = [], maskEnv = false } = raw;
  if (!Array.isArray(denyPaths) || !denyPaths.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 4096) || denyPaths.length > 1000) {
    throw new HomelabError('INVALID_ARGUMENTS', `${where}.denyPaths: expected an array of at most 1000 non-empty glob strings`);
  }
  if (typeof maskEnv !== 'boolean') throw new HomelabError('INVALID_ARGUMENTS', `${where}.maskEnv: expected true or false`);
  const matchers = (denyPaths as string[]).map(globMatcher);
  return { denies: (path) => matchers.some((m) => m(path)), maskEnv };
}

/** The refusal the contract prescribes: names the path, never shows content. */
export function deniedError(path: string): HomelabError {
  return new HomelabError('PATH_DENIED', `${path}: denied by the hub's file policy for this role`);
}
