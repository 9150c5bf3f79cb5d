/**
 * Pure parsers for the libgpiod command-line tools, in both generations: libgpiod 1.6
 * (Debian bookworm, Raspberry Pi OS) and libgpiod 2.x (Ubuntu 24.04, Debian trixie). The two
 * differ in syntax and output, so the edge finds the major version once and speaks that one.
 */
import { HomelabError } from '@homelab-mcp/core';

/** The libgpiod tools' version, from `gpiodetect --version`. */
export interface GpiodVersion {
  /** As printed, without the leading `v`: `1.6.3`, `2.1`, `2.3`. */
  version: string;
  major: number;
}

/** One chip, from `gpiodetect`. */
export interface GpioChip {
  name: string;
  label: string;
  lineCount: number;
}

/** One line of a chip, from `gpioinfo`, in the same shape for v1 and v2. */
export interface GpioLine {
  offset: number;
  /** Null for an unnamed line. */
  name: string | null;
  /** Who holds the line: a driver (`led0`), a program (`gpiomon`), or `kernel`; null when free. */
  consumer: string | null;
  used: boolean;
  direction: 'input' | 'output';
  activeLow: boolean;
  drive: 'push-pull' | 'open-drain' | 'open-source';
  /** `pull-up`, `pull-down` or `disabled`; null when not set (as-is). */
  bias: string | null;
  /** Edge detection requested by the holder (v2 only): `rising`, `falling` or `both`. */
  edges: string | null;
  /** Debounce period (v2 only), as printed: `10ms`. */
  debouncePeriod: string | null;
}

/** A chip's lines, from one `gpioinfo` block. */
export interface GpioChipLines {
  chip: string;
  lineCount: number;
  lines: GpioLine[];
}

/**
 * Reads the version from the first line of `gpiodetect --version`, which is
 * `gpiodetect (libgpiod) v1.6.3` up to 2.2 and `gpiodetect v2.3 (libgpiod v2.2.1)` from 2.3 on,
 * where the first number is the tools' own and the second the C API's.
 *
 * @example parseGpiodVersion('gpiodetect (libgpiod) v1.6.3\n…') // { version: '1.6.3', major: 1 }
 */
export function parseGpiodVersion(text: string): GpiodVersion | null {
  const first = text.split('\n', 1)[0] ?? '';
  const m = /\bv(\d+)\.(\d+)(?:\.(\d+))?(?:-[\w.]+)?\b/.exec(first);
  if (!m) return null;
  return { version: m[0].slice(1), major: Number(m[1]) };
}

/**
 * Reads `gpiodetect`: `gpiochip0 [pinctrl-bcm2711] (58 lines)`, one chip a line, the same in
 * v1 and v2. No chips means no output at all.
 */
export function parseGpiodetect(text: string): GpioChip[] {
  const chips: GpioChip[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) \[(.*)\] \((\d+) lines?\)\s*$/.exec(line);
    if (m) chips.push({ name: m[1]!, label: m[2]!, lineCount: Number(m[3]) });
  }
  return chips;
}

/** Splits a row into words, keeping `"quoted names"`, `[v1 flags]` and `key="value"` whole. */
function tokenize(s: string): string[] {
  return s.match(/"[^"]*"|\[[^\]]*\]|[^\s"=]+="[^"]*"|\S+/g) ?? [];
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function emptyLine(offset: number): GpioLine {
  return { offset, name: null, consumer: null, used: false, direction: 'input', activeLow: false, drive: 'push-pull', bias: null, edges: null, debouncePeriod: null };
}

/** v1 row: `"NAME"|unnamed  "consumer"|unused|kernel  input|output  active-high|active-low  [flags]`. */
function parseV1Row(offset: number, t: string[]): GpioLine {
  const l = emptyLine(offset);
  const [name = 'unnamed', consumer = 'unused', dir, active, flagText] = t;
  l.name = name === 'unnamed' ? null : unquote(name);
  l.consumer = consumer === 'unused' ? null : unquote(consumer);
  l.direction = dir === 'output' ? 'output' : 'input';
  l.activeLow = active === 'active-low';
  const flags = flagText?.startsWith('[') ? flagText.slice(1, -1).split(/\s+/).filter(Boolean) : [];
  l.used = l.consumer !== null || flags.includes('used');
  if (flags.includes('open-drain')) l.drive = 'open-drain';
  if (flags.includes('open-source')) l.drive = 'open-source';
  if (flags.includes('pull-up')) l.bias = 'pull-up';
  if (flags.includes('pull-down')) l.bias = 'pull-down';
  if (flags.includes('bias-disabled')) l.bias = 'disabled';
  return l;
}

/** v2 row: `"NAME"|unnamed  input|output [active-low] [drive=…] [bias=…] [edges=…] [event-clock=…] [debounce-period=…] [consumer="…"]`. */
function parseV2Row(offset: number, t: string[]): GpioLine {
  const l = emptyLine(offset);
  const [name = 'unnamed', dir, ...attrs] = t;
  l.name = name === 'unnamed' ? null : unquote(name);
  l.direction = dir === 'output' ? 'output' : 'input';
  for (const a of attrs) {
    const eq = a.indexOf('=');
    const key = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? '' : unquote(a.slice(eq + 1));
    if (key === 'active-low') l.activeLow = true;
    else if (key === 'drive' && (value === 'open-drain' || value === 'open-source')) l.drive = value;
    else if (key === 'bias') l.bias = value;
    else if (key === 'edges') l.edges = value;
    else if (key === 'debounce-period') l.debouncePeriod = value;
    else if (key === 'consumer') l.consumer = value;
  }
  l.used = l.consumer !== null;
  return l;
}

/**
 * Reads `gpioinfo` output of either generation. Each row says which it is: a v1 row always
 * has the consumer column before the direction and the active state after it, a v2 row has
 * the direction right after the name; so the parser needs no version and a mixed-up
 * version guess cannot garble it.
 *
 * @example parseGpioinfo('gpiochip1 - 8 lines:\n\tline   0:\t"BT_ON"         \toutput\n')[0].lines[0].name // 'BT_ON'
 */
export function parseGpioinfo(text: string): GpioChipLines[] {
  const chips: GpioChipLines[] = [];
  let current: GpioChipLines | undefined;
  for (const raw of text.split('\n')) {
    const head = /^(\S+) - (\d+) lines:\s*$/.exec(raw);
    if (head) {
      current = { chip: head[1]!, lineCount: Number(head[2]), lines: [] };
      chips.push(current);
      continue;
    }
    const row = /^\s+line\s+(\d+):\s*(.*)$/.exec(raw);
    if (!row || !current) continue;
    const offset = Number(row[1]);
    const t = tokenize(row[2]!);
    const isV1 = (t[2] === 'input' || t[2] === 'output') && (t[3] === 'active-high' || t[3] === 'active-low');
    current.lines.push(isV1 ? parseV1Row(offset, t) : parseV2Row(offset, t));
  }
  return chips;
}

/**
 * Reads one value from `gpioget`: `1` or `0` in v1 (and v2 with `--numeric`),
 * `"17"=active` or `"GPIO17"=inactive` in v2.
 *
 * @example parseGpiogetValue('"17"=active\n') // 1
 */
export function parseGpiogetValue(text: string): 0 | 1 {
  const s = text.trim();
  if (s === '0' || s === '1') return s === '1' ? 1 : 0;
  const m = /=(active|inactive)$/.exec(s);
  if (m) return m[1] === 'active' ? 1 : 0;
  throw new HomelabError('GPIO_BAD_OUTPUT', `gpioget printed something unexpected: ${JSON.stringify(s.slice(0, 200))}`);
}
