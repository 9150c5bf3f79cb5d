/**
 * What the admin UI's Sessions and Pending pages read, from a hub made in process (createHub,
 * served on 127.0.0.1:0, its local node a real edge child) and driven by real SDK clients of
 * both eras: hub.sessions(), hub.activity() and hub.pending(), and how a held write leaves the
 * list (approve_writes, its confirm token, the person's answer). The UI's routes come later;
 * this is the data behind them.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectClient, EDGE_BUNDLE, resultText } from '@homelab-mcp/testkit';
import { HubConfigSchema } from '../src/config/schema.ts';
import { createHub, type Hub } from '../src/hub.ts';
import { EDGE_NODE_FLAGS, localNodeEnv } from '../src/nodes/local-node.ts';

// The hub's bundle imports the edge installer as text (an esbuild loader vite does not have);
// this test serves no installer.
vi.mock('../../../deploy/install-edge.sh', () => ({ default: '#!/bin/sh\nexit 1\n' }));

const SAM = 'ui-data-session-token-0123456789';
const CORY = 'ui-data-confirm-token-0123456789';
const HUGO = 'ui-data-human-token-0123456789ab';
const VIC = 'ui-data-viewer-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'hub-ui-data-'));
let marker = 0;
/** A command that leaves a file when it runs, and a secret in it the journal would hide. */
const touch = () => {
  const file = join(dir, `ran-${++marker}`);
  return { file, args: { node: 'local', cmd: `touch ${file} # curl -u admin:s3cretpw http://127.0.0.1:1/` } };
};
let hub: Hub;
let server: Server;
let url: string;

beforeAll(async () => {
  const config = HubConfigSchema.parse({
    dataDir: join(dir, 'data'),
    auth: {
      tokens: [
        { user: 'sam', role: 'operator', token: SAM },
        { user: 'cory', role: 'operator', token: CORY },
        { user: 'hugo', role: 'admin', token: HUGO },
        { user: 'vic', role: 'viewer', token: VIC },
      ],
    },
    approval: { mode: 'session', users: { cory: 'confirm', hugo: 'human' } },
  });
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  hub = await createHub({
    config,
    dataDir: join(dir, 'data'),
    tokens: config.auth!.tokens,
    log: quiet,
    localNode: { command: { execPath: process.execPath, args: [...EDGE_NODE_FLAGS, EDGE_BUNDLE, '--hub-child'] }, env: localNodeEnv(process.env, []) },
  });
  server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  await vi.waitFor(() => expect(hub.catalog().tool('run_command')).toBeDefined(), { timeout: 20_000, interval: 100 });
});
afterAll(async () => {
  await hub?.close();
  if (server) {
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  }
  rmSync(dir, { recursive: true, force: true });
});

const pendingOf = (user: string) => hub.pending().filter((p) => p.user === user);
/** Nothing in what the UI reads holds the secret of the command, nor `secrets`. */
const noSecrets = (...secrets: string[]) => {
  const all = JSON.stringify({ pending: hub.pending(), sessions: hub.sessions(), activity: hub.activity() });
  for (const s of ['s3cretpw', ...secrets]) expect(all).not.toContain(s);
};

