import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGpiodVersion, parseGpiodetect, parseGpioinfo, parseGpiogetValue } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

describe('parseGpiodVersion', () => {
  it('reads the version of libgpiod 1.6 (captured on this machine)', () => {
    expect(parseGpiodVersion(fixture('gpiodetect-version-v1.6.3.txt'))).toEqual({ version: '1.6.3', major: 1 });
  });

  it('reads the version of libgpiod 2.0-2.2 and of 2.3, which adds the API version', () => {
    expect(parseGpiodVersion(fixture('gpiodetect-version-v2.1.txt'))).toEqual({ version: '2.1', major: 2 });
    // "gpiodetect v2.3 (libgpiod v2.2.1)": the tools' version comes first and decides the syntax.
    expect(parseGpiodVersion(fixture('gpiodetect-version-v2.3.txt'))).toEqual({ version: '2.3', major: 2 });
  });

  it('returns null when there is no version', () => {
    expect(parseGpiodVersion('')).toBeNull();
    expect(parseGpiodVersion('gpiodetect: unrecognized option')).toBeNull();
  });
});

describe('parseGpiodetect', () => {
  it('lists the chips of a Raspberry Pi 4', () => {
    expect(parseGpiodetect(fixture('pi4-gpiodetect.txt'))).toEqual([
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', lineCount: 58 },
      { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lineCount: 8 },
    ]);
  });

  it('reads no output (a machine without GPIO) as no chips', () => {
    expect(parseGpiodetect('')).toEqual([]);
  });
});

describe('parseGpioinfo', () => {
  const v1 = parseGpioinfo(fixture('pi4-gpioinfo-v1.txt'));
  const v2 = parseGpioinfo(fixture('pi4-gpioinfo-v2.txt'));

  it('reads every chip and line of a Raspberry Pi 4 in the v1 format', () => {
    expect(v1.map((c) => [c.chip, c.lineCount, c.lines.length])).toEqual([
      ['gpiochip0', 58, 58],
      ['gpiochip1', 8, 8],
    ]);
    const l = v1[0]!.lines;
    expect(l[0]).toEqual({
      offset: 0, name: 'ID_SDA', consumer: null, used: false, direction: 'input', activeLow: false,
      drive: 'push-pull', bias: null, edges: null, debouncePeriod: null,
    });
    expect(l[4]).toMatchObject({ name: 'GPIO_GCLK', consumer: 'onewire@0', used: true, direction: 'output', drive: 'open-drain' });
    expect(l[17]).toMatchObject({ offset: 17, name: 'GPIO17', used: false, direction: 'input' });
    expect(l[26]).toMatchObject({ name: 'GPIO26', consumer: 'shutdown', activeLow: true, bias: 'pull-up' });
    // A name longer than the column makes v1 stop padding the rest of the row.
    expect(l[42]).toMatchObject({ name: 'STATUS_LED_G_CLK', consumer: 'led0', used: true, direction: 'output', activeLow: false });
    expect(l[43]).toMatchObject({ name: 'SPIFLASH_CE_N', consumer: null, used: false, direction: 'output' });
    const c1 = v1[1]!.lines;
    expect(c1[2]).toMatchObject({ name: 'PWR_LED_OFF', consumer: 'led1', activeLow: true, direction: 'output' });
    expect(c1[7]).toMatchObject({ offset: 7, name: null, used: false });
  });

  it('reads the same lines from the v2 format', () => {
    expect(v2.map((c) => [c.chip, c.lineCount, c.lines.length])).toEqual([
      ['gpiochip0', 58, 58],
      ['gpiochip1', 8, 8],
    ]);
    const l = v2[0]!.lines;
    expect(l[0]).toEqual({
      offset: 0, name: 'ID_SDA', consumer: null, used: false, direction: 'input', activeLow: false,
      drive: 'push-pull', bias: null, edges: null, debouncePeriod: null,
    });
    expect(l[26]).toMatchObject({ name: 'GPIO26', consumer: 'shutdown', activeLow: true, bias: 'pull-up' });
    expect(l[27]).toMatchObject({ name: 'GPIO27', consumer: 'gpiomon', edges: 'both', debouncePeriod: '10ms' });
    expect(l[42]).toMatchObject({ name: 'STATUS_LED_G_CLK', consumer: 'led0', used: true, direction: 'output' });
    expect(v2[1]!.lines[7]).toMatchObject({ name: null, direction: 'input' });
  });

  it('agrees between v1 and v2 on everything both formats show', () => {
    const common = (c: ReturnType<typeof parseGpioinfo>) =>
      c.map((chip) => chip.lines.map(({ offset, name, consumer, used, direction, activeLow, drive, bias }) => ({ offset, name, consumer, used, direction, activeLow, drive, bias })));
    expect(common(v1)).toEqual(common(v2));
  });

  it('reads a consumer name with spaces in v2', () => {
    const [chip] = parseGpioinfo('gpiochip0 - 2 lines:\n\tline   0:\t"BTN"           \tinput bias=pull-up consumer="my button"\n\tline   1:\tunnamed         \toutput\n');
    expect(chip!.lines[0]).toMatchObject({ name: 'BTN', consumer: 'my button', bias: 'pull-up', used: true });
    expect(chip!.lines[1]).toMatchObject({ name: null, direction: 'output', used: false });
  });

  it('reads empty output (no chips) as no chips', () => {
    expect(parseGpioinfo('')).toEqual([]);
  });
});

describe('parseGpiogetValue', () => {
  it('reads v1 digits and v2 active/inactive', () => {
    expect(parseGpiogetValue('1\n')).toBe(1);
    expect(parseGpiogetValue('0\n')).toBe(0);
    expect(parseGpiogetValue('"17"=active\n')).toBe(1);
    expect(parseGpiogetValue('"GPIO17"=inactive\n')).toBe(0);
    expect(parseGpiogetValue('GPIO17=active\n')).toBe(1);
  });

  it('refuses anything else', () => {
    expect(() => parseGpiogetValue('')).toThrow(/unexpected/);
    expect(() => parseGpiogetValue('"17"=maybe')).toThrow(/unexpected/);
  });
});
