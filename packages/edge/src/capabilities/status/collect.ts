/**
 * Collects the status of this device from /proc, /sys and /etc, node_exporter style: each
 * section is read on its own, and a section that fails (a missing file, a hung NFS mount, a
 * sensor that errors) is reported in `errors` while every other section still comes back.
 * The roots are options so the whole collector runs on fixture trees in tests.
 *
 * Cost per call is a target (`get_status` must answer faster than the Python baseline's four-file
 * `/status`), so:
 * - /proc and /sys are read synchronously (`read-bounded.ts`): they come from kernel memory, and
 *   a thread-pool round trip per file costs more than the read. Only `statfs` is asynchronous,
 *   with a deadline, because a dead network mount blocks it forever; it is started first and runs
 *   while the rest is read.
 * - Nothing sleeps. CPU usage is measured against the previous /proc/stat sample kept in a
 *   `StatusState` (seeded by the probe at start), and the report says over what interval.
 * - What cannot change while the edge runs (os-release, kernel, board, CPU models) is read once
 *   per `StatusState`.
 * - The slower sections (disks, temperatures, network, listening: a `statfs` per disk on the thread
 *   pool, a netlink dump, directory listings, the TCP tables) are read at most every `maxAgeMs`
 *   and kept in the state in between; the report says when they were read (`cached`). Load,
 *   memory, swap, uptime and CPU usage are read on every call.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { listDir, readAttr, readBounded, readKeptOpen, readTcpListenSection } from './read-bounded.ts';
import { cpuUsagePercent, parseCpuStat, parseCpuinfo, parseLoadavg, parseMeminfo, parseUptime, type CpuInfo, type CpuTimes, type CpuUsage, type LoadAvg, type MemInfo } from './proc-parsers.ts';
import { parseProcNetTcp, sortListening, type ListeningSocket } from './proc-net-tcp.ts';
import { parseOsRelease } from './os-release.ts';
import { diskUsage, parseMounts, selectDisks, type DiskUsage, type StatfsLike } from './mounts.ts';

import type { CapabilityReport } from '../../capability.ts';

/** Network interface addresses, shaped like `os.networkInterfaces()`. */
export type NetworkInterfacesFn = () => NodeJS.Dict<Array<Pick<os.NetworkInterfaceInfo, 'address' | 'cidr' | 'internal'> & { family: string | number }>>;

/** One /proc/stat sample: the aggregate CPU times and when they were read (monotonic ms). */
export interface CpuSample {
  times: CpuTimes;
  atMs: number;
}

/**
 * What the collector remembers between calls for one edge (the status capability keeps one per
 * EdgeEnv): the facts that cannot change while it runs, once read, and the two most recent
 * /proc/stat samples that CPU usage is measured against.
 */
export interface StatusState {
  fixed: { os?: OsInfo; kernel?: KernelInfo; board?: BoardInfo | null; cpuinfo?: CpuInfo };
  cpu: { newer?: CpuSample; older?: CpuSample };
  /** The slower sections as last read, each reused while younger than `maxAgeMs`. */
  slow: Partial<Record<SlowSection, KeptSection>>;
  /** A reading of the disks under way (statfs is asynchronous): calls that come meanwhile share it. */
  readingDisks?: Promise<KeptSection>;
}

/** The names of the slower sections (see the module comment), as `cached.sections` lists them. */
export const SLOW_SECTIONS = ['disks', 'temperatures', 'network', 'listening'] as const;
export type SlowSection = (typeof SLOW_SECTIONS)[number];

/** One slower section as read: its value (null when it failed), its error, and when. */
export interface KeptSection {
  value: unknown;
  error?: string;
  /** When it was read: monotonic ms (for the age) and wall-clock ms (for `cached.readAt`). */
  atMs: number;
  at: number;
}

/** A state with nothing read yet. */
export function createStatusState(): StatusState {
  return { fixed: {}, cpu: {}, slow: {} };
}

/**
 * Usage over a shorter interval is mostly noise (the kernel counts CPU time in 10 ms ticks), so a
 * sample only replaces the newest one kept when it is at least this much younger, and calls that
 * come faster than that are measured against the sample before (see `cpuBaseline`).
 */
