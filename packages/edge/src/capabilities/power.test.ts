import { testEdgeEnv, toolContext } from '@homelab-mcp/testkit';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { power, readBootId } from './power.ts';

const tool = (name: string) => power.tools.find((t) => t.name === name)!;
const dir = mkdtempSync(join(tmpdir(), 'power-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

describe('reboot_node', () => {
  it('answers with the boot id first, then runs the configured reboot command once', async () => {
    const bootIdFile = join(dir, 'boot_id');
    writeFileSync(bootIdFile, '5f0c3a1e-8a51-4a52-9c59-0c1b6b0d2a11\n');
    const marker = join(dir, 'rebooted');
    const script = join(dir, 'fake-reboot');
    writeFileSync(script, `#!/bin/sh\necho "$@" >> '${marker}'\n`);
    chmodSync(script, 0o755);
    const env = testEdgeEnv({ bootIdFile, rebootCommand: [script, 'now'], log: createLogger({ level: 'silent' }) });
    const out = await tool('reboot_node').handler({}, toolContext(env));
    expect(out.data).toEqual({ rebooting: true, command: `${script} now`, bootId: '5f0c3a1e-8a51-4a52-9c59-0c1b6b0d2a11', delayMs: 1000 });
    // Nothing ran yet: the answer leaves first.
    expect(existsSync(marker)).toBe(false);
    // A second reboot while one is under way is refused.
    await expect(tool('reboot_node').handler({}, toolContext(env))).rejects.toThrow(/already under way/);
    // The script creates the file, then writes to it: wait for the line.
    await until(() => existsSync(marker) && readFileSync(marker, 'utf8').endsWith('\n'));
    expect(readFileSync(marker, 'utf8')).toBe('now\n');
  });

  it('reads no boot id from a missing or garbled file', () => {
    expect(readBootId(testEdgeEnv({ bootIdFile: join(dir, 'missing') }))).toBeNull();
    writeFileSync(join(dir, 'garbled'), 'x y z\n');
    expect(readBootId(testEdgeEnv({ bootIdFile: join(dir, 'garbled') }))).toBeNull();
  });

  it('is a write', () => {
    expect(tool('reboot_node').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(tool('wake_on_lan').annotations).toMatchObject({ readOnlyHint: false });
  });
});

describe('wake_on_lan from the edge', () => {
  it('sends the magic packet to the address and port given', async () => {
    const listener = createSocket('udp4');
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
    const got = new Promise<Buffer>((r) => listener.once('message', (m) => r(m)));
    try {
      const port = listener.address().port;
      const out = await tool('wake_on_lan').handler({ mac: 'AA-BB-CC-00-11-22', address: '127.0.0.1', port }, toolContext(testEdgeEnv()));
      expect(out.text).toBe(`sent the wake-on-LAN packet for aa:bb:cc:00:11:22 to 127.0.0.1:${port}`);
      const p = await got;
      expect(p.toString('hex')).toBe('ff'.repeat(6) + 'aabbcc001122'.repeat(16));
    } finally {
      listener.close();
    }
  });

  it('refuses a bad MAC clearly, sending nothing', async () => {
    await expect(tool('wake_on_lan').handler({ mac: 'aa:bb:cc' }, toolContext(testEdgeEnv()))).rejects.toThrow('mac: expected a MAC address such as b8:27:eb:12:34:56, got "aa:bb:cc"');
  });
});
