/**
 * The few lines of text `get_status` shows next to its data: what a person glancing at a
 * device wants first (what it is, how loaded, how full, how hot), with the full detail in `data`.
 */
import type { StatusReport } from './collect.ts';

/** Binary-prefixed size with one decimal: `7.6 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `4d 1h 42m`, `3h 5m`, `12m`. */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m`;
}

/** `250 ms`, `2.5 s`, `4m`, `1h 5m`: how long a CPU usage sample was. */
export function formatInterval(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms / 1000);
}

// The lines of the sections get_status answers from a kept reading (disks, network, listening),
// by that reading's array: the same array on every call until the next reading.
const lineOf = new WeakMap<object, string>();
function once<T extends object>(section: T, format: (s: T) => string): string {
  let line = lineOf.get(section);
  if (line === undefined) lineOf.set(section, (line = format(section)));
  return line;
}

/**
 * @example formatStatusText(report) // 'pi4: Raspberry Pi 4 Model B Rev 1.4, Debian GNU/Linux 12 (bookworm), ...'
 */
export function formatStatusText(s: StatusReport): string {
  const lines: string[] = [];
  const what = [s.board?.model, s.os?.prettyName, s.kernel && `Linux ${s.kernel.release} ${s.kernel.machine}`].filter(Boolean);
  lines.push(`${s.hostname ?? 'unknown host'}: ${what.join(', ') || 'unknown system'}`);

  const perf: string[] = [];
  if (s.uptime) perf.push(`up ${formatDuration(s.uptime.seconds)}`);
  if (s.load) perf.push(`load ${[s.load.load1, s.load.load5, s.load.load15].map((x) => x.toFixed(2)).join(' ')}`);
  if (s.cpu) {
    const model = s.cpu.models.length > 0 ? ` ${s.cpu.models.join('+')}` : '';
    const over = s.cpu.since === 'boot' ? ' since boot' : s.cpu.sampleMs !== null ? ` over ${formatInterval(s.cpu.sampleMs)}` : '';
    const usage = s.cpu.usagePercent !== null ? `, ${s.cpu.usagePercent}% busy${over}` : '';
    perf.push(`${s.cpu.count} CPUs${model}${usage}`);
  }
  if (s.temperatures && s.temperatures.length > 0) {
    const hottest = s.temperatures.reduce((a, b) => (b.celsius > a.celsius ? b : a));
    perf.push(`${hottest.celsius} °C (${hottest.sensor})`);
  }
  if (perf.length > 0) lines.push(perf.join('; '));

  const mem: string[] = [];
  if (s.memory) mem.push(`memory ${formatBytes(s.memory.usedBytes)} of ${formatBytes(s.memory.totalBytes)} used (${s.memory.percent}%)`);
  if (s.swap && s.swap.totalBytes > 0) mem.push(`swap ${formatBytes(s.swap.usedBytes)} of ${formatBytes(s.swap.totalBytes)}`);
  if (mem.length > 0) lines.push(mem.join('; '));

  if (s.disks && s.disks.length > 0) {
    lines.push(
      once(s.disks, (disks) =>
        'disks: ' + disks.map((d) => `${d.mountpoint} ${d.percent}% of ${formatBytes(d.totalBytes)}${d.readOnly ? ' (read-only)' : ''}`).join(', '),
      ),
    );
  }
  if (s.network && s.network.length > 0) {
    lines.push(
      once(
        s.network,
        (network) =>
          'network: ' +
          network
            .map((n) => {
              const v4 = n.addresses.filter((a) => a.family === 'ipv4').map((a) => a.cidr ?? a.address);
              return [n.name, n.state ?? '?', ...v4].join(' ');
            })
            .join(', '),
      ),
    );
  }
  if (s.listening) {
    lines.push(
      once(s.listening, (listening) => {
        const ports = [...new Set(listening.map((l) => l.port))];
        return `listening tcp: ${ports.length > 0 ? ports.join(', ') : 'none'}`;
      }),
    );
  }
  if (s.capabilities) {
    const active = s.capabilities.filter((c) => c.active).map((c) => c.name);
    const inactive = s.capabilities.filter((c) => !c.active).map((c) => `${c.name} (${c.reason ?? (c.enabled ? 'inactive' : 'disabled')})`);
    lines.push(`capabilities: ${active.join(', ') || 'none'}${inactive.length > 0 ? `; not active: ${inactive.join(', ')}` : ''}`);
  }
  // Answered from an earlier reading: the text says so, not only `cached` in the data (a model
  // may read the text alone and take a 5 s old temperature for one read now).
  if (s.cached && s.cached.ageMs > 0 && s.cached.sections.length > 0) {
    lines.push(`${s.cached.sections.join(', ')}: read up to ${formatInterval(s.cached.ageMs)} ago (fresh: true reads them now)`);
  }
  const errs = Object.entries(s.errors);
  if (errs.length > 0) lines.push(`incomplete: ${errs.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  return lines.join('\n');
}
