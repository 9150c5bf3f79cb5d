/**
 * A folder of Markdown (IP inventory, known pitfalls, per-service notes) served as MCP
 * resources `docs://<relative path>`. The folder is the boundary: a symlink that resolves
 * outside it is refused, at listing and again at reading (a link can change in between), and
 * sizes and counts are capped so a stray large file or a deep tree cannot fill a response.
 */
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';

export interface DocEntry {
  /** `docs://pitfalls.md`, `docs://services/grafana.md`. */
  uri: string;
  /** Path relative to the folder, with `/`. */
  path: string;
  /** The first heading, else the file name. */
  title: string;
  size: number;
}

export interface DocsScan {
  docs: DocEntry[];
  /** What was left out and why (too large, outside the folder, too many). */
  skipped: string[];
}

export const MAX_DOC_BYTES = 256 * 1024;
const MAX_DOCS = 500;
const MAX_DEPTH = 8;

const within = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** The URI of a relative path: each segment percent-encoded, `/` kept. */
export function docUri(path: string): string {
  return `docs://${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** The first ATX heading (`# Title`) in the first lines, if any. */
export function firstHeading(text: string): string | undefined {
  for (const line of text.split('\n', 200)) {
    const m = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m?.[1]) return m[1].slice(0, 120);
  }
  return undefined;
}

/** Reads at most `max` bytes of a file. */
function readHead(path: string, max: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(max, fstatSync(fd).size));
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Lists the Markdown files under `folder` (recursively), sorted by path.
 *
 * @example scanDocs('/etc/homelab/docs').docs[0] // { uri: 'docs://pitfalls.md', title: 'Known pitfalls', ... }
 */
export function scanDocs(folder: string): DocsScan {
  const skipped: string[] = [];
  let root: string;
  try {
    root = realpathSync(folder);
  } catch {
    return { docs: [], skipped: [`${folder}: no such folder`] };
  }
  const docs: DocEntry[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const full = join(dir, name);
      const rel = relative(root, full).split(sep).join('/');
      let real: string;
      try {
        real = realpathSync(full);
      } catch {
        continue; // a dangling link
      }
      if (!within(root, real)) {
        if (lstatSync(full).isSymbolicLink()) skipped.push(`${rel}: a link outside the docs folder`);
        continue;
      }
      const st = statSync(real);
      if (st.isDirectory()) {
        if (depth < MAX_DEPTH) walk(full, depth + 1);
        continue;
      }
      if (!st.isFile() || !/\.(md|markdown)$/i.test(name)) continue;
      if (st.size > MAX_DOC_BYTES) {
        skipped.push(`${rel}: larger than ${MAX_DOC_BYTES / 1024} KiB`);
        continue;
      }
      if (docs.length >= MAX_DOCS) {
        skipped.push(`${rel}: more than ${MAX_DOCS} documents`);
        continue;
      }
      let title: string | undefined;
      try {
        title = firstHeading(readHead(real, 8192));
      } catch {
        continue;
      }
      docs.push({ uri: docUri(rel), path: rel, title: title ?? name.replace(/\.(md|markdown)$/i, ''), size: st.size });
    }
  };
  walk(root, 0);
  return { docs, skipped };
}

/** The text of one listed document, checked again against the folder and the size cap. */
export function readDoc(folder: string, doc: DocEntry): string {
  const root = realpathSync(folder);
  let real: string;
  try {
    real = realpathSync(join(root, ...doc.path.split('/')));
  } catch {
    throw new HomelabError('NOT_FOUND', `${doc.uri} no longer exists`);
  }
  if (!within(root, real)) throw new HomelabError('PATH_OUTSIDE_ROOTS', `${doc.uri} now points outside the docs folder`);
  const size = statSync(real).size;
  if (size > MAX_DOC_BYTES) throw new HomelabError('TOO_LARGE', `${doc.uri} is larger than ${MAX_DOC_BYTES / 1024} KiB`);
  return readHead(real, MAX_DOC_BYTES);
}
