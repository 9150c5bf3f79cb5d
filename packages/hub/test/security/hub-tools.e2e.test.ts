/**
 * Attacks on the hub's own tools (red team round 3): a viewer reading other users' audit events
 * through query_logs, secrets of topology service URLs shown to viewers, and a huge client
 * name journaled and kept as an approval key. All through the bundled hub; Loki is the fake.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startFakeLoki, startHubProcess, type FakeLoki, type HubProcess } from '@homelab-mcp/testkit';

const ALICE = 'alice-admin-token-0123456789abc'; // admin
const VIC = 'vic-viewer-token-0123456789abcd'; // viewer
const MODERN = '2026-07-28';
const SECRET = 'S3cretPassw0rd-topology';
const QTOKEN = 'qtok-0123456789abcdef';
const MARK = 'alice-private-marker-42';

let dir: string;
let loki: FakeLoki;
let hub: HubProcess;
let closedPort: number;

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hub-tools-security-'));
  loki = await startFakeLoki();
  closedPort = await freePort();
  writeFileSync(
    join(dir, 'topology.yaml'),
    ['nodes:', '  - {name: nas, addresses: [127.0.0.1]}', 'services:', `  - {name: grafana, node: nas, ports: [${closedPort}], url: "http://admin:\${GRAFANA_PW}@127.0.0.1:${closedPort}/?token=${QTOKEN}"}`, ''].join('\n'),
  );
  hub = await startHubProcess({
    cwd: dir,
    config: {
      auth: {
        tokens: [
          { user: 'alice', role: 'admin', token: ALICE },
          { user: 'vic', role: 'viewer', token: VIC },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { enabled: false },
      // The audit trail's Loki only: query_logs falls back to it.
      audit: { loki: { url: loki.url, labels: { site: 'test' } } },
      topology: { file: 'topology.yaml', refreshMinutes: 60 },
    },
    env: { GRAFANA_PW: SECRET },
  });
});
afterAll(async () => {
  await hub?.stop();
  await loki?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One raw 2026-07-28 tools/call with the given clientInfo. */
async function rawCall(token: string, name: string, args: Record<string, unknown>, clientInfo: Record<string, unknown>): Promise<any> {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name, arguments: args, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': clientInfo } },
    }),
  });
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBe(200);
  const line = text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data:') && l.includes('"id":1'))!.slice(5);
  return JSON.parse(line).result;
}

describe('query_logs on the audit Loki', () => {
  it("a viewer cannot read alice's audit events through query_logs; an admin still can", async () => {
    await using alice = await connectClient(hub.url, ALICE, 'modern');
    await alice.callTool({ name: 'find_service', arguments: { name: MARK } });
    await expect.poll(() => loki.received().some((e) => e.line.includes(MARK)), { timeout: 30_000, interval: 200 }).toBe(true);

    await using vic = await connectClient(hub.url, VIC, 'modern');
    const direct = (await vic.callTool({ name: 'query_logs', arguments: { logql: `{job="mcp-audit"} |= "${MARK}"`, start: '1h' } })) as any;
    expect(direct.isError).toBe(true);
    expect(resultText(direct)).toMatch(/get_audit_log/);
    expect(resultText(direct)).not.toContain(MARK + '"');
    for (const logql of [`{job=~".+"} |= "${MARK}"`, `{site="test"} |= "${MARK}"`, `{job=~"mcp-.*", site=~".*"} |= "${MARK}"`, `{site="test", job!="nginx"} |= "${MARK}"`]) {
      const r = (await vic.callTool({ name: 'query_logs', arguments: { logql, start: '1h' } })) as any;
      expect(JSON.stringify(r.structuredContent ?? {}), logql).not.toContain('"user":"alice"');
      expect(r.structuredContent?.entries ?? [], logql).toEqual([]);
    }
    // The same question from an admin answers: the events are there to be found.
    const admin = (await alice.callTool({ name: 'query_logs', arguments: { logql: `{job="mcp-audit"} |= "${MARK}"`, start: '1h' } })) as any;
    expect(admin.isError).toBeFalsy();
    expect(admin.structuredContent.entries.length).toBeGreaterThan(0);
    expect(loki.unhandled()).toEqual([]);
  });

  it("get_audit_log on Loki: alice's event whose arguments say \"user\":\"vic\" is not shown to vic", async () => {
    await using alice = await connectClient(hub.url, ALICE, 'modern');
    const forged = `${MARK}-forged`;
    // An argument named user: the event's JSON then holds "user":"vic", which Loki's line filter matches.
    await alice.callTool({ name: 'find_service', arguments: { name: forged, user: 'vic' } });
    await expect.poll(() => loki.received().some((e) => e.line.includes(forged) && e.line.includes('"user":"vic"')), { timeout: 30_000, interval: 200 }).toBe(true);
    await using vic = await connectClient(hub.url, VIC, 'modern');
    const r = (await vic.callTool({ name: 'get_audit_log', arguments: { limit: 1000 } })) as any;
    expect(r.structuredContent.source).toBe('Loki');
    expect(r.structuredContent.events.map((e: any) => e.user).filter((u: string) => u !== 'vic')).toEqual([]);
    expect(JSON.stringify(r)).not.toContain(forged);
  });

  it("run_diagnostic's log check does not search the audit stream for the viewer's term", async () => {
    await using alice = await connectClient(hub.url, ALICE, 'modern');
    const term = `${MARK}-diag`;
    // A failed call: its event says "outcome":"error", which the error filter matches.
    const failed = (await alice.callTool({ name: 'find_service', arguments: { name: term } })) as any;
    expect(failed.isError).toBe(true);
    await expect.poll(() => loki.received().some((e) => e.line.includes(term)), { timeout: 30_000, interval: 200 }).toBe(true);
    await using vic = await connectClient(hub.url, VIC, 'modern');
    const r = (await vic.callTool({ name: 'run_diagnostic', arguments: { service: term, node: 'nas' } })) as any;
    const logs = r.structuredContent.findings.find((f: any) => f.check === 'logs');
    expect(logs, JSON.stringify(r.structuredContent)).toMatchObject({ status: 'ok' });
    expect(logs.detail).not.toContain('"user":"alice"');
    expect(loki.unhandled()).toEqual([]);
  });
});

