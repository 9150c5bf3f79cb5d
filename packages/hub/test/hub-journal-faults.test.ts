/**
 * The journal's start records through a hub made in process (createHub on 127.0.0.1:0, its
 * local node a real edge child, real SDK clients of both eras), with the journal's writes made
 * to fail: a call's outcome whose write fails after its answer went out is written again, so
 * the call is one event with its outcome and not a start record no reader shows.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectClient, EDGE_BUNDLE, readJournal } from '@homelab-mcp/testkit';
import { HubConfigSchema } from '../src/config/schema.ts';
import { createHub, type Hub } from '../src/hub.ts';
import { EDGE_NODE_FLAGS, localNodeEnv } from '../src/nodes/local-node.ts';

// The hub's bundle imports the edge installer as text (an esbuild loader vite does not have).
vi.mock('../../../deploy/install-edge.sh', () => ({ default: '#!/bin/sh\nexit 1\n' }));

const TOKEN = 'journal-faults-token-0123456789ab';
const dir = mkdtempSync(join(tmpdir(), 'hub-journal-faults-'));
const dataDir = join(dir, 'data');
let hub: Hub;
let server: Server;
let url: string;
/** FileHandle.prototype: its `write` is what the journal's commits go through. */
let proto: { write(...a: unknown[]): Promise<unknown> };

beforeAll(async () => {
  const config = HubConfigSchema.parse({ dataDir, auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, approval: { mode: 'session' } });
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  hub = await createHub({
    config,
    dataDir,
    tokens: config.auth!.tokens,
    log: quiet,
    localNode: { command: { execPath: process.execPath, args: [...EDGE_NODE_FLAGS, EDGE_BUNDLE, '--hub-child'] }, env: localNodeEnv(process.env, []) },
  });
  server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  await vi.waitFor(() => expect(hub.catalog().tool('get_status')).toBeDefined(), { timeout: 20_000, interval: 100 });
  const probe = await open(join(dir, 'probe'), 'w');
  proto = Object.getPrototypeOf(probe) as typeof proto;
  await probe.close();
});
afterEach(() => void vi.restoreAllMocks());
afterAll(async () => {
  await hub?.close();
  if (server) {
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Fails (ENOSPC) the first journal write that holds the outcome event of a call to `tool`. */
function failOutcomeWriteOf(tool: string): { failed: () => boolean } {
  const orig = proto.write;
  let failed = false;
  vi.spyOn(proto, 'write').mockImplementation(async function (this: unknown, ...a: unknown[]) {
    const data = a[0];
    if (!failed && Buffer.isBuffer(data) && data.includes(`"tool":"${tool}"`) && data.includes('"outcome":') && !data.includes('{"v":1,"begin":')) {
      failed = true;
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    }
    return orig.apply(this, a);
  });
  return { failed: () => failed };
}

describe('a call whose outcome could not be written at first', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: is journaled once with its outcome after the write fails (retried), not only as its start`, async () => {
      const fault = failOutcomeWriteOf('get_status');
      await using client = await connectClient(url, TOKEN, era);
      const res = await client.callTool({ name: 'get_status', arguments: { node: 'local' } });
      expect(res.isError).toBeFalsy();
      await vi.waitFor(() => expect(fault.failed()).toBe(true), { timeout: 5_000, interval: 10 });
      // The answer went out; the outcome lands with a later commit (a new file after the failure).
      await vi.waitFor(
        () => {
          const calls = readJournal(dataDir, { waitMs: 0 }).filter((e) => e.tool === 'get_status' && e.session !== undefined);
          const mine = calls.filter((e) => e.user === 'ann' && e.outcome === 'succeeded');
          expect(mine.length).toBeGreaterThan(0);
          // One event per call id.
          expect(new Set(calls.map((e) => e.id)).size).toBe(calls.length);
        },
        { timeout: 5_000, interval: 50 },
      );
    });
  }
});

describe('secrets in a call\'s start record', () => {
  it('are redacted in the raw files as in the event (start records included)', async () => {
    await using client = await connectClient(url, TOKEN, 'modern');
    const secret = 'startrec-s3cret-9f8e7d';
    await client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: `curl -u admin:${secret} http://127.0.0.1:1/`, password: secret } }).catch(() => undefined);
    await client.callTool({ name: 'get_status', arguments: { node: 'local', token: secret } }).catch(() => undefined);
    await vi.waitFor(() => expect(readJournal(dataDir, { waitMs: 0 }).filter((e) => e.tool === 'get_status' && JSON.stringify(e.args ?? {}).includes('token'))).toHaveLength(1), { timeout: 5_000, interval: 50 });
    const raw = readdirSync(join(dataDir, 'audit'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => readFileSync(join(dataDir, 'audit', f), 'utf8'))
      .join('');
    expect(raw).toContain('{"v":1,"begin":');
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(TOKEN);
  });
});

describe('a call that arrives while the hub stops', () => {
  it('does not run once the journal can no longer record it', async () => {
    const own = mkdtempSync(join(tmpdir(), 'hub-journal-stop-'));
    const config = HubConfigSchema.parse({ dataDir: join(own, 'data'), auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, approval: { mode: 'session' } });
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const h = await createHub({
      config,
      dataDir: join(own, 'data'),
      tokens: config.auth!.tokens,
      log: quiet,
      localNode: { command: { execPath: process.execPath, args: [...EDGE_NODE_FLAGS, EDGE_BUNDLE, '--hub-child'] }, env: localNodeEnv(process.env, []) },
    });
    const srv = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    try {
      await new Promise((r) => srv.once('listening', r));
      const u = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`;
      await vi.waitFor(() => expect(h.catalog().tool('list_nodes')).toBeDefined(), { timeout: 20_000, interval: 100 });
      const tool = h.catalog().tool('list_nodes')!;
      const ran = vi.spyOn(tool, 'call');
      await h.close();
      // A request on a connection the stopping hub still serves (keep-alive), after its journal closed.
      const res = await (async () => {
        await using client = await connectClient(u, TOKEN, 'legacy');
        return await client.callTool({ name: 'list_nodes', arguments: {} });
      })().catch((err: unknown) => ({ thrown: String(err) }));
      expect(ran).not.toHaveBeenCalled();
      expect(JSON.stringify(res)).toMatch(/stopping|closed/i);
    } finally {
      const closed = new Promise((r) => srv.close(r));
      srv.closeAllConnections();
      await closed;
      rmSync(own, { recursive: true, force: true });
    }
  });
});
