/**
 * The Prometheus and Loki integrations through the bundled hub: a real Prometheus (Debian
 * package) with a rule that fires and itself as scrape target, the fake Loki with lines pushed
 * into it, and the audit trail recording every outbound request.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, resultText, startFakeLoki, startHubProcess, readJournal, startPrometheus } from '@homelab-mcp/testkit';

const TOKEN = 'observability-admin-token-0123456789';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] };

const journal = readJournal;

type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Prometheus through the hub', () => {
  it('prom_alerts, prom_query, prom_query_range, prom_targets; bad PromQL and a stopped Prometheus are clear errors; every request is audited', { timeout: 120_000 }, async () => {
    const prom = await startPrometheus({ rules: [{ alert: 'AlwaysFiring', expr: 'vector(1)', labels: { severity: 'page' }, annotations: { summary: 'fires forever' } }] });
    try {
      await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { prometheus: { url: prom.url } } } });
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as Result;

      const tools = (await client.listTools()).tools.filter((t) => t.name.startsWith('prom_'));
      expect(tools.map((t) => t.name).sort()).toEqual(['prom_alerts', 'prom_query', 'prom_query_range', 'prom_targets']);
      for (const t of tools) expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });

      // The rule is evaluated every second: firing at once (for: 0s).
      await expect.poll(async () => resultText(await call('prom_alerts')), { timeout: 20_000, interval: 300 }).toMatch(/^1 firing, 0 pending:\n- FIRING AlwaysFiring \{severity="page"\} since .*\n {4}summary: fires forever/);
      const alerts = await call('prom_alerts');
      expect(alerts.structuredContent).toMatchObject({ firing: 1, alerts: [{ name: 'AlwaysFiring', state: 'firing', labels: { alertname: 'AlwaysFiring', severity: 'page' } }] });

      // The first scrape of itself comes after service discovery (~5 s).
      const upLine = `up{instance="127.0.0.1:${prom.port}", job="prometheus"} = 1`;
      await expect.poll(async () => resultText(await call('prom_query', { promql: 'up' })), { timeout: 30_000, interval: 500 }).toContain(upLine);
      const up = await call('prom_query', { promql: 'up' });
      expect(up.structuredContent).toMatchObject({ query: 'up', resultType: 'vector', seriesCount: 1, result: [{ metric: { __name__: 'up', job: 'prometheus' }, value: [expect.any(Number), '1'] }] });

      const range = await call('prom_query_range', { promql: 'up', start: '2m', step: '1s' });
      expect(range.isError).toBeFalsy();
      expect(range.structuredContent).toMatchObject({ seriesCount: 1, stepSeconds: 1, series: [{ metric: { job: 'prometheus' }, last: 1 }] });
      expect(range.structuredContent!.series[0].points).toBeGreaterThan(0);
      expect(resultText(range)).toMatch(/^up: 1 series from .* step 1s\n- up\{instance=".*", job="prometheus"\}: \d+ points, min 1, max 1, last 1/);

      const targets = await call('prom_targets');
      expect(targets.structuredContent).toMatchObject({ up: 1, down: 0, targets: [{ job: 'prometheus', instance: `127.0.0.1:${prom.port}`, health: 'up', scrapeUrl: `${prom.url}/metrics` }] });
      expect(resultText(targets)).toContain(`- UP prometheus 127.0.0.1:${prom.port} (${prom.url}/metrics)`);

      const bad = await call('prom_query', { promql: 'rate(up[5m' });
      expect(bad.isError).toBe(true);
      expect(resultText(bad)).toMatch(/^Prometheus rejected the query \(bad_data\): .*parse error/);

      // Every outbound request is an http_request audit event, without its query.
      const http = journal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'prometheus');
      expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${prom.url}/api/v1/alerts`, `${prom.url}/api/v1/query`, `${prom.url}/api/v1/query_range`, `${prom.url}/api/v1/targets`]));
      expect(http.every((e) => e.user === 'hub' && !e.detail.url.includes('?'))).toBe(true);
      expect(http.find((e) => e.detail.url.endsWith('/api/v1/query'))!.detail).toMatchObject({ method: 'POST', status: 200 });
      // The bad query got Prometheus' 400.
      expect(http.some((e) => e.detail.url.endsWith('/api/v1/query') && e.detail.status === 400)).toBe(true);

      await prom.stop();
      const down = await call('prom_query', { promql: 'up' });
      expect(down.isError).toBe(true);
      expect(resultText(down)).toBe(`Prometheus at 127.0.0.1:${prom.port} is unreachable: connection refused`);
      expect(resultText(await call('prom_alerts'))).toBe(`Prometheus at 127.0.0.1:${prom.port} is unreachable: connection refused`);
      await expect
        .poll(() => journal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'prometheus' && e.detail.error === 'connection refused').length, { timeout: 20_000 })
        .toBeGreaterThanOrEqual(2);
    } finally {
      await prom.stop();
    }
  });
});

describe('query_logs through the hub', () => {
  it('uses the audit Loki when no integrations.loki is set: filter, limit, time range; get_audit_log shows the requests', { timeout: 60_000 }, async () => {
    await using loki = await startFakeLoki({ tenant: 'homelab' });
    const now = Date.now();
    const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
    const pushed = await fetch(`${loki.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-scope-orgid': 'homelab' },
      body: JSON.stringify({
        streams: [
          { stream: { job: 'nginx', host: 'pi1' }, values: [[ns(now - 2 * 3600_000), 'error: two hours ago'], [ns(now - 20 * 60_000), 'GET / 200'], [ns(now - 10 * 60_000), 'error: upstream timed out'], [ns(now - 60_000), 'error: no live upstreams']] },
          { stream: { job: 'mpd', host: 'pi2' }, values: [[ns(now - 5 * 60_000), 'error: not for nginx']] },
        ],
      }),
    });
    expect(pushed.status).toBe(204);

    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, audit: { loki: { url: loki.url, tenant: 'homelab', labels: { hub: 'test' } } } } });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'query_logs', arguments: args })) as Result;
    const lines = (r: Result) => r.structuredContent!.entries.map((e: any) => e.line);

    const tool = (await client.listTools()).tools.find((t) => t.name === 'query_logs');
    expect(tool?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });

    const errors = await call({ logql: '{job="nginx"} |= "error"' });
    expect(errors.isError).toBeFalsy();
    expect(lines(errors)).toEqual(['error: no live upstreams', 'error: upstream timed out']); // the last hour, newest first
    expect(resultText(errors)).toMatch(/^2 lines from 1 stream, newest first \(.*\): \{host="pi1", job="nginx"\}\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z error: no live upstreams\n/);

    const limited = await call({ logql: '{job="nginx"}', limit: 1 });
    expect(lines(limited)).toEqual(['error: no live upstreams']);
    expect(resultText(limited)).toContain('The limit of 1 was reached');

    expect(lines(await call({ logql: '{job="nginx"} |= "error"', start: '3h', end: '1h' }))).toEqual(['error: two hours ago']);
    expect(lines(await call({ logql: '{host=~"pi.*"} |= "error"', start: new Date(now - 15 * 60_000).toISOString() }))).toEqual(['error: no live upstreams', 'error: not for nginx', 'error: upstream timed out']);

    const bad = await call({ logql: '{job="nginx"', limit: 10 });
    expect(bad.isError).toBe(true);
    expect(resultText(bad)).toMatch(/^Loki rejected the query: parse error/);
    const tooMany = await call({ logql: '{job="nginx"}', limit: 10_000 });
    expect(resultText(tooMany)).toBe('query_logs: argument "limit": at most 5000');

    // The queries were sent with the audit Loki's tenant, and are audited as outbound requests.
    const queries = loki.requests().filter((r) => r.path === '/loki/api/v1/query_range' && r.headers['user-agent'] === 'homelab-hub');
    expect(queries.length).toBe(5);
    expect(queries.every((r) => r.headers['x-scope-orgid'] === 'homelab')).toBe(true);
    const http = journal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'loki');
    expect(http.map((e) => `${e.detail.method} ${e.detail.url} ${e.detail.status}`)).toEqual([
      ...Array(4).fill(`GET ${loki.url}/loki/api/v1/query_range 200`),
      `GET ${loki.url}/loki/api/v1/query_range 400`,
    ]);
    // get_audit_log (which reads the audit Loki once events are shipped) lists them too.
    await expect
      .poll(async () => ((await client.callTool({ name: 'get_audit_log', arguments: { kind: 'http_request', limit: 100 } })) as Result).structuredContent?.events.filter((e: any) => e.detail?.upstream === 'loki').length, { timeout: 20_000, interval: 500 })
      .toBe(5);
    // Only the deliberately broken query was one the fake could not serve.
    expect(loki.unhandled()).toEqual([expect.stringContaining('parse error')]);
  });
});

describe('integrations follow the config', () => {
  it('a reload that adds Prometheus brings its tools (a dead one answers "unreachable"); removing it takes them away', { timeout: 60_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false } } });
    const file = join(hub.dir, 'hub.yaml');
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const names = async () => (await client.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('prom_') || n === 'query_logs');
    expect(await names()).toEqual([]);

    const port = await freePort();
    writeFileSync(file, JSON.stringify({ dataDir: './data', auth, local: { enabled: false }, integrations: { prometheus: { url: `http://127.0.0.1:${port}`, timeoutMs: 5000 } } }));
    await expect.poll(names, { timeout: 10_000 }).toEqual(['prom_alerts', 'prom_query', 'prom_query_range', 'prom_targets']);
    const r = (await client.callTool({ name: 'prom_targets', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`Prometheus at 127.0.0.1:${port} is unreachable: connection refused`);

    writeFileSync(file, JSON.stringify({ dataDir: './data', auth, local: { enabled: false }, integrations: { prometheus: { url: `http://127.0.0.1:${port}`, timeoutMs: 5000, extra: 1 } } }));
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toContain('config reload failed, keeping the running configuration');
    expect(hub.output()).toMatch(/integrations\.prometheus.*unknown key \\?"extra\\?"|unknown key \\?"extra\\?".*integrations\.prometheus/);

    writeFileSync(file, JSON.stringify({ dataDir: './data', auth, local: { enabled: false } }));
    await expect.poll(names, { timeout: 10_000 }).toEqual([]);
  });
});
