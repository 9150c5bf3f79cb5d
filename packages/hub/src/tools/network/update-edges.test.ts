/**
 * update_edges against scripted nodes: what it asks each edge, and how it words every way an
 * upgrade can end (the real thing runs in test/update-edges.e2e.test.ts).
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import type { HubNode, SourceState } from '../../catalog/nodes.ts';
import type { CallContext } from '../../catalog/types.ts';
import { LOCAL_NODE_URL } from '../../nodes/local-node.ts';
import { updateEdgesTool } from './update-edges.ts';

const SHA = 'ab'.repeat(32);
const BUNDLE = { bytes: Buffer.from('#!/usr/bin/env node\n// homelab-edge 0.1.0\n'), sha256: SHA, version: '0.1.0' };
const ctx = (signal = new AbortController().signal): CallContext => ({ caller: { user: 'ann', role: 'admin' }, session: 's', signal });
const text = (r: CallToolResult) => (r.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');
const cmd = (stdout: string, exitCode = 0, stderr = ''): CallToolResult => ({ content: [{ type: 'text', text: `exit ${exitCode}` }], structuredContent: { exitCode, signal: null, stdout, stderr, timedOut: false } });
const withVersion = (r: CallToolResult, version: string): CallToolResult => ({ ...r, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'homelab-edge', version } } });

type Handler = (tool: string, args: Record<string, unknown>) => CallToolResult | Promise<CallToolResult>;
function node(name: string, handler: Handler, state: Partial<SourceState> = {}, url?: string): HubNode & { asked: Array<[string, Record<string, unknown>]> } {
  const asked: Array<[string, Record<string, unknown>]> = [];
  return {
    name,
    roles: [],
    ...(url ? { url } : {}),
    asked,
    source: {
      state: () => ({ status: 'up', since: new Date(), serverInfo: { name: 'homelab-edge', version: '0.0.9' }, ...state }),
      tools: () => [],
      async callTool(tool, args) {
        asked.push([tool, args]);
        return handler(tool, args);
      },
    },
  };
}
const tool = (nodes: HubNode[]) => updateEdgesTool({ nodes: () => nodes, bundle: () => BUNDLE, installer: () => '#!/bin/sh\necho installer\n', callTimeoutMs: () => 5000, pollMs: 1 });

/** An edge that upgrades: mktemp, two writes, the installer, then answers as `after`. */
function upgrading(after = '0.1.0'): Handler {
  let installed = false;
  return (t, a) => {
    if (t === 'write_file') return { content: [{ type: 'text', text: 'created' }], structuredContent: { path: a.path } };
    const c = String(a.cmd);
    if (c.startsWith('mktemp')) return cmd('/tmp/homelab-edge-upgrade.Ab12Cd34\n');
    if (c.startsWith('sh ')) {
      installed = true;
      return cmd('install-edge: upgraded: homelab-edge 0.0.9 -> homelab-edge 0.1.0\ninstall-edge: restarted homelab-edge.service\n');
    }
    return withVersion(cmd(''), installed ? after : '0.0.9');
  };
}

