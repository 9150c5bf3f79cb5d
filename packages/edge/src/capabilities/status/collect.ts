/**
 * Collects the status of this device from /proc, /sys and /etc, node_exporter style: each
 * section is read on its own, and a section that fails (a missing file, a hung NFS mount, a
 * sensor that errors) is reported in `errors` while every other section still comes back.
 * The roots are options so the whole collector runs on fixture trees in tests.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { listDir, readAttr, readBounded } from './read-bounded.ts';
import { cpuUsagePercent, parseCpuStat, parseCpuinfo, parseLoadavg, parseMeminfo, parseUptime, type CpuInfo, type LoadAvg, type MemInfo } from './proc-parsers.ts';
import { parseProcNetTcp, sortListening, type ListeningSocket } from './proc-net-tcp.ts';
import { parseOsRelease } from './os-release.ts';
import { diskUsage, parseMounts, selectDisks, type DiskUsage, type StatfsLike } from './mounts.ts';

import type { CapabilityReport } from '../../capability.ts';

/** Network interface addresses, shaped like `os.networkInterfaces()`. */
export type NetworkInterfacesFn = () => NodeJS.Dict<Array<Pick<os.NetworkInterfaceInfo, 'address' | 'cidr' | 'internal'> & { family: string | number }>>;

/** Where to read from and what to use instead of the real system; every field has a default. */
export interface CollectStatusOptions {
  /** Default `/proc`. */
  procRoot?: string;
  /** Default `/sys`. */
  sysRoot?: string;
  /** Default `/etc`; os-release falls back to `<etcRoot>/../usr/lib/os-release`, i.e. `/usr/lib/os-release`. */
  etcRoot?: string;
  /** Sizes of the filesystem mounted at a path; default `fs.promises.statfs`. */
  statfs?: (path: string) => Promise<StatfsLike>;
  /** Default `os.networkInterfaces`. */
  networkInterfaces?: NetworkInterfacesFn;
  /** Overrides the hostname read from `<procRoot>/sys/kernel/hostname`. */
  hostname?: string;
  /** Time between the two /proc/stat samples of CPU usage; default 100 ms. */
  cpuSampleMs?: number;
  /** Waits between the CPU samples; tests replace it to change /proc/stat in between. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Deadline of one statfs; default 1500 ms (a dead NFS server blocks statfs indefinitely). */
  statfsTimeoutMs?: number;
  /** Deadline of one section; default 3000 ms (some I2C sensors take long to read). */
  sectionTimeoutMs?: number;
  /** The edge's capabilities, reported as given; the section is null when absent. */
  capabilities?: CapabilityReport[];
  signal?: AbortSignal;
}

/** From os-release; `prettyName` is what people call the system. */
export interface OsInfo {
  prettyName: string | null;
  id: string | null;
  versionId: string | null;
  versionCodename: string | null;
}

/** The running kernel. */
export interface KernelInfo {
  release: string;
  /** The kernel's machine (`uname -m`): `aarch64`, `x86_64`, `armv7l`. */
  machine: string;
  /** Node's architecture, which differs from `machine` on a 32-bit userland over a 64-bit kernel. */
  processArch: string;
}

/** The hardware model: device tree on ARM boards, DMI on PCs. */
export interface BoardInfo {
  model: string;
  source: 'device-tree' | 'cpuinfo' | 'dmi';
  /** The Raspberry Pi revision code (encodes model, RAM size and maker), when cpuinfo has one. */
  revision?: string;
}

/** Online CPUs, their core names and how busy they were over the sample. */
export interface CpuSection {
  count: number;
  models: string[];
  /** Busy share of all CPUs over the sample interval; null when nothing was measured. */
  usagePercent: number | null;
  iowaitPercent: number | null;
  sampleMs: number;
}

/** One mounted filesystem and its sizes. */
export interface Disk extends DiskUsage {
  mountpoint: string;
  device: string;
  fstype: string;
  /** Mounted read-only, e.g. an SD card the kernel remounted `ro` after I/O errors. */
  readOnly: boolean;
}

/** One sensor reading in °C, rounded to 0.1. */
export interface Temperature {
  /** Thermal zone type, or hwmon name and label (`coretemp Package id 0`). */
  sensor: string;
  celsius: number;
  /** Where it was read, relative to sysRoot. */
  path: string;
}

/** One network interface from sysfs, with its addresses from `os.networkInterfaces()`. */
export interface NetInterface {
  name: string;
  /** `up`, `down`, `dormant`, `unknown` (sysfs operstate). */
  state: string | null;
  mac: string | null;
  mtu: number | null;
  /** Link speed in Mbit/s; null for wireless, virtual or down links. */
  speedMbps: number | null;
  addresses: Array<{ family: 'ipv4' | 'ipv6'; address: string; cidr: string | null }>;
}

