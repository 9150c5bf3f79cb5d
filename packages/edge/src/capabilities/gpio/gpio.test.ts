import { scriptedEdgeEnv, testEdgeEnv } from '@homelab-mcp/testkit';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeEnv, ToolContext } from '../../capability.ts';
import { validate } from '../../schema.ts';
import { GPIOD_MISSING, NO_GPIO_CHIPS, gpio, normalizeGpioChip, parseGpioLineRef, parseGpioValue, probeGpio } from '../gpio.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const tool = (name: string) => gpio.tools.find((t) => t.name === name)!;


const ctxOf = (env: EdgeEnv): ToolContext => ({ env, signal: new AbortController().signal });
const enoent = (file: string) => Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT', errno: -2, syscall: `spawn ${file}`, path: file });

const V1 = { 'gpiodetect --version': { stdout: fixture('gpiodetect-version-v1.6.3.txt') } };
const V2 = { 'gpiodetect --version': { stdout: fixture('gpiodetect-version-v2.1.txt') } };
const DETECT = { gpiodetect: { stdout: fixture('pi4-gpiodetect.txt') } };

describe('arguments', () => {
  it('normalizes chips given by name, number or path', () => {
    expect(normalizeGpioChip('gpiochip0')).toBe('gpiochip0');
    expect(normalizeGpioChip(1)).toBe('gpiochip1');
    expect(normalizeGpioChip('4')).toBe('gpiochip4');
    expect(normalizeGpioChip('/dev/gpiochip2')).toBe('gpiochip2');
    for (const bad of ['pinctrl-bcm2711', '-c', 'gpiochip', -1, 1.5, '/dev/sda']) expect(() => normalizeGpioChip(bad)).toThrow(/chip must be/);
  });

  it('reads lines as offsets or names, never as options', () => {
    expect(parseGpioLineRef(17)).toEqual({ offset: 17 });
    expect(parseGpioLineRef('17')).toEqual({ offset: 17 });
    expect(parseGpioLineRef('GPIO17')).toEqual({ name: 'GPIO17' });
    expect(parseGpioLineRef('STATUS_LED_G_CLK')).toEqual({ name: 'STATUS_LED_G_CLK' });
    for (const bad of [1024, -1, '--chip', '-t0', '', 'a"b', 2.5, null]) expect(() => parseGpioLineRef(bad)).toThrow(/line must be/);
  });

  it('reads values as 0 or 1', () => {
    expect([parseGpioValue(1), parseGpioValue(true), parseGpioValue(0), parseGpioValue(false)]).toEqual([1, 1, 0, 0]);
    for (const bad of [2, '1', 'on', null]) expect(() => parseGpioValue(bad)).toThrow(/value must be/);
  });
});

