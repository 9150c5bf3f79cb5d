/**
 * `upstreams.<alias>.prefix: false` through the bundled hub: a real native MCP server (HTTP)
 * and a real stdio server whose tool list changes, both unprefixed. Their tools keep their own
 * names and are still held by the gate, hidden from viewers, journaled with their source and
 * shown on the UI's Tools page; a name that meets another is left out (never shadowing a hub
 * tool), and a reload that would make such a collision is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startHubProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const OPERATOR = 'unprefixed-operator-token-0123456789';
const VIEWER = 'unprefixed-viewer-token-0123456789';
const NATIVE_TOKEN = 'unprefixed-native-token-0123456789';
const CHANGING = fileURLToPath(new URL('./fixtures/changing-server.mjs', import.meta.url));

async function startNative(): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/native-server.mjs', import.meta.url))], { env: { ...process.env, NATIVE_TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()).port));
    child.once('exit', () => reject(new Error('native server exited')));
  });
  return { child, port, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))) };
}

/** Writes a file the way editors do (a new file renamed over the old). */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

let native: Awaited<ReturnType<typeof startNative>>;
let hub: HubProcess;
// The hub's directory, and the stdio upstreams' (they run in the hub's): their tool files.
const dir = mkdtempSync(join(tmpdir(), 'unprefixed-'));
const config = (more: Record<string, unknown> = {}) => ({
  dataDir: './data',
  auth: {
    tokens: [
      { user: 'olga', role: 'operator', token: OPERATOR },
      { user: 'vic', role: 'viewer', token: VIEWER },
    ],
  },
  local: { enabled: false },
  upstreams: {
    ha: { url: `http://127.0.0.1:${native.port}/mcp`, headers: { Authorization: `Bearer ${NATIVE_TOKEN}` }, classes: { 'Get*': 'read' }, prefix: false },
    chg: { command: process.execPath, args: [CHANGING], env: { TOOLS_FILE: 'chg-tools.json' }, classes: { '*': 'read' }, prefix: false },
    ...more,
  },
});

