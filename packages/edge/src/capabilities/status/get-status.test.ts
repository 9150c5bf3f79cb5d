import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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
  it('declares a read-only, idempotent get_status without arguments', () => {
    expect(status.name).toBe('status');
    expect(status.enabledByDefault).toBe(true);
    expect(status.tools.map((t) => t.name)).toEqual(['get_status']);
    expect(getStatusTool.inputSchema).toEqual({ type: 'object', properties: {}, additionalProperties: false });
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

  it('derives etc from a fixture tree, /etc for the real /proc', () => {
    expect(deriveEtcRoot('/proc')).toBe('/etc');
    expect(deriveEtcRoot('/proc/')).toBe('/etc');
    expect(deriveEtcRoot('/srv/pi/proc')).toBe('/srv/pi/etc');
  });

  it('answers with the fixture Pi, its os-release, and the capability report', async () => {
    const out = await getStatusTool.handler({}, context(join(PI, 'proc'), join(PI, 'sys'), [
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
    const out = await getStatusTool.handler({}, context('/proc', '/sys'));
    expect(typeof out.data.hostname).toBe('string');
    expect((out.data.disks as unknown[]).length).toBeGreaterThan(0);
    expect(out.data.capabilities).toEqual([]);
    expect(out.text!.split('\n')[0]).toContain(out.data.hostname as string);
  });
});