export const MIN_CPU_INTERVAL_MS = 1000;

/** Monotonic milliseconds: a Pi without a real-time clock jumps years when NTP first syncs. */
export const monotonicMs = (): number => process.uptime() * 1000;

/**
 * The sample to measure usage against at `nowMs`: the newest one kept if it is at least
 * `MIN_CPU_INTERVAL_MS` old, else the one before it, else the newest however young.
 */
export function cpuBaseline(cpu: StatusState['cpu'], nowMs: number): CpuSample | undefined {
  if (cpu.newer && nowMs - cpu.newer.atMs >= MIN_CPU_INTERVAL_MS) return cpu.newer;
  return cpu.older ?? cpu.newer;
}

/** Keeps `sample` as the newest when the newest kept is at least `MIN_CPU_INTERVAL_MS` older. */
export function recordCpuSample(cpu: StatusState['cpu'], sample: CpuSample): void {
  if (cpu.newer && sample.atMs - cpu.newer.atMs < MIN_CPU_INTERVAL_MS) return;
  cpu.older = cpu.newer;
  cpu.newer = sample;
}

/** Where to read from and what to use instead of the real system; every field has a default. */
export interface CollectStatusOptions {
  /** Default `/proc`. */
  procRoot?: string;
  /** Default `/sys`. */
  sysRoot?: string;
  /** Default `/etc`; os-release falls back to `<etcRoot>/../usr/lib/os-release`, i.e. `/usr/lib/os-release`. */
  etcRoot?: string;
  /**
   * What to remember between calls (static facts, CPU samples); one per edge, for the same roots.
   * Without it nothing is cached and CPU usage is the average since boot.
   */
  state?: StatusState;
  /** Monotonic clock in ms for the CPU sample interval and the age of cached sections; default `monotonicMs`. */
  now?: () => number;
  /**
   * How old the slower sections kept in `state` may be, in ms, to be answered again; default 0:
   * read them for this call (they are then kept for the next one).
   */
  maxAgeMs?: number;
  /** The slower sections to answer (the others are null, and not read); default all. */
  sections?: readonly SlowSection[];
  /** Sizes of the filesystem mounted at a path; default `fs.promises.statfs`. */
  statfs?: (path: string) => Promise<StatfsLike>;
  /** Default `os.networkInterfaces`. */
  networkInterfaces?: NetworkInterfacesFn;
  /** Overrides the hostname read from `<procRoot>/sys/kernel/hostname`. */
  hostname?: string;
  /** Deadline of one statfs; default 1500 ms (a dead NFS server blocks statfs indefinitely). */
  statfsTimeoutMs?: number;
  /** Deadline of the disks section, the only one that waits (for statfs); default 3000 ms. */
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

/** Online CPUs, their core names and how busy they were. */
export interface CpuSection {
  count: number;
  models: string[];
  /** Busy share of all CPUs over the interval below; null when it could not be measured. */
  usagePercent: number | null;
  iowaitPercent: number | null;
  /**
   * What the usage is measured against: the previous /proc/stat sample (an earlier call, or the
   * probe at start), or, with none, boot: then it is the average since boot.
   */
  since: 'previous-sample' | 'boot';
  /** Length of that interval in ms: since the previous sample, or the uptime; null when unknown. */
  sampleMs: number | null;
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
  /**
   * When the slower sections answered (`sections`) were read, the oldest of them: `ageMs` 0 when
   * for this answer, else an earlier call read them, at most `maxAgeMs` before.
   */
  cached: { sections: readonly string[]; readAt: string; ageMs: number };
  /** Section name -> why it failed or is incomplete. */
  errors: Record<string, string>;
}

// Mountpoints whose statfs is still running from an earlier call, per statfs function: a hung
// NFS mount pins a libuv thread, and asking again on every call would pin all four and stall
// every file operation of the edge.
const pendingStatfs = new WeakMap<object, Set<string>>();

const DMI_PLACEHOLDERS = /^(to be filled by o\.e\.m\.|default string|system product name|system manufacturer|not applicable|none|unknown|0+)$/i;

const ZERO_TIMES: CpuTimes = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };

