/**
 * Edge versions as list_nodes and update_edges compare them: semver-ish (`0.1.0`, `1.2.0-rc.1`,
 * `0.0.0-dev`), and anything else unknown rather than guessed.
 */
import type { HubNode } from '../../catalog/nodes.ts';

const SEMVERISH = /^v?(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-([0-9A-Za-z.-]{1,64}))?(?:\+[0-9A-Za-z.-]{1,64})?$/;

/**
 * -1, 0 or 1 as `a` is older than, the same as or newer than `b`; undefined when either is not
 * a version this can order. A pre-release is older than its release; pre-release fields compare
 * numerically when both are numbers, as text otherwise (semver's order).
 *
 * @example compareVersions('0.0.9', '0.1.0') // -1
 * @example compareVersions('1.0.0-rc.2', '1.0.0') // -1
 * @example compareVersions('dev', '0.1.0') // undefined
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  const x = SEMVERISH.exec(a);
  const y = SEMVERISH.exec(b);
  if (!x || !y) return undefined;
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  const pa = x[4];
  const pb = y[4];
  if (pa === pb) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  const fa = pa.split('.');
  const fb = pb.split('.');
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    const s = fa[i];
    const t = fb[i];
    if (s === undefined) return -1;
    if (t === undefined) return 1;
    if (s === t) continue;
    const ns = /^\d+$/.test(s);
    const nt = /^\d+$/.test(t);
    if (ns && nt) return Number(s) < Number(t) ? -1 : 1;
    if (ns !== nt) return ns ? -1 : 1;
    return s < t ? -1 : 1;
  }
  return 0;
}

/** What a version may look like to be shown: the edge's word, so never a line break or a quote. */
const SHOWN = /^[0-9A-Za-z.+_-]{1,64}$/;

/**
 * The version a homelab edge reported (its serverInfo), or undefined: for another server, or
 * a version string no release has (an edge that is not ours must not write into answers).
 */
export function edgeVersionOf(info: { name?: unknown; version?: unknown } | undefined): string | undefined {
  return info && info.name === 'homelab-edge' && typeof info.version === 'string' && SHOWN.test(info.version) ? info.version : undefined;
}

/** The version an edge node reported when the hub connected (or in an answer since). */
export function nodeVersion(node: HubNode): string | undefined {
  return edgeVersionOf(node.source.state().serverInfo);
}

/** `true` when `version` is older than `served`; undefined when either is unknown or unordered. */
export function isOutdated(version: string | undefined, served: string | undefined): boolean | undefined {
  if (version === undefined || served === undefined) return undefined;
  const c = compareVersions(version, served);
  return c === undefined ? undefined : c < 0;
}
