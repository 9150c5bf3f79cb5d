import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diskUsage, isReportedMount, parseMounts, selectDisks, type MountEntry } from './mounts.ts';

const fixture = (p: string) => readFileSync(new URL(`./__fixtures__/${p}`, import.meta.url), 'utf8');
const mount = (mountpoint: string, fstype: string, device = 'x'): MountEntry => ({ device, mountpoint, fstype, options: ['rw'] });

describe('parseMounts', () => {
  it('reads every line and decodes \\040 in a mountpoint', () => {
    const all = parseMounts(fixture('raspberry-pi-4/proc/mounts'));
    expect(all).toHaveLength(24);
    expect(all[0]).toEqual({ device: '/dev/mmcblk0p2', mountpoint: '/', fstype: 'ext4', options: ['rw', 'noatime'] });
    expect(all.find((m) => m.device === '/dev/sda1')?.mountpoint).toBe('/mnt/usb backup');
  });
});

describe('selectDisks', () => {
  it('keeps the SD card partitions and the USB disk of a Pi, not pseudo filesystems or Docker layers', () => {
    const disks = selectDisks(parseMounts(fixture('raspberry-pi-4/proc/mounts')));
    expect(disks.map((d) => [d.device, d.mountpoint, d.fstype])).toEqual([
      ['/dev/mmcblk0p2', '/', 'ext4'],
      ['/dev/mmcblk0p1', '/boot/firmware', 'vfat'],
      ['/dev/sda1', '/mnt/usb backup', 'ext4'],
    ]);
  });

  it('keeps only the root disk of the VM capture', () => {
    expect(selectDisks(parseMounts(fixture('x86-vm/proc/mounts'))).map((d) => d.mountpoint)).toEqual(['/']);
  });

  it('lets a later mount over the same path win', () => {
    const disks = selectDisks([mount('/data', 'ext4', '/dev/sdb1'), mount('/data', 'btrfs', '/dev/sdc1')]);
    expect(disks).toEqual([mount('/data', 'btrfs', '/dev/sdc1')]);
    // A pseudo filesystem mounted over a disk hides it.
    expect(selectDisks([mount('/data', 'ext4'), mount('/data', 'autofs')])).toEqual([]);
  });
});

describe('isReportedMount', () => {
  it.each([
    ['/', 'overlay', true],
    ['/tmp', 'tmpfs', true],
    ['/var/log', 'tmpfs', true],
    ['/mnt/nas', 'nfs4', true],
    ['/var/lib/docker', 'ext4', true],
    ['/run', 'tmpfs', false],
    ['/run/user/1000', 'tmpfs', false],
    ['/dev/shm', 'tmpfs', false],
    ['/sys/fs/cgroup', 'tmpfs', false],
    ['/snap/core22/1380', 'squashfs', false],
    ['/media/live', 'squashfs', false],
    ['/proc/cpuinfo', 'fuse.lxcfs', false],
    ['/var/lib/docker/overlay2/abc/merged', 'overlay', false],
    ['/sys/fs/cgroup/unified', 'cgroup2', false],
    ['/dev', 'devtmpfs', false],
  ])('%s (%s) -> %s', (mountpoint, fstype, expected) => {
    expect(isReportedMount(mount(mountpoint, fstype))).toBe(expected);
  });
});

describe('diskUsage', () => {
  it('computes percent like df: used over used plus available', () => {
    // 1000 blocks, 400 used, 600 free of which 50 reserved for root.
    expect(diskUsage({ bsize: 4096, blocks: 1000, bfree: 600, bavail: 550 })).toEqual({
      totalBytes: 4096000,
      usedBytes: 1638400,
      availableBytes: 2252800,
      percent: 42.1,
    });
  });
  it('is 0% for an empty filesystem', () => {
    expect(diskUsage({ bsize: 4096, blocks: 0, bfree: 0, bavail: 0 }).percent).toBe(0);
  });
});
