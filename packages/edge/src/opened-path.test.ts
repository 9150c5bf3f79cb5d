import { readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { checkOpened, isMemory, isPrivate, ownThreadIds, procAliases, type OpenedCheck } from './opened-path.ts';
import { resolveRoots } from './paths.ts';
import { NO_POLICY, parsePolicy } from './policy.ts';

/** A thread of this process other than the main one (Node always runs a few). */
function otherThread(): string {
  const tid = readdirSync('/proc/self/task').find((t) => t !== String(process.pid));
  if (!tid) throw new Error('expected more than one thread in /proc/self/task');
  return tid;
}

async function checkPath(path: string, policy = NO_POLICY): Promise<string> {
  const check: OpenedCheck = { roots: await resolveRoots(['/']), policy, privateFiles: [] };
  const fh = await open(path, 'r');
  try {
    return (await checkOpened(fh, path, check)).real;
  } finally {
    await fh.close();
  }
}

describe('isMemory', () => {
  it('refuses process memory and its layout under /proc/<n>/ and /proc/<n>/task/<t>/', () => {
    for (const p of ['/proc/123/mem', '/proc/123/task/124/mem', '/proc/123/map_files/7f00-7f10', '/proc/123/map_files', '/proc/123/maps', '/proc/123/smaps', '/proc/123/numa_maps', '/proc/123/pagemap', '/proc/123/syscall', '/proc/123/stack', '/proc/123/task/124/maps']) {
      expect(isMemory(p, undefined), p).toBe(true);
    }
  });

  it('refuses kernel memory by path, and memory devices by number wherever their node is', () => {
    for (const p of ['/proc/kcore', '/proc/kmem', '/dev/mem', '/dev/kmem', '/dev/port']) expect(isMemory(p, undefined), p).toBe(true);
    const chr = 0o020000 | 0o600;
    expect(isMemory('/srv/innocent', { dev: 5, ino: 9, mode: chr, rdev: (1 << 8) | 1 })).toBe(true);
    expect(isMemory('/srv/innocent', { dev: 5, ino: 9, mode: chr, rdev: (1 << 8) | 4 })).toBe(true);
    // /dev/null (1:3) and /dev/zero (1:5) are not memory.
    expect(isMemory('/srv/null', { dev: 5, ino: 9, mode: chr, rdev: (1 << 8) | 3 })).toBe(false);
    expect(isMemory('/srv/file', { dev: 5, ino: 9, mode: 0o100644, rdev: (1 << 8) | 1 })).toBe(false);
  });

  it('keeps usage figures and ordinary files named like them', () => {
    for (const p of ['/proc/123/status', '/proc/123/statm', '/proc/123/smaps_rollup', '/proc/meminfo', '/proc/sys/net/ipv4/tcp_mem', '/home/pi/mem', '/srv/maps/stack']) {
      expect(isMemory(p, undefined), p).toBe(false);
    }
  });

  it('on a proc filesystem mounted elsewhere, goes by the names', () => {
    expect(isMemory('/mnt/hostproc/123/mem', undefined, true)).toBe(true);
    expect(isMemory('/123/task/5/maps', undefined, true)).toBe(true);
    expect(isMemory('/mnt/hostproc/kcore', undefined, true)).toBe(true);
    expect(isMemory('/mnt/hostproc/123/status', undefined, true)).toBe(false);
  });
});

describe('isPrivate and the edge thread ids', () => {
  it('knows every thread of this process', () => {
    const ids = ownThreadIds();
    expect(ids.has(String(process.pid))).toBe(true);
    expect(ids.has(otherThread())).toBe(true);
  });

  it('refuses /proc/<t>/ for each own thread id t, and /proc/<pid>/task/<t>/', () => {
    const tid = otherThread();
    for (const p of [`/proc/${tid}`, `/proc/${tid}/environ`, `/proc/${tid}/fd/3`, `/proc/${tid}/cwd`, `/proc/${process.pid}/environ`, `/proc/${process.ppid}/task/${tid}/environ`]) {
      expect(isPrivate(p, undefined, []), p).toBe(true);
    }
    expect(isPrivate(`/proc/${process.ppid}/environ`, undefined, [])).toBe(false);
    expect(isPrivate('/proc/meminfo', undefined, [])).toBe(false);
    expect(isPrivate(`/mnt/hostproc/${tid}/environ`, undefined, [], true)).toBe(true);
    expect(isPrivate(`/srv/${tid}/environ`, undefined, [], false)).toBe(false);
  });
});

describe('procAliases', () => {
  it('names a thread file also as /proc/<tid>/x and /proc/<pid>/x', () => {
    expect(procAliases('/proc/10/task/11/environ')).toEqual(['/proc/10/task/11/environ', '/proc/11/environ', '/proc/10/environ']);
    expect(procAliases('/proc/10/environ')).toEqual(['/proc/10/environ']);
    expect(procAliases('/etc/passwd')).toEqual(['/etc/passwd']);
  });
});

describe('checkOpened on real descriptors', () => {
  it('refuses an own thread entry opened by its thread id', async () => {
    await expect(checkPath(`/proc/${otherThread()}/status`)).rejects.toThrow(/never serves its own token, configuration or process files/);
  });

  it('refuses another process memory layout, keeps its status', async () => {
    await expect(checkPath(`/proc/${process.ppid}/maps`)).rejects.toThrow(/never serves the memory of a process or of the kernel/);
    expect(await checkPath(`/proc/${process.ppid}/status`)).toBe(`/proc/${process.ppid}/status`);
  });

  it('matches the policy on a thread copy of a denied file', async () => {
    const policy = parsePolicy({ 'dev.homelab-mcp/policy': { denyPaths: ['/proc/*/environ'] } })!;
    await expect(checkPath(`/proc/${process.ppid}/task/${process.ppid}/environ`, policy)).rejects.toThrow(/denied by the hub's file policy/);
  });
});
