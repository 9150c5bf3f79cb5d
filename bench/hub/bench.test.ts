/**
 * Smoke test of the hub bench: `run.mjs --quick` must finish, measure every row and write
 * plausible numbers. The speed and memory targets are the bench's verdict, printed with ✔/✘;
 * they are deliberately not asserted here (they depend on the machine and its load).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findRow, runQuickBench, TIMEOUT_MS, type BenchResult } from '../bench-test-lib.ts';

const RUN = join(dirname(fileURLToPath(import.meta.url)), 'run.mjs');

const TOOLS = ['run_command', 'get_status'];
const LATENCY_ROWS = TOOLS.flatMap((t) => [
  `${t}-direct-c1`,
  `${t}-hub-c1`,
  `${t}-mcp-proxy-c1`,
  `${t}-1mcp-c1`,
  `${t}-forwarder-c1`,
  ...[8, 32].flatMap((c) => [`${t}-direct-c${c}`, `${t}-hub-c${c}`, `${t}-mcp-proxy-c${c}`, `${t}-1mcp-c${c}`]),
]);
/**
 * 1MCP's rows: measured where it can be installed from npm or a build is named
 * (HOMELAB_BENCH_1MCP); in CI, where npm answers 404 for it and there is no build, each
 * says "not measured" and why, and the run still passes.
 */
const ONEMCP_ROWS = LATENCY_ROWS.filter((id) => id.includes('-1mcp-'));
const AUDIT_ROWS = ['run_command', 'list_nodes'].flatMap((t) => [1, 8].flatMap((c) => [`${t}-audit-on-c${c}`, `${t}-audit-off-c${c}`]));
const CALL_ROWS = [...LATENCY_ROWS, 'fanout-hub-all', 'fanout-hub-one', 'fanout-direct', 'tools-list-hub', 'tools-list-upstream', ...AUDIT_ROWS, 'journal-events'];
const ALL_ROWS = [...CALL_ROWS, 'hub-memory'];

interface Row {
  key: string;
  id: string;
  ok: boolean;
  error?: string;
  notMeasured?: boolean;
  label?: string;
  path?: string;
  tool?: string;
  concurrency?: number;
  n?: number;
  p50?: number;
  p99?: number;
  callsPerS?: number;
  addedP50Ms?: number;
  proxyCpuMsPerCall?: number;
  edgeCpuMsPerCall?: number;
  rssMB?: number;
  responseBytes?: number;
  tools?: number;
  rssIdleMB?: number;
  rssAfterMB?: number;
  plainRssIdleMB?: number;
  plainRssAfterMB?: number;
  plainPeakRssMB?: number;
  peakRssMB?: number;
  emptyHubRssMB?: number;
  auditCallsPerSRatio?: number;
  auditAddedP50Ms?: number;
  events?: number;
  burstS?: number;
  eventsPerS?: number;
  pairedRatio?: number;
}
interface Report {
  meta: {
    calls: Record<string, number>;
    fanoutCalls: number;
    listCalls: number;
    edges: number;
    upstreams: number;
    toolsPerUpstream: number;
    auditCalls: Record<string, number>;
    burstS: number;
    hubNodeFlags: string[];
    oneMcp: { version?: string; source?: string; notMeasured?: string };
  };
  rows: Row[];
  targets: { id: string; pass: boolean; notMeasured?: boolean; value: string }[];
}

let result: BenchResult;
let report: Report;

beforeAll(async () => {
  ({ result, report } = await runQuickBench<Report>(RUN, 'hub-bench-test-'));
}, TIMEOUT_MS);

const row = (id: string): Row => findRow(report.rows, id);

const expectLatency = (r: Row, n: number) => {
  expect(r.n).toBe(n);
  expect(r.p50).toBeGreaterThan(0);
  expect(r.p99).toBeGreaterThanOrEqual(r.p50!);
  expect(r.p99).toBeLessThan(60_000);
  expect(r.callsPerS).toBeGreaterThan(0);
};

