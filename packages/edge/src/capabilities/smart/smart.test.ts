import { scriptedEdgeEnv, testEdgeEnv } from '@homelab-mcp/testkit';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeEnv, ToolContext, ToolOutput } from '../../capability.ts';
import { validate } from '../../schema.ts';
import { SMARTCTL_MISSING, probeSmart, smart, validateSmartDevice, validateSmartType } from '../smart.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const tool = smart.tools.find((t) => t.name === 'get_smart_health')!;


const ctxOf = (env: EdgeEnv): ToolContext => ({ env, signal: new AbortController().signal });
const enoent = () => Object.assign(new Error('spawn smartctl ENOENT'), { code: 'ENOENT', errno: -2, syscall: 'spawn smartctl', path: 'smartctl' });
const devices = (out: ToolOutput) => out.data.devices as Array<Record<string, unknown>>;
/** The first tool call of an environment checks the version (7.0+ for --json) and keeps it. */
const VERSION = 'smartctl --version';
const V73 = { [VERSION]: { stdout: 'smartctl 7.3 2022-02-28 r5338 [aarch64-linux-6.1.0-rpi7-rpi-v8] (local build)\n' } };

// A PATH directory with a smartctl in it, and an empty one, for the probe (which runs nothing).
const binDir = mkdtempSync(join(tmpdir(), 'smart-bin-'));
const emptyDir = mkdtempSync(join(tmpdir(), 'smart-empty-'));
writeFileSync(join(binDir, 'smartctl'), '#!/bin/sh\nexit 99\n');
chmodSync(join(binDir, 'smartctl'), 0o755);
afterAll(() => {
  rmSync(binDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

describe('argument validation', () => {
  it('accepts disk paths under /dev and refuses anything else', () => {
    for (const ok of ['/dev/sda', '/dev/nvme0', '/dev/nvme0n1', '/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K4HJ2XYZ', '/dev/bus/0']) {
      expect(validateSmartDevice(ok)).toBe(ok);
    }
    for (const bad of ['sda', '/etc/passwd', '/dev/../etc/shadow', '/dev/sda; reboot', '/dev/', '-a', '/dev/sd a', 42]) {
      expect(() => validateSmartDevice(bad)).toThrow(/device must be a disk path under \/dev/);
    }
  });

  it('accepts smartctl device types and refuses option-like text', () => {
    for (const ok of ['sat', 'nvme', 'scsi', 'auto', 'sat,12', 'megaraid,0', 'sat+megaraid,1']) expect(validateSmartType(ok)).toBe(ok);
    for (const bad of ['-d', '--all', 'SAT', 'sat;ls', '']) expect(() => validateSmartType(bad)).toThrow(/type must be a smartctl device type/);
  });
});

describe('schema', () => {
  it('describes every argument, accepts only known ones, and is read-only', () => {
    expect(tool.inputSchema.additionalProperties).toBe(false);
    for (const p of Object.values(tool.inputSchema.properties ?? {})) expect(p.description).toBeTruthy();
    expect(validate(tool.inputSchema, {})).toEqual([]);
    expect(validate(tool.inputSchema, { device: '/dev/sda', type: 'sat' })).toEqual([]);
    expect(validate(tool.inputSchema, { disk: '/dev/sda' })).toEqual(['disk: is not a known argument']);
    expect(tool.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
  });
});

describe('get_smart_health with a fake smartctl', () => {
  it('scans, then reads each disk with the type the scan found', async () => {
    const { env, calls, argv } = scriptedEdgeEnv({
      ...V73,
      'smartctl --scan --json': { stdout: fixture('scan.json') },
      'smartctl --json -a -d sat /dev/sda': { stdout: fixture('ata-ssd.json') },
      'smartctl --json -a -d sat /dev/sdb': { stdout: fixture('ata-hdd-bad-sectors.json'), exitCode: 192 },
      'smartctl --json -a -d sat /dev/sdc': { stdout: fixture('usb-sat.json') },
      'smartctl --json -a -d nvme /dev/nvme0': { stdout: fixture('nvme.json') },
    });
    const out = await tool.handler({}, ctxOf(env));
    expect(argv().slice(0, 2)).toEqual([VERSION, 'smartctl --scan --json']);
    expect(argv().slice(2).sort()).toEqual([
      'smartctl --json -a -d nvme /dev/nvme0',
      'smartctl --json -a -d sat /dev/sda',
      'smartctl --json -a -d sat /dev/sdb',
      'smartctl --json -a -d sat /dev/sdc',
    ]);
    for (const c of calls) {
      expect(c.timeoutMs).toBe(10_000);
      expect(c.maxBytes).toBe(1 << 20);
      expect(c.env).toBe(env.childEnv);
    }
    expect(out.isError).toBe(false);
    expect(out.data.scanned).toBe(true);
    expect(devices(out).map((d) => [d.device, d.model, d.smartPassed])).toEqual([
      ['/dev/sda', 'Samsung SSD 870 EVO 500GB', true],
      ['/dev/sdb', 'WDC WD40EFRX-68N32N0', true],
      ['/dev/sdc', 'ST2000LM015-2E8174', true],
      ['/dev/nvme0', 'Samsung SSD 970 EVO Plus 1TB', true],
    ]);
    expect(out.text).toContain('/dev/sdb WDC WD40EFRX-68N32N0 (ATA, 4.00 TB');
    expect(out.text).toContain('warning: 24 reallocated sectors');
    expect(out.text).toContain('smartctl: the device self-test log contains records of errors');
    expect(out.text).toContain('/dev/nvme0 Samsung SSD 970 EVO Plus 1TB (NVMe, 1.00 TB, fw 2B2QEXM7, s/n S4EWNX0R123456A): SMART PASSED, 41 °C, 12877 power-on hours, wear 3%, spare 100%, media errors 0, critical warning 0x00');
  });

  it('answers "no disks" when the scan has no devices key', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V73, 'smartctl --scan --json': { stdout: fixture('scan-empty.json') } });
    const out = await tool.handler({}, ctxOf(env));
    expect(argv()).toEqual([VERSION, 'smartctl --scan --json']);
    expect(out.isError).toBeFalsy();
    expect(out.data).toEqual({ scanned: true, devices: [] });
    expect(out.text).toMatch(/found no disks.*pass device/s);
  });

  it('reads one device with the given type', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V73, 'smartctl --json -a -d sat /dev/sdc': { stdout: fixture('usb-sat.json') } });
    const out = await tool.handler({ device: '/dev/sdc', type: 'sat' }, ctxOf(env));
    expect(argv()).toEqual([VERSION, 'smartctl --json -a -d sat /dev/sdc']);
    expect(out.isError).toBe(false);
    expect(devices(out)[0]).toMatchObject({ device: '/dev/sdc', type: 'sat', protocol: 'ATA', temperatureC: 34 });
  });

  it('reads one device without -d when no type is given', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V73, 'smartctl --json -a /dev/nvme0': { stdout: fixture('nvme.json') } });
    await tool.handler({ device: '/dev/nvme0' }, ctxOf(env));
    expect(argv()).toEqual([VERSION, 'smartctl --json -a /dev/nvme0']);
  });

  it('reports a refused open as an error result that names the fix', async () => {
    const { env } = scriptedEdgeEnv({ ...V73, 'smartctl --json -a -d sat /dev/vda': { stdout: fixture('vda-sat-not-permitted.json'), exitCode: 2 } });
    const out = await tool.handler({ device: '/dev/vda', type: 'sat' }, ctxOf(env));
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/^\/dev\/vda: not readable: smartctl cannot open \/dev\/vda/);
    expect(out.text).toMatch(/needs root, or the edge's user in the disk group plus CAP_SYS_RAWIO/);
    expect(devices(out)[0]).toMatchObject({ readable: false, exitStatus: 2, smartPassed: 'unknown' });
  });

  it('keeps the good disks when one disk of a scan cannot be read', async () => {
    const { env } = scriptedEdgeEnv({
      ...V73,
      'smartctl --scan --json': {
        stdout: JSON.stringify({ ...JSON.parse(fixture('scan.json')), devices: JSON.parse(fixture('scan.json')).devices.slice(0, 2) }),
      },
      'smartctl --json -a -d sat /dev/sda': { stdout: fixture('ata-ssd.json') },
      'smartctl --json -a -d sat /dev/sdb': { stdout: '', exitCode: null, signal: 'SIGTERM', timedOut: true },
    });
    const out = await tool.handler({}, ctxOf(env));
    expect(out.isError).toBe(false);
    expect(devices(out).map((d) => d.readable)).toEqual([true, false]);
    expect(out.text).toMatch(/\/dev\/sdb: not readable: smartctl did not answer within 10 s/);
  });

  it('says smartctl is not installed when it cannot be spawned or is not on PATH', async () => {
    const { env, argv } = scriptedEdgeEnv({ 'smartctl --scan --json': enoent(), [VERSION]: enoent() }, { childEnv: { PATH: emptyDir } });
    await expect(tool.handler({}, ctxOf(env))).rejects.toThrow(SMARTCTL_MISSING);
    expect(await smart.probe(env)).toEqual({ ok: false, reason: 'smartctl is not installed on this node (install smartmontools)' });
    expect(argv()).toEqual([VERSION]);
  });

  it('refuses a bad device before running anything', async () => {
    const { env, calls } = scriptedEdgeEnv({});
    await expect(tool.handler({ device: '/dev/../etc/passwd' }, ctxOf(env))).rejects.toThrow(/device must be a disk path/);
    await expect(tool.handler({ type: 'sat' }, ctxOf(env))).rejects.toThrow(/only used together with device/);
    expect(calls).toHaveLength(0);
  });

  it('probes by finding smartctl on the PATH of commands, without running it', async () => {
    const { env, calls } = scriptedEdgeEnv({}, { childEnv: { PATH: `${emptyDir}:${binDir}` } });
    const p = await smart.probe(env);
    expect(p).toMatchObject({ ok: true, detail: expect.stringMatching(new RegExp(`^${join(binDir, 'smartctl')}`)) });
    expect(calls).toHaveLength(0);
    expect(await probeSmart(scriptedEdgeEnv({}, { childEnv: { PATH: emptyDir } }).env)).toEqual({ ok: false, reason: SMARTCTL_MISSING });
  });

  it('checks the version on the first call only', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V73, 'smartctl --json -a /dev/nvme0': { stdout: fixture('nvme.json') } });
    await tool.handler({ device: '/dev/nvme0' }, ctxOf(env));
    await tool.handler({ device: '/dev/nvme0' }, ctxOf(env));
    expect(argv()).toEqual([VERSION, 'smartctl --json -a /dev/nvme0', 'smartctl --json -a /dev/nvme0']);
  });

  it('refuses smartctl 6, which has no --json, before running anything else, and asks again next time', async () => {
    const { env, argv } = scriptedEdgeEnv({ [VERSION]: { stdout: 'smartctl 6.6 2016-05-31 r4324 [armv7l-linux-4.19.66-v7+] (local build)\n' } });
    await expect(tool.handler({}, ctxOf(env))).rejects.toThrow('smartctl 6.6 is too old: JSON output needs smartmontools 7.0 or newer');
    await expect(tool.handler({ device: '/dev/sda' }, ctxOf(env))).rejects.toThrow(/too old/);
    expect(argv()).toEqual([VERSION, VERSION]);
  });

  it('says when smartctl --version fails', async () => {
    const { env } = scriptedEdgeEnv({ [VERSION]: { exitCode: 1, stderr: 'smartctl: error while loading shared libraries: libcap-ng.so.0\n' } });
    await expect(tool.handler({}, ctxOf(env))).rejects.toThrow('smartctl --version failed (exit 1): smartctl: error while loading shared libraries: libcap-ng.so.0');
  });
});

