/**
 * Smoke tests of bench/hub's tools for iterating on performance: `compare.mjs` (same-run A/B of
 * hub bundles) must measure every hub it is given, and `run.mjs --only` must run just the
 * phases asked for. Numbers are checked for plausibility only.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBench, TIMEOUT_MS } from '../bench-test-lib.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const HUB_BUNDLE = join(HERE, '../../packages/hub/dist/homelab-hub.mjs');

describe('bench/hub/compare.mjs', () => {
  it(
    'measures each named hub bundle in the same rounds and prints one row per hub',
    async () => {
      const r = await runBench(join(HERE, 'compare.mjs'), ['--quick', '--tools', 'get_status', '--concurrency', '1', `a=${HUB_BUNDLE}`, `b=${HUB_BUNDLE}`]);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const rows = r.stdout.split('\n').filter((l) => /^\| get_status \| 1 \|/.test(l));
      expect(rows.map((l) => l.split('|')[3]!.trim())).toEqual(['a', 'b']);
      for (const l of rows) {
        const [calls, p50, p99, perS, cpu] = l.split('|').slice(4, 9).map((x) => Number(x.trim()));
        expect(calls).toBe(200);
        expect(p50).toBeGreaterThan(0);
        expect(p99).toBeGreaterThanOrEqual(p50!);
        expect(perS).toBeGreaterThan(0);
        expect(cpu).toBeGreaterThan(0);
      }
    },
    TIMEOUT_MS,
  );

  it('refuses fewer than two bundles, naming what it needs', async () => {
    const r = await runBench(join(HERE, 'compare.mjs'), [`a=${HUB_BUNDLE}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least two hub bundles/);
  });
});

describe('bench/hub/run.mjs --only', () => {
  it(
    'runs only the phases named',
    async () => {
      const r = await runBench(join(HERE, 'run.mjs'), ['--quick', '--only', 'list']);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const keys = [...r.stdout.matchAll(/^\| (\w+) \|/gm)].map((m) => m[1]).filter((k) => k !== 'row');
      expect(keys).toEqual(['4a', '4b', '5']);
      expect(r.stdout).toMatch(/^[✔✘] tools\/list of 2000 upstream tools under 20 ms at p50: \d/m);
      expect(r.stdout).toMatch(/^✘ 50-node fan-out through the hub at most 1.1x the same calls made directly: not measured/m);
    },
    TIMEOUT_MS,
  );

  it('refuses an unknown phase', async () => {
    const r = await runBench(join(HERE, 'run.mjs'), ['--only', 'latency,nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown phase "nope"/);
  });
});