describe('libgpiod v1 (1.6)', () => {
  it('gpio_info lists chips and lines with v1 commands', async () => {
    const { env, calls, argv } = scriptedEdgeEnv({ ...V1, ...DETECT, gpioinfo: { stdout: fixture('pi4-gpioinfo-v1.txt') } });
    const out = await tool('gpio_info').handler({}, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpiodetect', 'gpioinfo']);
    for (const c of calls) {
      expect(c.timeoutMs).toBe(5_000);
      expect(c.maxBytes).toBe(1 << 20);
      expect(c.env).toBe(env.childEnv);
    }
    const chips = out.data.chips as Array<{ name: string; label: string; lines: unknown[] }>;
    expect(out.data.libgpiod).toBe('1.6.3');
    expect(chips.map((c) => [c.name, c.label, c.lines.length])).toEqual([
      ['gpiochip0', 'pinctrl-bcm2711', 58],
      ['gpiochip1', 'raspberrypi-exp-gpio', 8],
    ]);
    expect(out.text).toContain('gpiochip0 [pinctrl-bcm2711]: 58 lines, 4 in use');
    expect(out.text).toContain('   42 STATUS_LED_G_CLK output used by led0');
    expect(out.text).toContain('   26 GPIO26 input active-low bias=pull-up used by shutdown');
  });

  it('gpio_info for one chip passes the chip as an argument', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V1, ...DETECT, 'gpioinfo gpiochip1': { stdout: fixture('pi4-gpioinfo-chip1-v1.txt') } });
    const out = await tool('gpio_info').handler({ chip: 1 }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpiodetect', 'gpioinfo gpiochip1']);
    expect((out.data.chips as unknown[]).length).toBe(1);
  });

  it('gpio_read runs gpioget CHIP OFFSET and reads a bare digit', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V1, 'gpioget gpiochip0 17': { stdout: '1\n' } });
    const out = await tool('gpio_read').handler({ chip: 'gpiochip0', line: 17 }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioget gpiochip0 17']);
    expect(out.data).toEqual({ chip: 'gpiochip0', line: 17, offset: 17, value: 1, active: true });
    expect(out.text).toBe('gpiochip0 line 17: 1 (active)');
  });

  it('gpio_read looks a line name up in gpioinfo, since v1 gpioget takes offsets only', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V1, 'gpioinfo gpiochip0': { stdout: fixture('pi4-gpioinfo-v1.txt').split('gpiochip1')[0] }, 'gpioget gpiochip0 27': { stdout: '0\n' } });
    const out = await tool('gpio_read').handler({ chip: 0, line: 'GPIO27' }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioinfo gpiochip0', 'gpioget gpiochip0 27']);
    expect(out.data).toMatchObject({ line: 'GPIO27', offset: 27, value: 0, active: false });
    expect(out.text).toBe('gpiochip0 line "GPIO27" (offset 27): 0 (inactive)');
  });

  it('gpio_read says which names exist when a name is unknown', async () => {
    const { env } = scriptedEdgeEnv({ ...V1, 'gpioinfo gpiochip0': { stdout: fixture('pi4-gpioinfo-v1.txt') } });
    await expect(tool('gpio_read').handler({ chip: 0, line: 'GPIO99' }, ctxOf(env))).rejects.toThrow('gpiochip0 has no line named "GPIO99" (see gpio_info)');
  });

  it('gpio_write runs gpioset CHIP OFFSET=VALUE, which exits at once in v1', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V1, 'gpioset gpiochip0 17=1': {} });
    const out = await tool('gpio_write').handler({ chip: 'gpiochip0', line: 17, value: true }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioset gpiochip0 17=1']);
    expect(out.data).toMatchObject({ chip: 'gpiochip0', offset: 17, value: 1, released: true });
    expect(out.text).toMatch(/^gpiochip0 line 17 set to 1 \(active\)/);
  });

  it('explains a line held by a driver', async () => {
    const { env } = scriptedEdgeEnv({ ...V1, 'gpioset gpiochip0 42=0': { exitCode: 1, stderr: 'gpioset: error setting the GPIO line values: Device or resource busy\n' } });
    await expect(tool('gpio_write').handler({ chip: 0, line: 42, value: 0 }, ctxOf(env))).rejects.toThrow(
      /line 42 of gpiochip0 is in use by another consumer .*Device or resource busy/,
    );
  });

  it('tells a wrong chip apart from a node without GPIO', async () => {
    const missing = { exitCode: 1, stderr: 'gpioget: error reading GPIO values: No such file or directory\n' };
    const wrong = scriptedEdgeEnv({ ...V1, ...DETECT, 'gpioget gpiochip7 1': missing });
    await expect(tool('gpio_read').handler({ chip: 7, line: 1 }, ctxOf(wrong.env))).rejects.toThrow('gpiochip7 does not exist on this node (chips: gpiochip0, gpiochip1)');
    const none = scriptedEdgeEnv({ ...V1, gpiodetect: { stdout: '' }, 'gpioget gpiochip0 1': missing });
    await expect(tool('gpio_read').handler({ chip: 0, line: 1 }, ctxOf(none.env))).rejects.toThrow(NO_GPIO_CHIPS);
  });

  it('names the gpio group when /dev/gpiochip* is not accessible', async () => {
    const { env } = scriptedEdgeEnv({ ...V1, 'gpioget gpiochip0 4': { exitCode: 1, stderr: 'gpioget: error reading GPIO values: Permission denied\n' } });
    await expect(tool('gpio_read').handler({ chip: 0, line: 4 }, ctxOf(env))).rejects.toThrow(/Permission denied\. The edge's user needs read-write access to \/dev\/gpiochip\* \(the gpio group/);
  });
});

