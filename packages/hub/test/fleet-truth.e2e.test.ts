/**
 * The fleet tells the truth, through the bundled hub and five real edges on 127.0.0.1: one
 * stopped after the hub met it, one the hub holds a wrong token for, one that never listened.
 * Every configured node is part of `all` and of its roles, each unreachable one is counted as
 * failed and named, a command that exits non-zero is a failure everywhere (the answer, the
 * journal, /metrics), and a cancelled call is journaled `cancelled` with the edge's process
 * really gone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, freePort, isAlive, readJournal, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-0123456789abcdef';
/** `10:42:05Z (why)`: the shape of stateText in catalog/nodes.ts. */
const SINCE = String.raw`since \d\d:\d\d:\d\dZ \(.+\)`;

let kitchen: EdgeProcess;
let attic: EdgeProcess;
let bath: EdgeProcess;
let nas: EdgeProcess;
let hub: HubProcess;
const scratch = mkdtempSync(join(tmpdir(), 'fleet-truth-'));

beforeAll(async () => {
  [kitchen, attic, bath, nas] = await Promise.all([startEdgeProcess(), startEdgeProcess(), startEdgeProcess(), startEdgeProcess()]);
  // Nothing listens there: the hub never reaches this node.
  const garagePort = await freePort();
  hub = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } },
      local: { enabled: false },
      nodes: [
        { name: 'pi-kitchen', url: kitchen.url, token: kitchen.token, roles: ['speaker'] },
        { name: 'pi-attic', url: attic.url, token: attic.token, roles: ['speaker'] },
        { name: 'pi-bath', url: bath.url, token: 'not-the-edge-token-0123456789', roles: ['speaker'] },
        { name: 'pi-garage', url: `http://127.0.0.1:${garagePort}/mcp`, token: 'garage-token-0123456789abcdef', roles: ['speaker'] },
        { name: 'nas', url: nas.url, token: nas.token, roles: ['storage'] },
      ],
    },
  });
  // Stopped after the hub has met it: it was up once, and is gone now.
  await attic.stop();
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([kitchen, attic, bath, nas].map((e) => e?.stop()));
  rmSync(scratch, { recursive: true, force: true });
});

async function approved(era: Era = 'modern') {
  const client = await connectClient(hub.url, ADMIN, era);
  await client.callTool({ name: 'approve_writes', arguments: {} });
  return client;
}

