import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { naturalCompare, readAttr, readBounded } from './read-bounded.ts';

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
    expect((await readBounded(join(dir, 'big'), 100_000)).length).toBe(100_000);
    expect((await readBounded(join(dir, 'big'))).length).toBe(200_000);
  });

  it('reads /proc files, whose size is reported as 0', async () => {
    expect(await readBounded('/proc/self/stat')).toMatch(/^\d+ \(/);
  });

  it('honours an aborted signal', async () => {
    await expect(readBounded(join(dir, 'big'), 10, AbortSignal.abort())).rejects.toThrow(/abort/i);
  });
});

describe('readAttr', () => {
  it('strips the NUL of device-tree strings and the newline of sysfs values', async () => {
    await writeFile(join(dir, 'model'), 'Raspberry Pi 5 Model B Rev 1.0\0');
    expect(await readAttr(join(dir, 'model'))).toBe('Raspberry Pi 5 Model B Rev 1.0');
  });
  it('is undefined for a missing attribute', async () => {
    expect(await readAttr(join(dir, 'nope'))).toBeUndefined();
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