describe('libgpiod v2', () => {
  it('gpio_info passes the chip with --chip', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, ...DETECT, 'gpioinfo --chip gpiochip1': { stdout: fixture('pi4-gpioinfo-chip1-v2.txt') } });
    const out = await tool('gpio_info').handler({ chip: 'gpiochip1' }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpiodetect', 'gpioinfo --chip gpiochip1']);
    const [chip] = out.data.chips as Array<{ lines: Array<{ name: string | null; consumer: string | null }> }>;
    expect(chip!.lines[2]).toMatchObject({ name: 'PWR_LED_OFF', consumer: 'led1' });
    expect(out.data.libgpiod).toBe('2.1');
  });

  it('gpio_info lists all chips from the v2 format', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, ...DETECT, gpioinfo: { stdout: fixture('pi4-gpioinfo-v2.txt') } });
    const out = await tool('gpio_info').handler({}, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpiodetect', 'gpioinfo']);
    expect(out.text).toContain('   27 GPIO27 input edges=both debounce=10ms used by gpiomon');
  });

  it('gpio_read reads as-is with --chip and parses "17"=active', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, 'gpioget --as-is --chip gpiochip0 17': { stdout: '"17"=active\n' } });
    const out = await tool('gpio_read').handler({ chip: 0, line: '17' }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioget --as-is --chip gpiochip0 17']);
    expect(out.data).toMatchObject({ offset: 17, value: 1, active: true });
  });

  it('gpio_read passes a line name straight to gpioget, which resolves it', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, 'gpioget --as-is --chip gpiochip0 GPIO27': { stdout: '"GPIO27"=inactive\n' } });
    const out = await tool('gpio_read').handler({ chip: 'gpiochip0', line: 'GPIO27' }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioget --as-is --chip gpiochip0 GPIO27']);
    expect(out.data).toEqual({ chip: 'gpiochip0', line: 'GPIO27', value: 0, active: false });
  });

  it('gpio_write uses -t0 so that v2 gpioset exits instead of holding the line', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, 'gpioset -t0 --chip gpiochip0 17=0': {} });
    const out = await tool('gpio_write').handler({ chip: 'gpiochip0', line: 17, value: 0 }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioset -t0 --chip gpiochip0 17=0']);
    expect(out.data).toMatchObject({ value: 0, released: true });
  });

  it('reports an offset out of range', async () => {
    const { env } = scriptedEdgeEnv({ ...V2, 'gpioget --as-is --chip gpiochip1 9': { exitCode: 1, stderr: "gpioget: offset 9 is out of range on chip 'gpiochip1'\n" } });
    await expect(tool('gpio_read').handler({ chip: 1, line: 9 }, ctxOf(env))).rejects.toThrow(/line 9 of gpiochip1 does not exist/);
  });

  it('reports a chip v2 cannot find', async () => {
    const { env } = scriptedEdgeEnv({ ...V2, ...DETECT, 'gpioget --as-is --chip gpiochip5 1': { exitCode: 1, stderr: "gpioget: cannot find GPIO chip character device 'gpiochip5'\n" } });
    await expect(tool('gpio_read').handler({ chip: 5, line: 1 }, ctxOf(env))).rejects.toThrow('gpiochip5 does not exist on this node (chips: gpiochip0, gpiochip1)');
  });
});

