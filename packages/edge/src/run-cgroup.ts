/**
 * A cgroup (v2) per run_command, where the edge may make one: under systemd with the unit's
 * `Delegate=yes`, or as root on a cgroup v2 file system. The command's shell moves itself into
 * the cgroup before it runs anything, so everything the command starts stays inside whatever it
 * does to leave the process tree: `setsid`, double forks, `env -i`, dropping the run's marker
 * variable. (Not against a command that moves itself to another cgroup on purpose: it runs as
 * the edge's user, who may write any cgroup.procs of the delegated tree. The deadline is a
 * clean-up of what a command left behind, not a jail: an approved command can also install a
 * service that outlives everything.) At the deadline (or a cancel) the edge writes `1` to the cgroup's `cgroup.kill`,
 * and the kernel kills every process in it. Where no cgroup can be made (no cgroup v2, no right
 * to write there, a kernel before 5.14 without cgroup.kill), the edge falls back to killing the
 * process group, the session, the descendants and the processes carrying the run's marker.
 *
 * Each run's cgroup is removed when the run ends and nothing is left in it; one that still holds
 * processes (a command that started a background job on purpose) is removed by a later run once
 * they are gone.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const PREFIX = 'homelab-run-';

/** Where this process's cgroup is in the cgroup v2 hierarchy, if it can make children there. */
export function ownCgroupDir(procRoot = '/proc'): string | undefined {
  try {
    const mount = readFileSync(`${procRoot}/self/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
    const path = readFileSync(`${procRoot}/self/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
    if (!mount || path === undefined) return undefined;
    const dir = join(mount, path);
    accessSync(dir, constants.W_OK);
    return dir;
  } catch {
    return undefined;
  }
}

export interface RunCgroup {
  /** `.../cgroup.procs`: the command's shell writes its own pid here before it runs anything. */
  procsFile: string;
  /** Signals every process in the cgroup; SIGKILL through `cgroup.kill`, which nothing escapes. */
  kill(sig: NodeJS.Signals): void;
  /** Removes the cgroup if it is empty (else a later run does). */
  release(): void;
}

let base: string | null | undefined;

/** Run cgroups of this process still in use: never swept. */
const live = new Set<string>();
/**
 * A run cgroup younger than this is not swept even when empty: another edge (or the local
 * node's) may have just made it and not yet moved its command in (seen: a concurrent sweep
 * removed a fresh cgroup, the command ran outside it, and its setsid child escaped).
 */
const SWEEP_MIN_AGE_MS = 60_000;
/**
 * Sweeps run at most this often per parent (the first run sweeps at once): a cgroup is left only
 * by a command that started a background job, and is not removable for a minute anyway. Listing
 * the parent on every run_command cost a getdents per command for nothing.
 */
const SWEEP_EVERY_MS = 10_000;
const lastSweep = new Map<string, number>();
/** Parents already seen to offer `cgroup.kill` (the kernel does not change under us). */
const hasKill = new Set<string>();

/** Removes the run cgroups of earlier runs whose processes are all gone. */
function sweep(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(PREFIX) && !live.has(join(dir, n)));
  } catch {
    return;
  }
  const now = Date.now();
  for (const n of names) {
    try {
      // Another living edge's cgroups are its own to remove (it may have just made one and not
      // yet moved its command in); those of an edge that is gone, or our own finished ones, are
      // ours, once old enough.
      const owner = Number(/^homelab-run-(\d+)-/.exec(n)?.[1]);
      if (owner !== process.pid && existsSync(`/proc/${owner}`)) continue;
      if (now - statSync(join(dir, n)).mtimeMs < SWEEP_MIN_AGE_MS) continue;
      if (/^populated 0$/m.test(readFileSync(join(dir, n, 'cgroup.events'), 'utf8'))) rmdirSync(join(dir, n));
    } catch {
      // In use, or removed by another edge meanwhile.
    }
  }
}