/** What `get_status` returns. A section is null when it failed (see `errors`) or does not apply. */
export interface StatusReport {
  hostname: string | null;
  os: OsInfo | null;
  kernel: KernelInfo | null;
  /** Null on a machine that exposes no model (many VMs). */
  board: BoardInfo | null;
  cpu: CpuSection | null;
  load: LoadAvg | null;
  memory: MemInfo['memory'] | null;
  swap: MemInfo['swap'] | null;
  disks: Disk[] | null;
  temperatures: Temperature[] | null;
  uptime: { seconds: number; bootedAt: string } | null;
  network: NetInterface[] | null;
  listening: ListeningSocket[] | null;
  capabilities: CapabilityReport[] | null;
  /** Section name -> why it failed or is incomplete. */
  errors: Record<string, string>;
}

// Mountpoints whose statfs is still running from an earlier call, per statfs function: a hung
// NFS mount pins a libuv thread, and asking again on every call would pin all four and stall
// every file operation of the edge.
const pendingStatfs = new WeakMap<object, Set<string>>();

const DMI_PLACEHOLDERS = /^(to be filled by o\.e\.m\.|default string|system product name|system manufacturer|not applicable|none|unknown|0+)$/i;

/**
 * @example const s = await collectStatus({ procRoot: '/proc', sysRoot: '/sys', etcRoot: '/etc' }); s.memory?.percent
 */