const metric = async (tool: string, outcome: string): Promise<number> => {
  const text = await (await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const m = new RegExp(`homelab_hub_tool_calls_total\\{tool="${tool}",outcome="${outcome}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
};

/** The journal's last tool_call event for `tool` whose arguments hold `marker`. */
const journaled = (tool: string, marker: string) =>
  readJournal(join(hub.dir, 'data'))
    .filter((e) => e.kind === 'tool_call' && e.tool === tool && JSON.stringify(e.args).includes(marker))
    .at(-1);

describe('every configured node is part of the fleet', () => {
  it('`all` and `role:` include the unreachable nodes and count them as failed', async () => {
    await using client = await approved();
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'role:speaker', cmd: 'echo speakers' } })) as any;
    const summary: string = r.structuredContent.summary;
    expect(summary).toMatch(new RegExp(`^4 nodes: 1 ok, 3 failed \\(pi-attic: unreachable ${SINCE}; pi-bath: unreachable ${SINCE}; pi-garage: unreachable ${SINCE}\\)$`));
    expect(summary).toContain('pi-attic: unreachable since');
    expect(summary).toMatch(/pi-bath: unreachable since \S+ \(unauthorized \(HTTP 401\)/);
    expect(summary).toMatch(/pi-garage: unreachable since \S+ \(connection refused\)/);
    expect(r.isError).toBeUndefined();
    expect(r.structuredContent.nodes.map((n: any) => `${n.node}:${n.ok}`)).toEqual(['pi-kitchen:true', 'pi-attic:false', 'pi-bath:false', 'pi-garage:false']);
    const all = (await client.callTool({ name: 'get_status', arguments: { node: 'all' } })) as any;
    expect(all.structuredContent.summary).toMatch(/^5 nodes: 2 ok, 3 failed \(pi-attic: .*; pi-bath: .*; pi-garage: .*\)$/);
    expect(resultText(all)).toContain('## pi-garage (failed)\nunreachable since');
  });

  it('`node: X` on a down, unauthorized or never reached node says it is unreachable, never "unknown node"', async () => {
    await using client = await approved();
    for (const name of ['pi-attic', 'pi-bath', 'pi-garage']) {
      const r = (await client.callTool({ name: 'get_status', arguments: { node: name } })) as any;
      expect(r.isError).toBe(true);
      expect(resultText(r)).toMatch(new RegExp(`^node ${name} is unreachable ${SINCE}$`));
    }
  });

  it('a node name that is no node is quoted short and visible: a huge one is cut (answer and journal), a bidi control escaped', async () => {
    await using client = await approved();
    const huge = 'x'.repeat(100_000);
    const r = (await client.callTool({ name: 'get_status', arguments: { node: huge } })) as any;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(/^node: unknown node "x{64}…" \(100000 characters\) \(known nodes: pi-kitchen, /);
    const event = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && e.tool === 'get_status').at(-1)!;
    expect(JSON.stringify(event).length).toBeLessThan(2000);
    const bidi = (await client.callTool({ name: 'get_status', arguments: { node: 'role:spea\u202eker' } })) as any;
    expect(resultText(bidi)).toMatch(/^node: no node has the role "spea\\u\{202e\}ker" \(known nodes: /);
  });

  it('a node on a port fetch refuses (6000) says so, not "fetch failed"', async () => {
    // Nothing listens or is sent there: the hub's fetch refuses the port before connecting.
    await using blocked = await startHubProcess({
      config: { auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'pi-x11', url: 'http://127.0.0.1:6000/mcp', token: 'x11-token-0123456789abcdef' }] },
    });
    await using client = await connectClient(blocked.url, ADMIN, 'modern');
    const r = (await client.callTool({ name: 'get_status', arguments: { node: 'pi-x11' } })) as any;
    expect(resultText(r)).toMatch(/^node pi-x11 is unreachable since \S+ \(fetch refuses this port \(a "bad port" of the Fetch standard\): serve it on another port\)$/);
  });

  it('the approval preview lists the unreachable nodes', async () => {
    // A 2025 session of its own: writes are not approved in it yet.
    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    const held = (await client.callTool({ name: 'run_command', arguments: { node: 'role:speaker', cmd: 'mpc stop' } })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(resultText(held)).toContain('run `mpc stop` on pi-kitchen, pi-attic (unreachable now), pi-bath (unreachable now), pi-garage (unreachable now)');
    // The nodes the call acts on are plain names (they bind a confirm token).
    expect(held.structuredContent.preview.where).toEqual(['pi-kitchen', 'pi-attic', 'pi-bath', 'pi-garage']);
  });

  it('the fleet tools do not depend on which nodes are up: a node never reached gets the known schema', async () => {
    const port = await freePort();
    await using lonely = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }] },
        local: { enabled: false },
        perDeviceTools: true,
        nodes: [{ name: 'pi-garage', url: `http://127.0.0.1:${port}/mcp`, token: 'garage-token-0123456789abcdef', roles: ['speaker'] }],
      },
    });
    await using a = await connectClient(hub.url, ADMIN, 'modern');
    await using b = await connectClient(lonely.url, ADMIN, 'modern');
    const fleet = (tools: Array<{ name: string; inputSchema: unknown; description?: string }>) =>
      Object.fromEntries(tools.filter((t) => ['run_command', 'get_status', 'read_file'].includes(t.name)).map((t) => [t.name, { schema: t.inputSchema, description: t.description }]));
    const up = fleet((await a.listTools()).tools);
    expect(Object.keys(up).sort()).toEqual(['get_status', 'read_file', 'run_command']);
    expect(fleet((await b.listTools()).tools)).toEqual(up);
    const r = (await b.callTool({ name: 'get_status', arguments: { node: 'pi-garage' } })) as any;
    expect(resultText(r)).toMatch(new RegExp(`^node pi-garage is unreachable ${SINCE}$`));
    // The per-device copies too (perDeviceTools: true).
    const copy = (await b.callTool({ name: 'pi-garage__get_status', arguments: {} })) as any;
    expect(copy.isError).toBe(true);
    expect(resultText(copy)).toMatch(new RegExp(`^node pi-garage is unreachable ${SINCE}$`));
  });
});