describe('session mode, a 2025 session', () => {
  it('lists the session and its calls; the held preview waits on Pending until approve_writes', async () => {
    await using client = await connectClient(url, SAM, 'legacy');
    const t = touch();
    const held = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(existsSync(t.file)).toBe(false);
    const [live] = hub.sessions().filter((s) => s.user === 'sam');
    expect(live).toMatchObject({ transport: 'streamable-http', role: 'operator', client: { name: 'homelab-test', version: '1.0.0' }, protocolVersion: expect.stringMatching(/^2025-/) });
    // Counted under the session's id (its client is the session's, above).
    expect(hub.activity().filter((a) => a.user === 'sam')).toEqual([{ user: 'sam', role: 'operator', key: expect.stringMatching(/^tok:/), session: live!.id, client: { name: 'homelab-test', version: '1.0.0' }, calls: 1, lastCallAt: expect.any(String), lastTool: 'run_command' }]);
    const [entry] = pendingOf('sam');
    expect(entry).toMatchObject({ user: 'sam', role: 'operator', session: live!.id, tool: 'run_command', mode: 'session', kind: 'preview', preview: { where: ['local'] } });
    expect(entry!.preview.action).toContain(`touch ${t.file}`);
    // What the model got, but the secret the journal hides is hidden here too.
    expect(entry!.text).toBe(resultText(held).replaceAll('s3cretpw', '[REDACTED]'));
    expect((entry!.preview.arguments as { cmd: string }).cmd).toContain('curl -u admin:[REDACTED] http');
    noSecrets();
    // The same held call again: still one entry.
    await client.callTool({ name: 'run_command', arguments: t.args });
    expect(pendingOf('sam')).toEqual([expect.objectContaining({ id: entry!.id })]);
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    expect(pendingOf('sam')).toEqual([]);
    expect(hub.activity().find((a) => a.user === 'sam')).toMatchObject({ calls: 3, lastTool: 'approve_writes' });
  });
});

describe('confirm mode, a 2026-07-28 client', () => {
  it('is counted by client name, not listed as a session; its preview waits without the token until the token is used', async () => {
    await using client = await connectClient(url, CORY, 'modern');
    const t = touch();
    const held = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    const token = held.structuredContent.confirm as string;
    expect(hub.sessions().filter((s) => s.user === 'cory')).toEqual([]);
    expect(hub.activity().filter((a) => a.user === 'cory')).toEqual([expect.objectContaining({ session: 'client:homelab-test', client: { name: 'homelab-test', version: '1.0.0' }, calls: 1, lastTool: 'run_command' })]);
    const [entry] = pendingOf('cory');
    expect(entry).toMatchObject({ session: 'client:homelab-test', mode: 'confirm', kind: 'preview', expiresAt: held.structuredContent.expiresAt });
    expect(entry!.text).toContain('confirm: (confirm token)');
    noSecrets(token, token.split('.')[2]!);
    await client.callTool({ name: 'run_command', arguments: { ...t.args, confirm: token } });
    expect(existsSync(t.file)).toBe(true);
    expect(pendingOf('cory')).toEqual([]);
  });
});

describe.each(['legacy', 'modern'] as const)('human mode, %s era', (era) => {
  it('the question waits on Pending while the person has not answered, and leaves with the answer', async () => {
    const seen: unknown[] = [];
    await using client = await connectClient(url, HUGO, era, {
      onElicit: (message) => {
        // What the UI reads while the person is being asked.
        seen.push(pendingOf('hugo').map((p) => ({ mode: p.mode, kind: p.kind, text: p.text, question: message })));
        return { action: 'decline' };
      },
    });
    const t = touch();
    const r = await client.callTool({ name: 'run_command', arguments: t.args });
    expect(resultText(r)).toContain('declined');
    expect(existsSync(t.file)).toBe(false);
    expect(seen).toHaveLength(1);
    const asked = (seen as Array<Array<{ mode: string; kind: string; text: string; question: string }>>)[0]![0];
    expect(asked).toMatchObject({ mode: 'human', kind: 'question' });
    expect(asked!.text).toBe(asked!.question.replaceAll('s3cretpw', '[REDACTED]'));
    expect(pendingOf('hugo')).toEqual([]);
    noSecrets();
  });
});

describe('viewer', () => {
  it('a write is refused, never held: nothing of theirs waits', async () => {
    await using client = await connectClient(url, VIC, 'legacy');
    await expect(client.callTool({ name: 'run_command', arguments: touch().args })).rejects.toThrow(/not found/);
    expect(pendingOf('vic')).toEqual([]);
    expect(hub.sessions().filter((s) => s.user === 'vic')).toMatchObject([{ role: 'viewer' }]);
  });
});