/** A new cgroup for one run, or undefined where the edge cannot make one (the fallback kill applies). */
export function createRunCgroup(id: string, opts: { baseDir?: string } = {}): RunCgroup | undefined {
  if (opts.baseDir === undefined && base === undefined) base = ownCgroupDir() ?? null;
  const parent = opts.baseDir ?? base;
  if (!parent) return undefined;
  const now = Date.now();
  if (now - (lastSweep.get(parent) ?? -Infinity) >= SWEEP_EVERY_MS) {
    lastSweep.set(parent, now);
    sweep(parent);
  }
  const dir = join(parent, `${PREFIX}${process.pid}-${id}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    // No right to make cgroups here: stop trying. Anything else (a descendants limit reached)
    // may pass: this run takes the fallback kill, the next tries again.
    const code = (err as NodeJS.ErrnoException).code;
    if (opts.baseDir === undefined && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT')) base = null;
    return undefined;
  }
  if (!hasKill.has(parent) && !existsSync(join(dir, 'cgroup.kill'))) {
    // A kernel before 5.14: no cgroup.kill, so no kill that nothing escapes; do not pretend.
    try {
      rmdirSync(dir);
    } catch {
      // empty: cannot fail
    }
    if (opts.baseDir === undefined) base = null;
    return undefined;
  }
  hasKill.add(parent);
  live.add(dir);
  /** Removes the cgroup: 'gone', or 'busy' while processes are still in it. */
  const remove = (): 'gone' | 'busy' => {
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') return 'busy';
    }
    live.delete(dir);
    return 'gone';
  };
  return {
    procsFile: join(dir, 'cgroup.procs'),
    kill(sig) {
      try {
        if (sig === 'SIGKILL') {
          writeFileSync(join(dir, 'cgroup.kill'), '1');
          // The kernel empties it at once; remove it then, rather than at a later run's sweep.
          let tries = 0;
          const again = () => {
            if (remove() === 'busy' && ++tries < 50) setTimeout(again, 100).unref();
          };
          again();
          return;
        }
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), sig);
          } catch {
            // Gone meanwhile.
          }
        }
      } catch {
        // Removed already: nothing is left in it.
      }
    },
    release() {
      // Still holding a background job: a later run's sweep removes it once it is gone.
      if (remove() === 'busy') live.delete(dir);
    },
  };
}

/**
 * The command wrapped so that its shell joins the cgroup first. A failed write (the cgroup
 * vanished) still runs the command, under the fallback kill.
 *
 * A shell command line (`/bin/sh -c CMD`, every run_command) runs in that same shell, with no
 * second exec: `/bin/sh -c '{ echo $$ >"$1"; } 2>/dev/null; eval "shift 2; $2"' /bin/sh PROCS CMD`.
 * CMD sees what `/bin/sh -c CMD` would: $0 is /bin/sh, no positional parameters, no variable of
 * the wrapper's; a syntax error is still exit 2 before anything runs (its message says `eval:`).
 * Saves an exec of the shell per command: 1.8 ms of latency here. Only where /bin/sh is dash
 * (Debian, Ubuntu, Raspberry Pi OS), whose `sh -c` forks its last command as eval does: bash and
 * busybox ash exec it, so a command the kernel kills is answered as that signal (SIGKILL,
 * SIGSEGV); evaluated in the wrapper it would be the wrapper's child, answered as exit 137/139
 * with no signal. There the exec form below runs `/bin/sh -c CMD` itself. `opts.binSh` is for tests.
 *
 * Any other program is exec'd by the shell: `sh -c '{ echo $$ >"$0"; } 2>/dev/null; exec "$@"'
 * PROCS FILE ARGS...`.
 */
export function wrapForCgroup(procsFile: string, file: string, args: readonly string[], opts: { binSh?: string } = {}): { file: string; args: string[] } {
  if (file === '/bin/sh' && args.length === 2 && args[0] === '-c' && basename(opts.binSh ?? binSh()) === 'dash') {
    return { file: '/bin/sh', args: ['-c', '{ echo $$ >"$1"; } 2>/dev/null; eval "shift 2; $2"', '/bin/sh', procsFile, args[1]!] };
  }
  return { file: '/bin/sh', args: ['-c', '{ echo $$ >"$0"; } 2>/dev/null; exec "$@"', procsFile, file, ...args] };
}

/** What /bin/sh is (its real path), resolved once. */
let binShPath: string | undefined;
function binSh(): string {
  if (binShPath === undefined) {
    try {
      binShPath = realpathSync('/bin/sh');
    } catch {
      binShPath = '/bin/sh';
    }
  }
  return binShPath;
}