describe('topology service URLs', () => {
  it('find_service, find_node, get_topology_full, topology://full and run_diagnostic show the URL without its password or query token', async () => {
    await using vic = await connectClient(hub.url, VIC, 'modern');
    const answers: string[] = [];
    const fs = (await vic.callTool({ name: 'find_service', arguments: { name: 'grafana' } })) as any;
    expect(fs.isError).toBeFalsy();
    expect(resultText(fs)).toContain(`url: http://***@127.0.0.1:${closedPort}/?token=***`);
    answers.push(JSON.stringify(fs));
    answers.push(JSON.stringify(await vic.callTool({ name: 'find_node', arguments: { name: 'nas' } })));
    answers.push(JSON.stringify(await vic.callTool({ name: 'get_topology_full', arguments: {} })));
    answers.push(JSON.stringify(await vic.readResource({ uri: 'topology://full' })));
    const diag = (await vic.callTool({ name: 'run_diagnostic', arguments: { service: 'grafana' } })) as any;
    answers.push(JSON.stringify(diag));
    expect(answers.join('\n')).toContain('127.0.0.1');
    for (const a of answers) {
      expect(a).not.toContain(SECRET);
      expect(a).not.toContain(QTOKEN);
      expect(a).not.toContain('admin:');
    }
  });
});

describe('a huge client name', () => {
  it('is cut to 128 characters before it is journaled or used as the session key (fast path and SDK path)', async () => {
    const huge = 'N'.repeat(1024 * 1024);
    const journalBytes = () => readdirSync(join(hub.dir, 'data', 'audit')).reduce((n, f) => n + statSync(join(hub.dir, 'data', 'audit', f)).size, 0);
    const before = journalBytes();
    // list_nodes takes the fast path; find_service with a bad argument goes through the SDK's server.
    for (let i = 0; i < 3; i++) {
      const r = await rawCall(VIC, 'list_nodes', {}, { name: huge, version: huge });
      expect(r.isError).toBeFalsy();
      await rawCall(VIC, 'find_service', { name: 'nope', bogus: 1 }, { name: huge, version: huge });
      await rawCall(VIC, 'no_such_tool_here', {}, { name: huge, version: huge });
    }
    const grown = journalBytes() - before;
    expect(grown).toBeLessThan(64 * 1024);
    const mine = readJournal(join(hub.dir, 'data')).filter((e) => e.user === 'vic' && typeof e.client?.name === 'string' && e.client.name.startsWith('NNNN'));
    expect(mine.length).toBeGreaterThanOrEqual(6);
    for (const e of mine) {
      expect(e.client.name.length).toBeLessThanOrEqual(128);
      expect(e.client.name).toMatch(/\[cut\]$/);
      expect(String(e.session ?? '').length).toBeLessThanOrEqual(256);
    }
  });
});
