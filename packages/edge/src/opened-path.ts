/**
 * Checks of what a file tool actually opened, by its file descriptor. A path checked before it
 * is opened can be changed in between (a directory swapped for a symlink to `/etc`), so the
 * file tools open first, then ask the kernel where the descriptor points (`/proc/self/fd/N`) and
 * decide on that: inside the roots, not one of the edge's private files, not denied by the hub's
 * policy. Nothing is read or written before the check passes. Children of a checked directory are
 * then reached through `/proc/self/fd/N/name`, so a swap of the directory's path no longer matters.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { realpath, readlink, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import type { Roots } from './paths.ts';
import { deniedError, type CallPolicy } from './policy.ts';

/** A file or directory the edge never serves, by real path and identity (dev + inode). */
export interface PrivateFile {
  real: string;
  dev: number;
  ino: number;
  directory: boolean;
}

/**
 * Resolves the files the edge must never serve (its token file, its config file, anything an
 * embedding program adds) once at start. A file that does not exist yet is kept by its path.
 */
export async function resolvePrivateFiles(paths: readonly string[]): Promise<PrivateFile[]> {
  const out: PrivateFile[] = [];
  for (const p of paths) {
    const real = await realpath(p).catch(() => p);
    const st = await stat(real).catch(() => undefined);
    out.push({ real, dev: st?.dev ?? -1, ino: st?.ino ?? -1, directory: st?.isDirectory() ?? false });
  }
  return out;
}

function inside(root: string, p: string): boolean {
  if (root === sep) return true;
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The path through which the kernel reaches the open file itself, not its name. */
export function fdPath(fh: FileHandle): string {
  return `/proc/self/fd/${fh.fd}`;
}

/** Where an open descriptor really points, as the kernel says. */
export async function realPathOf(fh: FileHandle, shown: string): Promise<string> {
  const link = await readlink(fdPath(fh)).catch((err: NodeJS.ErrnoException) => {
    // Fail closed: without /proc the edge cannot tell where a descriptor points.
    throw new HomelabError('FILE_ERROR', `${shown}: cannot verify what was opened (/proc/self/fd: ${err.code ?? String(err)})`);
  });
  // Deleted between open and check (" (deleted)" suffix), or not a filesystem path at all.
  if (!link.startsWith('/') || link.endsWith(' (deleted)')) throw new HomelabError('FILE_ERROR', `${shown}: changed while being opened; try again`);
  return link;
}

export interface OpenedCheck {
  roots: Roots;
  policy: CallPolicy;
  privateFiles: readonly PrivateFile[];
}

/**
 * Refuses what a real path and identity point to when it is outside the roots, private to the
 * edge or denied by the policy. `lexical` is the path as the caller gave it (also matched against
 * the policy: a refusal by either is a refusal).
 */
export function checkReal(real: string, id: FileIdentity | undefined, lexical: string, check: OpenedCheck): void {
  if (!check.roots.real.some((r) => inside(r, real))) {
    throw new HomelabError('PATH_OUTSIDE_ROOTS', `path: ${lexical} resolves to ${real}, outside the allowed roots (${check.roots.lexical.join(', ')})`);
  }
  if (isPrivate(real, id, check.privateFiles)) {
    throw new HomelabError('PATH_DENIED', `${lexical}: the edge never serves its own token, configuration or process files`);
  }
  if (check.policy.denies(real) || check.policy.denies(lexical)) throw deniedError(lexical);
}

/** True for the edge's own files: private files by path or identity, and `/proc/<own pid>/`. */
export function isPrivate(real: string, id: FileIdentity | undefined, files: readonly PrivateFile[]): boolean {
  // Its own environment may hold HOMELAB_EDGE_TOKEN, and fd/N links reach open files.
  if (inside(`/proc/${process.pid}`, real)) return true;
  for (const f of files) {
    if (f.directory ? inside(f.real, real) : f.real === real) return true;
    // A hard link or a bind mount shows another path for the same file.
    if (id && f.ino !== -1 && !f.directory && f.dev === id.dev && f.ino === id.ino) return true;
  }
  return id !== undefined && inPrivateDirectory(real, id, files);
}

/** Checks an open descriptor (see {@link checkReal}); returns its real path and stat. */
export async function checkOpened(fh: FileHandle, lexical: string, check: OpenedCheck) {
  const real = await realPathOf(fh, lexical);
  const st = await fh.stat();
  checkReal(real, st, lexical, check);
  return { real, st };
}

/** What identifies an opened file whatever its path; `nlink` > 1 means other names exist. */
export interface FileIdentity {
  dev: number;
  ino: number;
  nlink?: number;
}

/** Entries looked at for the other names of a hard-linked file before refusing it anyway. */
const MAX_LINK_SCAN = 10_000;

/**
 * True when what was opened is a private directory, or lies under one, by identity: a bind
 * mount shows a directory under another path, so each directory above the opened path is
 * compared by device + inode. A file with other names (hard links) is looked for inside the
 * private directories, since a link elsewhere has no private directory above it.
 */
function inPrivateDirectory(real: string, id: FileIdentity, files: readonly PrivateFile[]): boolean {
  const dirs = files.filter((f) => f.directory && f.ino !== -1);
  if (dirs.length === 0) return false;
  const isDir = (d: { dev: number; ino: number }) => dirs.some((f) => f.dev === d.dev && f.ino === d.ino);
  if (isDir(id)) return true;
  for (let p = dirname(real); ; p = dirname(p)) {
    const st = statOrUndefined(p);
    if (st && isDir(st)) return true;
    if (p === dirname(p)) break;
  }
  if ((id.nlink ?? 1) <= 1) return false;
  let budget = MAX_LINK_SCAN;
  const holds = (dir: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    for (const name of names) {
      // Too many to look through: refuse rather than serve a private file by another name.
      if (--budget < 0) return true;
      const st = statOrUndefined(join(dir, name), true);
      if (!st) continue;
      if (st.dev === id.dev && st.ino === id.ino) return true;
      if (st.isDirectory() && holds(join(dir, name))) return true;
    }
    return false;
  };
  return dirs.some((d) => statOrUndefined(d.real)?.dev === id.dev && holds(d.real));
}

function statOrUndefined(p: string, noFollow = false) {
  try {
    return (noFollow ? lstatSync : statSync)(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
