import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { EDGE_BUNDLE, HUB_BUNDLE } from '@homelab-mcp/testkit';
import { createLocalNode, EDGE_NODE_FLAGS } from './local-node.ts';

const quiet = { info() {}, warn() {}, error() {} };
const base = { name: 'local', roles: ['hub'], env: { PATH: process.env.PATH ?? '' }, log: quiet };

describe('createLocalNode', () => {
  it('fails the start, saying why, when its process dies before serving or cannot be spawned', async () => {
    await expect(createLocalNode({ ...base, command: { execPath: process.execPath, args: ['-e', 'process.exit(3)'] } })).rejects.toThrow('node local could not start: its process exited (code 3)');
    await expect(createLocalNode({ ...base, command: { execPath: '/nonexistent/node', args: [] } })).rejects.toThrow(/node local could not start: spawn \/nonexistent\/node ENOENT/);
  });

  it('refuses bad edge flags before starting anything', async () => {
    await expect(createLocalNode({ ...base, edgeArgs: ['--no-such-flag'], command: { execPath: process.execPath, args: [HUB_BUNDLE, 'local-node'] } })).rejects.toThrow(/--no-such-flag/);
  });

  it('serves the edge tools from its child, with only the environment it was given', async () => {
    const node = await createLocalNode({ ...base, command: { execPath: process.execPath, args: [HUB_BUNDLE, 'local-node'] } });
    try {
      expect(node.source.state().status).toBe('up');
      expect(node.pid()).not.toBe(process.pid);
      const r = await node.source.callTool('get_env', {}, { timeoutMs: 30_000 });
      expect(Object.keys((r.structuredContent as { vars: Record<string, string> }).vars)).toEqual(['PATH']);
    } finally {
      await node.close();
    }
  });

  it('runs as the small edge bundle (--hub-child) with the edge unit\'s Node flags, as the hub starts it', async () => {
    const unit = readFileSync(new URL('../../../../deploy/systemd/homelab-edge.service', import.meta.url), 'utf8');
    expect(/HOMELAB_EDGE_NODE_FLAGS=([^"]*)"/.exec(unit)![1]!.split(' ')).toEqual(EDGE_NODE_FLAGS);
    const node = await createLocalNode({ ...base, command: { execPath: process.execPath, args: [...EDGE_NODE_FLAGS, EDGE_BUNDLE, '--hub-child'] } });
    try {
      expect(readFileSync(`/proc/${node.pid()}/cmdline`, 'utf8').split('\0')).toContain(EDGE_BUNDLE);
      const r = await node.source.callTool('get_env', {}, { timeoutMs: 30_000 });
      expect(Object.keys((r.structuredContent as { vars: Record<string, string> }).vars)).toEqual(['PATH']);
      const denied = await node.source.callTool('read_file', { path: '/proc/self/environ' }, { timeoutMs: 30_000, meta: { 'dev.homelab-mcp/policy': { denyPaths: ['/proc/*/environ'] } } });
      expect(denied.isError).toBe(true);
    } finally {
      await node.close();
    }
  });
});
