import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { testEdgeEnv, toolContext } from '@homelab-mcp/testkit';
import type { CapabilityReport, ToolContext } from '../../capability.ts';
import { deriveEtcRoot, getStatusTool, status, statusState } from '../status.ts';

const PI = fileURLToPath(new URL('./__fixtures__/raspberry-pi-4/', import.meta.url));

function context(procRoot: string, sysRoot: string, capabilities: CapabilityReport[] = []): ToolContext {
  const env = testEdgeEnv({
    procRoot,
    sysRoot,
    childEnv: {},
    run: () => Promise.reject(new Error('get_status runs no commands')),
    capabilities: () => capabilities,
  });
  return toolContext(env);
}

describe('status capability', () => {
  it('declares a read-only, idempotent get_status whose arguments are include and fresh', () => {
    expect(status.name).toBe('status');
    expect(status.enabledByDefault).toBe(true);
    expect(status.tools.map((t) => t.name)).toEqual(['get_status']);
    expect(getStatusTool.inputSchema).toMatchObject({
      type: 'object',
      properties: { include: { type: 'array', items: { type: 'string', enum: ['network', 'listening', 'capabilities'] } }, fresh: { type: 'boolean' } },
      additionalProperties: false,
    });
    expect(Object.keys(getStatusTool.inputSchema.properties!)).toEqual(['include', 'fresh']);
    expect(getStatusTool.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });
  });

  it('probes /proc/stat', async () => {
    expect(await status.probe(context('/proc', '/sys').env)).toEqual({ ok: true });
    const r = await status.probe(context('/nonexistent/proc', '/sys').env);
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('cannot read /nonexistent/proc/stat') });
  });

  it('seeds the first CPU sample in the probe, so the first call measures usage since start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'get-status-'));
    try {
      await cp(PI, dir, { recursive: true });
      const ctx = context(join(dir, 'proc'), join(dir, 'sys'));
      expect(statusState(ctx.env).cpu.newer).toBeUndefined();
      const probedAt = performance.now();
      expect(await status.probe(ctx.env)).toEqual({ ok: true });
      expect(statusState(ctx.env).cpu.newer?.times.user).toBe(1403422);
      // 400 ticks later: 20 user + 8 system busy, 4 in iowait.
      const stat = join(dir, 'proc/stat');
      await writeFile(stat, (await readFile(stat, 'utf8')).replace('cpu  1403422 2150 612877 137418851 84260', 'cpu  1403442 2150 612885 137419219 84264'));
      const out = await getStatusTool.handler({}, ctx);
      expect(out.data.cpu).toMatchObject({ usagePercent: 7, iowaitPercent: 1, since: 'previous-sample', sampleMs: expect.any(Number) });
      // Measured since the probe's sample (not since boot): at most the time since the probe began.
      expect((out.data.cpu as { sampleMs: number }).sampleMs).toBeLessThanOrEqual(performance.now() - probedAt + 1);
      // Another edge environment has its own samples.
      const other = await getStatusTool.handler({}, context(join(dir, 'proc'), join(dir, 'sys')));
      expect(other.data.cpu).toMatchObject({ since: 'boot' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps its state per edge, not per call: every call gets its own copy of the EdgeEnv', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'get-status-'));
    try {
      await cp(PI, dir, { recursive: true });
      const ctx = context(join(dir, 'proc'), join(dir, 'sys'));
      await status.probe(ctx.env);
      // As edge.ts builds a call's context: a copy of the env with the call's own run().
      const call = (): ToolContext => ({ ...ctx, env: { ...ctx.env, run: ctx.env.run } });
      await writeFile(join(dir, 'proc/stat'), (await readFile(join(dir, 'proc/stat'), 'utf8')).replace('cpu  1403422 2150 612877 137418851 84260', 'cpu  1403442 2150 612885 137419219 84264'));
      const first = await getStatusTool.handler({}, call());
      expect(first.data.cpu).toMatchObject({ since: 'previous-sample' });
      expect(statusState(call().env)).toBe(statusState(ctx.env));
      // Cached facts survive across calls: os-release is not read again.
      await rm(join(dir, 'etc/os-release'));
      const second = await getStatusTool.handler({}, call());
      expect(second.data.os).toEqual(first.data.os);
      expect(second.data.errors).not.toHaveProperty('os');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers disks, temperatures, network and listening from a reading up to 5 s old, and reads them now with fresh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'get-status-'));
    try {
      await cp(PI, dir, { recursive: true });
      const ctx = context(join(dir, 'proc'), join(dir, 'sys'));
      // The monotonic clock (process.uptime) is the test's: a loaded machine must not let the
      // 5 s pass between two calls.
      const uptime = vi.spyOn(process, 'uptime').mockReturnValue(1000);
      const first = await getStatusTool.handler({ include: ['network', 'listening'] }, ctx);
      expect(first.data.cached).toMatchObject({ sections: ['disks', 'temperatures', 'network', 'listening'], ageMs: 0 });
      expect(first.data.temperatures).toEqual([{ sensor: 'cpu-thermal', celsius: 48.7, path: 'class/thermal/thermal_zone0/temp' }]);
      // The sensor warms up and the load changes: load is read on every call, the sensor within 5 s is not.
      await writeFile(join(dir, 'sys/class/thermal/thermal_zone0/temp'), '61000\n');
      await writeFile(join(dir, 'proc/loadavg'), '2.50 1.00 0.50 3/300 999\n');
      uptime.mockReturnValue(1002);
      const second = await getStatusTool.handler({}, ctx);
      expect((second.data.load as { load1: number }).load1).toBe(2.5);
      expect(second.data.temperatures).toEqual(first.data.temperatures);
      expect((second.data.cached as { readAt: string }).readAt).toBe((first.data.cached as { readAt: string }).readAt);
      expect((second.data.cached as { ageMs: number }).ageMs).toBe(2000);
      const fresh = await getStatusTool.handler({ fresh: true }, ctx);
      expect(fresh.data.temperatures).toEqual([{ sensor: 'cpu-thermal', celsius: 61, path: 'class/thermal/thermal_zone0/temp' }]);
      expect(fresh.data.cached).toMatchObject({ ageMs: 0 });
      // The fresh reading is the one kept.
      expect((await getStatusTool.handler({}, ctx)).data.temperatures).toEqual(fresh.data.temperatures);
    } finally {
      vi.restoreAllMocks();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a --boot-id-file on every call (a simulated reboot), the kernel\'s boot id once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'get-status-'));
    try {
      await cp(PI, dir, { recursive: true });
      const file = join(dir, 'boot_id');
      await writeFile(file, 'aaaa-1\n');
      const env = testEdgeEnv({ procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys'), childEnv: {}, bootIdFile: file, capabilities: () => [] });
      expect((await getStatusTool.handler({}, toolContext(env))).data.bootId).toBe('aaaa-1');
      await writeFile(file, 'bbbb-2\n');
      expect((await getStatusTool.handler({}, toolContext(env))).data.bootId).toBe('bbbb-2');
      const real = await getStatusTool.handler({}, context('/proc', '/sys'));
      expect(real.data.bootId).toBe((await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves network, listening and capabilities out unless asked, from the data, the text, cached and errors', async () => {
    const ctx = context(join(PI, 'proc'), join(PI, 'sys'), [{ name: 'status', enabled: true, active: true }]);
    const plain = await getStatusTool.handler({}, ctx);
    for (const k of ['network', 'listening', 'capabilities']) expect(plain.data).not.toHaveProperty(k);
    expect(plain.data).toMatchObject({ hostname: 'pi4', disks: expect.any(Array), temperatures: expect.any(Array), bootId: null });
    expect(plain.data.cached).toMatchObject({ sections: ['disks', 'temperatures'] });
    expect(plain.text).not.toMatch(/^(network|listening tcp|capabilities):/m);
    expect(plain.text).toContain('up 4d 1h 42m');
    const all = await getStatusTool.handler({ include: ['network', 'listening', 'capabilities'] }, ctx);
    expect(all.data.network).toEqual([expect.objectContaining({ name: 'eth0' }), expect.objectContaining({ name: 'wlan0' })]);
    expect((all.data.listening as Array<{ port: number }>).map((l) => l.port)).toContain(22);
    expect(all.data.capabilities).toEqual([{ name: 'status', enabled: true, active: true }]);
    expect(all.data.cached).toMatchObject({ sections: ['disks', 'temperatures', 'network', 'listening'] });
    expect(all.text).toMatch(/^listening tcp: 22, 8222$/m);
    const ports = await getStatusTool.handler({ include: ['listening'] }, ctx);
    expect(ports.data).toHaveProperty('listening');
    expect(ports.data).not.toHaveProperty('network');
    // Same keys in the same order as the collector's report.
    expect(Object.keys(all.data)).toEqual(['hostname', 'os', 'kernel', 'board', 'cpu', 'load', 'memory', 'swap', 'disks', 'temperatures', 'uptime', 'network', 'listening', 'capabilities', 'cached', 'errors', 'bootId']);
  });

  it('derives etc from a fixture tree, /etc for the real /proc', () => {
    expect(deriveEtcRoot('/proc')).toBe('/etc');
    expect(deriveEtcRoot('/proc/')).toBe('/etc');
    expect(deriveEtcRoot('/srv/pi/proc')).toBe('/srv/pi/etc');
  });

  it('answers with the fixture Pi, its os-release, and the capability report', async () => {
    const out = await getStatusTool.handler({ include: ['capabilities'] }, context(join(PI, 'proc'), join(PI, 'sys'), [
      { name: 'status', enabled: true, active: true },
      { name: 'gpio', enabled: true, active: false, reason: 'no /dev/gpiochip0' },
    ]));
    expect(out.data.hostname).toBe('pi4');
    expect(out.data.board).toMatchObject({ model: 'Raspberry Pi 4 Model B Rev 1.4' });
    expect(out.data.os).toMatchObject({ prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(out.data.capabilities).toEqual([
      { name: 'status', enabled: true, active: true },
      { name: 'gpio', enabled: true, active: false, reason: 'no /dev/gpiochip0' },
    ]);
    expect(out.text).toContain('capabilities: status; not active: gpio (no /dev/gpiochip0)');
    // The fixture's mounts are statted on this machine, where /boot/firmware does not exist.
    expect(out.data.errors).toHaveProperty('disks');
    expect(JSON.parse(JSON.stringify(out.data))).toEqual(out.data);
  });

  it('answers on this machine', async () => {
    const out = await getStatusTool.handler({ include: ['capabilities'] }, context('/proc', '/sys'));
    expect(typeof out.data.hostname).toBe('string');
    expect((out.data.disks as unknown[]).length).toBeGreaterThan(0);
    expect(out.data.capabilities).toEqual([]);
    expect(out.text!.split('\n')[0]).toContain(out.data.hostname as string);
  });
});
