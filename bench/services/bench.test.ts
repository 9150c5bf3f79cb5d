/**
 * Smoke test of bench/services: `run.mjs --quick` must finish, measure each integration alone
 * and all at once, and print the target with ✔/✘. The target itself is the bench's verdict,
 * not asserted here (it depends on the machine's load).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runQuickBench, TIMEOUT_MS, type BenchResult } from '../bench-test-lib.ts';

const RUN = join(dirname(fileURLToPath(import.meta.url)), 'run.mjs');

interface Report {
  meta: { calls: number; delayMs: number; slowMs: number };
  alone: Array<{ name: string; p50: number }>;
  all: number;
  slowest: string;
  ratio: number;
  target: { ratio: number; pass: boolean };
}

let result: BenchResult;
let report: Report;

beforeAll(async () => {
  ({ result, report } = await runQuickBench<Report>(RUN, 'services-bench-test-'));
}, TIMEOUT_MS);

describe('bench/services/run.mjs --quick', () => {
  it('measures every integration alone and all at once, and prints the target', () => {
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^\| configuration \| service_health p50 \(ms\) \|/);
    expect(result.stdout).toMatch(/^[✔✘] all \d+ integrations at once take \d+\.\d\dx the slowest alone/m);
    expect(report.alone.map((a) => a.name).sort()).toEqual(['caddy', 'graylog', 'n8n', 'netbox', 'pbs', 'pihole', 'proxmox', 'semaphore']);
    // Every configuration waited for its fakes' delays: nothing answered from nowhere.
    for (const a of report.alone) expect(a.p50).toBeGreaterThanOrEqual(report.meta.delayMs);
    expect(report.all).toBeGreaterThanOrEqual(report.meta.slowMs);
    expect(report.slowest).toBe('semaphore');
  });
});
