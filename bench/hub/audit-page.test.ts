/**
 * Smoke test of bench/hub/audit-page.mjs: `--quick` must finish, measure every row over the
 * 100,000 events and print both targets with ✔/✘. The targets are the bench's verdict, not
 * asserted here (they depend on the machine and its load).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findRow, runQuickBench, TIMEOUT_MS, type BenchResult } from '../bench-test-lib.ts';

const RUN = join(dirname(fileURLToPath(import.meta.url)), 'audit-page.mjs');

interface Row {
  id: string;
  n: number;
  p50: number;
  p99: number;
  rows?: number;
  readMiB?: number;
  parsed?: number;
}
interface Report {
  meta: { events: number; files: number; bytes: number; reps: number };
  rows: Row[];
  targets: Array<{ id: string; pass: boolean }>;
}

let result: BenchResult;
let report: Report;

beforeAll(async () => {
  ({ result, report } = await runQuickBench<Report>(RUN, 'audit-page-bench-test-'));
}, TIMEOUT_MS);

describe('bench/hub/audit-page.mjs --quick', () => {
  it('measures every page and the live stream over 100,000 events, and prints the targets', () => {
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(report.meta.events).toBe(100_000);
    expect(report.rows.map((r) => r.id)).toEqual(['newest', 'older', 'operator', 'rare-tool', 'node-outcome', 'time-window', 'live']);
    for (const r of report.rows) {
      expect(r.n, r.id).toBe(report.meta.reps);
      expect(r.p50, r.id).toBeGreaterThan(0);
      expect(r.p99, r.id).toBeGreaterThanOrEqual(r.p50);
    }
    // Each page showed what it should: 50 rows, or the 10 rare ones.
    for (const id of ['newest', 'older', 'operator', 'node-outcome', 'time-window']) expect(findRow(report.rows, id).rows, id).toBe(50);
    expect(findRow(report.rows, 'rare-tool')).toMatchObject({ rows: 10, parsed: 10 });
    // The rare filter read the whole journal and parsed only its 10 lines; the newest page one read.
    expect(findRow(report.rows, 'rare-tool').readMiB! * 2 ** 20).toBeGreaterThanOrEqual(report.meta.bytes);
    expect(findRow(report.rows, 'newest').readMiB!).toBeLessThan(0.2);
    expect(report.targets.map((t) => t.id)).toEqual(['unfiltered-p99', 'filtered-p50']);
    expect(result.stdout).toMatch(/^[✔✘] unfiltered pages at most 50 ms at p99: newest [\d.]+, older [\d.]+, operator [\d.]+ ms$/m);
    expect(result.stdout).toMatch(/^\| newest \| admin, the newest 50 \| [\d.]+ \| [\d.]+ \| 50 \|/m);
  });
});
