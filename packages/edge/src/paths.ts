/**
 * Confinement of the file tools to the configured roots. A path is allowed when both its
 * lexical form and its real location (symlinks resolved) lie inside a root, so neither
 * `..` nor a symlink that points outside can reach a file the operator did not open up.
 */
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';

function inside(root: string, p: string): boolean {
  if (root === sep) return true;
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The roots as configured and as real paths (a root may itself be a symlink). */
export interface Roots {
  lexical: string[];
  real: string[];
}

/** Resolves each root to its real path once, at start. */
export async function resolveRoots(roots: string[]): Promise<Roots> {
  return { lexical: roots, real: await Promise.all(roots.map(async (r) => realpath(r).catch(() => r))) };
}

/**
 * Checks `path` against the roots and returns its real absolute location: the file itself
 * when it exists, else its nearest existing ancestor joined with the missing rest (for
 * writes that create files). Throws `PATH_OUTSIDE_ROOTS` or `INVALID_ARGUMENTS`.
 *
 * @example const real = await confine('/srv/data/x.txt', await resolveRoots(['/srv']));
 */
export async function confine(path: string, roots: Roots): Promise<string> {
  if (typeof path !== 'string' || path.length === 0) throw new HomelabError('INVALID_ARGUMENTS', 'path: expected a non-empty absolute path');
  if (path.includes('\0')) throw new HomelabError('INVALID_ARGUMENTS', 'path: must not contain NUL bytes');
  if (!isAbsolute(path)) throw new HomelabError('INVALID_ARGUMENTS', `path: "${path}" must be absolute`);
  if (path.split(/[\\/]+/).includes('..')) {
    throw new HomelabError('PATH_OUTSIDE_ROOTS', `path: "${path}" contains "..", which is refused; give the path without it`);
  }
  const lexical = resolve(path);
  const rootsText = roots.lexical.join(', ');
  if (!roots.lexical.some((r) => inside(r, lexical))) {
    throw new HomelabError('PATH_OUTSIDE_ROOTS', `path: ${lexical} is outside the allowed roots (${rootsText})`);
  }
  // Find the real location of the deepest part that exists.
  let existing = lexical;
  let rest = '';
  for (;;) {
    try {
      const real = await realpath(existing);
      const full = rest ? resolve(real, rest) : real;
      if (!roots.real.some((r) => inside(r, full))) {
        throw new HomelabError('PATH_OUTSIDE_ROOTS', `path: ${lexical} resolves through a symlink to ${full}, outside the allowed roots (${rootsText})`);
      }
      return full;
    } catch (err) {
      if (err instanceof HomelabError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new HomelabError('FILE_ERROR', `path: ${lexical}: ${code ?? String(err)}`);
      const parent = dirname(existing);
      if (parent === existing) throw new HomelabError('FILE_ERROR', `path: ${lexical}: no part of it exists`);
      rest = rest ? `${existing.slice(parent.length + (parent === sep ? 0 : 1))}${sep}${rest}` : existing.slice(parent.length + (parent === sep ? 0 : 1));
      existing = parent;
    }
  }
}
