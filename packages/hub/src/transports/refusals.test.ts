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
});
