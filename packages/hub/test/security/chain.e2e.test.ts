/**
 * Attacks through a chained hub (issue #10, red team round 3): hub A has hub B as a native
 * upstream of `type: hub`, authenticated with B's admin token. A viewer of A must get from B
 * no more than a viewer of B gets: A tells B for whom it calls (`_meta` actingFor) and B serves
 * the call with the lower role. A client of B cannot raise its role with such a claim.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN_A = 'chain-admin-a-token-0123456789abc';
const VIEWER_A = 'chain-viewer-a-token-0123456789ab';
const ADMIN_B = 'chain-admin-b-token-0123456789abc';
const VIEWER_B = 'chain-viewer-b-token-0123456789ab';
const FILE_SECRET = 'vault-content-7d3e1a9c5b';
const ENV_SECRET = 'local-db-password-2f8b6d4a0c';
const PAGE_SECRET = 'page-body-secret-9a1c3e5b7d';
const ACTING_FOR = 'dev.homelab-mcp/actingFor';
const dir = mkdtempSync(join(tmpdir(), 'sec-chain-'));
const vault = join(dir, 'vault');
const secretFile = join(vault, 'secret.txt');

type Result = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any };
const whole = (r: unknown) => JSON.stringify(r);

async function call(url: string, token: string, name: string, args: Record<string, unknown>, era: 'modern' | 'legacy' = 'modern', meta?: Record<string, unknown>): Promise<Result> {
  await using client = await connectClient(url, token, era);
  return (await client.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) })) as Result;
}

let web: Server;
let webBase: string;
let hubA: HubProcess;
let hubB: HubProcess;

beforeAll(async () => {
  mkdirSync(vault);
  writeFileSync(secretFile, FILE_SECRET);
  web = createServer((_req, res) => res.end(PAGE_SECRET));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webBase = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
  hubB = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'bob', role: 'admin', token: ADMIN_B },
          { user: 'vicky', role: 'viewer', token: VIEWER_B },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { env: { DB_PASSWORD: ENV_SECRET } },
      access: { viewer: { denyPaths: [`${vault}/**`], maskEnv: true } },
    },
  });
  hubA = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'ann', role: 'admin', token: ADMIN_A },
          { user: 'vic', role: 'viewer', token: VIEWER_A },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { enabled: false },
      upstreams: { site2: { type: 'hub', url: hubB.url, headers: { Authorization: 'Bearer ${B_TOKEN}' }, trustAnnotations: true } },
    },
    env: { B_TOKEN: ADMIN_B },
  });
  // A listens before its upstream is up, and B's local node starts in the background: wait
  // until A lists B's node tools.
  for (;;) {
    const r = await fetch(`${hubA.base}/readyz`, { headers: { authorization: `Bearer ${ADMIN_A}` } });
    const body = (await r.json()) as { upstreams: Array<{ name: string; status: string }> };
    if (body.upstreams.some((u) => u.name === 'site2' && u.status === 'up')) {
      await using client = await connectClient(hubA.url, VIEWER_A, 'modern');
      const { tools } = await client.listTools();
      if (tools.some((t) => t.name === 'site2__read_file')) break;
    }
    if (!hubA.child.pid || hubA.child.exitCode !== null) throw new Error(`hub A exited:\n${hubA.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await hubA?.stop();
  await hubB?.stop();
  await new Promise((r) => web?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('a viewer of hub A, through hub B (type: hub, B\'s admin token)', () => {
  it('is refused a file B denies its viewers, in both eras', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const r = await call(hubA.url, VIEWER_A, 'site2__read_file', { node: 'local', path: secretFile }, era);
      expect(r.isError, era).toBe(true);
      expect(resultText(r), era).toContain("denied by the hub's file policy");
      expect(whole(r), era).not.toContain(FILE_SECRET);
    }
  });

  it('gets get_env masked, and probe_http without the page', async () => {
    const env = await call(hubA.url, VIEWER_A, 'site2__get_env', { node: 'local' });
    expect(env.isError).toBeFalsy();
    expect(whole(env)).toContain('DB_PASSWORD');
    expect(whole(env)).not.toContain(ENV_SECRET);
    const probe = await call(hubA.url, VIEWER_A, 'site2__probe_http', { url: `${webBase}/` });
    expect(probe.isError).toBeFalsy();
    expect(whole(probe)).not.toContain(PAGE_SECRET);
  });

  it('reads in B\'s audit log only its own calls, which B journals with the user A called for', async () => {
    await call(hubA.url, ADMIN_A, 'site2__get_env', { node: 'local', key: 'PATH' });
    const log = await call(hubA.url, VIEWER_A, 'site2__get_audit_log', { limit: 1000 });
    expect(log.isError).toBeFalsy();
    const events = log.structuredContent.events as Array<Record<string, any>>;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.detail?.actingFor === 'vic')).toBe(true);
    const journal = readJournal(join(hubB.dir, 'data')).filter((e) => e.kind === 'tool_call');
    expect(journal.some((e) => e.user === 'bob' && e.role === 'viewer' && e.detail?.actingFor === 'vic' && e.tool === 'read_file')).toBe(true);
    expect(journal.some((e) => e.user === 'bob' && e.role === 'admin' && e.detail?.actingFor === 'ann' && e.tool === 'get_env')).toBe(true);
  });
});

describe('an admin of hub A, through hub B', () => {
  it('still reads the file, the environment and the page', async () => {
    const file = await call(hubA.url, ADMIN_A, 'site2__read_file', { node: 'local', path: secretFile });
    expect(file.isError).toBeFalsy();
    expect(whole(file)).toContain(FILE_SECRET);
    const env = await call(hubA.url, ADMIN_A, 'site2__get_env', { node: 'local' }, 'legacy');
    expect(whole(env)).toContain(ENV_SECRET);
    const probe = await call(hubA.url, ADMIN_A, 'site2__probe_http', { url: `${webBase}/` });
    expect(whole(probe)).toContain(PAGE_SECRET);
  });
});

describe('a direct client of hub B claiming a role', () => {
  it('with a viewer token, stays a viewer when it claims admin', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const r = await call(hubB.url, VIEWER_B, 'read_file', { node: 'local', path: secretFile }, era, { [ACTING_FOR]: { user: 'root', role: 'admin' } });
      expect(r.isError, era).toBe(true);
      expect(whole(r), era).not.toContain(FILE_SECRET);
      const env = await call(hubB.url, VIEWER_B, 'get_env', { node: 'local' }, era, { [ACTING_FOR]: { user: 'root', role: 'admin' } });
      expect(whole(env), era).not.toContain(ENV_SECRET);
    }
  });

  it('with an admin token, is lowered by a viewer or unknown claim (the fast path included)', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      for (const role of ['viewer', 'superuser', 42]) {
        const r = await call(hubB.url, ADMIN_B, 'read_file', { node: 'local', path: secretFile }, era, { [ACTING_FOR]: { user: 'x', role } });
        expect(r.isError, `${era} ${role}`).toBe(true);
        expect(whole(r), `${era} ${role}`).not.toContain(FILE_SECRET);
      }
    }
  });
});
