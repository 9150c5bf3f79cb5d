/**
 * Reloads and upstreams never take the hub down: a real hub, its hub.yaml rewritten (the
 * hub watches it) with random bad and good edits, while a real stdio upstream changes its
 * tool list (names empty, too long, unsanitary) and sends list_changed. After each edit the
 * hub says what it did; it stays up and keeps serving throughout. Then: a device added with a
 * token file and no restart, and entries whose secret cannot be resolved keeping their
 * running settings.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectClient, resultText, startEdgeProcess, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'chaos-admin-token-0123456789';
const CHANGING = fileURLToPath(new URL('./fixtures/changing-server.mjs', import.meta.url));
const ALIAS = 'changing-tools';

/** Writes a file the way editors do (a new file renamed over the old), so no reader sees half of it. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** Seeded, so a failure can be replayed: mulberry32. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The hub's answers to reloads so far: one line per reload, applied or refused. */
const outcomes = (hub: HubProcess) => hub.output().match(/"msg":"config reload(?:ed"|ed;| failed)/g)?.length ?? 0;

async function reloadAndWait(hub: HubProcess, file: string, text: string): Promise<string> {
  const before = outcomes(hub);
  const mark = hub.output().length;
  writeAtomically(file, text);
  await expect.poll(() => outcomes(hub), { timeout: 15_000 }).toBeGreaterThan(before);
  return hub.output().slice(mark);
}

describe('reload chaos', () => {
  it('stays up and keeps serving through 100 random bad reloads and upstream tool-list changes', async () => {
    await using edge = await startEdgeProcess();
    const seed = Number(process.env.CHAOS_SEED ?? 11);
    const rnd = random(seed);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const toolsFile = (dir: string) => join(dir, 'tools.json');
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] },
        local: { enabled: false },
        nodes: [{ name: 'a', url: edge.url, token: edge.token }],
        upstreams: {},
      },
    });
    const file = join(hub.dir, 'hub.yaml');
    writeFileSync(toolsFile(hub.dir), JSON.stringify(['ping']));
    const base = () => ({
      dataDir: './data',
      auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] },
      local: { enabled: false } as Record<string, unknown>,
      nodes: [{ name: 'a', url: edge.url, token: edge.token }] as Array<Record<string, unknown>>,
      upstreams: { [ALIAS]: { command: process.execPath, args: [CHANGING], env: { TOOLS_FILE: toolsFile(hub.dir) }, classes: { '*': 'read' } } },
      limits: { maxToolName: 50 } as Record<string, unknown>,
      perDeviceTools: false,
    });
    expect(await reloadAndWait(hub, file, JSON.stringify(base()))).toContain('"msg":"config reloaded"');
    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    const serving = async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('list_nodes');
      const nodes = ((await client.callTool({ name: 'list_nodes', arguments: {} })) as { structuredContent: { nodes: Array<{ name: string }> } }).structuredContent.nodes;
      expect(nodes.map((n) => n.name)).toContain('a');
      await expect.poll(async () => resultText(await client.callTool({ name: `${ALIAS}__ping`, arguments: {} })), { timeout: 10_000 }).toBe('ping ok');
    };
    await serving();

    // Tool names an upstream may send: empty, far too long, unsanitary, colliding once sanitized.
    const odd = ['', 'x'.repeat(300), 'a.b c', 'a_b_c', 'a b.c', 'weird/名前', 'y'.repeat(60), '___', 'ok_tool'];
    // [kind, edit, whether the hub applies it]
    const edits: Array<[string, (c: ReturnType<typeof base>, i: number) => string, boolean]> = [
      ['maxToolName below the alias', (c) => JSON.stringify({ ...c, limits: { maxToolName: 20 } }), false],
      ['YAML syntax', (c) => `${JSON.stringify(c)}\n  : [`, false],
      ['unknown key', (c) => JSON.stringify({ ...c, nodez: [] }), false],
      ['duplicate node', (c) => JSON.stringify({ ...c, nodes: [...c.nodes, c.nodes[0]] }), false],
      ['non-HTTP URL', (c) => JSON.stringify({ ...c, nodes: [{ ...c.nodes[0], url: 'ftp://127.0.0.1/mcp' }] }), false],
      ['node named like local', (c) => JSON.stringify({ ...c, local: { enabled: true }, nodes: [...c.nodes, { name: 'local', url: edge.url }] }), false],
      ['unset variable outside an entry', (c) => JSON.stringify({ ...c, logLevel: '${CHAOS_UNSET_LEVEL}' }), false],
      ['unset variable in a new node', (c, i) => JSON.stringify({ ...c, nodes: [...c.nodes, { name: `b${i}`, url: edge.url, token: '${CHAOS_UNSET_TOKEN}' }] }), true],
      ['good: names and per-device tools', (c) => JSON.stringify({ ...c, limits: { maxToolName: 24 + Math.floor(rnd() * 40) }, perDeviceTools: rnd() < 0.5 }), true],
    ];
    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      // The upstream changes its list (and sends list_changed) while the hub reloads.
      writeAtomically(toolsFile(hub.dir), JSON.stringify(['ping', ...Array.from({ length: Math.floor(rnd() * 4) }, () => pick(odd))]));
      const [kind, edit, applies] = pick(edits);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      // Each text differs (a step comment), so the hub never skips an edit as unchanged.
      const said = await reloadAndWait(hub, file, `${edit(base(), i)}\n# step ${i} (seed ${seed}): ${kind}\n`);
      expect(said, `step ${i} (CHAOS_SEED=${seed}): ${kind}`).toContain(applies ? '"msg":"config reloaded' : '"msg":"config reload failed, keeping the running configuration');
      expect(hub.child.exitCode, `step ${i} (CHAOS_SEED=${seed}): ${kind}`).toBeNull();
      if (i % 10 === 9) await serving();
    }
    expect([...seen.keys()].sort()).toEqual(edits.map(([k]) => k).sort());

    expect(await reloadAndWait(hub, file, JSON.stringify(base()))).toContain('"msg":"config reloaded"');
    writeAtomically(toolsFile(hub.dir), JSON.stringify(['ping', '']));
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toContain(`${ALIAS}: tool \\"\\" left out: tool name under prefix \\"${ALIAS}\\" is empty`);
    await serving();
    expect(hub.child.exitCode).toBeNull();
    const out = hub.output();
    expect(out).toContain(`alias \\"${ALIAS}\\" is too long for limits.maxToolName 20 (at most 10 characters, so that its tools can be named)`);
    expect(out).toMatch(/nodes\[1\] \\"b\d+\\": environment variable CHAOS_UNSET_TOKEN is not set; not connected until it is resolved/);
    expect(out).toContain('key \\"logLevel\\": environment variable CHAOS_UNSET_LEVEL is not set');
    expect(out).not.toMatch(/Uncaught|HomelabError:|\n\s+at /);
  }, 300_000);
});

