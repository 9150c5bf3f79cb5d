/**
 * The audit trail through the bundled hub: every call and approval change is journaled
 * before the answer, nothing secret reaches it, a Loki outage loses nothing, and a hub killed
 * with SIGKILL keeps every call it answered.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, startEdgeProcess, startFakeLoki, readJournal, startHubProcess } from '@homelab-mcp/testkit';
import { createJournal } from '../src/audit/journal.ts';

const TOKEN = 'audit-admin-token-0123456789abcdef';
const VIEWER = 'audit-viewer-token-0123456789abcd';

const journal = readJournal;

describe('audit journal', () => {
  it('records pending, allowed, denied calls and approval changes, without secrets, readable with get_audit_log', async () => {
    await using edge = await startEdgeProcess();
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'vee', role: 'viewer', token: VIEWER }] }, nodes: [{ name: 'pi', url: edge.url, token: edge.token }] },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const secretArgs = { node: 'local', cmd: 'curl -u admin:s3cr3t-pass http://127.0.0.1:1/ ; echo PASSWORD=hunter2', env: { API_TOKEN: 'tok-abcdefghijklmnop' } };
    await client.callTool({ name: 'run_command', arguments: secretArgs }); // pending
    await client.callTool({ name: 'approve_writes', arguments: {} });
    await client.callTool({ name: 'run_command', arguments: secretArgs }); // allowed
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    await viewer.callTool({ name: 'approve_writes', arguments: {} }); // refused

    await client.callTool({ name: 'get_status', arguments: { node: 'pi' } });
    const events = journal(join(hub.dir, 'data'));
    // The hub's outbound requests are audited too, without the edge's token.
    const http = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'pi');
    expect(http.length).toBeGreaterThan(0);
    expect(http.at(-1)!.detail).toMatchObject({ method: 'POST', url: edge.url, status: 200 });
    const calls = events.filter((e) => e.kind === 'tool_call' && e.tool === 'run_command');
    expect(calls.map((e) => `${e.decision}/${e.outcome}`)).toEqual(['pending/pending', 'allowed/succeeded']);
    expect(calls[0]).toMatchObject({ user: 'ann', role: 'admin', class: 'write', nodes: ['local'] });
    // A 2025 session's client is named on every event, from what it said in initialize.
    expect(calls.map((e) => e.client)).toEqual([{ name: 'homelab-test', version: '1.0.0' }, { name: 'homelab-test', version: '1.0.0' }]);
    // An answered call records the answer's shape, never what it said (it may hold secrets).
    expect(calls[0]!.detail).toBeUndefined();
    expect(calls[1]!.detail).toEqual({ result: { items: 1, bytes: expect.any(Number), structured: true } });
    expect(calls[1]!.detail.result.bytes).toBeGreaterThan(0);
    const approvals = events.filter((e) => e.kind === 'approval');
    expect(approvals.map((e) => `${e.user}:${e.detail.change}`)).toEqual(['ann:approved', 'vee:refused']);

    const text = readdirSync(join(hub.dir, 'data', 'audit')).map((f) => readFileSync(join(hub.dir, 'data', 'audit', f), 'utf8')).join('');
    for (const secret of ['s3cr3t-pass', 'hunter2', 'tok-abcdefghijklmnop', TOKEN, VIEWER, edge.token!]) {
      expect(text).not.toContain(secret);
      expect(hub.output()).not.toContain(secret);
    }

    const log = (await client.callTool({ name: 'get_audit_log', arguments: { tool: 'run_command' } })) as any;
    expect(log.structuredContent.events.map((e: any) => e.decision)).toEqual(['allowed', 'pending']); // newest first
    // A viewer sees only its own events.
    const own = (await viewer.callTool({ name: 'get_audit_log', arguments: {} })) as any;
    expect(own.structuredContent.events.every((e: any) => e.user === 'vee')).toBe(true);
  });

  it('keeps every answered call when the hub is killed with SIGKILL mid-traffic', async () => {
    const hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }], rateLimit: { perMinute: 600_000, burst: 100_000 } }, local: { enabled: false } } });
    const dataDir = join(hub.dir, 'data');
    const answered: number[] = [];
    let events: Array<Record<string, any>> = [];
    try {
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      let i = 0;
      const workers = Array.from({ length: 4 }, async () => {
        for (;;) {
          const n = i++;
          try {
            await client.callTool({ name: 'get_audit_log', arguments: { limit: 1, tool: `marker-${n}` } });
            answered.push(n);
          } catch {
            return;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      const exited = new Promise((r) => hub.child.once('exit', r));
      hub.child.kill('SIGKILL');
      await exited;
      await Promise.all(workers);
      // A call answered just before the kill may have only its start on disk (its outcome goes
      // with the next commit): opening the journal again, as the next hub start does, records
      // it with outcome "unknown".
      expect(readJournal(dataDir, { waitMs: 0 }).length).toBeGreaterThan(0);
      const reopened = await createJournal({ dir: dataDir });
      await reopened.close();
      events = journal(dataDir, { waitMs: 0 }); // before stop(), which removes the temp dir
    } finally {
      await hub.stop().catch(() => undefined);
    }
    expect(answered.length).toBeGreaterThan(20);
    const journaled = new Set(events.map((e) => e.args?.tool));
    const missing = answered.filter((n) => !journaled.has(`marker-${n}`));
    expect(missing).toEqual([]);
    // One event per call, each with an outcome: what it did, or that the kill left it unknown.
    const calls = events.filter((e) => e.kind === 'tool_call' && e.tool === 'get_audit_log');
    expect(new Set(calls.map((e) => e.id)).size).toBe(calls.length);
    for (const e of calls) expect(['succeeded', 'unknown']).toContain(e.outcome);
  });
});

describe('the benchmark-only switch', () => {
  it('HOMELAB_HUB_UNSAFE_NO_AUDIT=1 records nothing and says so loudly', async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false } }, env: { HOMELAB_HUB_UNSAFE_NO_AUDIT: '1' } });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    await client.callTool({ name: 'list_nodes', arguments: {} });
    expect(journal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call')).toEqual([]);
    expect(hub.output()).toContain('the audit trail is OFF');
  });
});

describe('shipping to Loki', () => {
  it('delays shipping while Loki is down and loses nothing: all 500 events arrive once', async () => {
    await using loki = await startFakeLoki({ failing: true });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }], rateLimit: { perMinute: 60_000, burst: 1000 } }, local: { enabled: false }, audit: { loki: { url: loki.url, labels: { site: 'test' } } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    for (let n = 0; n < 500; n++) await client.callTool({ name: 'list_nodes', arguments: {} });
    expect(loki.received().length).toBe(0);
    loki.setFailing(false);
    const ids = () => loki.received().map((e) => JSON.parse(e.line).id as string);
    await expect.poll(() => new Set(ids()).size, { timeout: 30_000, interval: 250 }).toBe(500);
    expect(ids().length).toBe(500); // none twice
    expect(loki.received()[0]!.stream).toMatchObject({ job: 'mcp-audit', site: 'test' });
    expect(loki.unhandled()).toEqual([]);
    // get_audit_log reads Loki when it is configured.
    const r = (await client.callTool({ name: 'get_audit_log', arguments: { limit: 5 } })) as any;
    expect(r.structuredContent.source).toBe('Loki');
    expect(r.structuredContent.events.length).toBe(5);
  });

  it('get_audit_log answers from the journal while Loki is down, and says so', async () => {
    await using loki = await startFakeLoki({ failing: true });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, audit: { loki: { url: loki.url } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    for (let n = 0; n < 3; n++) await client.callTool({ name: 'list_nodes', arguments: {} });
    const down = (await client.callTool({ name: 'get_audit_log', arguments: { limit: 5, tool: 'list_nodes' } })) as any;
    expect(down.isError).toBeUndefined();
    expect(down.structuredContent.source).toMatch(/^the local journal \(Loki failed: .*503/);
    expect(down.structuredContent.events.map((e: any) => e.tool)).toEqual(['list_nodes', 'list_nodes', 'list_nodes']);
    expect(loki.received()).toEqual([]);
  });

  it('surfaces a growing backlog while Loki is down: a warning at audit.loki.backlogWarnBytes, /metrics, a service_health line; then drains it', async () => {
    await using loki = await startFakeLoki({ failing: true });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, audit: { loki: { url: loki.url, backlogWarnBytes: 4096 } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const metric = async (name: string) => {
      const text = await (await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const shipping = async () => ((await client.callTool({ name: 'service_health', arguments: {} })) as any).structuredContent.items.find((i: any) => i.name === 'Audit shipping');
    // Each call is a journal line of a few hundred bytes: 30 of them pass 4 KiB.
    for (let n = 0; n < 30; n++) await client.callTool({ name: 'list_nodes', arguments: {} });
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toMatch(/audit shipper: \d+ KiB of audit events wait in the journal for Loki\b.*Nothing is dropped.*audit\.loki\.backlogWarnBytes = 4096/);
    expect(hub.output().match(/wait in the journal for Loki/g)).toHaveLength(1); // once, not per commit
    expect(await metric('homelab_hub_audit_backlog_bytes')).toBeGreaterThan(4096);
    await expect.poll(() => metric('homelab_hub_audit_oldest_unshipped_age_seconds'), { timeout: 10_000 }).toBeGreaterThan(0);
    // The oldest event is known when its first push starts, the 503 when that push fails.
    await expect
      .poll(async () => (await shipping()).detail, { timeout: 10_000 })
      .toMatch(/^\d+ KiB of audit events not yet in Loki, oldest from \d{4}-.*503.*over audit\.loki\.backlogWarnBytes \(4 KiB\)\); kept in the journal, nothing is dropped$/);
    expect(await shipping()).toMatchObject({ kind: 'integration', healthy: false });
    expect(loki.received().length).toBe(0);

    loki.setFailing(false);
    // One answer holds both: each service_health call is itself journaled, so with a 4 KiB
    // threshold a few calls between two pushes can be over it again for a moment.
    await expect
      .poll(async () => {
        const s = await shipping();
        return { healthy: s.healthy, detail: s.detail };
      }, { timeout: 30_000, interval: 500 })
      .toMatchObject({ healthy: true, detail: expect.stringMatching(/^shipping to Loki, /) });
    await expect.poll(() => metric('homelab_hub_audit_oldest_unshipped_age_seconds'), { timeout: 10_000 }).toBe(0);
    expect(loki.received().length).toBeGreaterThanOrEqual(30);
  });
});
