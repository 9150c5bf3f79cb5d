import { describe, expect, it } from 'vitest';
import { createRefusalLog, tokenChecker } from './server.ts';
import type { Logger } from './log.ts';

function capture() {
  const lines: Array<{ msg: string } & Record<string, unknown>> = [];
  const log = { warn: (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, ...fields }) } as unknown as Logger;
  return { log, lines };
}

describe('createRefusalLog', () => {
  it('logs one line per key per window, then says how many it left out', () => {
    let t = 0;
    const { log, lines } = capture();
    const refused = createRefusalLog(log, 10_000, () => t);
    for (let i = 0; i < 50; i++) refused('unauthorized\u0000192.0.2.9', 'refused (401)', { source: '192.0.2.9' });
    refused('forbidden_host\u0000a.example', 'refused a.example', {});
    refused('forbidden_host\u0000b.example', 'refused b.example', {});
    expect(lines.map((l) => l.msg)).toEqual(['refused (401)', 'refused a.example', 'refused b.example']);
    t = 10_000;
    refused('unauthorized\u0000192.0.2.9', 'refused (401)', { source: '192.0.2.9' });
    expect(lines.at(-1)).toEqual({ msg: 'refused (401)', source: '192.0.2.9', suppressedSinceLast: 49 });
  });

  it('writes at most 100 lines per window however many names a flood makes up', () => {
    let t = 0;
    const { log, lines } = capture();
    const refused = createRefusalLog(log, 10_000, () => t);
    for (let i = 0; i < 500; i++) refused(`forbidden_host\u0000n${i}.example`, `refused n${i}`, {});
    expect(lines).toHaveLength(100);
    t = 10_000;
    refused('forbidden_host\u0000n300.example', 'refused n300', {});
    expect(lines.at(-1)).toEqual({ msg: 'refused n300', suppressedSinceLast: 1 });
  });
});

describe('tokenChecker', () => {
  it('accepts the token only, whatever the length of a guess', () => {
    const ok = tokenChecker('edge-token-0123456789abcdef');
    expect(ok('edge-token-0123456789abcdef')).toBe(true);
    for (const guess of ['', 'edge', 'edge-token-0123456789abcdeF', 'edge-token-0123456789abcdef0', '\u00e9'.repeat(40)]) expect(ok(guess)).toBe(false);
    // Asked again: the expected digest is kept, the answer the same.
    expect(ok('edge-token-0123456789abcdef')).toBe(true);
    expect(tokenChecker('')('')).toBe(false);
  });
});
