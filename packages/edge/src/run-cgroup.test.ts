import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createRunCgroup, ownCgroupDir, wrapForCgroup } from './run-cgroup.ts';

// Real cgroups, where this process may make them (root on a cgroup v2 file system).
const own = ownCgroupDir();
const base = own ? join(own, `homelab-test-${process.pid}`) : undefined;
if (base) mkdirSync(base);
afterAll(() => {
  if (!base) return;
  for (const n of readdirSync(base)) if (n.startsWith('homelab-run-')) rmdirSync(join(base, n));
  rmdirSync(base);
});

describe('createRunCgroup', () => {
  it.skipIf(!base)('never sweeps a fresh cgroup of another living edge (it may not have moved its command in yet)', () => {
    // Another edge (the parent process stands for one: it is alive) has just made its run's cgroup.
    const theirs = join(base!, `homelab-run-${process.ppid}-abc`);
    mkdirSync(theirs);
    const mine = createRunCgroup('def', { baseDir: base! });
    expect(mine).toBeDefined();
    expect(existsSync(theirs)).toBe(true);
    // One of an edge that is gone (pid 2^22 + 1 is above pid_max on Linux) is swept once old enough; a fresh one is kept.
    const dead = join(base!, 'homelab-run-4194305-ghi');
    mkdirSync(dead);
    createRunCgroup('jkl', { baseDir: base! })?.release();
    expect(existsSync(dead)).toBe(true);
    mine!.release();
    expect(existsSync(join(base!, `homelab-run-${process.pid}-def`))).toBe(false);
  });

  it('is undefined where no cgroup can be made', () => {
    expect(createRunCgroup('x', { baseDir: '/nonexistent/cgroup' })).toBeUndefined();
  });
});

describe('wrapForCgroup', () => {
  const run = (w: { file: string; args: string[] }) => spawnSync(w.file, w.args, { encoding: 'utf8' });

  it('runs a shell command line in the wrapping shell, as /bin/sh -c would: $0, no parameters, exit status', () => {
    const procs = join(tmpdir(), `wrap-procs-${process.pid}`);
    try {
      const w = wrapForCgroup(procs, '/bin/sh', ['-c', 'echo "$0" $# "$@"; echo "$$" >&2; exit 3'], { binSh: '/usr/bin/dash' });
      expect(w.args).toHaveLength(5); // one shell, no second exec
      const r = run(w);
      expect(r.stdout).toBe('/bin/sh 0\n');
      expect(r.status).toBe(3);
      // The shell that ran the command is the one that wrote its pid for the cgroup.
      expect(readFileSync(procs, 'utf8').trim()).toBe(r.stderr.trim());
    } finally {
      rmSync(procs, { force: true });
    }
  });

  it('keeps a syntax error an exit 2 that runs nothing, and runs anyway when the cgroup is gone', () => {
    const r = run(wrapForCgroup('/nonexistent/cgroup.procs', '/bin/sh', ['-c', 'echo ran; ('], { binSh: '/usr/bin/dash' }));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(run(wrapForCgroup('/nonexistent/cgroup.procs', '/bin/sh', ['-c', 'echo ran'])).stdout).toBe('ran\n');
  });

  it('evals in its own shell only where /bin/sh is dash: bash and busybox ash exec the last command, so a signal death stays a signal', () => {
    // bash (Fedora, Arch) and busybox ash (Alpine, OpenWrt) exec the last command of `sh -c`:
    // a command the kernel kills is answered as that signal (SIGKILL, SIGSEGV). Evaluated in a
    // wrapping shell it is that shell's child, answered as exit 137/139 with no signal.
    const cmd = 'sh -c "kill -9 \\$\\$"';
    if (existsSync('/bin/bash')) {
      expect(spawnSync('/bin/bash', ['-c', cmd]).signal).toBe('SIGKILL');
      const evalForm = spawnSync('/bin/bash', ['-c', '{ echo $$ >"$1"; } 2>/dev/null; eval "shift 2; $2"', '/bin/bash', '/nonexistent/cgroup.procs', cmd]);
      expect([evalForm.status, evalForm.signal]).toEqual([137, null]);
    }
    for (const sh of ['/usr/bin/bash', '/bin/busybox']) {
      const w = wrapForCgroup('/nonexistent/cgroup.procs', '/bin/sh', ['-c', cmd], { binSh: sh });
      expect(w.args.slice(1)).toEqual(['{ echo $$ >"$0"; } 2>/dev/null; exec "$@"', '/nonexistent/cgroup.procs', '/bin/sh', '-c', cmd]);
    }
    expect(wrapForCgroup('/nonexistent/cgroup.procs', '/bin/sh', ['-c', cmd], { binSh: '/usr/bin/dash' }).args).toHaveLength(5);
  });

  it('execs any other program with its arguments', () => {
    const r = run(wrapForCgroup('/nonexistent/cgroup.procs', '/bin/echo', ['a b', '$HOME']));
    expect(r.stdout).toBe('a b $HOME\n');
  });
});