describe('bench/hub/run.mjs --quick', () => {
  it('exits 0 and prints the table and the targets on stdout', () => {
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^\| row \| what \|/);
    for (const key of ['1a', '1m', '2a', '2m', '3a', '3b', '3c', '4a', '4b', '5', '6a', '6h', '6i']) expect(result.stdout).toMatch(new RegExp(`^\\| ${key} \\|`, 'm'));
    expect(result.stdout).toMatch(/^[✔✘] the hub adds at most 1\.5x what the bare forwarder adds \(added p50, concurrency 1\)/m);
    expect(result.stdout).toMatch(/^[✔✘] the hub adds less latency than mcp-proxy \(added p50, concurrency 1, 8, 32\)/m);
    expect(result.stdout).toMatch(/^[✔✘–] the hub adds less latency than 1MCP \(added p50, concurrency 1, 8, 32\)/m);
    expect(result.stdout).toMatch(/^[✔✘] 50-node fan-out through the hub at most 1\.1x the same 50 calls made directly in parallel/m);
    expect(result.stdout).toMatch(/^[✔✘] tools\/list of 2000 upstream tools under 20 ms/m);
    expect(result.stdout).toMatch(/^[✔✘] the audit journal costs at most 10% of calls\/s at concurrency 8/m);
    expect(result.stdout).toMatch(/^\| 6i \| the journal's sustained events\/s.*\*\*\d+ events\/s\*\*/m);
  });

  it('has every row, each measured (1MCP: all measured, or all "not measured" with the reason)', () => {
    expect(report.rows.map((r) => r.id).sort()).toEqual([...ALL_ROWS].sort());
    for (const r of report.rows) if (!ONEMCP_ROWS.includes(r.id)) expect(r, `${r.id}: ${r.error}`).toMatchObject({ ok: true });
    const one = ONEMCP_ROWS.map(row);
    if (report.meta.oneMcp.notMeasured) {
      // The reason is npm's (in CI: "404 Not Found - GET https://registry.npmjs.org/@1mcp%2fagent")
      // and the way out (a build named with --onemcp or HOMELAB_BENCH_1MCP).
      expect(report.meta.oneMcp.notMeasured).toMatch(/^npm install @1mcp\/agent@\d+\.\d+\.\d+ failed \(.+\)/);
      for (const r of one) expect(r).toMatchObject({ ok: false, notMeasured: true, error: report.meta.oneMcp.notMeasured });
      for (const key of ['1d', '1i', '1m', '2d', '2i', '2m']) expect(result.stdout).toMatch(new RegExp(`^\\| ${key} \\| [^|]*1MCP[^|]* \\| \\d+ \\| not measured: npm install @1mcp/agent@`, 'm'));
      expect(result.stdout).toMatch(/^– the hub adds less latency than 1MCP .*: not measured: npm install @1mcp\/agent@/m);
    } else {
      expect(report.meta.oneMcp.version).toMatch(/^\d+\.\d+\.\d+/);
      for (const r of one) expect(r, `${r.id}: ${r.error}`).toMatchObject({ ok: true });
    }
  });

  it.each(LATENCY_ROWS)('%s: latency, throughput and CPU are plausible', (id) => {
    const r = row(id);
    if (r.notMeasured) return; // checked above
    expect(r.label).toMatch({ direct: /direct to the edge/, hub: /through the hub/, 'mcp-proxy': /through mcp-proxy/, '1mcp': /through 1MCP/, forwarder: /bare node:http forwarder/ }[r.path!]!);
    expectLatency(r, report.meta.calls[String(r.concurrency)]!);
    expect(r.edgeCpuMsPerCall).toBeGreaterThanOrEqual(0);
    if (r.path === 'direct') expect(r.addedP50Ms).toBeUndefined();
    else {
      expect(typeof r.addedP50Ms).toBe('number');
      expect(r.proxyCpuMsPerCall).toBeGreaterThanOrEqual(0);
    }
    if (r.path === 'hub' || r.path === 'mcp-proxy' || r.path === '1mcp') {
      expect(r.rssMB).toBeGreaterThan(10);
      expect(r.rssMB).toBeLessThan(4096);
    }
  });

  it('fan-out: node "all" over every edge, one node, and the same calls without the hub', () => {
    for (const id of ['fanout-hub-all', 'fanout-hub-one', 'fanout-direct']) expectLatency(row(id), report.meta.fanoutCalls);
    expect(report.meta.edges).toBe(50);
    // Fifty commands cannot take less time than one.
    expect(row('fanout-hub-all').p50).toBeGreaterThan(row('fanout-hub-one').p50! / 2);
    expect(row('fanout-hub-all').proxyCpuMsPerCall).toBeGreaterThan(0);
    expect(row('fanout-direct').edgeCpuMsPerCall).toBeGreaterThan(0);
    expect(row('fanout-direct').proxyCpuMsPerCall).toBeUndefined();
    // The target compares the fan-out with the bench's own 50 parallel calls, from this run.
    const t = report.targets.find((x) => x.id === 'fanout')!;
    const ratio = row('fanout-hub-all').p50! / row('fanout-direct').p50!;
    expect(t.pass).toBe(ratio <= 1.1);
    expect(t.value).toContain(`${ratio.toFixed(2)}x`);
    const paired = row('fanout-hub-all').pairedRatio;
    expect(paired).toBeGreaterThan(0);
    expect(t.value).toContain(`median of 3a / 3c within each turn ${paired!.toFixed(2)}x`);
  });

  it('tools/list of 100 upstreams x 20 tools, and the hub memory with them', () => {
    expect(report.meta.upstreams * report.meta.toolsPerUpstream).toBe(2000);
    expectLatency(row('tools-list-hub'), report.meta.listCalls);
    expectLatency(row('tools-list-upstream'), report.meta.listCalls);
    expect(row('tools-list-hub').tools).toBeGreaterThan(2000); // the upstreams' 2,000 and the hub's own
    // 2,000 tool definitions are far bigger than the 20 of one upstream.
    expect(row('tools-list-hub').responseBytes).toBeGreaterThan(50 * row('tools-list-upstream').responseBytes!);
    const m = row('hub-memory');
    // VmHWM is the kernel's high-water mark, but it and VmRSS are read from per-CPU counters
    // that lag by up to a few hundred kB (seen: RSS 133.04 MB, peak 132.86 in one CI run), so
    // the peak bounds them with 1 MB to spare.
    for (const v of [m.rssIdleMB, m.rssAfterMB]) {
      expect(v).toBeGreaterThan(10);
      expect(v).toBeLessThanOrEqual(m.peakRssMB! + 1);
    }
    expect(m.emptyHubRssMB).toBeGreaterThan(10);
    expect(m.emptyHubRssMB).toBeLessThan(4096);
    // The hubs ran with the unit's Node flags, and row 5 has the same hub without them.
    expect(report.meta.hubNodeFlags).toEqual(['--max-semi-space-size=4']);
    for (const v of [m.plainRssIdleMB, m.plainRssAfterMB]) {
      expect(v).toBeGreaterThan(10);
      expect(v).toBeLessThanOrEqual(m.plainPeakRssMB!);
    }
  });

  it.each(AUDIT_ROWS)('%s: latency, throughput and CPU are plausible', (id) => {
    const r = row(id);
    expect(r.tool).toMatch(/^(run_command|list_nodes)$/);
    expectLatency(r, report.meta.auditCalls[String(r.concurrency)]!);
    expect(r.proxyCpuMsPerCall).toBeGreaterThan(0);
    expect(r.rssMB).toBeGreaterThan(10);
    expect(r.rssMB).toBeLessThan(4096);
    if (r.path === 'audit-on') {
      // The ratio of calls/s with the journal on to off: positive, and no run flips it wildly.
      const off = row(id.replace('-audit-on-', '-audit-off-'));
      expect(r.auditCallsPerSRatio).toBeCloseTo(r.callsPerS! / off.callsPerS!, 6);
      expect(r.auditCallsPerSRatio).toBeGreaterThan(0.05);
      expect(r.auditCallsPerSRatio).toBeLessThan(20);
      expect(r.auditAddedP50Ms).toBeCloseTo(r.p50! - off.p50!, 6);
    } else {
      expect(r.auditCallsPerSRatio).toBeUndefined();
      expect(r.addedP50Ms).toBeUndefined();
    }
  });

  it("the journal's sustained events/s: every answered call journaled, for about the burst's length", () => {
    const r = row('journal-events');
    expect(r.concurrency).toBe(32);
    expect(r.n).toBeGreaterThan(32);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50!);
    expect(r.events).toBeGreaterThanOrEqual(r.n!);
    expect(r.burstS).toBeGreaterThanOrEqual(report.meta.burstS);
    expect(r.burstS).toBeLessThan(report.meta.burstS + 60);
    expect(r.eventsPerS).toBeCloseTo(r.events! / r.burstS!, 6);
    expect(r.eventsPerS).toBeGreaterThanOrEqual(r.callsPerS! * 0.999);
  });

  it('evaluates every target', () => {
    expect(report.targets.map((t) => t.id)).toEqual(['hub-added-vs-forwarder', 'hub-vs-mcp-proxy', 'hub-vs-1mcp', 'fanout', 'tools-list', 'hub-rss', 'audit-cost']);
    for (const t of report.targets) expect(typeof t.pass).toBe('boolean');
    for (const t of report.targets) if (!t.notMeasured) expect(t.value, t.id).not.toMatch(/not measured/);
    expect(report.targets.filter((t) => t.notMeasured).map((t) => t.id)).toEqual(report.meta.oneMcp.notMeasured ? ['hub-vs-1mcp'] : []);
  });

  it('the targets use this run\'s rows: the hub against the forwarder and against each peer', () => {
    const added = (id: string) => row(id).addedP50Ms!;
    const vsForwarder = report.targets.find((t) => t.id === 'hub-added-vs-forwarder')!;
    const within = (h: number, f: number) => (f > 0 ? h <= 1.5 * f : h <= 0);
    expect(vsForwarder.pass).toBe(TOOLS.every((t) => within(added(`${t}-hub-c1`), added(`${t}-forwarder-c1`))));
    for (const peer of ['mcp-proxy', '1mcp']) {
      const target = report.targets.find((t) => t.id === `hub-vs-${peer}`)!;
      if (target.notMeasured) continue;
      expect(target.pass).toBe(TOOLS.every((t) => [1, 8, 32].every((c) => added(`${t}-hub-c${c}`) < added(`${t}-${peer}-c${c}`))));
    }
  });
});
