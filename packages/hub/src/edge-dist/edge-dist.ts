/**
 * The hub serves the edge agent to the devices it manages: `GET /edge/homelab-edge.mjs` (the
 * one-file bundle) and `GET /edge/install.sh` (the installer, with this hub's URL and the
 * bundle's sha256 filled in), so adding a device is one line:
 *
 *   curl -fsSL https://HUB/edge/install.sh | sudo sh -s -- --token TOKEN --sha256 HASH
 *
 * Neither carries a secret: the installer still needs the device's token. Both are run as root
 * on the device, so the hub prints HASH at start and in list_nodes (the person copies it from
 * there, not from the wire) and the docs show the HTTPS form (the hub behind its reverse proxy)
 * first: over plain HTTP the script itself could be swapped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import installScript from '../../../../deploy/install-edge.sh';

/** Where the edge bundle may be: beside the hub bundle (an image), or in the workspace. */
const CANDIDATES = [new URL('./homelab-edge.mjs', import.meta.url), new URL('../../edge/dist/homelab-edge.mjs', import.meta.url), new URL('../../../edge/dist/homelab-edge.mjs', import.meta.url)];

export interface EdgeBundle {
  bytes: Buffer;
  sha256: string;
  /** From the bundle's `// homelab-edge VERSION` line (edge/build.mjs); undefined when it has none. */
  version?: string;
}

/**
 * The version a bundle names on its second line, `// homelab-edge 0.1.0`, read from its first
 * bytes only.
 *
 * @example bundleVersion(Buffer.from('#!/usr/bin/env node\n// homelab-edge 0.1.0\n...')) // '0.1.0'
 */
export function bundleVersion(bytes: Buffer): string | undefined {
  const m = /^\/\/ homelab-edge ([0-9A-Za-z.+-]{1,64})$/m.exec(bytes.subarray(0, 256).toString('latin1'));
  return m?.[1];
}

/** The path of the edge bundle beside this hub, if there is one (the `local` node's child runs it). */
export function findEdgeBundle(paths: URL[] = CANDIDATES): string | undefined {
  for (const url of paths) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** How long {@link createEdgeDist}'s `bundle()` answers without looking at the file again. */
export const BUNDLE_CHECK_MS = 1000;

export function createEdgeDist(paths: URL[] = CANDIDATES) {
  let cached: { path: string; mtimeMs: number; bundle: EdgeBundle } | undefined;
  function look(): EdgeBundle | undefined {
    for (const url of paths) {
      const path = fileURLToPath(url);
      let mtimeMs: number;
      try {
        mtimeMs = statSync(path).mtimeMs;
      } catch {
        continue;
      }
      if (cached?.path === path && cached.mtimeMs === mtimeMs) return cached.bundle;
      const bytes = readFileSync(path);
      const version = bundleVersion(bytes);
      cached = { path, mtimeMs, bundle: { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), ...(version ? { version } : {}) } };
      return cached.bundle;
    }
    return undefined;
  }
  /** The last answer and when it was looked up: list_nodes asks on every call, twice. */
  let recent: { at: number; bundle: EdgeBundle | undefined } | undefined;
  return {
    /**
     * The bundle, re-read when the file changes (a rebuild), or undefined when absent. The file
     * is looked at (a stat on the event loop) at most every {@link BUNDLE_CHECK_MS}.
     */
    bundle(): EdgeBundle | undefined {
      const now = performance.now();
      if (recent && now - recent.at < BUNDLE_CHECK_MS) return recent.bundle;
      const bundle = look();
      recent = { at: now, bundle };
      return bundle;
    },

    /** The installer with `hubUrl` and the bundle's checksum as its defaults. */
    /** The installer as it is, without a hub's defaults (update_edges passes the bundle itself). */
    plainInstaller(): string {
      return installScript;
    },
    installer(hubUrl: string, sha256: string): string {
      // Values are quoted for sh: a URL with a quote in it is refused by the caller.
      return installScript.replace(/^DEFAULT_HUB=''$/m, `DEFAULT_HUB='${hubUrl}'`).replace(/^DEFAULT_SHA256=''$/m, `DEFAULT_SHA256='${sha256}'`);
    },
  };
}