/**
 * @example const s = await collectStatus({ procRoot: '/proc', sysRoot: '/sys', etcRoot: '/etc', state }); s.memory?.percent
 */
export async function collectStatus(opts: CollectStatusOptions = {}): Promise<StatusReport> {
  opts.signal?.throwIfAborted();
  const procRoot = opts.procRoot ?? '/proc';
  const sysRoot = opts.sysRoot ?? '/sys';
  const etcRoot = opts.etcRoot ?? '/etc';
  const state = opts.state ?? createStatusState();
  const fixed = state.fixed;
  const errors: Record<string, string> = {};
  const proc = (p: string) => join(procRoot, p);
  const sys = (p: string) => join(sysRoot, p);
  // The files read on every call stay open on the real /proc (see readKeptOpen).
  const readHot = procRoot === '/proc' ? (p: string) => readKeptOpen(`/proc/${p}`) : (p: string) => readBounded(proc(p));

  /** Runs one synchronous section; a throw becomes its entry in `errors`. */
  function section<T>(name: string, fn: () => T): T | null {
    try {
      return fn();
    } catch (err) {
      errors[name] = errorText(err);
      return null;
    }
  }

  const nowMs = (opts.now ?? monotonicMs)();
  const maxAgeMs = opts.maxAgeMs ?? 0;
  const wanted = opts.sections ?? SLOW_SECTIONS;
  const slow: Partial<Record<SlowSection, KeptSection>> = {};
  for (const name of wanted) {
    const k = state.slow[name];
    if (k && maxAgeMs > 0 && nowMs - k.atMs < maxAgeMs) slow[name] = k;
  }
  // Started first: the statfs calls of a new reading run on the thread pool while the rest is read.
  const disks =
    wanted.includes('disks') && !slow.disks
      ? (state.readingDisks ??= readDisks(opts, proc, nowMs).finally(() => (state.readingDisks = undefined)))
      : undefined;

  // The kernel's hostname is what uname() answers (os.hostname), without opening a file.
  const hostname = section('hostname', () => {
    if (opts.hostname !== undefined) return opts.hostname;
    if (procRoot === '/proc') return os.hostname();
    return readAttr(proc('sys/kernel/hostname')) || os.hostname();
  });

  const osInfo = section('os', () => (fixed.os ??= readOsInfo(etcRoot)));

  const kernel = section('kernel', () =>
    (fixed.kernel ??= {
      release: readBounded(proc('sys/kernel/osrelease')).trim(),
      // kernel.arch exists since Linux 6.1 and keeps fixture trees self-contained; os.machine() needs Node 18.9.
      machine: readAttr(proc('sys/kernel/arch')) || (typeof os.machine === 'function' ? os.machine() : process.arch),
      processArch: process.arch,
    }),
  );

  // Read once per state, shared by the cpu and board sections; a failure is not kept.
  let cpuinfoError: unknown;
  const cpuinfo = (): CpuInfo | undefined => {
    if (fixed.cpuinfo || cpuinfoError !== undefined) return fixed.cpuinfo;
    try {
      return (fixed.cpuinfo = parseCpuinfo(readBounded(proc('cpuinfo'))));
    } catch (err) {
      cpuinfoError = err;
      return undefined;
    }
  };

  const board = section('board', () => {
    if (fixed.board !== undefined) return fixed.board;
    const info = cpuinfo();
    const b = readBoard(info, proc, sys);
    // Kept only when complete: without cpuinfo a Pi's revision (or its model) may be missing.
    if (info) fixed.board = b;
    return b;
  });

  const uptime = section('uptime', () => {
    const seconds = parseUptime(readHot('uptime'));
    return { seconds, bootedAt: new Date(Math.round((Date.now() - seconds * 1000) / 1000) * 1000).toISOString() };
  });

  const cpu = section('cpu', (): CpuSection => {
    let stat: ReturnType<typeof parseCpuStat> | undefined;
    let statError: unknown;
    try {
      stat = parseCpuStat(readHot('stat'));
    } catch (err) {
      statError = err;
    }
    const info = cpuinfo();
    if (!stat && !info) throw statError;
    const problems: string[] = [];
    if (!info) problems.push(`cpuinfo: ${errorText(cpuinfoError)}`);
    if (!stat) problems.push(`stat: ${errorText(statError)}`);
    if (problems.length > 0) errors.cpu = problems.join('; ');

    let usage: CpuUsage | null = null;
    let since: CpuSection['since'] = 'boot';
    let sampleMs: number | null = null;
    if (stat) {
      const base = cpuBaseline(state.cpu, nowMs);
      // null when no tick has passed since the baseline (two calls within 10 ms of the probe).
      usage = base ? cpuUsagePercent(base.times, stat.total) : null;
      if (usage && base) {
        since = 'previous-sample';
        sampleMs = Math.round(nowMs - base.atMs);
      } else {
        usage = cpuUsagePercent(ZERO_TIMES, stat.total);
        sampleMs = uptime ? Math.round(uptime.seconds * 1000) : null;
      }
      recordCpuSample(state.cpu, { times: stat.total, atMs: nowMs });
    }
    return {
      // /proc/stat lists the CPUs online now (they can be hot-plugged); cpuinfo is read once.
      count: stat?.perCpu.length || info?.count || 0,
      models: info?.models ?? [],
      usagePercent: usage?.usagePercent ?? null,
      iowaitPercent: usage?.iowaitPercent ?? null,
      since,
      sampleMs,
    };
  });

  const load = section('load', () => parseLoadavg(readHot('loadavg')));
  const mem = section('memory', () => parseMeminfo(readHot('meminfo')));

  for (const name of wanted) {
    if (name === 'disks' || slow[name]) continue;
    slow[name] = readSyncSection(name, opts, proc, sys, nowMs);
  }
  if (disks) slow.disks = await disks;
  let oldest: KeptSection | undefined;
  for (const name of wanted) {
    const k = slow[name]!;
    if (opts.state) state.slow[name] = k;
    if (k.error !== undefined) errors[name] = k.error;
    if (!oldest || k.atMs < oldest.atMs) oldest = k;
  }
  const value = <T>(name: SlowSection) => (slow[name]?.value ?? null) as T | null;
  return {
    hostname,
    os: osInfo,
    kernel,
    board,
    cpu,
    load,
    memory: mem?.memory ?? null,
    swap: mem?.swap ?? null,
    disks: value<Disk[]>('disks'),
    temperatures: value<Temperature[]>('temperatures'),
    uptime,
    network: value<NetInterface[]>('network'),
    listening: value<ListeningSocket[]>('listening'),
    capabilities: opts.capabilities ?? null,
    cached: {
      sections: wanted,
      readAt: new Date(oldest?.at ?? Date.now()).toISOString(),
      ageMs: oldest ? Math.max(0, Math.round(nowMs - oldest.atMs)) : 0,
    },
    errors,
  };
}

