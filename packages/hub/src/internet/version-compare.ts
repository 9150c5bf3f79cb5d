/**
 * Version strings from five ecosystems, ordered. Our own small comparator rather than the
 * `semver` package: the versions check_package_version sees are not all semver. PyPI speaks
 * PEP 440 (`2.0rc1`, `1.0.post2`, `3.0.dev4`), GitHub tags carry a `v`, and Docker tags carry a
 * variant suffix (`1.27-alpine`, `2.3.1-bookworm`) that semver would read as a pre-release. One
 * parser for all of them, strict about what counts as a version: anything else (`latest`,
 * `stable-alpine`, `sha-1a2b3c`) is a name, never compared.
 */

/** A parsed version: numeric release parts, an optional pre-release, the Docker variant. */
export interface Version {
  /** The string as given. */
  raw: string;
  /** `1.27.3` → [1, 27, 3]. */
  release: number[];
  /** `rc.1` → [3, 1] with the label ranked (dev < alpha < beta < rc); absent for a stable release. */
  pre?: Array<number | string>;
  /** PEP 440 `.postN`, a packaging revision `-N` or linuxserver.io's `-lsN`: a re-release, newer than the release itself. */
  post?: number;
  /** The Docker tag's suffix after the version (`alpine`, `bookworm`); '' for none. */
  variant: string;
}

const PRE_RANK: Record<string, number> = { dev: 0, alpha: 1, a: 1, beta: 2, b: 2, c: 3, pre: 3, preview: 3, rc: 3 };
// A one-letter PEP 440 label (`1.0a1`) only with its number: `1.27-alpine` is a variant.
const PRE_LABEL = 'dev|alpha|beta|preview|pre|rc|[abc](?=[-._]?\\d)';
// v? 1.2.3 [-.]?(rc|beta...)[.-]?N? [.postN | -N | -lsN] [+build] [-variant]
const VERSION = new RegExp(
  `^[vV]?(\\d+(?:\\.\\d+){0,4})` +
    `(?:[-._]?(${PRE_LABEL})(?:[-._]?(\\d+))?(?:\\.(\\d+))?)?` +
    `(?:(?:[-._]?post[-._]?|-ls|-)(\\d+))?` +
    `(?:\\+[0-9A-Za-z.-]+)?` +
    `(?:-([A-Za-z][0-9A-Za-z._-]*))?$`,
  'i',
);

/**
 * Parses a version or a version-shaped Docker tag; undefined for anything else.
 *
 * @example parseVersion('1.27.3-alpine') // { release: [1, 27, 3], variant: 'alpine', ... }
 * @example parseVersion('2.0.0rc1')      // { release: [2, 0, 0], pre: [3, 1], variant: '' }
 * @example parseVersion('latest')        // undefined
 */
export function parseVersion(raw: string): Version | undefined {
  if (raw.length > 128) return undefined;
  const m = VERSION.exec(raw);
  if (!m) return undefined;
  const release = m[1]!.split('.').map(Number);
  if (release.some((n) => !Number.isSafeInteger(n))) return undefined;
  const v: Version = { raw, release, variant: (m[6] ?? '').toLowerCase() };
  if (m[2]) {
    const label = m[2].toLowerCase();
    v.pre = [PRE_RANK[label]!, ...(m[3] !== undefined ? [Number(m[3])] : []), ...(m[4] !== undefined ? [Number(m[4])] : [])];
  }
  if (m[5] !== undefined) v.post = Number(m[5]);
  return v;
}

/**
 * Orders two parsed versions: negative when a is older. Release parts are compared padded with
 * zeros (`1.27` == `1.27.0`), a pre-release sorts before its release, `.postN` after it. The
 * variant is not compared: callers compare within one variant.
 *
 * @example compareVersions(parseVersion('1.2.0-rc.1')!, parseVersion('1.2.0')!) // < 0
 */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.release.length, b.release.length);
  for (let i = 0; i < n; i++) {
    const d = (a.release[i] ?? 0) - (b.release[i] ?? 0);
    if (d) return d;
  }
  if (a.pre && !b.pre) return -1;
  if (!a.pre && b.pre) return 1;
  if (a.pre && b.pre) {
    const m = Math.max(a.pre.length, b.pre.length);
    for (let i = 0; i < m; i++) {
      const x = a.pre[i];
      const y = b.pre[i];
      if (x === y) continue;
      if (x === undefined) return -1;
      if (y === undefined) return 1;
      if (typeof x === 'number' && typeof y === 'number') return x - y;
      return String(x) < String(y) ? -1 : 1;
    }
  }
  return (a.post ?? -1) - (b.post ?? -1);
}

/** True for a pre-release (`rc`, `beta`, `alpha`, `dev`, `preview`). */
export function isPrerelease(v: Version): boolean {
  return v.pre !== undefined;
}

/**
 * The Docker variant of a tag that is not a version: `stable-alpine` → `alpine`, `latest` → ''.
 * Used to look for the versioned tags a moving tag may point to.
 *
 * @example tagVariant('stable-alpine') // 'alpine'
 */
export function tagVariant(tag: string): string {
  const v = parseVersion(tag);
  if (v) return v.variant;
  const i = tag.indexOf('-');
  return i < 0 ? '' : tag.slice(i + 1).toLowerCase();
}

/**
 * A build tag that merely looks numeric (`20240101`, `1700000000`): a single part of 4+ digits.
 * Ranked with real versions it would beat every `1.x`; it is left out unless `current` has the
 * same shape.
 */
export function isDateLike(v: Version): boolean {
  return v.release.length === 1 && v.release[0]! >= 1000;
}

/** Newest first. */
export function sortNewestFirst<T extends { v: Version }>(items: T[]): T[] {
  return [...items].sort((x, y) => compareVersions(y.v, x.v));
}
