import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDir, naturalCompare, readAttr, readBounded, readKeptOpen, readTcpListenSection } from './read-bounded.ts';
import { parseProcNetTcp } from './proc-net-tcp.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-bounded-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readBounded', () => {
  it('stops at the cap', async () => {
    await writeFile(join(dir, 'big'), 'x'.repeat(200_000));
    expect(readBounded(join(dir, 'big'), 100_000).length).toBe(100_000);
    expect(readBounded(join(dir, 'big')).length).toBe(200_000);
    expect(readBounded(join(dir, 'big'), 10)).toBe('x'.repeat(10));
  });

  it('reads files larger than one read whole and in order, and small ones exactly', async () => {
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('');
    await writeFile(join(dir, 'lines'), text);
    expect(readBounded(join(dir, 'lines'))).toBe(text);
    for (const n of [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1]) {
      await writeFile(join(dir, `n${n}`), 'é'.repeat(n / 2) + 'a'.repeat(n % 2));
      expect(Buffer.byteLength(readBounded(join(dir, `n${n}`)))).toBe(n);
    }
  });

  it('reads /proc files, whose size is reported as 0', () => {
    expect(readBounded('/proc/self/stat')).toMatch(/^\d+ \(/);
    expect(readBounded('/proc/self/status')).toMatch(/^Name:/);
  });

  it('throws the fs error for a missing file', () => {
    expect(() => readBounded(join(dir, 'nope'))).toThrow(/ENOENT/);
  });
});

describe('readTcpListenSection', () => {
  const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  const line = (sl: number, port: string, st: string) =>
    `${String(sl).padStart(4)}: 00000000:${port} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${1000 + sl} 1 0000000000000000 100 0 0 10 0`.padEnd(149) + '\n';

  it('stops at the first socket that is not listening, after the kernel lists the listeners', async () => {
    // 40 listeners (6 KB, several reads), a SYN_RECV, then an established socket and a TIME_WAIT.
    const listeners = Array.from({ length: 40 }, (_, i) => line(i, (1000 + i).toString(16).toUpperCase().padStart(4, '0'), '0A')).join('');
    const text = HEADER + listeners + line(40, '0016', '03') + line(41, '0016', '01') + line(42, '0050', '06') + line(43, '1F90', '0A');
    await writeFile(join(dir, 'tcp'), text);
    const head = readTcpListenSection(join(dir, 'tcp'));
    expect(head).toBe(HEADER + listeners + line(40, '0016', '03') + line(41, '0016', '01'));
    expect(parseProcNetTcp(head, 'ipv4')).toHaveLength(40);
  });

  it('reads a table of listeners only to its end, in complete lines, within the cap', async () => {
    const text = HEADER + line(0, '0016', '0A') + line(1, '01BB', '0A');
    await writeFile(join(dir, 'tcp-listen'), text);
    expect(readTcpListenSection(join(dir, 'tcp-listen'))).toBe(text);
    expect(readTcpListenSection(join(dir, 'tcp-listen'), 300)).toBe(HEADER + line(0, '0016', '0A'));
    await writeFile(join(dir, 'tcp-empty'), HEADER);
    expect(readTcpListenSection(join(dir, 'tcp-empty'))).toBe(HEADER);
  });

  it('reads this machine’s /proc/net/tcp', () => {
    const head = readTcpListenSection('/proc/net/tcp');
    expect(head).toMatch(/^\s*sl\s+local_address/);
    const states = head.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[3]);
    expect(states.slice(0, -1).every((st) => st === '0A' || st === '03')).toBe(true);
  });
});

describe('readAttr', () => {
  it('strips the NUL of device-tree strings and the newline of sysfs values', async () => {
    await writeFile(join(dir, 'model'), 'Raspberry Pi 5 Model B Rev 1.0\0');
    expect(readAttr(join(dir, 'model'))).toBe('Raspberry Pi 5 Model B Rev 1.0');
  });
  it('is undefined for a missing attribute', () => {
    expect(readAttr(join(dir, 'nope'))).toBeUndefined();
  });
});

describe('listDir', () => {
  it('lists names in natural order', async () => {
    const sub = await mkdtemp(join(dir, 'list-'));
    for (const f of ['hwmon10', 'hwmon2', 'hwmon1']) await writeFile(join(sub, f), '');
    expect(listDir(sub)).toEqual(['hwmon1', 'hwmon2', 'hwmon10']);
  });
});

describe('naturalCompare', () => {
  it('orders numbered sysfs names by number', () => {
    expect(['hwmon10', 'hwmon2', 'hwmon1', 'temp10_input', 'temp2_input'].sort(naturalCompare)).toEqual([
      'hwmon1',
      'hwmon2',
      'hwmon10',
      'temp2_input',
      'temp10_input',
    ]);
  });
});

describe('readKeptOpen', () => {
  it('reads a /proc file as of each read, through one descriptor', async () => {
    const first = readKeptOpen('/proc/uptime');
    await new Promise((r) => setTimeout(r, 30));
    const second = readKeptOpen('/proc/uptime');
    expect(first).toMatch(/^\d+\.\d+ \d+\.\d+\n$/);
    expect(Number(second.split(' ')[0])).toBeGreaterThan(Number(first.split(' ')[0]));
    expect(readKeptOpen('/proc/meminfo')).toContain('MemTotal:');
  });

  it('throws what open throws, and reads a file rewritten in place anew', async () => {
    expect(() => readKeptOpen(join(dir, 'missing'))).toThrow(/ENOENT/);
    const f = join(dir, 'kept');
    await writeFile(f, 'one\n');
    expect(readKeptOpen(f)).toBe('one\n');
    await writeFile(f, 'second\n');
    expect(readKeptOpen(f)).toBe('second\n');
  });
});
