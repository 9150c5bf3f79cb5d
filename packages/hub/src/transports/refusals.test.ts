import { describe, expect, it } from 'vitest';
import { createRefusals, type RefusalKind } from './refusals.ts';

describe('createRefusals', () => {
  it('counts every refusal and logs one line per kind and source per window, with the suppressed count', () => {
    let t = 0;
    const lines: Array<Record<string, unknown>> = [];
    const counted: RefusalKind[] = [];
    const r = createRefusals({ log: { warn: (o) => void lines.push(o) }, count: (k) => void counted.push(k), now: () => t, windowMs: 10_000 });
    for (let i = 0; i < 1000; i++) r.refuse('unauthorized', '10.0.0.9');
    r.refuse('unauthorized', '10.0.0.8');
    r.refuse('rate_limited', '10.0.0.9');
    expect(counted).toHaveLength(1002);
    expect(lines.map((l) => `${l.refusal} ${l.source}`)).toEqual(['unauthorized 10.0.0.9', 'unauthorized 10.0.0.8', 'rate_limited 10.0.0.9']);
    t = 10_000;
    r.refuse('unauthorized', '10.0.0.9');
    expect(lines.at(-1)).toMatchObject({ refusal: 'unauthorized', source: '10.0.0.9', suppressedSinceLast: 999 });
  });

  it('logs each refused Host name once per window on its own, and at most 100 lines per window in all', () => {
    let t = 0;
    const lines: Array<Record<string, unknown>> = [];
    const r = createRefusals({ log: { warn: (o) => void lines.push(o) }, count: () => undefined, now: () => t, windowMs: 10_000 });
    r.refuse('forbidden_host', '10.0.0.9', { host: 'a.example' }, { distinct: 'a.example', msg: 'refused a' });
    r.refuse('forbidden_host', '10.0.0.9', { host: 'a.example' }, { distinct: 'a.example', msg: 'refused a' });
    r.refuse('forbidden_host', '10.0.0.9', { host: 'b.example' }, { distinct: 'b.example', msg: 'refused b' });
    expect(lines.map((l) => l.host)).toEqual(['a.example', 'b.example']);
    for (let i = 0; i < 500; i++) r.refuse('forbidden_host', '10.0.0.9', { host: `n${i}` }, { distinct: `n${i}` });
    expect(lines).toHaveLength(100);
    t = 10_000;
    r.refuse('forbidden_host', '10.0.0.9', { host: 'n400' }, { distinct: 'n400' });
    expect(lines.at(-1)).toMatchObject({ host: 'n400', suppressedSinceLast: 1 });
  });
});
