/**
 * The n8n integration through the bundled hub, with an SDK client, against the fake n8n of the
 * testkit (the API key from the environment): both tools for a viewer, the service_health line,
 * a wrong key that breaks nothing else, an n8n down at start that comes up without a restart,
 * and the journal with every request and no key.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeN8n, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'n8n-admin-token-0123456789abcdef';
const VIEWER = 'n8n-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const KEY = 'n8n_api_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('n8n through the hub', () => {
  it('a viewer reads workflows and executions, service_health has the n8n line, every request is journaled without the key', { timeout: 120_000 }, async () => {
    await using n8n = await startFakeN8n({ apiKey: KEY });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { n8n: { url: n8n.url, apiKey: '${N8N_API_KEY}' } } },
      env: { N8N_API_KEY: KEY },
    });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const tools = (await viewer.listTools()).tools;
    for (const name of ['n8n_workflows', 'n8n_executions']) expect(tools.find((t) => t.name === name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const wfs = (await viewer.callTool({ name: 'n8n_workflows', arguments: { active: true } })) as Result;
    expect(resultText(wfs)).toMatch(/^9 workflows \(9 active\):\n- Backup notify \(\w+, active\) \[ops\]: last run error 3 h ago \(execution \d+\)\n/);
    expect(wfs.structuredContent!.workflows).toHaveLength(9);
    const ex = (await viewer.callTool({ name: 'n8n_executions', arguments: { status: 'error' } })) as Result;
    expect(resultText(ex)).toMatch(/^2 executions with status error:\n- \d+ Backup notify: error 3 h ago, took 2\.1 s, in node "PBS status": connect ECONNREFUSED 192\.168\.1\.20:8007\n- \d+ Uptime to ntfy: error 40 h ago/);

    const health = (await viewer.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'n8n')).toMatchObject({
      kind: 'integration',
      healthy: false,
      detail: "12 workflows (9 active); 2 failed executions in the last 24 h; n8n workflow 'Backup notify' failed 3 h ago; n8n workflow 'Nightly DB dump' crashed 20 h ago",
    });

    const events = readJournal(join(hub.dir, 'data'));
    const http = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'n8n');
    expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${n8n.url}/api/v1/workflows`, `${n8n.url}/api/v1/executions`]));
    const journalText = readdirSync(join(hub.dir, 'data', 'audit')).map((f) => readFileSync(join(hub.dir, 'data', 'audit', f), 'utf8')).join('');
    expect(journalText).not.toContain(KEY);
    expect(hub.output()).not.toContain(KEY);
    expect(n8n.unknown()).toEqual([]);
  });

  it('an n8n down at start comes up without a restart', { timeout: 120_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { n8n: { url: `http://127.0.0.1:${port}`, apiKey: KEY } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const down = (await admin.callTool({ name: 'n8n_workflows', arguments: {} })) as Result;
    expect(down.isError).toBe(true);
    expect(resultText(down)).toBe(`127.0.0.1:${port}: connection refused`);
    const line = async () => ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'n8n').detail;
    expect(await line()).toBe(`n8n at 127.0.0.1:${port} is unreachable: 127.0.0.1:${port}: connection refused`);
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();

    await using n8n = await startFakeN8n({ apiKey: KEY, port });
    expect(resultText((await admin.callTool({ name: 'n8n_workflows', arguments: {} })) as Result)).toMatch(/^12 workflows \(9 active\):/);
    await expect.poll(line, { timeout: 30_000, interval: 300 }).toMatch(/^12 workflows \(9 active\); 2 failed executions in the last 24 h/);
    expect(n8n.unknown()).toEqual([]);
  });

  it('a wrong key is named by its config key and breaks nothing else', { timeout: 120_000 }, async () => {
    await using n8n = await startFakeN8n({ apiKey: KEY });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { n8n: { url: n8n.url, apiKey: 'wrong-n8n-key-0123' } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const rejected = (await admin.callTool({ name: 'n8n_executions', arguments: {} })) as Result;
    expect(rejected).toMatchObject({ isError: true });
    expect(resultText(rejected)).toBe(`n8n at ${n8n.host} rejected the API key (integrations.n8n.apiKey)`);
    const line = ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'n8n');
    expect(line).toMatchObject({ healthy: false, detail: `n8n at ${n8n.host} rejected the credential (integrations.n8n.apiKey)` });
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();
    expect(hub.output()).not.toContain('wrong-n8n-key-0123');
  });
});
