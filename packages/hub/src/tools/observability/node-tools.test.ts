import { describe, expect, it } from 'vitest';
import { usageLine, usageOf } from './node-tools.ts';

const status = {
  cpu: { count: 4, usagePercent: 12.5 },
  load: { load1: 0.5, load5: 7.2, load15: 3 },
  memory: { percent: 93.1, totalBytes: 4 * 1024 ** 3 },
  swap: { percent: 0, totalBytes: 0 },
  disks: [
    { mountpoint: '/', percent: 41, totalBytes: 30e9 },
    { mountpoint: '/srv', percent: 95.5, totalBytes: 2e12 },
    { mountpoint: '/proc-like', percent: 0, totalBytes: 0 },
  ],
  temperatures: [{ celsius: 51 }, { celsius: 83.2 }],
  uptime: { seconds: 3 * 86400 + 5 * 3600 + 12 },
};

describe('usageOf', () => {
  it('keeps what a person looks at first and warns about what is nearly full or hot', () => {
    const u = usageOf('pi', status);
    expect(u.disks?.map((d) => d.mountpoint)).toEqual(['/srv', '/']);
    expect(u.maxTemperatureC).toBe(83.2);
    expect(u.swapPercent).toBeUndefined();
    expect(u.warnings).toEqual(['load 7.2 on 4 CPUs', 'memory 93.1% used', 'disk /srv 95.5% full', 'temperature 83.2°C']);
    expect(usageLine(u)).toBe('! pi: CPU 12.5%, load 0.5 7.2 3 (4 CPUs), memory 93.1% of 4.0 GiB, disks /srv 95.5%, / 41%, 83.2°C, up 3d 5h — load 7.2 on 4 CPUs; memory 93.1% used; disk /srv 95.5% full; temperature 83.2°C');
  });

  it('says nothing about sections the edge could not read', () => {
    const u = usageOf('vm', { cpu: null, load: { load1: 0.1, load5: 0.1, load15: 0.1 }, memory: { percent: 20, totalBytes: 24 * 1024 ** 3 }, disks: null, temperatures: [] });
    expect(u.warnings).toEqual([]);
    expect(usageLine(u)).toBe('vm: load 0.1 0.1 0.1, memory 20% of 24 GiB');
  });
});
