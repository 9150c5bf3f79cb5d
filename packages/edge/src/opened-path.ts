/**
 * Checks of what a file tool actually opened, by its file descriptor. A path checked before it
 * is opened can be changed in between (a directory swapped for a symlink to `/etc`), so the
 * file tools open first, then ask the kernel where the descriptor points (`/proc/self/fd/N`) and
 * decide on that: inside the roots, not one of the edge's private files, not denied by the hub's
 * policy. Nothing is read or written before the check passes. Children of a checked directory are
 * then reached through `/proc/self/fd/N/name`, so a swap of the directory's path no longer matters.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
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

/** What the checks need of a file's identity (a `Stats`); `mode` and `rdev` find memory devices. */
export interface FileId {
  dev: number;
  ino: number;
  mode?: number;
  rdev?: number;
  /** More than 1: the file has other names (hard links). */
  nlink?: number;
}

/**
 * Refuses what a real path and identity point to when it is outside the roots, memory of a
 * process or of the kernel, private to the edge or denied by the policy. `lexical` is the path
 * as the caller gave it (also matched against the policy: a refusal by either is a refusal).
 * `onProcfs` says the file is on a proc filesystem, wherever mounted (see {@link checkOpened}).
 */
export function checkReal(real: string, id: FileId | undefined, lexical: string, check: OpenedCheck, onProcfs = false): void {
  if (!check.roots.real.some((r) => inside(r, real))) {
    throw new HomelabError('PATH_OUTSIDE_ROOTS', `path: ${lexical} resolves to ${real}, outside the allowed roots (${check.roots.lexical.join(', ')})`);
  }
  if (isMemory(real, id, onProcfs)) {
    throw new HomelabError('PATH_DENIED', `${lexical}: the edge never serves the memory of a process or of the kernel, nor its layout (mem, maps, map_files, pagemap, kcore, /dev/mem, ...); an admin can use run_command`);
  }
  if (isPrivate(real, id, check.privateFiles, onProcfs)) {
    throw new HomelabError('PATH_DENIED', `${lexical}: the edge never serves its own token, configuration or process files, nor its hub's (on the hub's own host)`);
  }
  if (procEntryGone(real)) throw new HomelabError('FILE_ERROR', `${lexical}: the process exited while being opened; try again`);
  if (procAliases(real).some((p) => check.policy.denies(p)) || check.policy.denies(lexical)) throw deniedError(lexical);
}

// Files of /proc/<pid>/ and /proc/<pid>/task/<tid>/ that hold a process's memory, or its layout
// (addresses, registers): the layout is what the memory attack starts from (and defeats ASLR);
// usage figures stay readable (status, statm, smaps_rollup).
const PROCESS_MEMORY = new Set(['mem', 'map_files', 'pagemap', 'maps', 'smaps', 'numa_maps', 'syscall', 'stack']);
const KERNEL_MEMORY = new Set(['/proc/kcore', '/proc/kmem', '/dev/mem', '/dev/kmem', '/dev/port']);
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
/** The `mem` driver's minors (major 1): /dev/mem, /dev/kmem, /dev/port. */
const MEM_MINORS = new Set([1, 2, 4]);

/**
 * True for the memory of processes or of the kernel, for everyone: `/proc/<n>/mem` and its
 * siblings (also under `task/<tid>/`), `/proc/kcore`, `/proc/kmem`, and the `/dev/mem`,
 * `/dev/kmem`, `/dev/port` devices by number wherever a node for them is. On a proc filesystem
 * (`onProcfs`, which catches one mounted elsewhere than /proc) any such name in the path counts.
 */
export function isMemory(real: string, id: FileId | undefined, onProcfs = false): boolean {
  if (KERNEL_MEMORY.has(real)) return true;
  if (id?.mode !== undefined && id.rdev !== undefined && (id.mode & S_IFMT) === S_IFCHR) {
    // Linux's encoding of a device number, as glibc's major()/minor() read it.
    const major = ((id.rdev >> 8) & 0xfff) | (Math.floor(id.rdev / 2 ** 32) & ~0xfff);
    const minor = (id.rdev & 0xff) | ((id.rdev >> 12) & 0xfff00);
    if (major === 1 && MEM_MINORS.has(minor)) return true;
  }
  if (!onProcfs && !real.startsWith('/proc/')) return false;
  return real.split('/').some((c) => PROCESS_MEMORY.has(c) || c === 'kcore' || c === 'kmem');
}

