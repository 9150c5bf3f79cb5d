import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '@homelab-mcp/testkit';
import { runProcess } from './exec.ts';
import { ownCgroupDir } from './run-cgroup.ts';

const sh = (cmd: string, extra: Partial<Parameters<typeof runProcess>[0]> = {}) =>
  runProcess({ file: '/bin/sh', args: ['-c', cmd], timeoutMs: 5000, maxBytes: 1024, ...extra });

describe('runProcess', () => {
  it('captures both streams and the exit code', async () => {
    const r = await sh('printf out; printf err >&2; exit 7');
    expect(r).toMatchObject({ stdout: 'out', stderr: 'err', exitCode: 7, signal: null, timedOut: false, stdoutTruncated: false });
  });

  it('caps each stream but keeps draining, so the command is not blocked', async () => {
    const r = await sh('head -c 3000000 /dev/zero | tr "\\0" a; echo done >&2');
    expect(r.stdout).toBe('a'.repeat(1024));
    expect(r).toMatchObject({ stdoutTruncated: true, stdoutBytes: 3_000_000, stderr: 'done\n', exitCode: 0 });
  });

  it('bounds the kept output by its size in a JSON answer (a control character costs 6 bytes)', async () => {
    const r = await sh('head -c 3000 /dev/zero | tr "\\0" "\\1"');
    expect(r.stdout).toBe('\x01'.repeat(170));
    expect(JSON.stringify(r.stdout).length).toBeLessThanOrEqual(1024 + 2);
    expect(r).toMatchObject({ stdoutTruncated: true, stdoutBytes: 3000 });
  });

  it('kills processes that left the group and session with setsid at the deadline', async () => {
    // setsid -f forks and its parent exits: the sleeper is reparented away from the command's tree.
    const r = await sh('setsid sleep 1000 & echo $!; setsid -f sh -c \'echo $$; exec sleep 1000\'; sleep 30', { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    const pids = r.stdout.trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    // Polled, not timed: the kill is asynchronous; the test's own timeout is the bound.
    while (pids.some(isAlive)) await new Promise((res) => setTimeout(res, 50));
  });

  it.skipIf(!ownCgroupDir())('gives a command no way to make the cgroups of later runs first (they would run without one)', async () => {
    // A command sees its run's marker ($HOMELAB_EDGE_RUN), and every local user sees its cgroup's
    // name in /proc/PID/cgroup. Were the next runs' names derived from it (a counter), a command
    // could make those cgroups first: the next run's mkdir failed, and it ran without a cgroup,
    // under the weaker fallback kill.
    const parent = ownCgroupDir()!;
    const marker = (await sh('echo "$HOMELAB_EDGE_RUN"', { cgroup: true })).stdout.trim();
    const made: string[] = [];
    try {
      // The attacker's guesses: the marker's last 1-4 hex digits counted on by 1-4.
      for (let s = 1; s <= 4; s++) {
        const n = parseInt(marker.slice(-s), 16);
        for (let k = 1; k <= 4; k++) {
          const dir = join(parent, `homelab-run-${process.pid}-${marker.slice(0, -s)}${(n + k).toString(16)}`);
          if (made.includes(dir)) continue;
          try {
            mkdirSync(dir);
            made.push(dir);
          } catch {
            // Taken already.
          }
        }
      }
      const next = await sh('cat /proc/self/cgroup', { cgroup: true });
      expect(next.stdout).toMatch(/^0::.*\/homelab-run-/m);
    } finally {
      for (const d of made) rmdirSync(d);
    }
  });

  it.skipIf(!ownCgroupDir())('removes the run\'s cgroup when the command cannot be started', async () => {
    // Spawn reports some failures after the cgroup was made, as an 'error' event: a working
    // directory the edge's user may not enter (run_command checks only that it is a directory) or
    // that went away meanwhile (ENOENT here), a fork refused (EAGAIN at a pids limit). The cgroup
    // stayed, and as a live run's it was never swept: one left behind per such call.
    const mine = () => readdirSync(ownCgroupDir()!).filter((n) => n.startsWith(`homelab-run-${process.pid}-`));
    const before = mine();
    await expect(sh('true', { cgroup: true, cwd: join(tmpdir(), `no-such-dir-${process.pid}`) })).rejects.toMatchObject({ code: 'ENOENT' });
    // E2BIG (65,536 characters of run_command's cmd can pass the kernel's 128 KiB per argument) throws at once.
    await expect(sh('\u20ac'.repeat(65536), { cgroup: true })).rejects.toMatchObject({ code: 'E2BIG' });
    expect(mine().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('kills the process group at the deadline, even children that ignore SIGTERM', async () => {
    const r = await sh(`sh -c 'trap "" TERM; sleep 20' & echo $!; wait`, { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    const pid = Number(r.stdout.trim());
    // Polled, not timed: SIGKILL follows SIGTERM after a grace; the test's own timeout is the bound.
    await expect.poll(() => isAlive(pid), { timeout: 20_000, interval: 50 }).toBe(false);
  });

  it('stops when the caller aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const marker = join(tmpdir(), `exec-abort-${process.pid}-${Date.now()}`);
    const r = await sh(`sleep 20; touch ${marker}`, { signal: ac.signal });
    expect(r.aborted).toBe(true);
    // Ended by the abort, before the command's own end: the command never got to its last step.
    expect(existsSync(marker)).toBe(false);
  });

  it('feeds stdin and rejects a missing program', async () => {
    expect((await sh('tr a-z A-Z', { stdin: 'abc' })).stdout).toBe('ABC');
    await expect(runProcess({ file: '/no/such/program', timeoutMs: 1000, maxBytes: 10 })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
