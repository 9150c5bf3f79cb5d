import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { HubNode, SourceCallOptions } from '../catalog/nodes.ts';
import { ancestorPids, callNode, descendantPids, hubOwnPaths, localPrivatePaths, POLICY_META } from './file-policy.ts';
import { localNodeEnv } from './local-node.ts';

const dir = mkdtempSync(join(tmpdir(), 'file-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nodeAnswering(answer: (opts: SourceCallOptions) => CallToolResult): { node: HubNode; seen: SourceCallOptions[] } {
  const seen: SourceCallOptions[] = [];
  const node: HubNode = {
    name: 'pi',
    roles: [],
    source: { state: () => ({ status: 'up', since: new Date() }), tools: () => [], callTool: async (_n, _a, o) => (seen.push(o), answer(o)) },
  };
  return { node, seen };
}

describe('callNode', () => {
  const policy = { denyPaths: ['/etc/shadow'], maskEnv: true };

  it('sends the policy in _meta and relays an acknowledged answer without the acknowledgement', async () => {
    const { node, seen } = nodeAnswering(() => ({ _meta: { [POLICY_META]: { applied: true }, other: 1 }, content: [{ type: 'text', text: 'ok' }] }));
    const r = await callNode(node, 'read_file', { path: '/x' }, { timeoutMs: 5 }, policy);
    expect(seen[0]!.meta).toEqual({ [POLICY_META]: policy });
    expect(r).toEqual({ _meta: { other: 1 }, content: [{ type: 'text', text: 'ok' }] });
  });

  it('withholds an answer without the acknowledgement, naming the node and the upgrade', async () => {
    const { node } = nodeAnswering(() => ({ content: [{ type: 'text', text: 'root:$6$hash' }] }));
    await expect(callNode(node, 'read_file', { path: '/etc/shadow' }, {}, policy)).rejects.toThrow(/node pi: .*withheld; upgrade the edge on pi/);
  });

  it('sends nothing when the policy asks nothing (an admin on a remote node), so any edge answers', async () => {
    const { node, seen } = nodeAnswering(() => ({ content: [] }));
    await expect(callNode(node, 'get_env', {}, {}, { denyPaths: [], maskEnv: false })).resolves.toEqual({ content: [] });
    expect(seen[0]!.meta).toBeUndefined();
  });
});

describe('hubOwnPaths', () => {
  it('covers files, dirs (as given and by real path) and /proc of each pid and thread', () => {
    symlinkSync(tmpdir(), join(dir, 'data-link'));
    const paths = hubOwnPaths({ files: ['/etc/homelab-hub/hub.yaml'], dirs: [join(dir, 'data-link')], pids: [process.pid] });
    expect(paths).toEqual(expect.arrayContaining(['/etc/homelab-hub/hub.yaml', `${join(dir, 'data-link')}/**`, `${tmpdir()}/**`, `/proc/${process.pid}/**`]));
    // Node runs threads (libuv, V8): each has its own /proc/<tid>/environ.
    expect(paths.filter((p) => p.startsWith('/proc/')).length).toBeGreaterThan(1);
  });
});

describe('descendantPids', () => {
  it('finds a child and the grandchild it started, not this process or its parent', async () => {
    // sh starts a sleep and waits for it: a child and a grandchild of this process.
    const child = spawn('/bin/sh', ['-c', 'sleep 1000 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const grandchild = Number(await new Promise<string>((r) => child.stdout!.once('data', (b: Buffer) => r(b.toString()))));
      const below = descendantPids(process.pid);
      expect(below).toContain(child.pid);
      expect(below).toContain(grandchild);
      expect(below).not.toContain(process.pid);
      expect(below).not.toContain(process.ppid);
      expect(descendantPids(child.pid!)).toEqual([grandchild]);
      process.kill(grandchild, 'SIGKILL');
    } finally {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  });

  it('is empty for a process that does not exist', () => {
    expect(descendantPids(2 ** 30)).toEqual([]);
  });
});

describe('ancestorPids', () => {
  it('walks the parents up to pid 1, nearest first', () => {
    const chain = ancestorPids(process.pid);
    expect(chain[0]).toBe(process.ppid);
    expect(chain.at(-1)).toBe(1);
    expect(chain).not.toContain(process.pid);
  });

  it('is empty for a process that does not exist', () => {
    expect(ancestorPids(2 ** 30)).toEqual([]);
  });
});

describe('localPrivatePaths', () => {
  it('takes the files, dirs and the literal entries of local.denyPaths, absolute, not the globs', () => {
    expect(localPrivatePaths({ files: ['/etc/homelab-hub/hub.yaml'], dirs: ['/var/lib/homelab-hub'], denyPaths: ['/etc/default/homelab-hub', '/srv/keys/*.pem', '/x/**'] })).toEqual([
      '/etc/homelab-hub/hub.yaml',
      '/var/lib/homelab-hub',
      '/etc/default/homelab-hub',
    ]);
  });
});

describe('localNodeEnv', () => {
  it('keeps only harmless variables, never HOMELAB_* or one hub.yaml uses, plus local.env', () => {
    const env = localNodeEnv(
      { PATH: '/usr/bin', HOME: '/var/lib/homelab-hub', LC_ALL: 'C', TZ: 'UTC', HOMELAB_HUB_ARGS: '--x', HA_TOKEN: 's3cret', AWS_SECRET_ACCESS_KEY: 'k', TERM: 'xterm' },
      ['TZ', 'HA_TOKEN'],
      { EDITOR: 'vi', HOMELAB_X: 'no' },
    );
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/var/lib/homelab-hub', LC_ALL: 'C', TERM: 'xterm', EDITOR: 'vi' });
  });
});