describe('update_edges', () => {
  it('writes the bundle and the installer into a mktemp folder, runs --upgrade with the hash, and waits for the new version', async () => {
    const pi = node('pi', upgrading());
    const r = await tool([pi]).call({ node: 'pi' }, ctx());
    expect(r.isError).toBeUndefined();
    expect(text(r)).toBe('1 node to edge 0.1.0: 1 upgraded, 0 already current\n- pi: 0.0.9 -> 0.1.0');
    expect(pi.asked.map(([t, a]) => (t === 'run_command' ? String(a.cmd) : `${t} ${String(a.path)} ${String(a.encoding)}`))).toEqual([
      'mktemp -d /tmp/homelab-edge-upgrade.XXXXXXXX',
      'write_file /tmp/homelab-edge-upgrade.Ab12Cd34/homelab-edge.mjs base64',
      'write_file /tmp/homelab-edge-upgrade.Ab12Cd34/install-edge.sh base64',
      `sh '/tmp/homelab-edge-upgrade.Ab12Cd34'/install-edge.sh --upgrade --bundle-file '/tmp/homelab-edge-upgrade.Ab12Cd34'/homelab-edge.mjs --sha256 ${SHA}; rc=$?; rm -rf '/tmp/homelab-edge-upgrade.Ab12Cd34'; exit $rc`,
      "rm -rf '/tmp/homelab-edge-upgrade.Ab12Cd34'",
    ]);
    expect(Buffer.from(String(pi.asked[1]![1].content), 'base64').equals(BUNDLE.bytes)).toBe(true);
  });

  it('previews each node with its version and the target, and the commands, without asking any node', async () => {
    const pi = node('pi', upgrading());
    const down = node('attic', upgrading(), { status: 'down', lastError: 'connection refused' });
    const local = node('local', upgrading(), {}, LOCAL_NODE_URL);
    const p = await tool([pi, down, local]).preview!({ node: 'all', wait_s: 30 });
    expect(p.where).toEqual(['pi', 'attic', 'local']);
    expect(p.action).toContain(`upgrade the edge to 0.1.0 (bundle sha256 ${SHA}`);
    expect(p.action).toContain('pi 0.0.9 -> 0.1.0, attic 0.0.9 -> 0.1.0 (unreachable since');
    expect(p.action).toContain("local skipped (the hub's own node is updated with the hub)");
    expect(p.action).toContain(`install-edge.sh --upgrade --bundle-file 'DIR'/homelab-edge.mjs --sha256 ${SHA}`);
    expect(p.action).toContain('wait up to 30 s');
    expect(p.action).not.toContain('\n');
    expect(pi.asked).toEqual([]);
    expect((await tool([pi]).preview!({ node: 'nope' })).action).toMatch(/^nothing \(node: unknown node "nope"/);
  });

  it('refuses a bad wait_s, and skips the local node, names a down one, and fails on an answer that is not a /tmp folder', async () => {
    const pi = node('pi', upgrading());
    for (const w of [0, 1e9, 'soon', Number.NaN]) {
      const r = await tool([pi]).call({ node: 'pi', wait_s: w }, ctx());
      expect(r.isError).toBe(true);
      expect(text(r)).toContain('wait_s: expected a number of seconds from 1 to 1800');
    }
    expect(pi.asked).toEqual([]);
    const local = node('local', upgrading(), {}, LOCAL_NODE_URL);
    const down = node('attic', upgrading(), { status: 'down', lastError: 'connection refused' });
    const evil = node('evil', (t, a) => (String(a.cmd).startsWith('mktemp') ? cmd('/etc\n') : cmd('')));
    const r = await tool([local, down, evil]).call({ node: ['local', 'attic', 'evil'] }, ctx());
    expect(r.isError).toBeUndefined();
    expect(text(r)).toContain('- local: skipped: the hub’s own node runs the edge built into the hub');
    expect(text(r)).toMatch(/- attic: not updated: unreachable since \S+ \(connection refused\)/);
    expect(text(r)).toContain('- evil: not updated: mktemp -d answered "/etc", not a folder under /tmp');
    expect(local.asked).toEqual([]);
    expect(down.asked).toEqual([]);
    expect(evil.asked.map(([t]) => t)).toEqual(['run_command']);
  });

  it("reports the installer's failure with its last words, and a failed write after removing the folder", async () => {
    const failing = node('pi', (t, a) => {
      if (t === 'write_file') return { content: [] };
      const c = String(a.cmd);
      if (c.startsWith('mktemp')) return cmd('/tmp/homelab-edge-upgrade.Xy98Zw76\n');
      return cmd('', 1, `install-edge: error: the bundle has sha256 00, expected ${SHA}\n${'x'.repeat(5000)}`);
    });
    const r = await tool([failing]).call({ node: 'pi' }, ctx());
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('- pi: not updated: install-edge.sh --upgrade: exit 1');
    expect(text(r).length).toBeLessThan(2600);
    const refused = node('pi', (t, a) =>
      t === 'write_file' ? { content: [{ type: 'text', text: 'path outside the roots' }], isError: true } : String(a.cmd).startsWith('mktemp') ? cmd('/tmp/homelab-edge-upgrade.Xy98Zw76\n') : cmd('', String(a.cmd).startsWith('umask') ? 1 : 0),
    );
    const w = await tool([refused]).call({ node: 'pi' }, ctx());
    expect(text(w)).toContain('- pi: not updated: write_file /tmp/homelab-edge-upgrade.Xy98Zw76/homelab-edge.mjs: path outside the roots; and through stdin: exit 1');
    expect(String(refused.asked.at(-1)![1].cmd)).toBe("rm -rf '/tmp/homelab-edge-upgrade.Xy98Zw76'");
  });

  it("takes the files through a command's stdin when write_file cannot reach /tmp", async () => {
    const inner = upgrading();
    const rooted = node('pi', (t, a) => (t === 'write_file' ? { content: [{ type: 'text', text: '/tmp/x: outside the roots (/srv)' }], isError: true } : String(a.cmd).startsWith('umask') ? cmd('') : inner(t, a)));
    const r = await tool([rooted]).call({ node: 'pi' }, ctx());
    expect(text(r)).toContain('- pi: 0.0.9 -> 0.1.0');
    const piped = rooted.asked.filter(([, a]) => String(a.cmd).startsWith('umask'));
    expect(piped.map(([, a]) => [a.cmd, a.stdin])).toEqual([
      ["umask 077 && cat > '/tmp/homelab-edge-upgrade.Ab12Cd34/homelab-edge.mjs'", BUNDLE.bytes.toString('utf8')],
      ["umask 077 && cat > '/tmp/homelab-edge-upgrade.Ab12Cd34/install-edge.sh'", '#!/bin/sh\necho installer\n'],
    ]);
  });

  it('says already current when the installer found the same bundle, and that an edge still on the old version did not come back', async () => {
    const same = node('pi', (t, a) => {
      if (t === 'write_file') return { content: [] };
      return String(a.cmd).startsWith('mktemp') ? cmd('/tmp/homelab-edge-upgrade.Ab12Cd34\n') : cmd('install-edge: already current: homelab-edge 0.1.0 is installed (the same bundle); nothing changed, nothing restarted\n');
    }, { serverInfo: { name: 'homelab-edge', version: '0.1.0' } });
    const r = await tool([same]).call({ node: 'pi' }, ctx());
    expect(r.structuredContent).toMatchObject({ nodes: [{ node: 'pi', status: 'current', before: '0.1.0', after: '0.1.0' }] });
    const stuck = node('pi', upgrading('0.0.9'));
    const s = await tool([stuck]).call({ node: 'pi', wait_s: 1 }, ctx());
    expect(s.isError).toBe(true);
    expect(text(s)).toContain('- pi: did not come back within 1 s as 0.1.0: it still answers as 0.0.9, not 0.1.0; the installer said: install-edge: upgraded: homelab-edge 0.0.9 -> homelab-edge 0.1.0');
  });

  it('takes the first answer of another build of the same version, and says so', async () => {
    const rebuilt = node('pi', upgrading('0.1.0'), { serverInfo: { name: 'homelab-edge', version: '0.1.0' } });
    const r = await tool([rebuilt]).call({ node: 'pi' }, ctx());
    expect(text(r)).toContain('- pi: 0.1.0 -> 0.1.0 (another build of the same version)');
  });

  it('stops waiting when the call is cancelled', async () => {
    const ac = new AbortController();
    const stuck = node('pi', (t, a) => {
      const h = upgrading('0.0.9');
      if (!String(a.cmd ?? '').startsWith('sh ') && !String(a.cmd ?? '').startsWith('mktemp') && t === 'run_command') ac.abort(new Error('cancelled by the client'));
      return h(t, a);
    });
    const r = await tool([stuck]).call({ node: 'pi' }, ctx(ac.signal));
    expect(text(r)).toContain('- pi: cancelled');
  });
});