export async function collectStatus(opts: CollectStatusOptions = {}): Promise<StatusReport> {
  const procRoot = opts.procRoot ?? '/proc';
  const sysRoot = opts.sysRoot ?? '/sys';
  const etcRoot = opts.etcRoot ?? '/etc';
  const signal = opts.signal;
  const errors: Record<string, string> = {};
  const proc = (p: string) => join(procRoot, p);
  const sys = (p: string) => join(sysRoot, p);
  const read = (path: string) => readBounded(path, undefined, signal);
  const sectionTimeoutMs = opts.sectionTimeoutMs ?? 3000;

  // Read once, shared by the cpu and board sections.
  let cpuinfoPromise: Promise<CpuInfo> | undefined;
  const cpuinfo = () => (cpuinfoPromise ??= read(proc('cpuinfo')).then(parseCpuinfo));

  async function section<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${sectionTimeoutMs} ms`)), sectionTimeoutMs);
      });
      return await Promise.race([fn(), deadline]);
    } catch (err) {
      errors[name] = errorText(err);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  const hostname = section('hostname', async () => {
    if (opts.hostname !== undefined) return opts.hostname;
    return (await readAttr(proc('sys/kernel/hostname'), signal)) || os.hostname();
  });

  const osInfo = section('os', async () => {
    let text: string;
    try {
      text = await read(join(etcRoot, 'os-release'));
    } catch (first) {
      try {
        text = await read(join(etcRoot, '..', 'usr/lib/os-release'));
      } catch {
        throw first;
      }
    }
    const r = parseOsRelease(text);
    return {
      prettyName: r.PRETTY_NAME ?? r.NAME ?? null,
      id: r.ID ?? null,
      versionId: r.VERSION_ID ?? null,
      versionCodename: r.VERSION_CODENAME ?? null,
    };
  });

  const kernel = section('kernel', async () => ({
    release: (await read(proc('sys/kernel/osrelease'))).trim(),
    // kernel.arch exists since Linux 6.1 and keeps fixture trees self-contained; os.machine() needs Node 18.9.
    machine:
      (await readAttr(proc('sys/kernel/arch'), signal)) ||
      (typeof os.machine === 'function' ? os.machine() : process.arch),
    processArch: process.arch,
  }));

  const board = section('board', async (): Promise<BoardInfo | null> => {
    const info = await cpuinfo().catch(() => undefined);
    const revision = info?.board?.revision;
    const withRevision = (b: BoardInfo): BoardInfo => (revision ? { ...b, revision } : b);
    // /proc/device-tree is a link to /sys/firmware/devicetree/base; either may be missing in a container.
    for (const p of [proc('device-tree/model'), sys('firmware/devicetree/base/model')]) {
      const model = await readAttr(p, signal);
      if (model) return withRevision({ model, source: 'device-tree' });
    }
    if (info?.board?.model) return withRevision({ model: info.board.model, source: 'cpuinfo' });
    const dmi = async (vendorFile: string, nameFile: string) => {
      const clean = (s: string | undefined) => (s && !DMI_PLACEHOLDERS.test(s) ? s : undefined);
      const vendor = clean(await readAttr(sys(`class/dmi/id/${vendorFile}`), signal));
      const name = clean(await readAttr(sys(`class/dmi/id/${nameFile}`), signal));
      if (!name) return undefined;
      return vendor && !name.startsWith(vendor) ? `${vendor} ${name}` : name;
    };
    const model = (await dmi('sys_vendor', 'product_name')) ?? (await dmi('board_vendor', 'board_name'));
    return model ? { model, source: 'dmi' } : null;
  });

  const cpuSampleMs = opts.cpuSampleMs ?? 100;
  const cpu = section('cpu', async (): Promise<CpuSection> => {
    const [info, first] = await Promise.allSettled([cpuinfo(), read(proc('stat')).then(parseCpuStat)]);
    if (info.status === 'rejected' && first.status === 'rejected') throw first.reason;
    const problems: string[] = [];
    if (info.status === 'rejected') problems.push(`cpuinfo: ${errorText(info.reason)}`);
    let usage = null;
    if (first.status === 'fulfilled') {
      try {
        await (opts.sleep ?? ((ms, s) => sleepMs(ms, undefined, { signal: s })))(cpuSampleMs, signal);
        const second = parseCpuStat(await read(proc('stat')));
        usage = cpuUsagePercent(first.value.total, second.total);
      } catch (err) {
        problems.push(`second stat sample: ${errorText(err)}`);
      }
    } else {
      problems.push(`stat: ${errorText(first.reason)}`);
    }
    if (problems.length > 0) errors.cpu = problems.join('; ');
    const fromInfo = info.status === 'fulfilled' ? info.value : undefined;
    const count = fromInfo?.count || (first.status === 'fulfilled' ? first.value.perCpu.length : 0);
    return {
      count,
      models: fromInfo?.models ?? [],
      usagePercent: usage?.usagePercent ?? null,
      iowaitPercent: usage?.iowaitPercent ?? null,
      sampleMs: cpuSampleMs,
    };
  });

  const load = section('load', async () => parseLoadavg(await read(proc('loadavg'))));
  const mem = section('memory', async () => parseMeminfo(await read(proc('meminfo'))));

  const uptime = section('uptime', async () => {
    const seconds = parseUptime(await read(proc('uptime')));
    return { seconds, bootedAt: new Date(Math.round((Date.now() - seconds * 1000) / 1000) * 1000).toISOString() };
  });

  const disks = section('disks', async (): Promise<Disk[]> => {
    let text: string;
    try {
      text = await read(proc('mounts'));
    } catch {
      text = await read(proc('self/mounts'));
    }
    const statfs = opts.statfs ?? defaultStatfs();
    const pending = pendingStatfs.get(statfs) ?? new Set<string>();
    pendingStatfs.set(statfs, pending);
    const timeoutMs = opts.statfsTimeoutMs ?? 1500;
    const failures: string[] = [];
    const results = await Promise.all(
      selectDisks(parseMounts(text)).map(async (m): Promise<Disk | undefined> => {
        if (pending.has(m.mountpoint)) {
          failures.push(`${m.mountpoint}: an earlier statfs has not returned yet (hung network mount?)`);
          return undefined;
        }
        pending.add(m.mountpoint);
        const call = statfs(m.mountpoint).finally(() => pending.delete(m.mountpoint));
        try {
          const usage = diskUsage(await withTimeout(call, timeoutMs, 'statfs'));
          // Zero-sized filesystems (some fuse helpers) hold no data worth a line.
          if (usage.totalBytes === 0) return undefined;
          return { mountpoint: m.mountpoint, device: m.device, fstype: m.fstype, readOnly: m.options.includes('ro'), ...usage };
        } catch (err) {
          failures.push(`${m.mountpoint}: ${errorText(err)}`);
          return undefined;
        }
      }),
    );
    if (failures.length > 0) errors.disks = failures.join('; ');
    return results.filter((d): d is Disk => d !== undefined);
  });

  const temperatures = section('temperatures', async (): Promise<Temperature[]> => {
    const out: Temperature[] = [];
    const zoneTypes = new Set<string>();
    const [zones, hwmons] = await Promise.allSettled([listDir(sys('class/thermal')), listDir(sys('class/hwmon'))]);
    if (zones.status === 'rejected' && hwmons.status === 'rejected') {
      throw new Error(`no thermal zones or hwmon sensors: ${errorText(zones.reason)}; ${errorText(hwmons.reason)}`);
    }
    for (const zone of zones.status === 'fulfilled' ? zones.value.filter((n) => /^thermal_zone\d+$/.test(n)) : []) {
      const type = (await readAttr(sys(`class/thermal/${zone}/type`), signal)) || zone;
      const celsius = milliToCelsius(await readAttr(sys(`class/thermal/${zone}/temp`), signal));
      if (celsius === undefined) continue;
      zoneTypes.add(type);
      out.push({ sensor: type, celsius, path: `class/thermal/${zone}/temp` });
    }
    for (const hw of hwmons.status === 'fulfilled' ? hwmons.value.filter((n) => /^hwmon\d+$/.test(n)) : []) {
      const dir = `class/hwmon/${hw}`;
      const name = (await readAttr(sys(`${dir}/name`), signal)) || (await readAttr(sys(`${dir}/device/name`), signal)) || hw;
      // The kernel mirrors each thermal zone as a hwmon named after its type with '-' turned
      // into '_' (cpu-thermal -> cpu_thermal): the same sensor, so it is listed once.
      if (zoneTypes.has(name.replace(/_/g, '-')) || zoneTypes.has(name)) continue;
      const inputs = (await listDir(sys(dir)).catch(() => [])).filter((f) => /^temp\d+_input$/.test(f));
      for (const input of inputs) {
        const celsius = milliToCelsius(await readAttr(sys(`${dir}/${input}`), signal));
        if (celsius === undefined) continue;
        const label = await readAttr(sys(`${dir}/${input.replace('_input', '_label')}`), signal);
        const sensor = label ? `${name} ${label}` : inputs.length > 1 ? `${name} ${input.replace('_input', '')}` : name;
        out.push({ sensor, celsius, path: `${dir}/${input}` });
      }
    }
    return out;
  });

  const network = section('network', async (): Promise<NetInterface[]> => {
    const addrs = (opts.networkInterfaces ?? os.networkInterfaces)();
    const names = await listDir(sys('class/net'));
    const out: NetInterface[] = [];
    // lo is always there; veth* are the host ends of container links, one per container.
    for (const name of names.filter((n) => n !== 'lo' && !n.startsWith('veth'))) {
      const attr = (f: string) => readAttr(sys(`class/net/${name}/${f}`), signal);
      const [state, mac, mtu, speed] = await Promise.all([attr('operstate'), attr('address'), attr('mtu'), attr('speed')]);
      const speedMbps = speed !== undefined && /^\d+$/.test(speed) && Number(speed) > 0 ? Number(speed) : null;
      out.push({
        name,
        state: state || null,
        mac: mac && mac !== '00:00:00:00:00:00' ? mac : null,
        mtu: mtu && /^\d+$/.test(mtu) ? Number(mtu) : null,
        speedMbps,
        addresses: (addrs[name] ?? []).map((a) => ({
          // Node 18.0-18.3 reported family as the number 4 or 6.
          family: a.family === 'IPv4' || a.family === 4 ? ('ipv4' as const) : ('ipv6' as const),
          address: a.address,
          cidr: a.cidr ?? null,
        })),
      });
    }
    return out;
  });

  const listening = section('listening', async () => {
    const endianness = os.endianness();
    const [v4, v6] = await Promise.allSettled([read(proc('net/tcp')), read(proc('net/tcp6'))]);
    if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
    // tcp6 is absent when IPv6 is disabled on the kernel command line: not an error.
    const all = [
      ...(v4.status === 'fulfilled' ? parseProcNetTcp(v4.value, 'ipv4', endianness) : []),
      ...(v6.status === 'fulfilled' ? parseProcNetTcp(v6.value, 'ipv6', endianness) : []),
    ];
    if (v4.status === 'rejected') errors.listening = `tcp: ${errorText(v4.reason)}`;
    return sortListening(all);
  });

  const [h, o, k, b, c, l, m, d, t, u, n, ls] = await Promise.all([
    hostname, osInfo, kernel, board, cpu, load, mem, disks, temperatures, uptime, network, listening,
  ]);
  return {
    hostname: h,
    os: o,
    kernel: k,
    board: b,
    cpu: c,
    load: l,
    memory: m?.memory ?? null,
    swap: m?.swap ?? null,
    disks: d,
    temperatures: t,
    uptime: u,
    network: n,
    listening: ls,
    capabilities: opts.capabilities ?? null,
    // A copy: a section that timed out may still finish later and must not change an answer already sent.
    errors: { ...errors },
  };
}

function defaultStatfs(): (path: string) => Promise<StatfsLike> {
  // fs.promises.statfs arrived in Node 18.15; older 18.x gets a clear section error.
  if (typeof fsp.statfs === 'function') return fsp.statfs as (path: string) => Promise<StatfsLike>;
  return unsupportedStatfs;
}

async function unsupportedStatfs(): Promise<StatfsLike> {
  throw new Error('fs.statfs needs Node 18.15 or newer');
}

function milliToCelsius(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Math.round(Number(v) / 100) / 10;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
