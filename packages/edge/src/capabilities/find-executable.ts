/**
 * Finds a program on a PATH the way `execvp` does, without running it: capability probes use it
 * at start, where spawning `smartctl --version` and friends cost about 35 ms of start-up and
 * 1 MB of memory that the edge keeps. (Shared by the smart, gpio and systemd probes; it lives
 * here beside the other synchronous file checks of the edge.)
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

/** What libuv's spawn searches when the child's PATH is unset (`_PATH_DEFPATH`). */
export const DEFAULT_EXEC_PATH = '/usr/bin:/bin';

/** A program found on PATH, or one that exists but may not be executed by this process. */
export type FoundExecutable = { path: string } | { notExecutable: string };

/**
 * The first regular, executable file called `name` in the directories of `pathVar`, like execvp:
 * a file without execute permission is skipped, and reported only when nothing else matches.
 * Empty PATH entries (the current directory) are skipped: the edge never runs programs from its cwd.
 * @example findExecutable('smartctl', env.childEnv.PATH) // { path: '/usr/sbin/smartctl' } or undefined
 */
export function findExecutable(name: string, pathVar: string | undefined = DEFAULT_EXEC_PATH): FoundExecutable | undefined {
  let denied: string | undefined;
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    // throwIfNoEntry: a miss is the common case, and no Error is built for it.
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch {
      continue; // EACCES on the directory, ENOTDIR: not here
    }
    if (!st?.isFile()) continue;
    try {
      accessSync(p, constants.X_OK);
      return { path: p };
    } catch {
      denied ??= p;
    }
  }
  return denied === undefined ? undefined : { notExecutable: denied };
}
