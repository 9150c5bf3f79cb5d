/**
 * Smoke test of `compare-fanout.mjs` (same-run A/B of hub bundles on the fan-out): with a few
 * edges and turns it must measure every hub it is given and the direct calls. Numbers are
 * checked for plausibility only.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBench, TIMEOUT_MS } from '../bench-test-lib.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const HUB_BUNDLE = join(HERE, '../../packages/hub/dist/homelab-hub.mjs');

describe('bench/hub/compare-fanout.mjs', () => {
  it(
    'runs the fan-out through each named hub and straight to the edges, taking turns',
    async () => {
      const r = await runBench(join(HERE, 'compare-fanout.mjs'), ['--edges', '3', '--calls', '4', `a=${HUB_BUNDLE}`, `b=${HUB_BUNDLE}`]);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const rows = r.stdout.split('\n').filter((l) => /^\| (a|b|direct) \|/.test(l));
      expect(rows.map((l) => l.split('|')[1]!.trim())).toEqual(['a', 'b', 'direct']);
      for (const l of rows) {
        const [calls, p50, p99] = l.split('|').slice(2, 5).map((x) => Number(x.trim()));
        expect(calls).toBe(4);
        expect(p50).toBeGreaterThan(0);
        expect(p99).toBeGreaterThanOrEqual(p50!);
      }
      for (const l of rows.slice(0, 2)) expect(Number(l.split('|')[7]!.trim())).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it('refuses to run without a bundle, naming what it needs', async () => {
    const r = await runBench(join(HERE, 'compare-fanout.mjs'), []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least one hub bundle/);
  });
});
