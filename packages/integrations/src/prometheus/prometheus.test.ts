/**
 * The Prometheus integration against the real Prometheus (Debian package), started on a free
 * loopback port with a rule that fires, one that stays pending, and a scrape target that is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { freePort, startPrometheus, type PrometheusProcess } from '@homelab-mcp/testkit';
import type { IntegrationTool, ToolResult } from '../integration.ts';
import { prometheusIntegration, type PrometheusInstance } from './index.ts';

let prom: PrometheusProcess;
let downPort: number;
let instance: PrometheusInstance;
const reports: HttpRequestReport[] = [];
const log = { info() {}, warn() {}, error() {} };

const tool = (name: string): IntegrationTool => instance.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}): Promise<ToolResult> => tool(name).call(args, { signal: AbortSignal.timeout(20_000) });
const text = (r: ToolResult) => r.content.map((c) => c.text).join('\n');
const sc = (r: ToolResult) => r.structuredContent as Record<string, any>;

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  downPort = await freePort(); // nothing listens there: the target is down
  prom = await startPrometheus({
    rules: [
      { alert: 'AlwaysFiring', expr: 'vector(1)', labels: { severity: 'warning' }, annotations: { summary: 'it always fires' } },
      { alert: 'SlowBurn', expr: 'vector(1)', for: '1h' },
    ],
    scrapeTargets: [{ job: 'node', targets: [`127.0.0.1:${downPort}`] }],
  });
  instance = prometheusIntegration.setup(prometheusIntegration.configSchema.parse({ url: prom.url }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });
  // The first scrape comes only after service discovery hands over the targets (~5 s).
  await until('both targets scraped', async () => {
    const ts = await instance.client.targets();
    return ts.length === 2 && ts.every((t) => t.health !== 'unknown') ? ts : undefined;
  });
}, 60_000);

afterAll(async () => {
  await prom?.stop();
});

describe('prometheus integration', () => {
  it('declares four read tools with annotations and a strict input schema', () => {
    expect(instance.tools.map((t) => t.def.name)).toEqual(['prom_query', 'prom_query_range', 'prom_alerts', 'prom_targets']);
    for (const t of instance.tools) {
      expect(t.toolClass).toBe('read');
      expect(t.def.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
      expect(t.def.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    }
    expect(tool('prom_query').def.inputSchema.required).toEqual(['promql']);
  });

  it('prom_query answers `up` with each target and its value', async () => {
    const r = await call('prom_query', { promql: 'up' });
    expect(r.isError).toBeUndefined();
    expect(text(r)).toContain('up: 2 series (vector)');
    expect(text(r)).toContain(`up{instance="127.0.0.1:${prom.port}", job="prometheus"} = 1`);
    expect(text(r)).toContain(`up{instance="127.0.0.1:${downPort}", job="node"} = 0`);
    expect(sc(r)).toMatchObject({ query: 'up', resultType: 'vector', seriesCount: 2, truncated: false });
    const scalar = await call('prom_query', { promql: 'scalar(vector(2)) * 21', time: '5m' });
    expect(text(scalar)).toMatch(/= 42 \(scalar at /);
  });

  it('prom_query caps what it returns and says so', async () => {
    const r = await call('prom_query', { promql: '{__name__=~".+"}' });
    expect(sc(r).seriesCount).toBeGreaterThan(200);
    expect(sc(r).result).toHaveLength(200);
    expect(sc(r).truncated).toBe(true);
    expect(text(r)).toContain('showing the first 200');
    expect(text(r)).toMatch(/\d+ more series not shown/);
  });

  it('bad PromQL is a clear isError result with Prometheus\' own bad_data message', async () => {
    const r = await call('prom_query', { promql: 'sum(rate(up[5m]' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^Prometheus rejected the query \(bad_data\): .*parse error/);
  });

  it('arguments are validated with messages naming the argument', async () => {
    expect(text(await call('prom_query', {}))).toBe('prom_query: argument "promql" is required (The PromQL expression)');
    expect(text(await call('prom_query', { promql: 'up', tme: 'x' }))).toContain('unknown argument "tme" (expected: promql, time)');
    const bad = await call('prom_query_range', { promql: 'up', start: 'yesterday' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain('argument "start": expected RFC3339');
    expect(text(await call('prom_query_range', { promql: 'up', start: '10m', end: '1h' }))).toMatch(/end \(.*\) must be after start/);
  });

  it('prom_query_range returns series with a summary, thinning long series evenly and saying so', async () => {
    const r = await call('prom_query_range', { promql: 'vector(1)', start: '1h', step: '1s' });
    expect(r.isError).toBeUndefined();
    const s = sc(r);
    expect(s.seriesCount).toBe(1);
    expect(s.series[0].points).toBeGreaterThanOrEqual(3600);
    expect(s.series[0].values.length).toBeLessThanOrEqual(300);
    expect(s.series[0]).toMatchObject({ min: 1, max: 1, last: 1 });
    expect(s.truncated).toBe(true);
    expect(text(r)).toMatch(/vector\(1\): 1 series from .* step 1s/);
    expect(text(r)).toContain('of them returned, thinned evenly');

    const up = await call('prom_query_range', { promql: 'up', start: '5m' });
    expect(sc(up).seriesCount).toBe(2);
    expect(sc(up).truncated).toBe(false);
    expect(sc(up).stepSeconds).toBe(3); // 300 s / 120 points, rounded up
  });

  it('prom_query_range caps the number of series', async () => {
    const r = await call('prom_query_range', { promql: '{__name__=~".+"}', start: '30s' });
    expect(sc(r).seriesCount).toBeGreaterThan(50);
    expect(sc(r).series).toHaveLength(50);
    expect(text(r)).toContain('showing the first 50');
  });

  it('prom_alerts lists firing before pending, with labels, annotations and since when', async () => {
    const r = await call('prom_alerts');
    expect(sc(r)).toMatchObject({ firing: 1, pending: 1 });
    expect(sc(r).alerts.map((a: any) => `${a.name}:${a.state}`)).toEqual(['AlwaysFiring:firing', 'SlowBurn:pending']);
    expect(sc(r).alerts[0]).toMatchObject({ labels: { alertname: 'AlwaysFiring', severity: 'warning' }, annotations: { summary: 'it always fires' } });
    const t = text(r);
    expect(t).toMatch(/^1 firing, 1 pending:\n- FIRING AlwaysFiring \{severity="warning"\} since \d{4}-\d\d-\d\dT[\d:]+Z \(\d+s\), value 1\n {4}summary: it always fires\n- PENDING SlowBurn/);
    expect(sc(await call('prom_alerts', { state: 'pending' })).alerts).toHaveLength(1);
  });

  it('prom_targets lists down targets first with their last error', async () => {
    const r = await call('prom_targets');
    expect(sc(r)).toMatchObject({ up: 1, down: 1 });
    const [first, second] = sc(r).targets;
    expect(first).toMatchObject({ job: 'node', health: 'down', instance: `127.0.0.1:${downPort}` });
    expect(first.lastError).toContain('connection refused');
    expect(second).toMatchObject({ job: 'prometheus', health: 'up', lastError: '' });
    expect(text(r)).toMatch(new RegExp(`^2 targets: 1 up, 1 down\\n- DOWN node 127\\.0\\.0\\.1:${downPort} \\(http://127\\.0\\.0\\.1:${downPort}/metrics\\): .*connection refused`));
    expect(sc(await call('prom_targets', { health: 'up' })).targets).toHaveLength(1);
  });

  it('health() says ready and counts firing alerts', async () => {
    const h = await instance.health!(AbortSignal.timeout(10_000));
    expect(h).toMatchObject({ ok: true, detail: 'ready; 1 alert firing' });
    expect(h.problems).toEqual([expect.stringMatching(/^alert FIRING AlwaysFiring \{severity="warning"\}/)]);
  });

  it('every request went through the HTTP helper, reported without query strings', () => {
    expect(reports.length).toBeGreaterThan(5);
    expect(reports.every((r) => r.url.startsWith(prom.url) && !r.url.includes('?'))).toBe(true);
    expect(reports.map((r) => r.url)).toContain(`${prom.url}/api/v1/query`);
  });

  it('an unreachable Prometheus is a clear error, quickly, and health() says so', async () => {
    const port = await freePort();
    const dead = prometheusIntegration.setup(prometheusIntegration.configSchema.parse({ url: `http://127.0.0.1:${port}` }), { http: createHttpClient(), log });
    const r = await dead.tools[0]!.call({ promql: 'up' }, { signal: AbortSignal.timeout(20_000) });
    expect(r.isError).toBe(true);
    // Refused, not timed out: answered from the refusal, without waiting for the 20 s signal.
    expect(text(r)).toBe(`Prometheus at 127.0.0.1:${port} is unreachable: connection refused`);
    expect(await dead.health!(AbortSignal.timeout(5000))).toEqual({ ok: false, detail: `Prometheus at 127.0.0.1:${port} is unreachable: connection refused` });
  });
});