describe('probe and detection', () => {
  // A PATH directory with the tools, an empty one, and /dev trees with and without chips.
  const root = mkdtempSync(join(tmpdir(), 'gpio-probe-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const bin = join(root, 'bin');
  const empty = join(root, 'empty');
  const piDev = join(root, 'pi-dev');
  const vmDev = join(root, 'vm-dev');
  for (const d of [bin, empty, piDev, vmDev]) mkdirSync(d);
  for (const t of ['gpiodetect', 'gpioinfo', 'gpioget', 'gpioset']) {
    writeFileSync(join(bin, t), '#!/bin/sh\nexit 99\n');
    chmodSync(join(bin, t), 0o755);
  }
  for (const f of ['gpiochip10', 'gpiochip0', 'gpiochip1', 'gpiomem', 'null']) writeFileSync(join(piDev, f), '');
  for (const f of ['null', 'vda']) writeFileSync(join(vmDev, f), '');

  it('probes by finding the tools on PATH and the chips in /dev, without running anything', async () => {
    const { env, calls } = scriptedEdgeEnv({}, { childEnv: { PATH: `${empty}:${bin}` } });
    expect(await probeGpio(env, piDev)).toEqual({ ok: true, detail: `${join(bin, 'gpiodetect')}; gpiochip0, gpiochip1, gpiochip10` });
    expect(calls).toHaveLength(0);
  });

  it('detects the version on the first tool call, once, and reuses it for every tool', async () => {
    const { env, argv } = scriptedEdgeEnv({ ...V2, ...DETECT, 'gpioget --as-is --chip gpiochip0 17': { stdout: '"17"=inactive\n' } });
    await tool('gpio_read').handler({ chip: 0, line: 17 }, ctxOf(env));
    await tool('gpio_read').handler({ chip: 0, line: 17 }, ctxOf(env));
    expect(argv()).toEqual(['gpiodetect --version', 'gpioget --as-is --chip gpiochip0 17', 'gpioget --as-is --chip gpiochip0 17']);
  });

  it('fails with "not installed" when the tools are missing', async () => {
    const { env } = scriptedEdgeEnv({ 'gpiodetect --version': enoent('gpiodetect') }, { childEnv: { PATH: empty } });
    expect(await probeGpio(env, piDev)).toEqual({ ok: false, reason: 'libgpiod tools are not installed (apt install gpiod)' });
    await expect(tool('gpio_info').handler({}, ctxOf(env))).rejects.toThrow(GPIOD_MISSING);
  });

  it('fails with "no GPIO chips" when /dev has none', async () => {
    const { env, calls } = scriptedEdgeEnv({}, { childEnv: { PATH: bin } });
    expect(await probeGpio(env, vmDev)).toEqual({ ok: false, reason: 'this node has no GPIO chips' });
    expect(await probeGpio(env, join(root, 'no-dev'))).toEqual({ ok: false, reason: 'this node has no GPIO chips' });
    expect(calls).toHaveLength(0);
  });

  it('gpio_info says "no GPIO chips" when gpiodetect prints nothing', async () => {
    const { env } = scriptedEdgeEnv({ ...V1, gpiodetect: { stdout: '' } });
    await expect(tool('gpio_info').handler({}, ctxOf(env))).rejects.toThrow(NO_GPIO_CHIPS);
  });

  it('describes every argument and accepts only known ones', () => {
    for (const t of gpio.tools) {
      expect(t.inputSchema.additionalProperties).toBe(false);
      for (const p of Object.values(t.inputSchema.properties ?? {})) expect(p.description).toBeTruthy();
    }
    const w = tool('gpio_write').inputSchema;
    expect(validate(w, { chip: 'gpiochip0', line: 17, value: 1 })).toEqual([]);
    expect(validate(w, { chip: 0, line: 'GPIO17', value: false })).toEqual([]);
    expect(validate(w, { chip: 0, line: 17, value: 2 })).not.toEqual([]);
    expect(validate(w, { chip: 0, line: 1024, value: 1 })).not.toEqual([]);
    expect(validate(w, { chip: 0, line: 17, value: 1, force: true })).toEqual(['force: is not a known argument']);
    expect(validate(w, { chip: 0, line: 17 })).toEqual(['value: is required']);
  });

  it('annotates the write tool as destructive and the others as read-only', () => {
    const ann = Object.fromEntries(gpio.tools.map((t) => [t.name, t.annotations]));
    expect(ann.gpio_info).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
    expect(ann.gpio_read).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
    expect(ann.gpio_write).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: false });
  });
});

describe('gpio on this machine', () => {
  const realEnv = (childEnv: NodeJS.ProcessEnv): EdgeEnv => testEdgeEnv({ childEnv });
  let toolsPresent = false;
  try {
    execFileSync('gpiodetect', ['--version'], { stdio: 'ignore' });
    toolsPresent = true;
  } catch {
    // Not installed: the test that needs the tools is skipped.
  }
  const hasChips = readdirSync('/dev').some((f) => f.startsWith('gpiochip'));

  it('says the tools are not installed when they are not on PATH', async () => {
    const env = realEnv({ PATH: '/nonexistent' });
    expect(await gpio.probe(env)).toEqual({ ok: false, reason: GPIOD_MISSING });
    await expect(tool('gpio_read').handler({ chip: 0, line: 17 }, ctxOf(env))).rejects.toThrow(GPIOD_MISSING);
  });

  it.skipIf(!toolsPresent || hasChips)('says there are no GPIO chips, with the real tools', async () => {
    const env = realEnv(process.env);
    expect(await gpio.probe(env)).toEqual({ ok: false, reason: NO_GPIO_CHIPS });
    await expect(tool('gpio_info').handler({}, ctxOf(env))).rejects.toThrow(NO_GPIO_CHIPS);
    await expect(tool('gpio_read').handler({ chip: 0, line: 17 }, ctxOf(env))).rejects.toThrow(NO_GPIO_CHIPS);
  });
});
