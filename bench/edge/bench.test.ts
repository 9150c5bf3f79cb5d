/**
 * Smoke test of the edge footprint bench: `run.mjs --quick` must finish, measure every row and
 * write plausible numbers. The speed and memory targets are the bench's verdict, printed with
 * ✔/✘; they are deliberately not asserted here (they depend on the machine and its load).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findRow, runQuickBench, TIMEOUT_MS, type BenchResult } from '../bench-test-lib.ts';

const RUN = join(dirname(fileURLToPath(import.meta.url)), 'run.mjs');

const EDGE_ROWS = ['edge-unit', 'edge-default', 'edge-recommended', 'edge-lite'];
const HTTP_ROWS = [...EDGE_ROWS, 'python'];
const SSH_CALL_ROWS = ['ssh-per-connection', 'ssh-controlmaster'];
const ALL_ROWS = [...HTTP_ROWS, 'sshd-listener', ...SSH_CALL_ROWS];

interface Mem {
  privateMB: number;
  rssMB: number;
}
interface Latency {
  n: number;
  p50: number;
  p99: number;
  cpuMsPerCall?: number;
}
interface Flood {
  beforeMB: number;
  peakMB: number;
  extraMB: number;
  samples: number;
  keptBytes: number;
}
interface Row {
  id: string;
  flood?: Flood;
  ok: boolean;
  error?: string;
  idle?: Mem;
  after?: Mem;
  peakRssMB?: number;
  coldStartMs?: number;
  cmd?: Latency;
  status?: Latency;
}
interface Report {
  meta: { calls: number; statusCalls: number; sshNewConnectionCalls: number; nodeBareStartMs: number; unit: { nodeFlags: string; bundle: string } };
  rows: Row[];
  targets: { id: string; pass: boolean }[];
  winner?: { id: string; flags: string };
}

let result: BenchResult;
let report: Report;

beforeAll(async () => {
  ({ result, report } = await runQuickBench<Report>(RUN, 'edge-bench-test-'));
}, TIMEOUT_MS);

const row = (id: string): Row => findRow(report.rows, id);

const expectLatency = (l: Latency | undefined, n: number) => {
  expect(l?.n).toBe(n);
  expect(l!.p50).toBeGreaterThan(0);
  expect(l!.p99).toBeGreaterThanOrEqual(l!.p50);
  expect(l!.p99).toBeLessThan(30_000);
};

const expectMemory = (m: Mem | undefined) => {
  expect(m?.rssMB).toBeGreaterThan(0);
  expect(m!.privateMB).toBeGreaterThan(0);
  expect(m!.privateMB).toBeLessThanOrEqual(m!.rssMB);
  expect(m!.rssMB).toBeLessThan(2048);
};

describe('bench/edge/run.mjs --quick', () => {
  it('exits 0 and prints the table and the targets on stdout', () => {
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^\| row \| what \|/);
    for (const key of ['0', '1', '2a', '2b', '3', '4a', '4b', '4c']) expect(result.stdout).toMatch(new RegExp(`^\\| ${key} \\|`, 'm'));
    expect(result.stdout).toMatch(/^[✔✘] cold start to first answer <= 1\.5x `node -e 0`/m);
    expect(result.stdout).toMatch(/^[✔✘] `yes \| head -c 1G` through run_command costs < 4 MB extra private memory: \+\d/m);
    expect(result.stdout).toMatch(/^Winner: (recommended|lite) flags/m);
  });

  it('has every row, each measured', () => {
    expect(report.rows.map((r) => r.id)).toEqual(ALL_ROWS);
    for (const r of report.rows) expect(r, `${r.id}: ${r.error}`).toMatchObject({ ok: true });
  });

  it.each(HTTP_ROWS)('%s: memory, cold start and latency are plausible', (id) => {
    const r = row(id);
    expectMemory(r.idle);
    expectMemory(r.after);
    expect(r.peakRssMB).toBeGreaterThanOrEqual(r.after!.rssMB);
    expect(r.coldStartMs).toBeGreaterThan(0);
    expectLatency(r.cmd, report.meta.calls);
    expectLatency(r.status, report.meta.statusCalls);
    expect(r.cmd!.cpuMsPerCall).toBeGreaterThanOrEqual(0);
  });

  it('runs the edge with the exact flags of deploy/systemd/homelab-edge.service', () => {
    const unit = readFileSync(join(dirname(RUN), '../../deploy/systemd/homelab-edge.service'), 'utf8');
    const flags = /^Environment="HOMELAB_EDGE_NODE_FLAGS=([^"]*)"/m.exec(unit)?.[1];
    expect(flags).toBeTruthy();
    expect(report.meta.unit.nodeFlags).toBe(flags);
    expect(report.meta.unit.bundle).toMatch(/^packages\/edge\/dist\/homelab-edge\.[cm]?js$/);
    expect(report.meta.nodeBareStartMs).toBeGreaterThan(0);
  });

  it.each(EDGE_ROWS)('%s: 1 GiB of output through run_command was answered capped, its memory sampled', (id) => {
    const f = row(id).flood;
    expect(f?.samples).toBeGreaterThan(10);
    expect(f!.keptBytes).toBeGreaterThan(0);
    expect(f!.keptBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(f!.peakMB).toBeGreaterThanOrEqual(f!.beforeMB);
    expect(f!.extraMB).toBeCloseTo(f!.peakMB - f!.beforeMB, 5);
  });

  it('sshd listener: memory is plausible', () => {
    const r = row('sshd-listener');
    expectMemory(r.idle);
    expectMemory(r.after);
  });

  it.each(SSH_CALL_ROWS)('%s: session memory and latency are plausible', (id) => {
    const r = row(id);
    expectMemory(r.idle);
    const n = id === 'ssh-per-connection' ? report.meta.sshNewConnectionCalls : report.meta.calls;
    expectLatency(r.cmd, n);
    expectLatency(r.status, id === 'ssh-per-connection' ? n : report.meta.statusCalls);
  });

  it('evaluates every target and names a winning flag set', () => {
    expect(report.targets.map((t) => t.id)).toEqual([
      'status-vs-python',
      'status-cpu-vs-python',
      'cmd-vs-python',
      'after-private-vs-python',
      'cold-start-vs-node',
      'flood-extra-private',
      'cmd-vs-ssh',
      'cmd-vs-controlmaster',
    ]);
    for (const t of report.targets) expect(typeof t.pass).toBe('boolean');
    expect(['edge-recommended', 'edge-lite']).toContain(report.winner?.id);
  });
});
