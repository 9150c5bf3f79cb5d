import { testEdgeEnv, toolContext } from '@homelab-mcp/testkit';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validate } from '../schema.ts';
import { network, probeNetwork } from './network.ts';

// A PATH directory with a `ping` in it, and an empty one: the probe runs nothing, it only looks.
const binDir = mkdtempSync(join(tmpdir(), 'network-bin-'));
const emptyDir = mkdtempSync(join(tmpdir(), 'network-empty-'));
writeFileSync(join(binDir, 'ping'), '#!/bin/sh\nexit 99\n');
chmodSync(join(binDir, 'ping'), 0o755);
afterAll(() => {
  rmSync(binDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

describe('network capability', () => {
  it('is always active, and says whether ping_host will use ICMP or TCP', async () => {
    expect(await probeNetwork(testEdgeEnv({ childEnv: { PATH: binDir } }))).toEqual({ ok: true, detail: join(binDir, 'ping') });
    expect(await probeNetwork(testEdgeEnv({ childEnv: { PATH: emptyDir } }))).toEqual({ ok: true, detail: 'ping is not installed: ping_host uses TCP connects' });
  });

  it('serves the three probe tools with schemas the edge validator enforces', () => {
    expect(network.tools.map((t) => t.name)).toEqual(['check_port', 'ping_host', 'probe_http']);
    const ping = network.tools.find((t) => t.name === 'ping_host')!;
    expect(validate(ping.inputSchema, { host: 'nas.lan', count: 3 })).toEqual([]);
    expect(validate(ping.inputSchema, { host: 'nas.lan', count: 21, extra: 1 })).toEqual(['count: must be <= 20', 'extra: is not a known argument']);
  });

  it('runs ping_host with the PATH commands run with (here: none, so TCP)', async () => {
    const server = createServer((s) => s.resume().end());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    try {
      const ping = network.tools.find((t) => t.name === 'ping_host')!;
      const out = await ping.handler({ host: '127.0.0.1', count: 1 }, toolContext(testEdgeEnv({ childEnv: { PATH: emptyDir } })));
      expect(out.data).toMatchObject({ method: 'tcp', fallbackReason: 'ping is not installed', reachable: true });
      const port = (server.address() as AddressInfo).port;
      const check = network.tools.find((t) => t.name === 'check_port')!;
      expect((await check.handler({ host: '127.0.0.1', port }, toolContext(testEdgeEnv()))).data).toMatchObject({ open: true });
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
  });
});