/**
 * The edge's own thread ids, read now: Linux serves `/proc/<tid>/` for every thread id, not only
 * under `/proc/<pid>/task/`, so each one is another way into the edge's environment and files.
 */
export function ownThreadIds(): Set<string> {
  const ids = new Set([String(process.pid)]);
  try {
    ids.add(readlinkSync('/proc/self'));
    for (const t of readdirSync('/proc/self/task')) ids.add(t);
  } catch {
    // Without /proc there is no /proc/<tid> to guard either.
  }
  return ids;
}

const PROC_ENTRY = /^\/proc\/(\d+)(?:\/task\/(\d+))?(\/.*)?$/;

/**
 * True for the edge's own files: private files by path or identity, and `/proc/<t>/` for any of
 * its thread ids `t` (its environment may hold HOMELAB_EDGE_TOKEN; fd/N, cwd and root reach its
 * files). On a proc filesystem mounted elsewhere, any path segment naming one of them counts.
 */
export function isPrivate(real: string, id: FileId | undefined, files: readonly PrivateFile[], onProcfs = false): boolean {
  if (real.startsWith('/proc/') && /^\/proc\/\d/.test(real)) {
    const ids = ownThreadIds();
    const m = PROC_ENTRY.exec(real);
    if (m && (ids.has(m[1]!) || (m[2] !== undefined && ids.has(m[2])))) return true;
  } else if (onProcfs && !real.startsWith('/proc/')) {
    const ids = ownThreadIds();
    if (real.split('/').some((c) => ids.has(c))) return true;
  }
  for (const f of files) {
    if (f.directory ? inside(f.real, real) : f.real === real) return true;
    // A hard link or a bind mount shows another path for the same file.
    if (id && f.ino !== -1 && !f.directory && f.dev === id.dev && f.ino === id.ino) return true;
  }
  return id !== undefined && inPrivateDirectory(real, id, files);
}

/**
 * True when the process a `/proc/<n>/` path belongs to is gone. An open `/proc/<n>/environ` or
 * `mem` keeps the memory it was opened on: a thread of the edge that exits between the open and
 * the check must not pass as "not one of ours" (fail closed).
 */
function procEntryGone(real: string): boolean {
  const m = PROC_ENTRY.exec(real);
  return m !== null && !existsSync(`/proc/${m[2] ?? m[1]}`);
}

/**
 * The paths a policy is matched on: the real path, and for a thread's file
 * (`/proc/<pid>/task/<tid>/x`) the same file as `/proc/<tid>/x` and `/proc/<pid>/x`, so that a
 * rule such as `/proc/*\/environ` also covers every thread's copy.
 */
export function procAliases(real: string): string[] {
  const m = PROC_ENTRY.exec(real);
  if (!m || m[2] === undefined) return [real];
  return [real, `/proc/${m[2]}${m[3] ?? ''}`, `/proc/${m[1]}${m[3] ?? ''}`];
}

const PROC_SUPER_MAGIC = 0x9fa0;

/** True when the descriptor's file is on a proc filesystem (false where that cannot be told). */
async function onProcfs(fh: FileHandle): Promise<boolean> {
  // statfs follows the /proc/self/fd/N link to the open file itself. Node < 18.15 lacks it (read
  // off the namespace: a named import would not even load there); the path rules still apply.
  const statfs = (fsp as { statfs?: (p: string) => Promise<{ type: number }> }).statfs;
  if (typeof statfs !== 'function') return false;
  const st = await statfs(fdPath(fh)).catch(() => undefined);
  return st?.type === PROC_SUPER_MAGIC;
}

/** Checks an open descriptor (see {@link checkReal}); returns its real path and stat. */
export async function checkOpened(fh: FileHandle, lexical: string, check: OpenedCheck) {
  const real = await realPathOf(fh, lexical);
  const st = await fh.stat();
  checkReal(real, st, lexical, check, await onProcfs(fh));
  return { real, st };
}


/** Entries looked at for the other names of a hard-linked file before refusing it anyway. */
const MAX_LINK_SCAN = 10_000;

/**
 * True when what was opened is a private directory, or lies under one, by identity: a bind
 * mount shows a directory under another path, so each directory above the opened path is
 * compared by device + inode. A file with other names (hard links) is looked for inside the
 * private directories, since a link elsewhere has no private directory above it.
 */
function inPrivateDirectory(real: string, id: FileId, files: readonly PrivateFile[]): boolean {
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
