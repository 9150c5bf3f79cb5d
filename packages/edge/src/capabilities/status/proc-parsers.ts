/**
 * Pure parsers of /proc text files. Each takes the file's text and returns plain data, so
 * they are tested on captured files from real devices (see `__fixtures__/`).
 */

/** Memory and swap in bytes, from /proc/meminfo. */
export interface MemInfo {
  memory: { totalBytes: number; availableBytes: number; usedBytes: number; percent: number };
  swap: { totalBytes: number; freeBytes: number; usedBytes: number; percent: number };
}

/**
 * @example parseMeminfo('MemTotal: 8000 kB\nMemAvailable: 6000 kB\n...').memory.percent // 25
 */
export function parseMeminfo(text: string): MemInfo {
  // Only the six lines used are looked up (meminfo has about fifty).
  const kb = { get: (key: string) => meminfoValue(text, key) };
  const total = kb.get('MemTotal');
  if (total === undefined) throw new Error('meminfo has no MemTotal line');
  // MemAvailable exists since Linux 3.14; older kernels get the classic free+buffers+cached estimate.
  const available =
    kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  const swapTotal = kb.get('SwapTotal') ?? 0;
  const swapFree = kb.get('SwapFree') ?? 0;
  return {
    memory: { totalBytes: total, availableBytes: available, usedBytes: total - available, percent: percent(total - available, total) },
    swap: { totalBytes: swapTotal, freeBytes: swapFree, usedBytes: swapTotal - swapFree, percent: percent(swapTotal - swapFree, swapTotal) },
  };
}

/** The value of meminfo's `key:` line in bytes, or undefined when it has none. */
function meminfoValue(text: string, key: string): number | undefined {
  let at = text.startsWith(`${key}:`) ? 0 : text.indexOf(`\n${key}:`) + 1;
  if (at === 0 && !text.startsWith(`${key}:`)) return undefined;
  at += key.length + 1;
  const end = text.indexOf('\n', at);
  const m = /^\s+(\d+)(?:\s+kB)?\s*$/.exec(text.slice(at, end < 0 ? text.length : end));
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Load averages and the scheduler's task counts, from /proc/loadavg. */
export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
  runnable: number;
  tasks: number;
}

/** @example parseLoadavg('0.15 0.10 0.09 1/253 12345\n') // { load1: 0.15, ..., runnable: 1, tasks: 253 } */
export function parseLoadavg(text: string): LoadAvg {
  const m = /^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\/(\d+)/.exec(text);
  if (!m) throw new Error(`unexpected loadavg format: ${JSON.stringify(text.slice(0, 80))}`);
  return { load1: Number(m[1]), load5: Number(m[2]), load15: Number(m[3]), runnable: Number(m[4]), tasks: Number(m[5]) };
}

/** Cumulative CPU time in USER_HZ ticks, for the aggregate `cpu` line and each `cpuN`. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

/** The CPU lines of /proc/stat. */
export interface CpuStat {
  total: CpuTimes;
  /** One entry per online CPU (`cpu0`, `cpu1`, ...). */
  perCpu: CpuTimes[];
}

/** @example parseCpuStat(stat).perCpu.length // 4 on a Raspberry Pi 4 */
export function parseCpuStat(text: string): CpuStat {
  let total: CpuTimes | undefined;
  const perCpu: CpuTimes[] = [];
  // Line by line without splitting the whole file: the `intr` line after the CPU lines holds a
  // counter per interrupt (thousands of numbers on a PC).
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (!line.startsWith('cpu')) continue;
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    // guest and guest_nice are already counted in user and nice, so they are not read.
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = m[2]!.trim().split(/\s+/).map(Number);
    const t = { user, nice, system, idle, iowait, irq, softirq, steal };
    if (m[1] === '') total = t;
    else perCpu.push(t);
  }
  if (!total) throw new Error('stat has no aggregate cpu line');
  return { total, perCpu };
}

/** CPU busy and iowait share between two samples, in percent of all CPUs' time. */
export interface CpuUsage {
  usagePercent: number;
  iowaitPercent: number;
}

/**
 * Busy share of the time between samples `a` and `b` (of `parseCpuStat(...).total`); null when
 * no tick elapsed, e.g. two reads of a fixture or a sample interval shorter than a tick.
 * iowait counts as idle, as in top: the CPU was free to run something else.
 * @example cpuUsagePercent(first.total, second.total)?.usagePercent // 7.3
 */
export function cpuUsagePercent(a: CpuTimes, b: CpuTimes): CpuUsage | null {
  const sum = (t: CpuTimes) => t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
  const total = sum(b) - sum(a);
  if (!(total > 0)) return null;
  const idle = b.idle - a.idle + (b.iowait - a.iowait);
  return { usagePercent: percent(total - idle, total), iowaitPercent: percent(b.iowait - a.iowait, total) };
}

/** Seconds since boot, from /proc/uptime. */
export function parseUptime(text: string): number {
  const m = /^\s*([\d.]+)\s/.exec(text);
  if (!m) throw new Error(`unexpected uptime format: ${JSON.stringify(text.slice(0, 80))}`);
  return Number(m[1]);
}

/** What /proc/cpuinfo says about the processors and, on a Raspberry Pi, the board. */
export interface CpuInfo {
  /** Number of `processor` entries: the online CPUs. */
  count: number;
  /** Distinct CPU models, e.g. `['Cortex-A72']`, or both clusters of a big.LITTLE board. */
  models: string[];
  /** Board lines the Raspberry Pi kernel appends (`Model`, `Hardware`, `Revision`). */
  board?: { model?: string; hardware?: string; revision?: string };
}

// ARM's main ID register part numbers (implementer 0x41) of the cores homelab boards use:
// aarch64 /proc/cpuinfo has no "model name", only these numbers.
const ARM_PARTS: Record<string, string> = {
  '0xb76': 'ARM1176',
  '0xc07': 'Cortex-A7',
  '0xc08': 'Cortex-A8',
  '0xc09': 'Cortex-A9',
  '0xc0f': 'Cortex-A15',
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1',
  '0xd41': 'Cortex-A78',
  '0xd49': 'Neoverse-N2',
};

/** @example parseCpuinfo(text) // { count: 4, models: ['Cortex-A72'], board: { model: 'Raspberry Pi 4 Model B Rev 1.4', ... } } */
export function parseCpuinfo(text: string): CpuInfo {
  let count = 0;
  const models: string[] = [];
  const board: NonNullable<CpuInfo['board']> = {};
  // Blocks are separated by blank lines; one block per processor, then the board block on a Pi.
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    if (fields.has('processor') && /^\d+$/.test(fields.get('processor')!)) {
      count++;
      const part = fields.get('cpu part')?.toLowerCase();
      // The core name beats 32-bit ARM's generic "ARMv7 Processor rev 3 (v7l)" model name.
      const model =
        (fields.get('cpu implementer') === '0x41' && part ? ARM_PARTS[part] : undefined) ??
        fields.get('model name') ??
        (part ? `implementer ${fields.get('cpu implementer') ?? '?'} part ${part}` : undefined);
      if (model && !models.includes(model)) models.push(model);
    }
    // On x86 "model" is a family number inside the processor block; the Pi's board "Model" is outside.
    if (!fields.has('processor')) {
      if (fields.has('model')) board.model = fields.get('model');
      if (fields.has('hardware')) board.hardware = fields.get('hardware');
      if (fields.has('revision')) board.revision = fields.get('revision');
    }
  }
  return Object.keys(board).length > 0 ? { count, models, board } : { count, models };
}

/** `part / whole` in percent with one decimal; 0 when `whole` is 0. */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}
