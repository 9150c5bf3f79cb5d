/**
 * Attacks on tool classes and on the edge installer, through real processes: the bundled hub,
 * real edges, a hostile MCP server posing as an edge or as a native upstream, and the installer
 * the hub serves, run with sh into a scratch root.
 *
 * - A hostile edge listed first must not relabel `run_command` as a read for the whole fleet
 *   (a viewer then ran commands as root on an honest node).
 * - A native upstream's `readOnlyHint` must not make `delete_everything` a read, unless the
 *   upstream is configured with `trustAnnotations: true`.
 * - A bundle swapped on its way to a device must be refused before anything is installed.
 */
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, EDGE_BUNDLE, resultText, startEdgeProcess, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'classes-admin-token-0123456789';
const VIEWER = 'classes-viewer-token-0123456789';
const HOSTILE_TOKEN = 'hostile-token-0123456789abcdef';
const HOSTILE = fileURLToPath(new URL('./fixtures/hostile-mcp.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sec-classes-'));
const tokens = { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vic', role: 'viewer', token: VIEWER }] };

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the hostile server with these tools; every call it gets is a line in `calls()`. */
async function startHostile(toolNames: string[]) {
  const callsFile = join(dir, `calls-${toolNames.join('-')}-${Date.now()}.jsonl`);
  const child = spawn(process.execPath, [HOSTILE], { env: { ...process.env, HOSTILE_TOKEN, HOSTILE_TOOLS: JSON.stringify(toolNames), CALLS_FILE: callsFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"listen":"[^"]*:(\d+)"/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`hostile server exited (${code})`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls: (): Array<{ tool: string; args: Record<string, unknown> }> => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A call the hub refuses either as a protocol error (unknown tool) or as an error result. */
async function outcome(p: Promise<unknown>): Promise<{ refused: boolean; text: string; result?: any }> {
  try {
    const r = (await p) as any;
    return { refused: !!r.isError || r.structuredContent?.status === 'approval_required', text: resultText(r), result: r };
  } catch (err) {
    return { refused: true, text: String(err) };
  }
}

describe('one edge relabels the fleet (issue #10, item 4)', () => {
  it("a hostile edge listed first cannot make run_command a read: a viewer cannot run it on the honest node, and list_nodes flags the hostile one", async () => {
    await using evil = await startHostile(['run_command', 'get_status']);
    await using honest = await startEdgeProcess();
    await using hub = await startHubProcess({
      config: {
        auth: tokens,
        local: { enabled: false },
        perDeviceTools: true,
        // The hostile node first: the catalog used to take a fleet tool's class from it.
        nodes: [
          { name: 'evil', url: evil.url, token: HOSTILE_TOKEN },
          { name: 'pi', url: honest.url, token: honest.token },
        ],
      },
    });
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    await expect.poll(async () => ((await admin.callTool({ name: 'list_nodes', arguments: {} })) as any).structuredContent.nodes.map((n: any) => `${n.name}:${n.status}`).sort(), { timeout: 15_000 }).toEqual(['evil:up', 'pi:up']);

    for (const era of ['modern', 'legacy'] as const) {
      await using viewer = await connectClient(hub.url, VIEWER, era);
      const names = (await viewer.listTools()).tools.map((t) => t.name);
      expect(names).toContain('get_status');
      for (const hidden of ['run_command', 'pi__run_command', 'evil__run_command']) expect(names).not.toContain(hidden);
      // As the attacker did: run `id` as root on the honest node; here it would leave a marker.
      for (const [tool, args] of [
        ['run_command', { node: 'pi' }],
        ['run_command', { node: 'all' }],
        ['pi__run_command', {}],
      ] as const) {
        const marker = join(dir, `ran-${era}-${tool}-${String(args.node ?? 'copy')}`);
        const r = await outcome(viewer.callTool({ name: tool, arguments: { ...args, cmd: `id; touch ${marker}` } }));
        expect([tool, r.refused]).toEqual([tool, true]);
        expect(r.text).not.toContain('uid=');
        expect(existsSync(marker)).toBe(false);
      }
    }
    // (The hub itself asks every edge for get_status, for the topology.)
    expect(evil.calls().filter((c) => c.tool === 'run_command')).toEqual([]);

    // The fleet tool is the hub's own definition: the hostile node's wording and hint are gone.
    const run = (await admin.listTools()).tools.find((t) => t.name === 'run_command')!;
    expect(run.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(run.description).toMatch(/^\[write: needs approval\] /);
    expect(run.description).not.toContain('Harmless');
    // And an admin's call is held for approval like any write.
    const marker = join(dir, 'admin-unapproved');
    const held = (await admin.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: `touch ${marker}` } })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(existsSync(marker)).toBe(false);

    const listed = (await admin.callTool({ name: 'list_nodes', arguments: {} })) as any;
    const byName = Object.fromEntries(listed.structuredContent.nodes.map((n: any) => [n.name, n]));
    expect(byName.evil.annotationsDisagree).toEqual([{ tool: 'run_command', claimed: 'read', actual: 'write' }]);
    expect(byName.pi.annotationsDisagree).toBeUndefined();
    expect(resultText(listed)).toMatch(/- evil \[no roles\]: up, 2 tools, edge version unknown\n {2}WARNING: its tool annotations disagree with the hub's table \(run_command claims read, is write\)/);
    expect(resultText(listed)).not.toMatch(/- pi [^\n]*\n {2}WARNING/);
    // Logged once, however often the catalog was rebuilt.
    expect(hub.output().match(/node evil: its tool annotations disagree/g)).toHaveLength(1);
  });
});

describe('native upstream hints are trusted by default (issue #10, item 5)', () => {
  const upstream = (url: string, trustAnnotations?: boolean) => ({ type: 'http', url, headers: { Authorization: `Bearer ${HOSTILE_TOKEN}` }, ...(trustAnnotations ? { trustAnnotations } : {}) });

  it("a hostile upstream's read-only delete_everything is a write: hidden from and refused to a viewer, held for an admin", async () => {
    await using bad = await startHostile(['delete_everything']);
    // Both ways of configuring an upstream: `upstreams:` and Claude-style `mcpServers:`.
    await using hub = await startHubProcess({ config: { auth: tokens, local: { enabled: false }, upstreams: { bad: upstream(bad.url) }, mcpServers: { pasted: upstream(bad.url) } } });
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    await expect.poll(async () => (await admin.listTools()).tools.map((t) => t.name).filter((n) => n.endsWith('delete_everything')).sort(), { timeout: 15_000 }).toEqual(['bad__delete_everything', 'pasted__delete_everything']);

    for (const era of ['modern', 'legacy'] as const) {
      await using viewer = await connectClient(hub.url, VIEWER, era);
      const names = (await viewer.listTools()).tools.map((t) => t.name);
      for (const tool of ['bad__delete_everything', 'pasted__delete_everything']) {
        expect(names).not.toContain(tool);
        const r = await outcome(viewer.callTool({ name: tool, arguments: {} }));
        expect([tool, r.refused]).toEqual([tool, true]);
      }
    }
    for (const tool of ['bad__delete_everything', 'pasted__delete_everything']) {
      const held = (await admin.callTool({ name: tool, arguments: {} })) as any;
      expect(held.structuredContent.status).toBe('approval_required');
      const def = (await admin.listTools()).tools.find((t) => t.name === tool)!;
      expect(def.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      expect(def.description).toMatch(/^\[write: needs approval\] /);
    }
    expect(bad.calls()).toEqual([]);
  });

  it('with trustAnnotations: true (in upstreams: or mcpServers:) the upstream\'s own hint decides: a read', async () => {
    await using site = await startHostile(['delete_everything']);
    await using hub = await startHubProcess({ config: { auth: tokens, local: { enabled: false }, upstreams: { site: upstream(site.url, true) }, mcpServers: { pasted: upstream(site.url, true) } } });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    await expect.poll(async () => (await viewer.listTools()).tools.map((t) => t.name).filter((n) => n.endsWith('delete_everything')).sort(), { timeout: 15_000 }).toEqual(['pasted__delete_everything', 'site__delete_everything']);
    for (const tool of ['site__delete_everything', 'pasted__delete_everything']) {
      const ran = (await viewer.callTool({ name: tool, arguments: {} })) as any;
      expect(ran.isError).toBeFalsy();
      expect(resultText(ran)).toBe('delete_everything ran');
    }
    expect(site.calls()).toHaveLength(2);
  });
});

describe('the edge installer over plain HTTP (issue #10, installer)', () => {
  it("prints the bundle's sha256 at start and in list_nodes", async () => {
    const bundle = readFileSync(EDGE_BUNDLE);
    const sha = createHash('sha256').update(bundle).digest('hex');
    await using hub = await startHubProcess({ config: { auth: tokens, local: { enabled: false } } });
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toContain(`edge bundle sha256: ${sha}`);
    expect(hub.output()).toContain(`/edge/install.sh | sudo sh -s -- --token TOKEN --sha256 ${sha}`);
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const listed = (await viewer.callTool({ name: 'list_nodes', arguments: {} })) as any;
    expect(listed.structuredContent.edgeBundle).toEqual({ sha256: sha, version: /^\/\/ homelab-edge (\S+)$/m.exec(readFileSync(EDGE_BUNDLE, 'utf8'))![1] });
    expect(resultText(listed)).toContain(`sha256 ${sha}`);
  });

  it('the installer refuses a bundle swapped on the way (as served, with --hub, with --sha256), installing nothing', async () => {
    const bundle = readFileSync(EDGE_BUNDLE);
    const sha = createHash('sha256').update(bundle).digest('hex');
    await using hub = await startHubProcess({ config: { auth: tokens, local: { enabled: false } } });

    // Someone on the path between device and hub: passes the installer through and swaps the
    // bundle for one that still runs.
    const tampered = Buffer.concat([bundle, Buffer.from('\n// and a little something extra\n')]);
    const badSha = createHash('sha256').update(tampered).digest('hex');
    const mitm = http.createServer((req, res) => {
      if (req.url === '/edge/homelab-edge.mjs') return void res.writeHead(200).end(tampered);
      http
        .get({ host: '127.0.0.1', port: hub.port, path: req.url, headers: { host: req.headers.host } }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        })
        .on('error', () => res.writeHead(502).end());
    });
    await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', () => r()));
    const via = `http://127.0.0.1:${(mitm.address() as AddressInfo).port}`;
    try {
      const script = await (await fetch(`${via}/edge/install.sh`)).text();
      expect(script).toContain(`DEFAULT_SHA256='${sha}'`);
      const scriptFile = join(dir, 'install.sh');
      writeFileSync(scriptFile, script);
      const install = async (args: string) => {
        const root = mkdtempSync(join(dir, 'root-'));
        try {
          const { stdout, stderr } = await promisify(execFile)('sh', ['-c', `cat "${scriptFile}" | sh -s -- --token edge-token-0123456789abcdef --root "${root}" ${args}`]);
          return { code: 0, stdout, stderr, installed: readdirSync(root) };
        } catch (err: any) {
          return { code: err.code as number, stdout: String(err.stdout), stderr: String(err.stderr), installed: readdirSync(root) };
        }
      };
      // The one-liner as served (hub and hash filled in); naming the hub with --hub; and the
      // hash from the hub's console given with --sha256.
      for (const args of ['', `--hub ${via}`, `--bundle-url ${via}/edge/homelab-edge.mjs --sha256 ${sha}`]) {
        const r = await install(args);
        expect([args, r.code]).toEqual([args, 1]);
        expect(r.stderr).toContain(`has sha256 ${badSha}, expected ${sha}`);
        expect(r.stderr).toContain('refusing to install it; nothing was changed');
        expect(r.installed).toEqual([]);
      }
      // Straight from the hub, the same check passes and the bundle is installed.
      const ok = await install(`--hub ${hub.base} --sha256 ${sha}`);
      expect(ok.stderr).toBe('');
      expect(ok.stdout).toContain('bundle sha256 verified');
      expect(ok.installed.sort()).toEqual(['etc', 'usr']);
    } finally {
      await new Promise<void>((r) => mitm.close(() => r()));
    }
  });
});
