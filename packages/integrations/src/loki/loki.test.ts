/**
 * query_logs against the fake Loki of the testkit (Loki cannot be installed here; the fake
 * follows Loki's HTTP API: service-apis.md §5), with lines pushed into it over its push API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { freePort, startFakeLoki, type FakeLoki } from '@homelab-mcp/testkit';
import type { ToolResult } from '../integration.ts';
import { lokiIntegration, nsToIso, type LokiInstance } from './index.ts';

const fakes: FakeLoki[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) {
    expect(f.unhandled()).toEqual([]);
    await f.stop();
  }
});
const log = { info() {}, warn() {}, error() {} };

async function fake(opts: Parameters<typeof startFakeLoki>[0] = {}): Promise<FakeLoki> {
  const f = await startFakeLoki(opts);
  fakes.push(f);
  return f;
}

const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;

async function push(loki: FakeLoki, streams: Array<{ stream: Record<string, string>; values: Array<[string, string]> }>, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ streams }) });
  expect(res.status).toBe(204);
}

function setup(config: Record<string, unknown>, reports?: HttpRequestReport[]): LokiInstance {
  return lokiIntegration.setup(lokiIntegration.configSchema.parse(config), { http: createHttpClient({ onRequest: (r) => reports?.push(r) }), log });
}

const call = (i: LokiInstance, args: Record<string, unknown>): Promise<ToolResult> => i.tools[0]!.call(args, { signal: AbortSignal.timeout(10_000) });
const text = (r: ToolResult) => r.content.map((c) => c.text).join('\n');
const sc = (r: ToolResult) => r.structuredContent as Record<string, any>;

describe('query_logs', () => {
  it('filters, merges streams newest first with ISO times, honours limit and says when it was reached', async () => {
    const loki = await fake();
    const now = Date.now();
    await push(loki, [
      { stream: { job: 'nginx', host: 'pi1' }, values: [[ns(now - 50_000), 'GET / 200'], [ns(now - 40_000), 'error: upstream timed out'], [ns(now - 10_000), 'error: no live upstreams']] },
      { stream: { job: 'nginx', host: 'pi2' }, values: [[`${ns(now - 30_000).slice(0, -3)}123`, 'error: connect() failed']] },
      { stream: { job: 'mpd', host: 'pi1' }, values: [[ns(now - 20_000), 'error: mpd is sad']] },
    ]);
    const reports: HttpRequestReport[] = [];
    const i = setup({ url: loki.url }, reports);
    const r = await call(i, { logql: '{job="nginx"} |= "error"' });
    expect(r.isError).toBeUndefined();
    expect(sc(r).entries.map((e: any) => e.line)).toEqual(['error: no live upstreams', 'error: connect() failed', 'error: upstream timed out']);
    expect(sc(r).entries[1]).toMatchObject({ labels: { job: 'nginx', host: 'pi2' }, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}123Z$/) });
    expect(sc(r)).toMatchObject({ streams: 2, limit: 100, limitReached: false, truncated: false });
    const lines = text(r).split('\n');
    expect(lines[0]).toMatch(/^3 lines from 2 streams, newest first \(.* to .*\)$/);
    expect(lines[1]).toBe(`${nsToIso(ns(now - 10_000))} {host="pi1", job="nginx"} error: no live upstreams`);

    const two = await call(i, { logql: '{job="nginx"} |= "error"', limit: 2 });
    expect(sc(two).entries.map((e: any) => e.line)).toEqual(['error: no live upstreams', 'error: connect() failed']);
    expect(text(two)).toContain('The limit of 2 was reached: older lines may exist');

    // One stream: its labels once in the heading, not on every line.
    const one = await call(i, { logql: '{job="mpd"}' });
    expect(text(one)).toBe(`1 line from 1 stream, newest first (${sc(one).start} to ${sc(one).end}): {host="pi1", job="mpd"}\n${nsToIso(ns(now - 20_000))} error: mpd is sad`);

    // The requests went through the HTTP helper (what the hub audits), without the query.
    expect(reports.map((x) => x.url)).toEqual([`${loki.url}/loki/api/v1/query_range`, `${loki.url}/loki/api/v1/query_range`, `${loki.url}/loki/api/v1/query_range`]);
    expect(loki.requests().filter((q) => q.path === '/loki/api/v1/query_range')).toHaveLength(3);
  });

  it('takes start/end as RFC3339 or relative times; default is the last hour', async () => {
    const loki = await fake();
    const now = Date.now();
    await push(loki, [
      { stream: { job: 'app' }, values: [[ns(now - 3 * 3600_000), 'three hours ago'], [ns(now - 30 * 60_000), 'half an hour ago'], [ns(now - 5 * 60_000), 'five minutes ago']] },
    ]);
    const i = setup({ url: loki.url });
    const lines = async (args: Record<string, unknown>) => sc(await call(i, { logql: '{job="app"}', ...args })).entries.map((e: any) => e.line);
    expect(await lines({})).toEqual(['five minutes ago', 'half an hour ago']);
    expect(await lines({ start: '15m' })).toEqual(['five minutes ago']);
    expect(await lines({ start: '4h', end: '1h' })).toEqual(['three hours ago']);
    expect(await lines({ start: new Date(now - 40 * 60_000).toISOString(), end: new Date(now - 20 * 60_000).toISOString() })).toEqual(['half an hour ago']);
    const none = await call(i, { logql: '{job="app"}', start: '2m' });
    expect(text(none)).toMatch(/^No log lines match \{job="app"\} from .* to .*\.$/);
  });

  it('validates arguments: limit 1..5000, times it understands, end after start', async () => {
    const loki = await fake();
    const i = setup({ url: loki.url });
    const big = await call(i, { logql: '{job="a"}', limit: 6000 });
    expect(big.isError).toBe(true);
    expect(text(big)).toBe('query_logs: argument "limit": at most 5000');
    expect(text(await call(i, { logql: '{job="a"}', start: 'last tuesday' }))).toContain('argument "start": expected RFC3339');
    expect(text(await call(i, { logql: '{job="a"}', start: '5m', end: '1h' }))).toMatch(/end \(.*\) must be after start/);
    expect(text(await call(i, { limit: 5 }))).toContain('argument "logql" is required');
    expect(loki.requests()).toEqual([]); // nothing was sent for invalid arguments
  });

  it('caps long lines and says so', async () => {
    const loki = await fake();
    await push(loki, [{ stream: { job: 'big' }, values: [[ns(Date.now() - 1000), 'x'.repeat(5000)]] }]);
    const r = await call(setup({ url: loki.url }), { logql: '{job="big"}' });
    expect(sc(r).entries[0].line).toBe(`${'x'.repeat(2000)}… [3000 more characters]`);
    expect(sc(r).entries[0].lineTruncated).toBe(true);
    expect(sc(r).truncated).toBe(true);
    expect(text(r)).toContain('1 line was longer than 2000 characters and cut');
  });

  it("surfaces Loki's plain-text 400 for bad LogQL as a clear error", async () => {
    const loki = await fake();
    const r = await call(setup({ url: loki.url }), { logql: 'job="nginx"' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^Loki rejected the query: parse error at line 1, col 1: /);
    fakes.splice(0); // the fake records the bad query as one it could not serve: expected here
    await loki.stop();
  });

  it('a metric query (Loki answers a matrix) is a clear error, not an empty answer', async () => {
    const loki = await fake();
    await push(loki, [{ stream: { job: 'app' }, values: [[ns(Date.now() - 1000), 'x']] }]);
    const r = await call(setup({ url: loki.url }), { logql: 'count_over_time({job="app"}[5m])' });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('query_logs takes a log query ({selector} |= "text"); this is a metric query (result: matrix)');
  });

  it('sends the tenant, and says what is wrong without one', async () => {
    const loki = await fake({ tenant: 'homelab' });
    await push(loki, [{ stream: { job: 'app' }, values: [[ns(Date.now() - 1000), 'for the homelab tenant']] }], { 'x-scope-orgid': 'homelab' });
    const ok = await call(setup({ url: loki.url, tenant: 'homelab' }), { logql: '{job="app"}' });
    expect(sc(ok).entries.map((e: any) => e.line)).toEqual(['for the homelab tenant']);
    const none = await call(setup({ url: loki.url }), { logql: '{job="app"}' });
    expect(text(none)).toBe(`Loki at ${new URL(loki.url).host} wants a tenant (no org id): set the tenant in the Loki config`);
  });

  it('an unreachable Loki is a clear error; health() follows /ready', async () => {
    const loki = await fake();
    const i = setup({ url: loki.url });
    expect(await i.health!(AbortSignal.timeout(5000))).toEqual({ ok: true, detail: 'ready' });
    loki.setFailing(503);
    expect(await i.health!(AbortSignal.timeout(5000))).toEqual({ ok: false, detail: `Loki at ${new URL(loki.url).host} is not ready` });
    const port = await freePort();
    const dead = setup({ url: `http://127.0.0.1:${port}` });
    expect(text(await call(dead, { logql: '{job="a"}' }))).toBe(`Loki at 127.0.0.1:${port} is unreachable: connection refused`);
    expect((await dead.health!(AbortSignal.timeout(5000))).ok).toBe(false);
  });
});