describe('outcomes are honest', () => {
  it('a command that exits non-zero on every node is failed: summary, isError, journal and /metrics', async () => {
    await using client = await approved();
    const before = await metric('run_command', 'error');
    const r = (await client.callTool({ name: 'run_command', arguments: { node: ['pi-kitchen', 'nas'], cmd: 'exit 1 # all-fail' } })) as any;
    expect(r.structuredContent.summary).toBe('2 nodes: 0 ok, 2 failed (exit 1)');
    expect(r.isError).toBe(true);
    expect(journaled('run_command', 'all-fail')).toMatchObject({ decision: 'allowed', outcome: 'failed', error: '2 nodes: 0 ok, 2 failed (exit 1)' });
    expect(await metric('run_command', 'error')).toBe(before + 1);
  });

  it('one node named directly keeps its own answer, and exit 1 there is a failure too', async () => {
    await using client = await approved();
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'nas', cmd: 'echo out; exit 3 # single-fail' } })) as any;
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ exitCode: 3, stdout: 'out\n', timedOut: false });
    expect(resultText(r)).toMatch(/^exit 3 in [\d.]+ ms/);
    expect(journaled('run_command', 'single-fail')).toMatchObject({ outcome: 'failed', error: 'exit 3' });
    const ok = (await client.callTool({ name: 'run_command', arguments: { node: 'nas', cmd: 'true # single-ok' } })) as any;
    expect(ok.isError).toBeUndefined();
    expect(journaled('run_command', 'single-ok')).toMatchObject({ outcome: 'succeeded' });
  });

  it('a command killed by its deadline is failed', async () => {
    await using client = await approved();
    const r = (await client.callTool({ name: 'run_command', arguments: { node: ['pi-kitchen', 'nas'], cmd: 'sleep 30 # deadline', timeout_s: 0.2 } })) as any;
    expect(r.structuredContent.summary).toBe('2 nodes: 0 ok, 2 failed (timed out)');
    expect(r.isError).toBe(true);
  });

  it('some nodes ok and some failed is `partial`: not an error answer, but not a success either', async () => {
    await using client = await approved();
    const before = await metric('run_command', 'partial');
    const p = (await client.callTool({ name: 'run_command', arguments: { node: ['pi-kitchen', 'pi-garage'], cmd: 'true # partial-2' } })) as any;
    expect(p.structuredContent.summary).toMatch(new RegExp(`^2 nodes: 1 ok, 1 failed \\(pi-garage: unreachable ${SINCE}\\)$`));
    expect(p.isError).toBeUndefined();
    expect(journaled('run_command', 'partial-2')).toMatchObject({ outcome: 'partial', error: p.structuredContent.summary });
    expect(await metric('run_command', 'partial')).toBe(before + 1);
  });
});

describe.each<Era>(['legacy', 'modern'])('cancellation, %s era', (era) => {
  it.each([
    ['one node', 'nas', 1],
    ['two nodes', ['pi-kitchen', 'nas'], 2],
  ] as const)('on %s: journaled `cancelled`, and the command is killed on the edge', async (label, node, count) => {
    await using client = await approved(era);
    const pids = join(scratch, `${era}-${label.replace(' ', '-')}.pids`);
    const marker = `cancel-${era}-${label.replace(' ', '-')}`;
    const before = await metric('run_command', 'cancelled');
    const ac = new AbortController();
    const call = client.callTool({ name: 'run_command', arguments: { node, cmd: `echo $$ >> ${pids}; exec sleep 300 # ${marker}` } }, { signal: ac.signal });
    const started = () => readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
    await expect.poll(() => { try { return started().length; } catch { return 0; } }, { timeout: 20_000 }).toBe(count);
    ac.abort();
    await expect(call).rejects.toThrow();
    await expect.poll(() => journaled('run_command', marker)?.outcome, { timeout: 20_000 }).toBe('cancelled');
    await expect.poll(() => started().filter(isAlive), { timeout: 20_000 }).toEqual([]);
    expect(await metric('run_command', 'cancelled')).toBe(before + 1);
  });
});

describe('cancellation on the local node', () => {
  it('journals `cancelled` and kills the command in the hub’s own edge', async () => {
    await using h = await startHubProcess({ config: { auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }] }, local: { enabled: true } } });
    await using client = await connectClient(h.url, ADMIN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const pids = join(scratch, 'local.pids');
    const ac = new AbortController();
    const call = client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: `echo $$ >> ${pids}; exec sleep 300 # cancel-local` } }, { signal: ac.signal });
    const started = () => readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
    await expect.poll(() => { try { return started().length; } catch { return 0; } }, { timeout: 20_000 }).toBe(1);
    ac.abort();
    await expect(call).rejects.toThrow();
    const event = () => readJournal(join(h.dir, 'data')).filter((e) => e.kind === 'tool_call' && JSON.stringify(e.args).includes('cancel-local')).at(-1);
    await expect.poll(() => event()?.outcome, { timeout: 20_000 }).toBe('cancelled');
    await expect.poll(() => started().filter(isAlive), { timeout: 20_000 }).toEqual([]);
  });
});
