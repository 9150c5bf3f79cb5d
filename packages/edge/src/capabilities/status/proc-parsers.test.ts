import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuUsagePercent, parseCpuStat, parseCpuinfo, parseLoadavg, parseMeminfo, parseUptime } from './proc-parsers.ts';

const fixture = (p: string) => readFileSync(new URL(`./__fixtures__/${p}`, import.meta.url), 'utf8');

describe('parseMeminfo', () => {
  it('reads memory and swap of a Raspberry Pi 4 with 8 GB', () => {
    const m = parseMeminfo(fixture('raspberry-pi-4/proc/meminfo'));
    expect(m.memory).toEqual({
      totalBytes: 7998044 * 1024,
      availableBytes: 6964520 * 1024,
      usedBytes: (7998044 - 6964520) * 1024,
      percent: 12.9,
    });
    // Raspberry Pi OS bookworm's 100 MB dphys-swapfile, partly used.
    expect(m.swap).toEqual({ totalBytes: 102396 * 1024, freeBytes: 89340 * 1024, usedBytes: 13056 * 1024, percent: 12.8 });
  });

  it('reads a VM without swap', () => {
    const m = parseMeminfo(fixture('x86-vm/proc/meminfo'));
    expect(m.memory.totalBytes).toBe(24682416 * 1024);
    expect(m.memory.availableBytes).toBe(24219128 * 1024);
    expect(m.swap).toEqual({ totalBytes: 0, freeBytes: 0, usedBytes: 0, percent: 0 });
  });

  it('estimates available memory on kernels older than 3.14', () => {
    const m = parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 50 kB\nCached: 250 kB\n');
    expect(m.memory.availableBytes).toBe(500 * 1024);
    expect(m.memory.percent).toBe(50);
  });

  it('rejects text that is not meminfo', () => {
    expect(() => parseMeminfo('hello')).toThrow(/MemTotal/);
  });
});

describe('parseLoadavg', () => {
  it('reads the three averages and task counts', () => {
    expect(parseLoadavg(fixture('raspberry-pi-4/proc/loadavg'))).toEqual({ load1: 0.15, load5: 0.1, load15: 0.09, runnable: 1, tasks: 253 });
  });
  it('rejects garbage', () => {
    expect(() => parseLoadavg('')).toThrow(/loadavg/);
  });
});

describe('parseCpuStat and cpuUsagePercent', () => {
  it('reads the aggregate and one line per core', () => {
    const s = parseCpuStat(fixture('raspberry-pi-4/proc/stat'));
    expect(s.perCpu).toHaveLength(4);
    expect(s.total).toEqual({ user: 1403422, nice: 2150, system: 612877, idle: 137418851, iowait: 84260, irq: 0, softirq: 21433, steal: 0 });
    expect(parseCpuStat(fixture('x86-vm/proc/stat')).perCpu).toHaveLength(2);
  });

  it('computes busy and iowait share between two samples', () => {
    const a = parseCpuStat(fixture('raspberry-pi-4/proc/stat')).total;
    // One second on four cores: 400 ticks, 20 user + 8 system busy, 4 waiting for the SD card.
    const b = { ...a, user: a.user + 20, system: a.system + 8, idle: a.idle + 368, iowait: a.iowait + 4 };
    expect(cpuUsagePercent(a, b)).toEqual({ usagePercent: 7, iowaitPercent: 1 });
  });

  it('returns null when no tick elapsed', () => {
    const a = parseCpuStat(fixture('raspberry-pi-4/proc/stat')).total;
    expect(cpuUsagePercent(a, a)).toBeNull();
  });
});

describe('parseUptime', () => {
  it('reads seconds since boot', () => {
    expect(parseUptime(fixture('raspberry-pi-4/proc/uptime'))).toBe(351720.54);
  });
});

describe('parseCpuinfo', () => {
  it('names the Pi 4 cores from the ARM part number and reads the board lines', () => {
    expect(parseCpuinfo(fixture('raspberry-pi-4/proc/cpuinfo'))).toEqual({
      count: 4,
      models: ['Cortex-A72'],
      board: { model: 'Raspberry Pi 4 Model B Rev 1.4', hardware: 'BCM2835', revision: 'd03114' },
    });
  });

  it('reads x86 model names and does not take the family "model" for a board', () => {
    expect(parseCpuinfo(fixture('x86-vm/proc/cpuinfo'))).toEqual({ count: 2, models: ['Intel(R) Xeon(R) Processor'] });
  });

  it('prefers the core name over 32-bit ARM\'s generic model name', () => {
    const text = 'processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n\nHardware\t: BCM2835\n';
    expect(parseCpuinfo(text).models).toEqual(['Cortex-A53']);
  });

  it('lists both clusters of a big.LITTLE board', () => {
    const core = (n: number, part: string) => `processor\t: ${n}\nCPU implementer\t: 0x41\nCPU part\t: ${part}\n`;
    const text = [core(0, '0xd03'), core(1, '0xd03'), core(2, '0xd08'), core(3, '0xd08')].join('\n');
    expect(parseCpuinfo(text)).toEqual({ count: 4, models: ['Cortex-A53', 'Cortex-A72'] });
  });
});
