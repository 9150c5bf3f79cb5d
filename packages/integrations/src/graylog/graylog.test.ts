import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakeGraylog, type FakeGraylog } from '@homelab-mcp/testkit';
import type { IntegrationTool } from '../integration.ts';
import { GraylogConfigSchema, graylogIntegration, type GraylogInstance } from './index.ts';

const TOKEN = '1q2w3e4r5t6y7u8i9o0p1q2w3e4r5t6y7u8i9o0p1q2w3e4r5t';
let gl: FakeGraylog;
let inst: GraylogInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const http = createHttpClient({ onRequest: (r) => reports.push(r) });
const setup = (over: Record<string, unknown> = {}) => graylogIntegration.setup(GraylogConfigSchema.parse({ url: gl.url, token: TOKEN, ...over }), { http, log });

beforeAll(async () => {
  gl = await startFakeGraylog({ token: TOKEN });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await gl?.stop();
});
// Unknown requests, and a POST without X-Requested-By, fail the test.
afterEach(() => expect(gl.unknown()).toEqual([]));

const tool = (i: GraylogInstance, name: string): IntegrationTool => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(i, name).call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('graylog reads (fake Graylog REST API)', () => {
  it('search_logs: newest first, the fields asked for, bounded, through a POST with X-Requested-By and the token as Basic user', async () => {
    const r = await call('search_logs', { query: 'source:caddy1 AND level:3', range: '2h', fields: ['source', 'level', 'message'] });
    expect(r.isError).toBeFalsy();
    const want = gl.messages.filter((m) => m.source === 'caddy1' && m.level === 3);
    expect(want.length).toBeGreaterThan(1);
    const lines = text(r).split('\n');
    expect(lines[0]).toBe(`${want.length} messages in the last 2h, newest first:`);
    expect(lines[1]).toBe(`${want[0]!.timestamp} caddy1 [level=3] reverse_proxy: dial tcp 192.168.1.100:5678: connect: connection refused (upstream n8n)`);
    expect(r.structuredContent).toMatchObject({ count: want.length, more: false });
    expect((r.structuredContent as { messages: unknown[] }).messages[0]).toEqual({ timestamp: want[0]!.timestamp, source: 'caddy1', level: 3, message: want[0]!.message });
    const post = gl.requests().find((q) => q.method === 'POST')!;
    expect(JSON.parse(post.body!)).toMatchObject({ query: 'source:caddy1 AND level:3', fields: ['timestamp', 'source', 'level', 'message'], timerange: { type: 'relative', range: 7200 }, sort: 'timestamp', sort_order: 'desc' });
    expect(JSON.stringify(reports)).not.toContain(TOKEN);
    expect(JSON.stringify(reports)).not.toContain(Buffer.from(`${TOKEN}:token`).toString('base64'));

    const capped = await call('search_logs', { query: '*', limit: 3 });
    expect(text(capped).split('\n')[0]).toBe('3+ messages in the last 1h, newest first (more exist: narrow the query or range, or raise limit up to 500):');
    expect(capped.structuredContent).toMatchObject({ count: 3, more: true });
  });

  it('search_logs by stream title; an unknown stream, a bad range and a query Graylog cannot parse are said plainly', async () => {
    const errors = await call('search_logs', { query: '*', stream: 'errors', range: '2h', fields: ['source'] });
    expect((errors.structuredContent as { messages: Array<{ source: string }> }).messages.map((m) => m.source).sort()).toEqual(gl.messages.filter((m) => m.level <= 3).map((m) => m.source).sort());
    expect(text(await call('search_logs', { query: '*', stream: 'audit' }))).toBe(`search_logs: argument "stream": no stream "audit" in Graylog at ${gl.host} (graylog_streams lists them)`);
    expect(text(await call('search_logs', { query: '*', range: '90d' }))).toBe('search_logs: argument "range": a duration from 1s to 30d, such as 15m, 1h or 7d');
    expect(text(await call('search_logs', { query: 'source:(nas01' }))).toBe(`Graylog rejected the search: Cannot parse 'source:(nas01': Encountered "<EOF>" at line 1, column 13.`);
    expect(text(await call('search_logs', { query: 'nothing-like-this', range: '5m' }))).toBe('no messages match "nothing-like-this" in the last 5m: widen the range, or check the query (graylog_streams, field names)');
  });

  it('graylog_streams lists each stream running or paused with its rules', async () => {
    const r = await call('graylog_streams');
    expect(text(r).split('\n')).toEqual([
      '4 streams (1 paused):',
      '- Default Stream (000000000000000000000001) default: running — Contains messages that are not explicitly routed to other streams',
      '- Errors (65a1f0c2e4b0a1b2c3d4e5f6): running, rules level=3 — Severity error and worse',
      '- Firewall (65a1f0c2e4b0a1b2c3d4e5f7): running, rules application_name=filterlog — OPNsense filterlog',
      '- Old syslog (65a1f0c2e4b0a1b2c3d4e5f8): paused, rules source=old-nas',
    ]);
  });

  it('graylog_overview, health and diagnose: throughput, indexer health, failures and urgent notifications as problems', async () => {
    const o = await call('graylog_overview');
    expect(text(o)).toBe(
      [
        'Graylog 6.1.4+a1b2c3d on graylog (running), 1 node',
        'throughput 42 msg/s; journal 12 uncommitted',
        'indexer cluster green; 2 indexing failures in 24 h',
        'notifications: no_input_running (urgent)',
        'problems:',
        '- 2 Graylog indexing failures in the last 24 h',
        '- Graylog notification: no input running',
      ].join('\n'),
    );
    gl.setIndexerStatus('yellow');
    try {
      const signal = new AbortController().signal;
      expect(await inst.health!(signal)).toEqual({
        ok: false,
        detail: '42 msg/s, indexer yellow, 2 indexing failures in 24 h',
        problems: ["Graylog's indexer cluster is yellow (4 unassigned shards)", '2 Graylog indexing failures in the last 24 h', 'Graylog notification: no input running'],
      });
      const [f] = await inst.diagnose!({ name: 'graylog', node: 'docker1' }, signal);
      expect(f).toMatchObject({ check: 'graylog', status: 'problem', detail: expect.stringMatching(/^Graylog API answers; 42 msg\/s, indexer yellow, 2 indexing failures in 24 h: Graylog's indexer cluster is yellow/) });
      expect(await inst.diagnose!({ name: 'grafana', node: 'docker1', url: 'http://grafana.lan:3000' }, signal)).toEqual([]);
      expect(await inst.diagnose!({ name: 'logs', node: 'docker1', url: `${gl.url}/search` }, signal)).toHaveLength(1);
    } finally {
      gl.setIndexerStatus('green');
    }
  });

  it('a rejected token is named by its config key in tools, health and diagnose', async () => {
    const bad = setup({ token: 'wrong-graylog-token-0123' });
    try {
      expect(await call('graylog_streams', {}, bad)).toMatchObject({ isError: true, content: [{ text: `Graylog at ${gl.host} rejected the access token (integrations.graylog.token)` }] });
      expect((await bad.health!(new AbortController().signal)).detail).toBe(`Graylog at ${gl.host} rejected the credential (integrations.graylog.token)`);
      expect(await bad.diagnose!({ name: 'graylog', node: 'x' }, new AbortController().signal)).toEqual([{ check: 'graylog', status: 'problem', detail: `Graylog at ${gl.host} rejected the credential (integrations.graylog.token)` }]);
      expect(logs.join('\n')).not.toContain('wrong-graylog-token');
    } finally {
      await bad.close?.();
    }
  });

  it('config names the key and what was expected', () => {
    const r = GraylogConfigSchema.safeParse({ url: 'graylog.lan:9000', token: 'a b', caFile: 'ca.pem', insecureTls: true });
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(expect.arrayContaining(['url: an http(s) URL, e.g. https://graylog.lan:9000', 'token: the access token, no spaces']));
  });
});
