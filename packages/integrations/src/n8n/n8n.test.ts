import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakeN8n, type FakeN8n } from '@homelab-mcp/testkit';
import type { IntegrationTool } from '../integration.ts';
import { createN8nClient, N8nConfigSchema, n8nIntegration, type N8nInstance } from './index.ts';

const KEY = 'n8n_api_0123456789abcdef0123456789abcdef';
let n8n: FakeN8n;
let inst: N8nInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const http = createHttpClient({ onRequest: (r) => reports.push(r) });

const setup = (over: Record<string, unknown> = {}) => n8nIntegration.setup(N8nConfigSchema.parse({ url: n8n.url, apiKey: KEY, ...over }), { http, log });

beforeAll(async () => {
  n8n = await startFakeN8n({ apiKey: KEY });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await n8n?.stop();
});
afterEach(() => expect(n8n.unknown()).toEqual([]));

const tool = (i: N8nInstance, name: string): IntegrationTool => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(i, name).call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('n8n reads (fake n8n public API)', () => {
  it('n8n_workflows: every workflow with its last execution, the one whose last run failed first, without the key in any report', async () => {
    const r = await call('n8n_workflows');
    expect(r.isError).toBeFalsy();
    const lines = text(r).split('\n');
    expect(lines[0]).toBe('12 workflows (9 active):');
    // Backup notify's last run (3 h ago) failed; Nightly DB dump crashed 20 h ago but ran fine since.
    const backup = n8n.workflows.find((w) => w.name === 'Backup notify')!;
    const lastBackup = n8n.executions.find((e) => e.workflowId === backup.id)!;
    expect(lastBackup.status).toBe('error');
    expect(lines[1]).toBe(`- Backup notify (${backup.id}, active) [ops]: last run error 3 h ago (execution ${lastBackup.id})`);
    expect(lines.filter((l) => l.endsWith('never ran'))).toHaveLength(3);
    const s = r.structuredContent as { total: number; active: number; workflows: Array<{ id: string; active: boolean; lastExecution: { status: string } | null }> };
    expect(s).toMatchObject({ total: 12, active: 9 });
    expect(s.workflows.find((w) => w.id === backup.id)!.lastExecution).toMatchObject({ status: 'error' });
    const inactive = await call('n8n_workflows', { active: false });
    expect((inactive.structuredContent as typeof s).workflows.map((w) => w.active)).toEqual([false, false, false]);
    expect(reports.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toContain(KEY);
    expect(n8n.requests().filter((q) => q.path.includes('/executions'))).not.toHaveLength(0);
  });

  it('n8n_executions: failed first with the node and message, by workflow name or id, by status, bounded', async () => {
    const r = await call('n8n_executions', { limit: 5 });
    const lines = text(r).split('\n');
    expect(lines[0]).toBe('5 executions, 3 failed:');
    expect(lines[1]).toMatch(/^- \d+ Backup notify: error 3 h ago, took 2\.1 s, in node "PBS status": connect ECONNREFUSED 192\.168\.1\.20:8007$/);
    expect(lines[2]).toMatch(/^- \d+ Nightly DB dump: crashed 20 h ago, took 2\.1 s, in node "Postgres": Out of memory$/);
    expect(lines[3]).toMatch(/^- \d+ Uptime to ntfy: error 40 h ago, .*Request failed with status code 502$/);
    expect(lines[4]).toMatch(/^- \d+ Uptime to ntfy: running \d+ (s|min) ago$/);
    expect(lines.at(-1)).toBe('(more executions not shown: filter by status or workflow, or raise limit)');
    expect(r.structuredContent).toMatchObject({ total: 5, failed: 3, more: true, executions: [{ workflow: 'Backup notify', status: 'error', errorNode: 'PBS status' }, {}, {}, {}, {}] });

    const byName = await call('n8n_executions', { workflow: 'nightly db dump', status: 'success', limit: 100 });
    const nightly = n8n.workflows.find((w) => w.name === 'Nightly DB dump')!;
    const want = n8n.executions.filter((e) => e.workflowId === nightly.id && e.status === 'success');
    expect(text(byName).split('\n')[0]).toBe(`${want.length} executions of Nightly DB dump with status success:`);
    const byId = await call('n8n_executions', { workflow: nightly.id, status: 'crashed' });
    expect((byId.structuredContent as { executions: Array<{ id: number }> }).executions.map((e) => e.id)).toEqual(n8n.executions.filter((e) => e.workflowId === nightly.id && e.status === 'crashed').map((e) => e.id));

    expect(text(await call('n8n_executions', { workflow: 'nope' }))).toBe(`n8n_executions: argument "workflow": no workflow with id or name "nope" in n8n at ${n8n.host} (n8n_workflows lists them)`);
    expect(text(await call('n8n_executions', { status: 'failed' }))).toMatch(/^n8n_executions: argument "status": Invalid option: expected one of "canceled"\|"crashed"\|"error"/);
    expect(text(await call('n8n_executions', { limit: 500 }))).toMatch(/^n8n_executions: argument "limit": /);
  });

  it('pages through n8n\'s cursors and stops at the bound, saying there was more', async () => {
    const client = createN8nClient({ url: `${n8n.url}/api/v1/`, apiKey: KEY, http, timeoutMs: 5000 });
    const before = n8n.requests().length;
    const all = await client.list<{ id: number }>('/executions', {}, { max: 1000 });
    expect(all).toMatchObject({ more: false });
    expect(all.items.map((e) => e.id)).toEqual(n8n.executions.map((e) => e.id));
    const some = await client.list<{ id: number }>('/executions', { limit: undefined }, { max: 30 });
    expect(some.more).toBe(true);
    expect(some.items).toHaveLength(30);
    expect(n8n.requests().slice(before).map((q) => q.path)).toEqual(['/api/v1/executions?limit=250', '/api/v1/executions?limit=30']);
  });

  it('health: "12 workflows (9 active); 2 failed executions in the last 24 h", one problem per workflow', async () => {
    const h = await inst.health!(new AbortController().signal);
    expect(h).toEqual({ ok: false, detail: '12 workflows (9 active); 2 failed executions in the last 24 h', problems: ["n8n workflow 'Backup notify' failed 3 h ago", "n8n workflow 'Nightly DB dump' crashed 20 h ago"] });
  });

  it('diagnose: a service named n8n or on n8n\'s host gets the API state and the failures; another none', async () => {
    const signal = new AbortController().signal;
    const [f] = await inst.diagnose!({ name: 'n8n', node: 'docker1' }, signal);
    expect(f).toEqual({ check: 'n8n', status: 'problem', detail: "n8n API answers; 2 failed executions in 24 h ('Backup notify', 'Nightly DB dump')", suggestion: 'n8n_executions shows each failure with the node and message it failed on.' });
    expect(await inst.diagnose!({ name: 'automation', node: 'docker1', url: `${n8n.url}/home/workflows` }, signal)).toHaveLength(1);
    // Another service on the same host is not n8n.
    expect(await inst.diagnose!({ name: 'automation', node: 'docker1', url: `http://127.0.0.1:9/` }, signal)).toEqual([]);
    expect(await inst.diagnose!({ name: 'grafana', node: 'docker1', url: 'http://grafana.lan:3000/' }, signal)).toEqual([]);
  });

  it('a wrong key is named by its config key, in the tools, health and diagnose', async () => {
    const bad = setup({ apiKey: 'wrong-key-0123' });
    try {
      const r = await call('n8n_workflows', {}, bad);
      expect(r).toMatchObject({ isError: true, content: [{ text: `n8n at ${n8n.host} rejected the API key (integrations.n8n.apiKey)` }] });
      expect((await bad.health!(new AbortController().signal)).detail).toBe(`n8n at ${n8n.host} rejected the credential (integrations.n8n.apiKey)`);
      expect(await bad.diagnose!({ name: 'n8n', node: 'docker1' }, new AbortController().signal)).toEqual([{ check: 'n8n', status: 'problem', detail: `n8n at ${n8n.host} rejected the credential (integrations.n8n.apiKey)` }]);
      expect(logs.join('\n')).not.toContain('wrong-key-0123');
    } finally {
      await bad.close?.();
    }
  });

  it('config: names the key and what was expected', () => {
    const r = N8nConfigSchema.safeParse({ url: 'n8n.lan:5678', apiKey: '', insecureTls: true, fingerprint: 'zz' });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining(['url: an http(s) URL, e.g. http://n8n.lan:5678', 'apiKey: the n8n API key']));
    expect(N8nConfigSchema.safeParse({ url: 'http://n8n.lan:5678', apiKey: 'k', token: 'x' }).error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['token'] });
  });
});

describe('n8n paging against a broken server', () => {
  it('stops after the pages it needs when a server answers empty pages with a cursor forever', async () => {
    let requests = 0;
    const server = createServer((_q, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [], nextCursor: `again-${requests % 2}` }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = createN8nClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k', http: createHttpClient(), timeoutMs: 5000 });
      const r = await client.list('/workflows', {}, { max: 1000 });
      expect(r).toEqual({ items: [], more: true });
      expect(requests).toBe(1);
    } finally {
      server.close();
    }
  });
});
