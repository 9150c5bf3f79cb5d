// The fake Loki answers as the real API documents (service-apis.md §5), so that the shipper's
// tests mean something: these tests pin the fake's behaviour with plain fetch calls.
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeLoki, type FakeLoki } from './fake-loki.ts';

const fakes: FakeLoki[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.stop();
});

async function fake(opts: Parameters<typeof startFakeLoki>[0] = {}): Promise<FakeLoki> {
  const f = await startFakeLoki(opts);
  fakes.push(f);
  return f;
}

const nowNs = (offsetMs = 0) => `${BigInt(Date.now() + offsetMs) * 1_000_000n}`;

function push(loki: FakeLoki, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function query(loki: FakeLoki, params: Record<string, string>, path = 'query_range'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${loki.url}/loki/api/v1/${path}?${new URLSearchParams(params)}`);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

describe('fake Loki', () => {
  it('push (JSON and gzip) → 204; query_range returns streams, newest first, with line filters and limit', async () => {
    const loki = await fake();
    const t0 = Date.now() - 5000;
    const ns = (i: number) => `${BigInt(t0 + i) * 1_000_000n}`;
    const res = await push(loki, {
      streams: [
        { stream: { job: 'mcp-audit', kind: 'tool_call' }, values: [[ns(1), 'one get_status'], [ns(2), 'two run_command', { trace_id: 'x' }]] },
        { stream: { job: 'mcp-audit', kind: 'approval' }, values: [[ns(3), 'three approve']] },
      ],
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const gz = await fetch(`${loki.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ streams: [{ stream: { job: 'other' }, values: [[ns(4), 'four get_status']] }] })),
    });
    expect(gz.status).toBe(204);
    expect(loki.received().map((e) => e.line)).toEqual(['one get_status', 'two run_command', 'three approve', 'four get_status']);
    expect(loki.received()[1]!.metadata).toEqual({ trace_id: 'x' });
    expect(loki.requests().filter((r) => r.path.endsWith('/push')).map((r) => r.gzip)).toEqual([false, true]);

    const all = await query(loki, { query: '{job="mcp-audit"}' });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ status: 'success', data: { resultType: 'streams' } });
    const lines = (all.body.data.result as Array<{ values: [string, string][] }>).flatMap((s) => s.values.map((v) => v[1]));
    expect(lines.sort()).toEqual(['one get_status', 'three approve', 'two run_command']);

    const filtered = await query(loki, { query: '{job=~"mcp-.*|other"} |= "get_status" != "one"', limit: '10' });
    expect(filtered.body.data.result).toEqual([{ stream: { job: 'other' }, values: [[ns(4), 'four get_status']] }]);
    // RE2's case-insensitive flag group, as Loki (Go) reads it.
    const ci = await query(loki, { query: '{job=~"(?i)MCP-AUDIT"} |~ "(?i)APPROVE|TWO"' });
    expect((ci.body.data.result as Array<{ values: [string, string][] }>).flatMap((s) => s.values.map((v) => v[1])).sort()).toEqual(['three approve', 'two run_command']);

    // limit applies across streams, backward = newest first, forward = oldest first.
    const back = await query(loki, { query: '{job="mcp-audit"}', limit: '2', direction: 'backward' });
    expect((back.body.data.result as Array<{ values: [string, string][] }>).flatMap((s) => s.values.map((v) => v[1])).sort()).toEqual(['three approve', 'two run_command']);
    const fwd = await query(loki, { query: '{job="mcp-audit", kind="tool_call"}', limit: '1', direction: 'forward' });
    expect(fwd.body.data.result[0].values).toEqual([[ns(1), 'one get_status']]);

    // start/end in RFC3339 and seconds; end is exclusive.
    const win = await query(loki, { query: '{job="mcp-audit"}', start: new Date(t0 + 2).toISOString(), end: String((t0 + 3) / 1000) });
    expect(win.body.data.result.flatMap((s: any) => s.values)).toEqual([[ns(2), 'two run_command']]);

    expect((await query(loki, {}, 'labels')).body).toEqual({ status: 'success', data: ['job', 'kind'] });
    expect((await query(loki, {}, 'label/kind/values')).body).toEqual({ status: 'success', data: ['approval', 'tool_call'] });
    expect(loki.unhandled()).toEqual([]);
  });

  it('refuses what the real Loki refuses, and records client mistakes as unhandled', async () => {
    const loki = await fake();
    // A number timestamp is a 400 in Loki (a classic client bug).
    const num = await push(loki, { streams: [{ stream: { job: 'x' }, values: [[Date.now() * 1e6, 'line']] }] });
    expect(num.status).toBe(400);
    expect(await num.text()).toMatch(/Timestamp/);
    expect((await push(loki, { streams: [{ stream: {}, values: [[nowNs(), 'l']] }] })).status).toBe(400);
    expect((await push(loki, { streams: [{ stream: { 'bad-name': 'x' }, values: [[nowNs(), 'l']] }] })).status).toBe(400);
    const proto = await fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: 'xx' });
    expect(proto.status).toBe(400);
    expect((await fetch(`${loki.url}/loki/api/v1/tail`)).status).toBe(404);
    expect((await query(loki, { query: '{job="x"} | json | tool="a"' })).status).toBe(400);
    expect(loki.unhandled()).toHaveLength(6);
    expect(loki.received()).toEqual([]);

    // Valid LogQL that Loki itself refuses: a log query on the instant endpoint, an empty-compatible selector.
    const instant = await query(loki, { query: '{job="x"}' }, 'query');
    expect(instant.status).toBe(400);
    expect(instant.body).toMatch(/log queries are not supported as an instant query type/);
    expect((await query(loki, { query: '{job=~".*"}' })).status).toBe(400);
    expect(loki.unhandled()).toHaveLength(8);
  });

  it('rejects entries that are too old or too new with 400 but keeps the valid ones of the same push', async () => {
    const loki = await fake();
    const res = await push(loki, {
      streams: [{ stream: { job: 'mcp-audit' }, values: [[nowNs(-8 * 24 * 3600 * 1000), 'old'], [nowNs(), 'fine'], [nowNs(3600_000), 'future']] }],
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/timestamp too old/);
    expect(text).toMatch(/timestamp too new/);
    expect(loki.received().map((e) => e.line)).toEqual(['fine']);
  });

  it('counts with count_over_time on the instant endpoint', async () => {
    const loki = await fake();
    await push(loki, { streams: [{ stream: { job: 'mcp-audit', kind: 'tool_call' }, values: [[nowNs(-2), 'a'], [nowNs(-1), 'b']] }] });
    const r = await query(loki, { query: 'sum(count_over_time({job="mcp-audit"} |= "a" [5m]))' }, 'query');
    expect(r.body).toMatchObject({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [expect.any(Number), '1'] }] } });
  });

  it('answers a metric query on query_range with a matrix, one sample per step that has any', async () => {
    const loki = await fake();
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000; // a whole minute, 10 min ago
    const at = (ms: number) => `${BigInt(t0 + ms) * 1_000_000n}`;
    await push(loki, { streams: [{ stream: { job: 'app' }, values: [[at(10_000), 'x'], [at(20_000), 'x'], [at(130_000), 'x']] }] });
    const r = await query(loki, { query: 'count_over_time({job="app"}[1m])', start: String(t0 / 1000), end: String((t0 + 180_000) / 1000), step: '60s' });
    expect(r.body.data.resultType).toBe('matrix');
    expect(r.body.data.result).toEqual([{ metric: { job: 'app' }, values: [[(t0 + 60_000) / 1000, '2'], [(t0 + 180_000) / 1000, '1']] }]);
    expect(loki.unhandled()).toEqual([]);
  });

  it('deduplicates identical entries in queries, as Loki does, while received() shows every push', async () => {
    const loki = await fake();
    const body = { streams: [{ stream: { job: 'mcp-audit' }, values: [[nowNs(), 'same']] }] };
    await push(loki, body);
    await push(loki, body);
    expect(loki.received()).toHaveLength(2);
    const r = await query(loki, { query: '{job="mcp-audit"}' });
    expect(r.body.data.result[0].values).toHaveLength(1);
  });

  it('failing, down and up, tenants, ready', async () => {
    const loki = await fake({ tenant: 'homelab' });
    expect((await fetch(`${loki.url}/ready`)).status).toBe(200);
    const body = { streams: [{ stream: { job: 'mcp-audit' }, values: [[nowNs(), 'l']] }] };
    const noOrg = await push(loki, body);
    expect(noOrg.status).toBe(401);
    expect(await noOrg.text()).toBe('no org id\n');
    expect((await push(loki, body, { 'x-scope-orgid': 'homelab' })).status).toBe(204);
    expect(loki.received()[0]!.tenant).toBe('homelab');

    loki.setFailing(true);
    expect((await push(loki, body, { 'x-scope-orgid': 'homelab' })).status).toBe(503);
    expect((await fetch(`${loki.url}/ready`)).status).toBe(503);
    loki.setFailing(429);
    expect((await push(loki, body, { 'x-scope-orgid': 'homelab' })).status).toBe(429);
    loki.setFailing(false);
    loki.rejectPushes(1, 400, 'entry out of order');
    expect((await push(loki, body, { 'x-scope-orgid': 'homelab' })).status).toBe(400);
    expect(loki.received()).toHaveLength(1);

    await loki.down();
    await expect(fetch(`${loki.url}/ready`)).rejects.toThrow();
    await loki.up();
    expect((await fetch(`${loki.url}/ready`)).status).toBe(200);
    expect(loki.unhandled()).toEqual([]);
  });
});
