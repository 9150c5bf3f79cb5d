import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { collectStatus, createStatusState, type CollectStatusOptions, type NetworkInterfacesFn } from './collect.ts';
import type { StatfsLike } from './mounts.ts';
import { formatStatusText } from './summary.ts';

const fixtures = fileURLToPath(new URL('./__fixtures__/', import.meta.url));
const tree = (dir: string) => ({ procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys'), etcRoot: join(dir, 'etc') });
const PI = join(fixtures, 'raspberry-pi-4');
const VM = join(fixtures, 'x86-vm');

// A 32 GB SD card, its boot partition and a 1 TB USB disk; fstype-agnostic, keyed by mountpoint.
const PI_DISKS: Record<string, StatfsLike> = {
  '/': { bsize: 4096, blocks: 7_600_000, bfree: 3_900_000, bavail: 3_590_000 },
  '/boot/firmware': { bsize: 4096, blocks: 130_554, bfree: 113_400, bavail: 113_400 },
  '/mnt/usb backup': { bsize: 4096, blocks: 244_190_000, bfree: 122_095_000, bavail: 109_885_500 },
};
const fakeStatfs = (disks: Record<string, StatfsLike>) => async (path: string) => {
  const s = disks[path];
  if (!s) throw Object.assign(new Error(`ENOENT: no such file or directory, statfs '${path}'`), { code: 'ENOENT' });
  return s;
};
const piInterfaces: NetworkInterfacesFn = () => ({
  lo: [{ address: '127.0.0.1', family: 'IPv4', cidr: '127.0.0.1/8', internal: true }],
  eth0: [
    { address: '192.168.1.100', family: 'IPv4', cidr: '192.168.1.100/24', internal: false },
    { address: 'fe80::dea6:32ff:fe4f:8b12', family: 'IPv6', cidr: 'fe80::dea6:32ff:fe4f:8b12/64', internal: false },
  ],
});
const piOptions = (over: Partial<CollectStatusOptions> = {}): CollectStatusOptions => ({
  ...tree(PI),
  statfs: fakeStatfs(PI_DISKS),
  networkInterfaces: piInterfaces,
  ...over,
});

const temps: string[] = [];
async function tempCopy(src: string): Promise<string> {
  const dir = await mkdtemp(join(os.tmpdir(), 'status-test-'));
  temps.push(dir);
  await cp(src, dir, { recursive: true });
  return dir;
}
async function tempTree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(os.tmpdir(), 'status-test-'));
  temps.push(dir);
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  return dir;
}
afterEach(async () => {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('collectStatus on a Raspberry Pi 4', () => {
  it('reports what a user sees on the Pi', async () => {
    const s = await collectStatus(piOptions({ capabilities: [{ name: 'status', enabled: true, active: true }] }));
    expect(s.errors).toEqual({});
    expect(s.hostname).toBe('pi4');
    expect(s.os).toEqual({ prettyName: 'Debian GNU/Linux 12 (bookworm)', id: 'debian', versionId: '12', versionCodename: 'bookworm' });
    expect(s.kernel).toMatchObject({ release: '6.6.51+rpt-rpi-v8', machine: 'aarch64' });
    expect(s.board).toEqual({ model: 'Raspberry Pi 4 Model B Rev 1.4', source: 'device-tree', revision: 'd03114' });
    // No earlier sample: the average since boot of the fixture's /proc/stat, over its uptime.
    expect(s.cpu).toEqual({ count: 4, models: ['Cortex-A72'], usagePercent: 1.5, iowaitPercent: 0.1, since: 'boot', sampleMs: 351_720_540 });
    expect(s.load).toEqual({ load1: 0.15, load5: 0.1, load15: 0.09, runnable: 1, tasks: 253 });
    expect(s.memory?.percent).toBe(12.9);
    expect(s.memory?.totalBytes).toBe(7998044 * 1024);
    expect(s.swap).toMatchObject({ totalBytes: 102396 * 1024, usedBytes: 13056 * 1024 });
    expect(s.disks).toEqual([
      { mountpoint: '/', device: '/dev/mmcblk0p2', fstype: 'ext4', readOnly: false, totalBytes: 7_600_000 * 4096, usedBytes: 3_700_000 * 4096, availableBytes: 3_590_000 * 4096, percent: 50.8 },
      { mountpoint: '/boot/firmware', device: '/dev/mmcblk0p1', fstype: 'vfat', readOnly: false, totalBytes: 130_554 * 4096, usedBytes: 17_154 * 4096, availableBytes: 113_400 * 4096, percent: 13.1 },
      { mountpoint: '/mnt/usb backup', device: '/dev/sda1', fstype: 'ext4', readOnly: false, totalBytes: 244_190_000 * 4096, usedBytes: 122_095_000 * 4096, availableBytes: 109_885_500 * 4096, percent: 52.6 },
    ]);
    // hwmon0 (cpu_thermal) mirrors thermal_zone0: one sensor, listed once.
    expect(s.temperatures).toEqual([{ sensor: 'cpu-thermal', celsius: 48.7, path: 'class/thermal/thermal_zone0/temp' }]);
    expect(s.uptime?.seconds).toBe(351720.54);
    expect(Date.parse(s.uptime!.bootedAt)).toBeLessThan(Date.now() - 351_000_000);
    expect(s.network).toEqual([
      {
        name: 'eth0',
        state: 'up',
        mac: 'dc:a6:32:4f:8b:12',
        mtu: 1500,
        speedMbps: 1000,
        addresses: [
          { family: 'ipv4', address: '192.168.1.100', cidr: '192.168.1.100/24' },
          { family: 'ipv6', address: 'fe80::dea6:32ff:fe4f:8b12', cidr: 'fe80::dea6:32ff:fe4f:8b12/64' },
        ],
      },
      { name: 'wlan0', state: 'dormant', mac: 'dc:a6:32:4f:8b:13', mtu: 1500, speedMbps: null, addresses: [] },
    ]);
    expect(s.listening).toEqual([
      { family: 'ipv4', address: '0.0.0.0', port: 22 },
      { family: 'ipv6', address: '::', port: 22 },
      { family: 'ipv6', address: '::', port: 8222 },
    ]);
    expect([...new Set(s.listening!.map((l) => l.port))]).toEqual([22, 8222]);
    expect(s.capabilities).toEqual([{ name: 'status', enabled: true, active: true }]);

    const text = formatStatusText(s);
    expect(text).toContain('pi4: Raspberry Pi 4 Model B Rev 1.4, Debian GNU/Linux 12 (bookworm), Linux 6.6.51+rpt-rpi-v8 aarch64');
    expect(text).toContain('up 4d 1h 42m; load 0.15 0.10 0.09; 4 CPUs Cortex-A72, 1.5% busy since boot; 48.7 °C (cpu-thermal)');
    expect(text).toContain('memory 1009.3 MiB of 7.6 GiB used (12.9%); swap 12.8 MiB of 100.0 MiB');
    expect(text).toContain('disks: / 50.8% of 29.0 GiB, /boot/firmware 13.1% of 510.0 MiB, /mnt/usb backup 52.6% of 931.5 GiB');
    expect(text).toContain('network: eth0 up 192.168.1.100/24, wlan0 dormant');
    expect(text).toContain('listening tcp: 22, 8222');
    expect(text.split('\n').length).toBeLessThanOrEqual(9);
  });

  it('measures CPU usage since the previous sample, without waiting', async () => {
    const dir = await tempCopy(PI);
    const stat = join(dir, 'proc/stat');
    const first = await readFile(stat, 'utf8');
    const state = createStatusState();
    let now = 0;
    const opts = piOptions({ ...tree(dir), state, now: () => now });
    // Real timers are faked: a sleep anywhere in collectStatus would never end, and the test fail.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    expect((await collectStatus(opts)).cpu).toMatchObject({ since: 'boot', usagePercent: 1.5, sampleMs: 351_720_540 });

    // 2.5 s later, 1000 ticks on four cores: 50 user + 20 system busy, 10 in iowait, the rest idle.
    now = 2500;
    const later = first.replace('cpu  1403422 2150 612877 137418851 84260', 'cpu  1403472 2150 612897 137419771 84270');
    await writeFile(stat, later);
    const s = await collectStatus(opts);
    expect(s.errors).toEqual({});
    expect(s.cpu).toEqual({ count: 4, models: ['Cortex-A72'], usagePercent: 7, iowaitPercent: 1, since: 'previous-sample', sampleMs: 2500 });
    expect(formatStatusText(s)).toContain('4 CPUs Cortex-A72, 7% busy over 2.5 s');

    // 10 ms later another 1000 ticks, all idle: too short an interval after the last sample, so
    // usage is measured against the one before it, 2510 ms back (70 busy, 10 iowait of 2000 ticks).
    now = 2510;
    await writeFile(stat, later.replace('cpu  1403472 2150 612897 137419771 84270', 'cpu  1403472 2150 612897 137420771 84270'));
    expect((await collectStatus(opts)).cpu).toMatchObject({ usagePercent: 3.5, iowaitPercent: 0.5, since: 'previous-sample', sampleMs: 2510 });
    expect(state.cpu.newer?.atMs).toBe(2500);
    expect(state.cpu.older?.atMs).toBe(0);
  });

  it('reads os-release, kernel, board and CPU models once per state, and the rest on every call', async () => {
    const dir = await tempCopy(PI);
    const state = createStatusState();
    const opts = piOptions({ ...tree(dir), state });
    const first = await collectStatus(opts);
    expect(first.errors).toEqual({});
    // Remove what is cached and change what is not: a second call reports the cached facts.
    for (const p of ['etc/os-release', 'proc/sys/kernel/osrelease', 'proc/sys/kernel/arch', 'proc/device-tree/model', 'proc/cpuinfo']) await rm(join(dir, p));
    await writeFile(join(dir, 'proc/sys/kernel/hostname'), 'renamed\n');
    await writeFile(join(dir, 'proc/loadavg'), '2.50 1.00 0.50 3/300 999\n');
    const second = await collectStatus(opts);
    expect(second.errors).toEqual({});
    expect(second.os).toEqual(first.os);
    expect(second.kernel).toEqual(first.kernel);
    expect(second.board).toEqual({ model: 'Raspberry Pi 4 Model B Rev 1.4', source: 'device-tree', revision: 'd03114' });
    expect(second.cpu).toMatchObject({ count: 4, models: ['Cortex-A72'] });
    expect(second.hostname).toBe('renamed');
    expect(second.load?.load1).toBe(2.5);
    // Without a state nothing is cached, and the missing files are reported.
    const fresh = await collectStatus(piOptions(tree(dir)));
    expect(Object.keys(fresh.errors).sort()).toEqual(['cpu', 'kernel', 'os']);
    expect(fresh.errors.cpu).toMatch(/^cpuinfo: ENOENT/);
    expect(fresh.cpu).toMatchObject({ count: 4, models: [] });
    expect(fresh.board).toBeNull();
  });

  it('reads only the slower sections asked for, and keeps each for maxAgeMs', async () => {
    let dumps = 0;
    let statfsCalls = 0;
    const state = createStatusState();
    let now = 0;
    const opts = piOptions({
      state,
      now: () => now,
      maxAgeMs: 5000,
      networkInterfaces: () => (dumps++, piInterfaces()),
      statfs: (p) => (statfsCalls++, fakeStatfs(PI_DISKS)(p)),
    });
    const first = await collectStatus({ ...opts, sections: ['disks', 'temperatures'] });
    expect(first.network).toBeNull();
    expect(first.listening).toBeNull();
    expect(first.disks).toHaveLength(3);
    expect(first.cached).toMatchObject({ sections: ['disks', 'temperatures'], ageMs: 0 });
    expect(dumps).toBe(0);
    expect(statfsCalls).toBe(3);
    now = 1000;
    const second = await collectStatus({ ...opts, sections: ['disks', 'temperatures', 'network'] });
    // Disks from the kept reading (1 s old), network read now: the answer states the older.
    expect(statfsCalls).toBe(3);
    expect(dumps).toBe(1);
    expect(second.network).toHaveLength(2);
    expect(second.cached).toMatchObject({ sections: ['disks', 'temperatures', 'network'], ageMs: 1000 });
    // The text (what a model reads) says so too; an answer read now says nothing of the kind.
    expect(formatStatusText(second)).toContain('\ndisks, temperatures, network: read up to 1.0 s ago (fresh: true reads them now)');
    expect(formatStatusText(first)).not.toMatch(/ ago/);
    now = 6000;
    await collectStatus({ ...opts, sections: ['disks', 'network'] });
    // The disks are 6 s old: read again; the network reading (5 s old) too.
    expect(statfsCalls).toBe(6);
    expect(dumps).toBe(2);
  });

  it('reports a missing /proc/stat in errors and keeps the CPU count from cpuinfo', async () => {
    const dir = await tempCopy(PI);
    await rm(join(dir, 'proc/stat'));
    const s = await collectStatus(piOptions(tree(dir)));
    expect(Object.keys(s.errors)).toEqual(['cpu']);
    expect(s.errors.cpu).toMatch(/^stat: ENOENT/);
    expect(s.cpu).toEqual({ count: 4, models: ['Cortex-A72'], usagePercent: null, iowaitPercent: null, since: 'boot', sampleMs: null });
    expect(s.memory?.percent).toBe(12.9);
  });

  it('reports a missing /sys in errors and still returns everything read from /proc', async () => {
    const s = await collectStatus(piOptions({ sysRoot: join(PI, 'no-such-sys') }));
    expect(Object.keys(s.errors).sort()).toEqual(['network', 'temperatures']);
    expect(s.errors.temperatures).toMatch(/no thermal zones or hwmon sensors: ENOENT/);
    expect(s.temperatures).toBeNull();
    expect(s.network).toBeNull();
    expect(s.board?.model).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(s.memory?.percent).toBe(12.9);
    expect(s.listening?.map((l) => l.port)).toEqual([22, 22, 8222]);
    expect(formatStatusText(s)).toMatch(/incomplete: .*temperatures: no thermal zones/);
  });

  it('skips a TCP table when sockstat says the family has no socket in use', async () => {
    const dir = await tempCopy(PI);
    await writeFile(join(dir, 'proc/net/sockstat'), 'sockets: used 160\nTCP: inuse 3 orphan 0 tw 2 alloc 5 mem 1\nUDP: inuse 2 mem 1\n');
    await writeFile(join(dir, 'proc/net/sockstat6'), 'TCP6: inuse 0\nUDP6: inuse 1\n');
    const s = await collectStatus(piOptions(tree(dir)));
    expect(s.errors).toEqual({});
    expect(s.listening).toEqual([{ family: 'ipv4', address: '0.0.0.0', port: 22 }]);
    // Not even opened: a missing tcp6 is no error when no IPv6 TCP socket exists.
    await rm(join(dir, 'proc/net/tcp6'));
    expect((await collectStatus(piOptions(tree(dir)))).listening).toEqual([{ family: 'ipv4', address: '0.0.0.0', port: 22 }]);
  });

  it('falls back to the hwmon sensor when there are no thermal zones', async () => {
    const dir = await tempCopy(PI);
    await rm(join(dir, 'sys/class/thermal'), { recursive: true });
    const s = await collectStatus(piOptions(tree(dir)));
    expect(s.errors).toEqual({});
    expect(s.temperatures).toEqual([{ sensor: 'cpu_thermal', celsius: 48.7, path: 'class/hwmon/hwmon0/temp1_input' }]);
  });

  it('reports a failing statfs in errors and keeps the other disks', async () => {
    const s = await collectStatus(
      piOptions({
        statfs: async (p) => {
          if (p === '/boot/firmware') throw new Error('EIO: i/o error, statfs');
          return PI_DISKS[p]!;
        },
      }),
    );
    expect(s.errors).toEqual({ disks: '/boot/firmware: EIO: i/o error, statfs' });
    expect(s.disks?.map((d) => d.mountpoint)).toEqual(['/', '/mnt/usb backup']);
    expect(s.memory).not.toBeNull();
    expect(s.hostname).toBe('pi4');
  });

  it('gives up on a hung mount and does not stat it again while the first call hangs', async () => {
    let release: () => void = () => {};
    const hung = new Promise<void>((r) => (release = r));
    let calls = 0;
    const statfs = async (p: string): Promise<StatfsLike> => {
      if (p === '/mnt/usb backup') {
        calls++;
        await hung;
      }
      return PI_DISKS[p]!;
    };
    const first = await collectStatus(piOptions({ statfs, statfsTimeoutMs: 50 }));
    expect(first.errors.disks).toBe('/mnt/usb backup: statfs timed out after 50 ms');
    expect(first.disks?.map((d) => d.mountpoint)).toEqual(['/', '/boot/firmware']);
    const second = await collectStatus(piOptions({ statfs, statfsTimeoutMs: 50 }));
    expect(second.errors.disks).toMatch(/\/mnt\/usb backup: an earlier statfs has not returned yet/);
    expect(calls).toBe(1);
    release();
    await new Promise((r) => setTimeout(r, 10));
    const third = await collectStatus(piOptions({ statfs, statfsTimeoutMs: 50 }));
    expect(third.errors).toEqual({});
    expect(calls).toBe(2);
  });

  it('gives up on the disks section when it takes too long and returns the rest', async () => {
    const s = await collectStatus(piOptions({ sectionTimeoutMs: 100, statfsTimeoutMs: 60_000, statfs: () => new Promise(() => {}) }));
    expect(s.errors).toEqual({ disks: 'timed out after 100 ms' });
    expect(s.disks).toBeNull();
    expect(s.load?.load1).toBe(0.15);
    expect(s.cpu?.count).toBe(4);
  });
});

describe('collectStatus on the x86 VM capture', () => {
  it('reports a VM without board model, sensors or swap', async () => {
    const s = await collectStatus({
      ...tree(VM),
      statfs: fakeStatfs({ '/': { bsize: 4096, blocks: 2_621_440, bfree: 2_000_000, bavail: 1_900_000 } }),
      networkInterfaces: () => ({ eth0: [{ address: '10.0.2.15', family: 'IPv4', cidr: '10.0.2.15/24', internal: false }] }),
    });
    expect(s.errors).toEqual({});
    expect(s.hostname).toBe('vm');
    expect(s.os?.prettyName).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(s.kernel).toMatchObject({ release: '6.18.44-fc-v445', machine: 'x86_64' });
    expect(s.board).toBeNull();
    expect(s.cpu).toMatchObject({ count: 2, models: ['Intel(R) Xeon(R) Processor'] });
    expect(s.swap?.totalBytes).toBe(0);
    expect(s.disks).toEqual([expect.objectContaining({ mountpoint: '/', device: '/dev/vda', fstype: 'ext4', percent: 24.6 })]);
    expect(s.temperatures).toEqual([]);
    // virtio reports speed -1 and ifb0 has none: both unknown.
    expect(s.network?.map((n) => [n.name, n.state, n.speedMbps, n.addresses.length])).toEqual([
      ['eth0', 'up', null, 1],
      ['ifb0', 'down', null, 0],
    ]);
    expect(s.listening).toEqual([{ family: 'ipv4', address: '0.0.0.0', port: 2024 }]);
    expect(s.capabilities).toBeNull();
    const text = formatStatusText(s);
    expect(text).not.toContain('swap');
    expect(text).toContain('listening tcp: 2024');
  });

  it('names an x86 box from DMI, skipping firmware placeholders', async () => {
    const qemu = await tempTree({ 'sys/class/dmi/id/sys_vendor': 'QEMU\n', 'sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n' });
    const a = await collectStatus({ ...tree(VM), sysRoot: join(qemu, 'sys'), statfs: fakeStatfs({}) });
    expect(a.board).toEqual({ model: 'QEMU Standard PC (Q35 + ICH9, 2009)', source: 'dmi' });

    const asrock = await tempTree({
      'sys/class/dmi/id/sys_vendor': 'To Be Filled By O.E.M.\n',
      'sys/class/dmi/id/product_name': 'To Be Filled By O.E.M.\n',
      'sys/class/dmi/id/board_vendor': 'ASRock\n',
      'sys/class/dmi/id/board_name': 'J4125-ITX\n',
    });
    const b = await collectStatus({ ...tree(VM), sysRoot: join(asrock, 'sys'), statfs: fakeStatfs({}) });
    expect(b.board).toEqual({ model: 'ASRock J4125-ITX', source: 'dmi' });
  });

  it('reads labelled hwmon sensors next to a thermal zone', async () => {
    const dir = await tempTree({
      'sys/class/thermal/thermal_zone0/type': 'x86_pkg_temp\n',
      'sys/class/thermal/thermal_zone0/temp': '51000\n',
      'sys/class/hwmon/hwmon1/name': 'coretemp\n',
      'sys/class/hwmon/hwmon1/temp1_input': '51000\n',
      'sys/class/hwmon/hwmon1/temp1_label': 'Package id 0\n',
      'sys/class/hwmon/hwmon1/temp2_input': '47000\n',
      'sys/class/hwmon/hwmon1/temp2_label': 'Core 0\n',
      'sys/class/hwmon/hwmon10/name': 'nvme\n',
      'sys/class/hwmon/hwmon10/temp1_input': '38850\n',
      'sys/class/hwmon/hwmon10/temp1_label': 'Composite\n',
      'sys/class/hwmon/hwmon2/name': 'acpitz\n',
      'sys/class/hwmon/hwmon2/temp1_input': '27800\n',
      'sys/class/hwmon/hwmon2/temp2_input': '29800\n',
    });
    const s = await collectStatus({ ...tree(VM), sysRoot: join(dir, 'sys'), statfs: fakeStatfs({}) });
    expect(s.temperatures).toEqual([
      { sensor: 'x86_pkg_temp', celsius: 51, path: 'class/thermal/thermal_zone0/temp' },
      { sensor: 'coretemp Package id 0', celsius: 51, path: 'class/hwmon/hwmon1/temp1_input' },
      { sensor: 'coretemp Core 0', celsius: 47, path: 'class/hwmon/hwmon1/temp2_input' },
      { sensor: 'acpitz temp1', celsius: 27.8, path: 'class/hwmon/hwmon2/temp1_input' },
      { sensor: 'acpitz temp2', celsius: 29.8, path: 'class/hwmon/hwmon2/temp2_input' },
      { sensor: 'nvme Composite', celsius: 38.9, path: 'class/hwmon/hwmon10/temp1_input' },
    ]);
  });

  it('falls back to /usr/lib/os-release beside etc', async () => {
    const dir = await tempTree({ 'etc/hostname': 'x\n', 'usr/lib/os-release': 'PRETTY_NAME="Alpine Linux v3.20"\nID=alpine\nVERSION_ID=3.20.3\n' });
    const s = await collectStatus({ ...tree(VM), etcRoot: join(dir, 'etc'), statfs: fakeStatfs({}) });
    expect(s.os).toEqual({ prettyName: 'Alpine Linux v3.20', id: 'alpine', versionId: '3.20.3', versionCodename: null });
  });
});

describe('collectStatus on this machine', () => {
  it('reads the real /proc and /sys', async () => {
    const s = await collectStatus();
    expect(s.hostname).toBe(os.hostname());
    expect(s.disks?.length).toBeGreaterThanOrEqual(1);
    expect(s.disks?.every((d) => d.totalBytes > 0)).toBe(true);
    expect(s.cpu?.count).toBe(os.cpus().length);
    expect(s.cpu).toMatchObject({ since: 'boot', sampleMs: expect.any(Number) });
    expect(s.cpu!.usagePercent).toBeGreaterThanOrEqual(0);
    expect(s.cpu!.usagePercent).toBeLessThanOrEqual(100);
    expect(s.memory?.totalBytes).toBe(os.totalmem());
    expect(s.uptime?.seconds).toBeGreaterThan(0);
    expect(s.os?.prettyName).toBeTruthy();
    expect(s.errors.hostname).toBeUndefined();
    expect(s.errors.memory).toBeUndefined();
  });
});