describe('get_smart_health on this machine', () => {
  const realEnv = (childEnv: NodeJS.ProcessEnv): EdgeEnv => testEdgeEnv({ childEnv });
  let smartctlPresent = false;
  try {
    execFileSync('smartctl', ['--version'], { stdio: 'ignore' });
    smartctlPresent = true;
  } catch {
    // Not installed: the tests below that need it are skipped.
  }

  it('says smartctl is not installed when it is not on PATH', async () => {
    const env = realEnv({ PATH: '/nonexistent' });
    await expect(tool.handler({}, ctxOf(env))).rejects.toThrow(SMARTCTL_MISSING);
    expect(await smart.probe(env)).toEqual({ ok: false, reason: SMARTCTL_MISSING });
  });

  it.skipIf(!smartctlPresent)('probes the installed smartctl', async () => {
    const p = await smart.probe(realEnv(process.env));
    expect(p.ok).toBe(true);
    expect(p.ok && p.detail).toMatch(/^\/.*\/smartctl/);
  });

  it.skipIf(!smartctlPresent)('scans without throwing and answers with disks or "no disks"', async () => {
    const out = await tool.handler({}, ctxOf(realEnv(process.env)));
    expect(out.data.scanned).toBe(true);
    expect(Array.isArray(out.data.devices)).toBe(true);
    if (devices(out).length === 0) expect(out.text).toMatch(/found no disks/);
  });

  it.skipIf(!smartctlPresent || !existsSync('/dev/vda'))('reports why the virtio disk has no SMART data', async () => {
    const out = await tool.handler({ device: '/dev/vda' }, ctxOf(realEnv(process.env)));
    expect(out.isError).toBe(true);
    const [d] = devices(out);
    expect(d).toMatchObject({ device: '/dev/vda', readable: false, exitStatus: 1 });
    expect(d!.messages).toEqual([{ text: '/dev/vda: Unable to detect device type', severity: 'error' }]);
    expect(out.text).toMatch(/could not detect what kind of disk \/dev\/vda is/);
  });
});