describe('adding a device without a restart', () => {
  it('reads a node token from a file, and an entry whose secret cannot be resolved keeps its running settings', async () => {
    await using a = await startEdgeProcess();
    await using b = await startEdgeProcess();
    const base = { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'a', url: a.url, token: a.token }] };
    await using hub = await startHubProcess({ config: base });
    const file = join(hub.dir, 'hub.yaml');
    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const run = async (node: string) => {
      // One node answers as itself; a role selector answers with one result per node.
      const r = (await client.callTool({ name: 'run_command', arguments: { node, cmd: 'echo hi' } })) as { structuredContent?: { stdout?: string; nodes?: Array<{ structuredContent?: { stdout: string } }> } };
      return r.structuredContent?.stdout ?? r.structuredContent?.nodes?.[0]?.structuredContent?.stdout ?? resultText(r);
    };

    // One edit: b added with a token file, while a's token moves to a variable the hub was not started with.
    writeFileSync(join(hub.dir, 'b.token'), `${b.token}\n`, { mode: 0o600 });
    chmodSync(join(hub.dir, 'b.token'), 0o600);
    let said = await reloadAndWait(hub, file, JSON.stringify({ ...base, dataDir: './data', nodes: [{ name: 'a', url: a.url, token: '${CHAOS_A_TOKEN}' }, { name: 'b', url: b.url, tokenFile: 'b.token', roles: ['new'] }] }));
    expect(said).toContain('nodes[0] \\"a\\": environment variable CHAOS_A_TOKEN is not set; keeping its running settings');
    expect(said).toContain('"msg":"config reloaded"');
    expect(await run('b')).toBe('hi\n');
    expect(await run('a')).toBe('hi\n');
    expect(said).not.toContain(b.token);

    // A token file anyone can read is refused: b keeps the settings it runs with, and the log says which file.
    chmodSync(join(hub.dir, 'b.token'), 0o644);
    said = await reloadAndWait(hub, file, JSON.stringify({ ...base, dataDir: './data', nodes: [...base.nodes, { name: 'b', url: b.url, tokenFile: 'b.token', roles: ['newer'] }] }));
    expect(said).toContain(`nodes[1] \\"b\\": secret file ${join(hub.dir, 'b.token')} is readable by every user (mode 0644); refused: chmod 600 ${join(hub.dir, 'b.token')}; keeping its running settings`);
    const roles = ((await client.callTool({ name: 'list_nodes', arguments: {} })) as { structuredContent: { nodes: Array<{ name: string; roles: string[] }> } }).structuredContent.nodes.find((n) => n.name === 'b')?.roles;
    expect(roles).toEqual(['new']);
    expect(await run('b')).toBe('hi\n');

    // Group-readable is allowed, with a warning.
    chmodSync(join(hub.dir, 'b.token'), 0o640);
    said = await reloadAndWait(hub, file, JSON.stringify({ ...base, dataDir: './data', nodes: [...base.nodes, { name: 'b', url: b.url, tokenFile: 'b.token', roles: ['newest'] }] }));
    expect(said).toContain('is readable by its group (mode 0640)');
    expect(await run('role:newest')).toBe('hi\n');
  }, 120_000);

  it('a new node whose secret cannot be resolved stays in the fleet (and topology.yaml may name it): all, its role and node: X say why, never "unknown node"', async () => {
    await using kitchen = await startEdgeProcess();
    const base = { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'pi-kitchen', url: kitchen.url, token: kitchen.token, roles: ['speaker'] }] };
    await using hub = await startHubProcess({ config: base });
    const file = join(hub.dir, 'hub.yaml');
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await client.callTool({ name: 'approve_writes', arguments: {} });

    // Two speakers added in one edit: one's token variable is unset, the other's token file is
    // misspelt; topology.yaml describes one of them under the same name, as a device is added.
    writeFileSync(join(hub.dir, 'topology.yaml'), JSON.stringify({ nodes: [{ name: 'pi-attic', edge: 'pi-attic', roles: ['speaker'] }] }));
    const said = await reloadAndWait(hub, file, JSON.stringify({ ...base, dataDir: './data', topology: { file: 'topology.yaml' }, nodes: [...base.nodes, { name: 'pi-attic', url: kitchen.url, token: '${CHAOS_ATTIC_UNSET}', roles: ['speaker'] }, { name: 'pi-bath', url: kitchen.url, tokenFile: 'pi-bath.tokne', roles: ['speaker'] }] }));
    expect(said).toContain('nodes[1] \\"pi-attic\\": environment variable CHAOS_ATTIC_UNSET is not set; not connected until it is resolved');
    expect(said).toContain('"msg":"config reloaded"');

    const speakers = await client.callTool({ name: 'run_command', arguments: { node: 'role:speaker', cmd: 'echo stop mpd' } });
    expect(speakers.isError).toBeFalsy();
    expect(resultText(speakers).split('\n')[0]).toBe(
      `3 nodes: 1 ok, 2 failed (pi-attic: unreachable since ${(/pi-attic: unreachable since (\S+)/.exec(resultText(speakers)) ?? [])[1]} (environment variable CHAOS_ATTIC_UNSET is not set); ` +
        `pi-bath: unreachable since ${(/pi-bath: unreachable since (\S+)/.exec(resultText(speakers)) ?? [])[1]} (cannot read secret file ${join(hub.dir, 'pi-bath.tokne')}: no such file))`,
    );
    const all = await client.callTool({ name: 'get_env', arguments: { node: 'all' } });
    expect(resultText(all).split('\n')[0]).toMatch(/^3 nodes: 1 ok, 2 failed \(pi-attic: /);
    const one = await client.callTool({ name: 'get_env', arguments: { node: 'pi-attic' } });
    expect(one.isError).toBe(true);
    expect(resultText(one)).toMatch(/^node pi-attic is unreachable since \S+ \(environment variable CHAOS_ATTIC_UNSET is not set\)$/);
    const nodes = ((await client.callTool({ name: 'list_nodes', arguments: {} })) as { structuredContent: { nodes: Array<{ name: string; roles: string[] }> } }).structuredContent.nodes;
    expect(nodes.map((n) => [n.name, n.roles])).toEqual([['pi-kitchen', ['speaker']], ['pi-attic', ['speaker']], ['pi-bath', ['speaker']]]);

    // Resolved: the file appears under the right name, and the node is a normal one.
    writeFileSync(join(hub.dir, 'pi-bath.token'), `${kitchen.token}\n`, { mode: 0o600 });
    await reloadAndWait(hub, file, JSON.stringify({ ...base, dataDir: './data', nodes: [...base.nodes, { name: 'pi-bath', url: kitchen.url, tokenFile: 'pi-bath.token', roles: ['speaker'] }] }));
    const after = await client.callTool({ name: 'run_command', arguments: { node: 'role:speaker', cmd: 'echo stop mpd' } });
    expect(resultText(after).split('\n')[0]).toBe('2 nodes: 2 ok');
  }, 120_000);
});