/** The disks section read now (see disksSection), as kept. */
async function readDisks(opts: CollectStatusOptions, proc: (p: string) => string, atMs: number): Promise<KeptSection> {
  const at = Date.now();
  const errors: Record<string, string> = {};
  const value = await disksSection(opts, proc, errors);
  // Read now: a statfs that timed out may still finish later and must not change what was kept.
  return { value, ...(errors.disks !== undefined ? { error: errors.disks } : {}), atMs, at };
}

/** One of the synchronous slower sections (temperatures, network, listening) read now, as kept. */
function readSyncSection(name: Exclude<SlowSection, 'disks'>, opts: CollectStatusOptions, proc: (p: string) => string, sys: (p: string) => string, atMs: number): KeptSection {
  const at = Date.now();
  const errors: Record<string, string> = {};
  let value: unknown = null;
  try {
    value =
      name === 'temperatures' ? readTemperatures(sys) : name === 'network' ? readNetwork(sys, opts.networkInterfaces ?? os.networkInterfaces) : readListening(proc, errors);
  } catch (err) {
    errors[name] = errorText(err);
  }
  return { value, ...(errors[name] !== undefined ? { error: errors[name] } : {}), atMs, at };
}

/** The listening sockets of /proc/net/tcp and tcp6; a partial failure goes to `errors.listening`. */
function readListening(proc: (p: string) => string, errors: Record<string, string>): ListeningSocket[] {
  const endianness = os.endianness();
  const read = (table: string, sockstat: string, inUse: RegExp): { text: string } | { err: unknown } => {
    // No TCP socket of this family at all (sockstat's `inuse` counts listeners too): the table
    // would list none, and reading it still walks the whole connection hash table.
    if (tcpSocketsInUse(proc(sockstat), inUse) === 0) return { text: '' };
    try {
      return { text: readTcpListenSection(proc(table)) };
    } catch (err) {
      return { err };
    }
  };
  const v4 = read('net/tcp', 'net/sockstat', /^TCP: inuse (\d+)/m);
  const v6 = read('net/tcp6', 'net/sockstat6', /^TCP6: inuse (\d+)/m);
  if ('err' in v4 && 'err' in v6) throw v4.err;
  // tcp6 is absent when IPv6 is disabled on the kernel command line: not an error.
  const all = [
    ...('text' in v4 ? parseProcNetTcp(v4.text, 'ipv4', endianness) : []),
    ...('text' in v6 ? parseProcNetTcp(v6.text, 'ipv6', endianness) : []),
  ];
  if ('err' in v4) errors.listening = `tcp: ${errorText(v4.err)}`;
  return sortListening(all);
}

