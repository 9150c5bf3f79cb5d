/**
 * The Graylog integration through the bundled hub, with an SDK client, against the fake Graylog
 * of the testkit (the token from the environment): the three tools for a viewer, the
 * service_health line with its problems, a wrong token that breaks nothing else, a Graylog down
 * at start that comes up without a restart, and the journal with every request and no token.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeGraylog, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'graylog-admin-token-0123456789abcdef';
const VIEWER = 'graylog-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const GL = '9z8y7x6w5v4u3t2s1r0q9z8y7x6w5v4u3t2s1r0q9z8y7x6w5v';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Graylog through the hub', () => {
  it('a viewer searches logs, lists streams and sees the overview; service_health has the Graylog line; every request is journaled without the token', { timeout: 120_000 }, async () => {
    await using gl = await startFakeGraylog({ token: GL });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { graylog: { url: gl.url, token: '${GRAYLOG_TOKEN}' } } },
      env: { GRAYLOG_TOKEN: GL },
    });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const tools = (await viewer.listTools()).tools;
    for (const name of ['search_logs', 'graylog_streams', 'graylog_overview']) expect(tools.find((t) => t.name === name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const found = (await viewer.callTool({ name: 'search_logs', arguments: { query: 'source:postgres AND level:3', range: '2h' } })) as Result;
    const want = gl.messages.filter((m) => m.source === 'postgres' && m.level === 3);
    expect(resultText(found)).toBe([`${want.length} message${want.length === 1 ? '' : 's'} in the last 2h, newest first:`, ...want.map((m) => `${m.timestamp} postgres FATAL: password authentication failed for user "n8n"`)].join('\n'));
    expect(resultText((await viewer.callTool({ name: 'graylog_streams', arguments: {} })) as Result)).toMatch(/^4 streams \(1 paused\):\n- Default Stream/);
    expect(resultText((await viewer.callTool({ name: 'graylog_overview', arguments: {} })) as Result)).toMatch(/^Graylog 6\.1\.4\+a1b2c3d on graylog \(running\), 1 node\nthroughput 42 msg\/s/);

    const health = (await viewer.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Graylog')).toMatchObject({
      kind: 'integration',
      healthy: false,
      detail: '42 msg/s, indexer green, 2 indexing failures in 24 h; 2 Graylog indexing failures in the last 24 h; Graylog notification: no input running',
    });

    const events = readJournal(join(hub.dir, 'data'));
    const http = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'graylog');
    expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${gl.url}/api/search/messages`, `${gl.url}/api/streams`, `${gl.url}/api/system/indexer/cluster/health`]));
    const journalText = readdirSync(join(hub.dir, 'data', 'audit')).map((f) => readFileSync(join(hub.dir, 'data', 'audit', f), 'utf8')).join('');
    expect(journalText).not.toContain(GL);
    expect(journalText).not.toContain(Buffer.from(`${GL}:token`).toString('base64'));
    expect(hub.output()).not.toContain(GL);
    expect(gl.unknown()).toEqual([]);
  });

  it('a Graylog down at start comes up without a restart', { timeout: 120_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { graylog: { url: `http://127.0.0.1:${port}`, token: GL } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const down = (await admin.callTool({ name: 'graylog_streams', arguments: {} })) as Result;
    expect(down.isError).toBe(true);
    expect(resultText(down)).toBe(`127.0.0.1:${port}: connection refused`);
    const line = async () => ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'Graylog').detail;
    expect(await line()).toBe(`Graylog at 127.0.0.1:${port} is unreachable: 127.0.0.1:${port}: connection refused`);
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();

    await using gl = await startFakeGraylog({ token: GL, port });
    expect(resultText((await admin.callTool({ name: 'graylog_streams', arguments: {} })) as Result)).toMatch(/^4 streams/);
    await expect.poll(line, { timeout: 30_000, interval: 300 }).toMatch(/^42 msg\/s, indexer green/);
    expect(gl.unknown()).toEqual([]);
  });

  it('a wrong token is named by its config key and breaks nothing else', { timeout: 120_000 }, async () => {
    await using gl = await startFakeGraylog({ token: GL });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { graylog: { url: gl.url, token: 'wrong-graylog-token-0123' } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const rejected = (await admin.callTool({ name: 'search_logs', arguments: { query: '*' } })) as Result;
    expect(rejected).toMatchObject({ isError: true });
    expect(resultText(rejected)).toBe(`Graylog at ${gl.host} rejected the access token (integrations.graylog.token)`);
    const line = ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'Graylog');
    expect(line).toMatchObject({ healthy: false, detail: `Graylog at ${gl.host} rejected the credential (integrations.graylog.token)` });
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();
    expect(hub.output()).not.toContain('wrong-graylog-token');
  });
});
