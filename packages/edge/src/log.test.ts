import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createLogger as createHubLogger } from '@homelab-mcp/core/log';
import { createCoalescer, createLogger } from './log.ts';

const SECRET = 'edge-secret-0123456789abcdef';

/** Parsed lines written by an edge logger. */
function capture(level: 'debug' | 'info' | 'warn' = 'info') {
  const raw: string[] = [];
  const log = createLogger({ level, write: (l) => void raw.push(l) });
  return { log, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the edge logger', () => {
  it('writes the same fields, in the same order and types, as the hub\'s pino logger', () => {
    const hubRaw: string[] = [];
    const hub = createHubLogger({ name: 'hub', destination: { write: (l: string) => void hubRaw.push(l) } });
    hub.warn({ host: 'evil.example' }, 'refused');
    const edge = capture();
    edge.log.warn('refused', { host: 'evil.example' });

    const h = JSON.parse(hubRaw[0]!) as Record<string, unknown>;
    const e = edge.lines()[0]!;
    expect(Object.keys(e)).toEqual(Object.keys(h));
    expect(e).toMatchObject({ level: 'warn', pid: process.pid, hostname: h.hostname, name: 'edge', host: 'evil.example', msg: 'refused' });
    expect(new Date(e.time as string).toISOString()).toBe(e.time);
    expect(edge.raw[0]!.endsWith('\n')).toBe(true);
  });

  it('filters by level and keeps child bindings', () => {
    const { log, lines } = capture('warn');
    const child = log.child({ capability: 'gpio' });
    child.info('hidden');
    child.warn('shown', { chips: 0 });
    expect(lines()).toEqual([expect.objectContaining({ level: 'warn', name: 'edge', capability: 'gpio', chips: 0, msg: 'shown' })]);
  });

  it('writes the same line through its fast path (flat, non-secret fields) as through the general one', () => {
    const at = new Date('2026-12-08T01:00:00.000Z');
    const raw: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => void raw.push(l), now: () => at, bindings: { node: 'pi' } });
    const cases: Array<Record<string, unknown> | undefined> = [
      undefined,
      {},
      { tool: 'get_env', ok: true, ms: 0.4, era: 'legacy' },
      { skipped: undefined, n: null, s: 'quote " and \\ \u0001' },
      { nested: { a: 1 } },
      { token: 'x' },
      { pid: 1 },
      { msg: 'shadow' },
    ];
    for (const f of cases) log.info('tool call "x"', f);
    const head = { pid: process.pid, hostname: JSON.parse(raw[0]!).hostname, name: 'edge', node: 'pi' };
    raw.forEach((line, i) => {
      const f = cases[i];
      const redacted = f && 'token' in f ? { ...f, token: '[REDACTED]' } : f;
      expect(line).toBe(JSON.stringify({ level: 'info', time: at.toISOString(), ...head, ...(redacted ?? {}), msg: 'tool call "x"' }) + '\n');
    });
  });

  it('redacts secrets by the hub\'s key rule, in fields and bindings', () => {
    const { log, raw, lines } = capture();
    log.child({ hubToken: SECRET }).info('call', { headers: { Authorization: `Bearer ${SECRET}` }, env: { DB_PASS: SECRET }, tokenFile: '/etc/homelab-edge/token' });
    expect(raw.join('')).not.toContain(SECRET);
    expect(lines()[0]).toMatchObject({ hubToken: '[REDACTED]', headers: { Authorization: '[REDACTED]' }, env: { DB_PASS: '[REDACTED]' }, tokenFile: '/etc/homelab-edge/token' });
  });
});

describe('createCoalescer', () => {
  it('writes a line after a quiet spell at once, holds the ones right after it, and writes urgent lines at once', () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    let t = 1000;
    const out: string[] = [];
    const c = createCoalescer((s) => void out.push(s), 100, () => t);
    c.write('start\n', false);
    expect(out).toEqual(['start\n']);
    t += 5;
    c.write('a\n', false);
    t += 5;
    c.write('b\n', false);
    expect(out).toEqual(['start\n']);
    // 100 ms after the last write (the timer was set 5 ms after it), the held lines go out together.
    t += 90;
    vi.advanceTimersByTime(94);
    expect(out).toEqual(['start\n']);
    vi.advanceTimersByTime(1);
    expect(out).toEqual(['start\n', 'a\nb\n']);
    // Within 100 ms of that write: held again; an urgent line writes them first, then itself.
    t += 10;
    c.write('c\n', false);
    c.write('warn\n', true);
    expect(out).toEqual(['start\n', 'a\nb\n', 'c\n', 'warn\n']);
    // Quiet again: at once.
    t += 500;
    vi.advanceTimersByTime(500);
    c.write('later\n', false);
    expect(out.at(-1)).toBe('later\n');
    // flush() (the process's exit) writes what is held.
    c.write('held\n', false);
    c.flush();
    expect(out.at(-1)).toBe('held\n');
  });

  it('writes at once what grows past 64 Ki characters', () => {
    let t = 0;
    const out: string[] = [];
    const c = createCoalescer((s) => void out.push(s), 100, () => t);
    c.write('first\n', false);
    const big = 'x'.repeat(40 * 1024) + '\n';
    c.write(big, false);
    c.write(big, false);
    expect(out).toEqual(['first\n', big + big]);
    c.flush();
  });
});