/**
 * The TCP sockets of one family in use (hashed: listening or connected, not TIME_WAIT), from
 * /proc/net/sockstat (`TCP: inuse N`) or sockstat6 (`TCP6: inuse N`); undefined when unknown.
 */
function tcpSocketsInUse(path: string, line: RegExp): number | undefined {
  const text = readAttr(path);
  const m = text === undefined ? null : line.exec(text);
  return m ? Number(m[1]) : undefined;
}

function readOsInfo(etcRoot: string): OsInfo {
  let text: string;
  try {
    text = readBounded(join(etcRoot, 'os-release'));
  } catch (first) {
    try {
      text = readBounded(join(etcRoot, '..', 'usr/lib/os-release'));
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
}

function readBoard(info: CpuInfo | undefined, proc: (p: string) => string, sys: (p: string) => string): BoardInfo | null {
  const revision = info?.board?.revision;
  const withRevision = (b: BoardInfo): BoardInfo => (revision ? { ...b, revision } : b);
  // /proc/device-tree is a link to /sys/firmware/devicetree/base; either may be missing in a container.
  for (const p of [proc('device-tree/model'), sys('firmware/devicetree/base/model')]) {
    const model = readAttr(p);
    if (model) return withRevision({ model, source: 'device-tree' });
  }
  if (info?.board?.model) return withRevision({ model: info.board.model, source: 'cpuinfo' });
  const dmi = (vendorFile: string, nameFile: string) => {
    const clean = (s: string | undefined) => (s && !DMI_PLACEHOLDERS.test(s) ? s : undefined);
    const vendor = clean(readAttr(sys(`class/dmi/id/${vendorFile}`)));
    const name = clean(readAttr(sys(`class/dmi/id/${nameFile}`)));
    if (!name) return undefined;
    return vendor && !name.startsWith(vendor) ? `${vendor} ${name}` : name;
  };
  const model = dmi('sys_vendor', 'product_name') ?? dmi('board_vendor', 'board_name');
  return model ? { model, source: 'dmi' } : null;
}

function readTemperatures(sys: (p: string) => string): Temperature[] {
  const out: Temperature[] = [];
  const zoneTypes = new Set<string>();
  const list = (p: string): { names: string[] } | { err: unknown } => {
    try {
      return { names: listDir(sys(p)) };
    } catch (err) {
      return { err };
    }
  };
  const zones = list('class/thermal');
  const hwmons = list('class/hwmon');
  if ('err' in zones && 'err' in hwmons) {
    throw new Error(`no thermal zones or hwmon sensors: ${errorText(zones.err)}; ${errorText(hwmons.err)}`);
  }
  for (const zone of 'names' in zones ? zones.names.filter((n) => /^thermal_zone\d+$/.test(n)) : []) {
    const type = readAttr(sys(`class/thermal/${zone}/type`)) || zone;
    const celsius = milliToCelsius(readAttr(sys(`class/thermal/${zone}/temp`)));
    if (celsius === undefined) continue;
    zoneTypes.add(type);
    out.push({ sensor: type, celsius, path: `class/thermal/${zone}/temp` });
  }
  for (const hw of 'names' in hwmons ? hwmons.names.filter((n) => /^hwmon\d+$/.test(n)) : []) {
    const dir = `class/hwmon/${hw}`;
    const name = readAttr(sys(`${dir}/name`)) || readAttr(sys(`${dir}/device/name`)) || hw;
    // The kernel mirrors each thermal zone as a hwmon named after its type with '-' turned
    // into '_' (cpu-thermal -> cpu_thermal): the same sensor, so it is listed once.
    if (zoneTypes.has(name.replace(/_/g, '-')) || zoneTypes.has(name)) continue;
    const entries = list(dir);
    const inputs = ('names' in entries ? entries.names : []).filter((f) => /^temp\d+_input$/.test(f));
    for (const input of inputs) {
      const celsius = milliToCelsius(readAttr(sys(`${dir}/${input}`)));
      if (celsius === undefined) continue;
      const label = readAttr(sys(`${dir}/${input.replace('_input', '_label')}`));
      const sensor = label ? `${name} ${label}` : inputs.length > 1 ? `${name} ${input.replace('_input', '')}` : name;
      out.push({ sensor, celsius, path: `${dir}/${input}` });
    }
  }
  return out;
}

function readNetwork(sys: (p: string) => string, networkInterfaces: NetworkInterfacesFn): NetInterface[] {
  const addrs = networkInterfaces();
  const out: NetInterface[] = [];
  // lo is always there; veth* are the host ends of container links, one per container.
  for (const name of listDir(sys('class/net')).filter((n) => n !== 'lo' && !n.startsWith('veth'))) {
    const attr = (f: string) => readAttr(sys(`class/net/${name}/${f}`));
    const state = attr('operstate');
    const mac = attr('address');
    const mtu = attr('mtu');
    // A down link has no speed (the kernel answers EINVAL, an exception per read): not asked.
    const speed = state === 'down' ? undefined : attr('speed');
    out.push({
      name,
      state: state || null,
      mac: mac && mac !== '00:00:00:00:00:00' ? mac : null,
      mtu: mtu && /^\d+$/.test(mtu) ? Number(mtu) : null,
      speedMbps: speed !== undefined && /^\d+$/.test(speed) && Number(speed) > 0 ? Number(speed) : null,
      addresses: (addrs[name] ?? []).map((a) => ({
        // Node 18.0-18.3 reported family as the number 4 or 6.
        family: a.family === 'IPv4' || a.family === 4 ? ('ipv4' as const) : ('ipv6' as const),
        address: a.address,
        cidr: a.cidr ?? null,
      })),
    });
  }
  return out;
}

/**
 * The disks section: the mount table is read synchronously, then every reported mount is
 * `statfs`ed in parallel on the thread pool, each with its own deadline, the whole section
 * with another. A mount whose earlier statfs has not returned is not asked again.
 */
async function disksSection(opts: CollectStatusOptions, proc: (p: string) => string, errors: Record<string, string>): Promise<Disk[] | null> {
  const sectionTimeoutMs = opts.sectionTimeoutMs ?? 3000;
  const work = async (): Promise<Disk[]> => {
    let text: string;
    try {
      text = readBounded(proc('mounts'));
    } catch {
      text = readBounded(proc('self/mounts'));
    }
    const statfs = opts.statfs ?? defaultStatfs();
    let pending = pendingStatfs.get(statfs);
    if (!pending) pendingStatfs.set(statfs, (pending = new Set<string>()));
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
  };
  try {
    return await withTimeout(work(), sectionTimeoutMs);
  } catch (err) {
    errors.disks = errorText(err);
    return null;
  }
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

function withTimeout<T>(p: Promise<T>, ms: number, what?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what ? `${what} ` : ''}timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