beforeAll(async () => {
  native = await startNative();
  writeFileSync(join(dir, 'chg-tools.json'), JSON.stringify(['hello']));
  hub = await startHubProcess({ cwd: dir, config: config() });
});
afterAll(async () => {
  await hub?.stop();
  await native?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each<Era>(['legacy', 'modern'])('an unprefixed upstream, %s era', (era) => {
  it('keeps its names, descriptions and annotations; its write is held by the gate, then runs once approved', async () => {
    await using client = await connectClient(hub.url, OPERATOR, era);
    await expect.poll(async () => (await client.listTools()).tools.map((t) => t.name), { timeout: 10_000 }).toContain('hello');
    const tools = (await client.listTools()).tools;
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(tools.filter((t) => t.name.includes('__'))).toEqual([]);
    // Passed on as listed: the hub's class is the one their annotations claim.
    expect(byName.get('HassTurnOn')).toMatchObject({ description: 'Turns on a device' });
    expect(byName.get('HassTurnOn')!.annotations).toBeUndefined();
    expect(byName.get('GetLiveContext')).toMatchObject({ description: 'State of all devices', annotations: { readOnlyHint: true } });
    // Claims read-only, but no `classes` glob makes it a read: the hub's class shows.
    expect(byName.get('slow_count')).toMatchObject({ description: '[write: needs approval] Counts slowly', annotations: { readOnlyHint: false, destructiveHint: true } });
    expect(byName.get('hello')).toMatchObject({ description: 'tool hello', annotations: { readOnlyHint: true } });

    const held = (await client.callTool({ name: 'HassTurnOn', arguments: { name: `lamp-${era}` } })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview).toMatchObject({ tool: 'HassTurnOn', where: ['ha'] });
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    expect(resultText(await client.callTool({ name: 'HassTurnOn', arguments: { name: `lamp-${era}` } }))).toBe(`turned on lamp-${era}`);
    expect(resultText(await client.callTool({ name: 'GetLiveContext', arguments: {} }))).toBe('kitchen light: on');

    // Resources and prompts under their own URIs and names.
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain('memo://notes');
    expect(await client.readResource({ uri: 'memo://notes' })).toMatchObject({ contents: [{ uri: 'memo://notes', text: 'remember the milk' }] });
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('assist');
    expect(((await client.getPrompt({ name: 'assist' })).messages[0]!.content as { text: string }).text).toBe('You control a home.');

    // The journal names the tool as the client called it and the upstream it ran on.
    const calls = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && e.tool === 'HassTurnOn' && e.args?.name === `lamp-${era}`);
    expect(calls.map((e) => [e.decision, e.nodes, e.class])).toEqual([
      ['pending', ['ha'], 'write'],
      ['allowed', ['ha'], 'write'],
    ]);
  });

  it('is hidden from a viewer where it writes', async () => {
    await using viewer = await connectClient(hub.url, VIEWER, era);
    const names = (await viewer.listTools()).tools.map((t) => t.name);
    expect(names).toContain('GetLiveContext');
    expect(names).not.toContain('HassTurnOn');
    // As for any tool a viewer does not see: unknown to them.
    await expect(viewer.callTool({ name: 'HassTurnOn', arguments: { name: 'x' } })).rejects.toThrow('Tool HassTurnOn not found');
  });
});

describe('collisions', () => {
  it("the UI's Tools page shows an unprefixed tool with its upstream", async () => {
    const login = await fetch(`${hub.base}/ui/login`, { method: 'POST', body: new URLSearchParams({ token: OPERATOR }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${hub.base}/ui/tools`, { headers: { cookie } })).text();
    expect(page).toMatch(/HassTurnOn[\s\S]{0,400}>ha</);
  });

  it('a reload adding an unprefixed upstream whose name another has is refused, naming both; the running configuration stays', async () => {
    writeFileSync(join(hub.dir, 'dup-tools.json'), JSON.stringify(['GetLiveContext']));
    const dup = { command: process.execPath, args: [CHANGING], env: { TOOLS_FILE: 'dup-tools.json' }, classes: { '*': 'read' } };
    const mark = hub.output().length;
    writeAtomically(join(hub.dir, 'hub.yaml'), JSON.stringify(config({ dup: { ...dup, prefix: false } })));
    await expect.poll(() => hub.output().slice(mark), { timeout: 15_000 }).toContain('config reload failed');
    expect(hub.output().slice(mark)).toContain(
      'config reload failed, keeping the running configuration: tool \\"GetLiveContext\\" of upstream \\"ha\\" (prefix: false) has the name of an entry of upstream \\"dup\\"; that one keeps it; tool \\"GetLiveContext\\" of upstream \\"dup\\" (prefix: false) has the name of an entry of upstream \\"ha\\"; that one keeps it. Keep the prefix of that upstream (remove prefix: false) or remove the other entry',
    );
    await using client = await connectClient(hub.url, OPERATOR, 'modern');
    expect(resultText(await client.callTool({ name: 'GetLiveContext', arguments: {} }))).toBe('kitchen light: on');
    expect(((await client.callTool({ name: 'list_nodes', arguments: {} })) as any).structuredContent.upstreams.map((u: { alias: string }) => u.alias)).toEqual(['ha', 'chg']);

    // With its prefix, the same upstream is welcome.
    const mark2 = hub.output().length;
    writeAtomically(join(hub.dir, 'hub.yaml'), JSON.stringify(config({ dup })));
    await expect.poll(() => hub.output().slice(mark2), { timeout: 15_000 }).toContain('"msg":"config reloaded"');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['GetLiveContext', 'dup__GetLiveContext']));
  });

  it("a name an unprefixed upstream announces later is left out, with a warning, in list_nodes and /readyz; the hub's approve_writes stays the hub's", async () => {
    writeFileSync(join(hub.dir, 'chg-tools.json'), JSON.stringify(['hello', 'approve_writes', 'list_nodes']));
    await using client = await connectClient(hub.url, OPERATOR, 'legacy');
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toContain('tool \\"approve_writes\\" of upstream \\"chg\\" (prefix: false) has the name of the hub\'s own tool; that one keeps it');
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).not.toBe('approve_writes ok');
    const list = (await client.callTool({ name: 'list_nodes', arguments: {} })) as any;
    expect(list.structuredContent.upstreams.find((u: { alias: string }) => u.alias === 'chg').leftOut).toEqual([
      { kind: 'tool', name: 'approve_writes', why: `tool "approve_writes" of upstream "chg" (prefix: false) has the name of the hub's own tool; that one keeps it` },
      { kind: 'tool', name: 'list_nodes', why: `tool "list_nodes" of upstream "chg" (prefix: false) has the name of the hub's own tool; that one keeps it` },
    ]);
    expect(resultText(list)).toContain(`- chg: up, 3 tools\n  LEFT OUT: tool "approve_writes" of upstream "chg" (prefix: false) has the name of the hub's own tool; that one keeps it\n`);
    const ready = (await (await fetch(`${hub.base}/readyz`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { upstreams: Array<{ name: string; leftOut?: string[] }> };
    expect(ready.upstreams.find((u) => u.name === 'chg')!.leftOut).toHaveLength(2);
    expect(ready.upstreams.find((u) => u.name === 'ha')!.leftOut).toBeUndefined();
    expect((await client.listTools()).tools.filter((t) => t.name === 'approve_writes')).toHaveLength(1);
  });
});
