import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunCgroup, ownCgroupDir } from './run-cgroup.ts';

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
