/**
 * Attacks on the edge agent (issue #10), each through a real bundled edge process on 127.0.0.1
 * (and the in-process edge the hub embeds), each asserting the attack fails: the hub's file
 * policy (`_meta["dev.homelab-mcp/policy"]`), the edge's own secret files, root confinement
 * races, memory bounds under the deployed heap flags, write_file modes, Host/Origin checks,
 * huge read offsets and `setsid` escapes from the command timeout.
 */
import { linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge } from '@homelab-mcp/edge';
import { capabilities } from '@homelab-mcp/edge/src/capabilities/index.ts';
import { parseCli } from '@homelab-mcp/edge/src/cli.ts';
import { createLogger } from '@homelab-mcp/edge/src/log.ts';
import { startEdgeProcess, type EdgeProcess, type Era } from '@homelab-mcp/testkit';

const POLICY = 'dev.homelab-mcp/policy';
const VIEWER_POLICY = {
  denyPaths: ['/etc/shadow', '/etc/gshadow', '/root/**', '/home/*/.ssh/id_*', '/root/.ssh/**', '**/.ssh/authorized_keys', '/proc/*/environ', '/etc/ssl/private/**'],
  maskEnv: true,
};

interface RawResult {
  status: number;
  body: any;
}

/** One `tools/call` over raw HTTP, so the test controls `_meta` and the headers exactly. */
async function rawCall(
  edge: { url: string },
  token: string | undefined,
  era: Era,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<RawResult> {
  const _meta = era === 'modern' ? { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', ...meta } : meta;
  const res = await fetch(edge.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(era === 'modern' ? { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, ...(_meta ? { _meta } : {}) } }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function text(r: RawResult): string {
  return r.body?.result?.content?.[0]?.text ?? JSON.stringify(r.body);
}

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'edge-security-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the hub file policy and the edge private files', () => {
  const root = join(dir, 'policy');
  const home = join(root, 'home', 'pi');
  const etc = join(dir, 'etc-secret');
  const tokenFile = join(etc, 'token');
  const configFile = join(etc, 'edge.json');
  const token = 'policy-edge-token-0123456789abcdef';
  let edge: EdgeProcess;
  let policy: typeof VIEWER_POLICY;

  beforeAll(async () => {
    mkdirSync(join(home, '.ssh'), { recursive: true });
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY MATERIAL\n');
    writeFileSync(join(home, '.ssh', 'authorized_keys'), 'ssh-ed25519 AAAA key\n');
    writeFileSync(join(home, 'notes.txt'), 'just notes\n');
    symlinkSync(join(home, '.ssh', 'id_ed25519'), join(root, 'innocent.txt'));
    writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    writeFileSync(configFile, JSON.stringify({ nodeName: 'policy-test' }));
    // The operator made the edge's secrets reachable under the root, by accident or by a hostile hand.
    symlinkSync(tokenFile, join(root, 'token-link'));
    linkSync(tokenFile, join(root, 'token-hardlink'));
    symlinkSync(etc, join(root, 'etc-link'));
    // The policy names the real locations, as a hub's role config would for this node.
    policy = { ...VIEWER_POLICY, denyPaths: [...VIEWER_POLICY.denyPaths, `${root}/home/*/.ssh/id_*`, `${root}/**/.ssh/authorized_keys`] };
    edge = await startEdgeProcess({
      token: null,
      args: ['--root', root, '--root', etc, '--root', '/proc', '--token-file', tokenFile, '--config', configFile],
      env: { HOMELAB_EDGE_TOKEN: token, DB_PASSWORD: 'hunter2-db', HA_TOKEN: 'ha-long-lived-token', PLAIN_SETTING: 'visible' },
    });
  });
  afterAll(() => edge?.stop());

  describe.each<Era>(['modern', 'legacy'])('%s era', (era) => {
    it('refuses denied files, directly and through a symlink, naming the path, and acknowledges the policy', async () => {
      for (const path of [join(home, '.ssh', 'id_ed25519'), join(root, 'innocent.txt'), join(home, '.ssh', 'authorized_keys')]) {
        const r = await rawCall(edge, token, era, 'read_file', { path }, { [POLICY]: policy });
        expect(r.body.result.isError, path).toBe(true);
        expect(text(r)).toBe(`${path}: denied by the hub's file policy for this role`);
        expect(JSON.stringify(r.body)).not.toContain('PRIVATE KEY MATERIAL');
        expect(r.body.result._meta[POLICY]).toEqual({ applied: true });
      }
      const listed = await rawCall(edge, token, era, 'list_directory', { path: join(home, '.ssh') }, { [POLICY]: { denyPaths: [`${root}/home/*/.ssh/**`] } });
      expect(text(listed)).toContain('denied by the hub');
      // Allowed files still read, and the acknowledgement is there too.
      const ok = await rawCall(edge, token, era, 'read_file', { path: join(home, 'notes.txt') }, { [POLICY]: policy });
      expect(ok.body.result.structuredContent.content).toBe('just notes\n');
      expect(ok.body.result._meta[POLICY]).toEqual({ applied: true });
      // Without a policy (an admin, or a client talking to the edge directly) the file is readable.
      const plain = await rawCall(edge, token, era, 'read_file', { path: join(home, '.ssh', 'id_ed25519') });
      expect(plain.body.result.structuredContent.content).toBe('PRIVATE KEY MATERIAL\n');
      expect(plain.body.result._meta?.[POLICY]).toBeUndefined();
    });

    it('refuses to write a denied path', async () => {
      const path = join(home, '.ssh', 'authorized_keys');
      const r = await rawCall(edge, token, era, 'write_file', { path, content: 'ssh-ed25519 ATTACKER\n' }, { [POLICY]: policy });
      expect(text(r)).toBe(`${path}: denied by the hub's file policy for this role`);
      expect(readFileSync(path, 'utf8')).toBe('ssh-ed25519 AAAA key\n');
    });

    it('masks secret-looking variables in get_env when the policy says maskEnv', async () => {
      const masked = await rawCall(edge, token, era, 'get_env', {}, { [POLICY]: policy });
      const vars = masked.body.result.structuredContent.vars;
      expect(vars).toMatchObject({ DB_PASSWORD: '[masked]', HA_TOKEN: '[masked]', PLAIN_SETTING: 'visible' });
      expect(text(masked)).not.toContain('hunter2-db');
      expect(masked.body.result._meta[POLICY]).toEqual({ applied: true });
      const one = await rawCall(edge, token, era, 'get_env', { key: 'HA_TOKEN' }, { [POLICY]: policy });
      expect(one.body.result.structuredContent).toMatchObject({ key: 'HA_TOKEN', value: '[masked]', set: true });
      const unmasked = await rawCall(edge, token, era, 'get_env', { key: 'DB_PASSWORD' });
      expect(unmasked.body.result.structuredContent.value).toBe('hunter2-db');
    });

    it('refuses a malformed policy instead of running without it', async () => {
      const r = await rawCall(edge, token, era, 'read_file', { path: join(home, 'notes.txt') }, { [POLICY]: { denyPaths: '/etc/shadow' } });
      expect(r.body.result.isError).toBe(true);
      expect(text(r)).toContain(`_meta["${POLICY}"].denyPaths: expected an array`);
      expect(text(r)).not.toContain('just notes');
    });
  });

  it('never serves its own token or config file, by any path, link or /proc trick, policy or not', async () => {
    const pid = edge.child.pid!;
    const attempts = [
      tokenFile,
      configFile,
      join(root, 'token-link'),
      join(root, 'token-hardlink'),
      join(root, 'etc-link', 'token'),
      join(root, 'etc-link', 'edge.json'),
      `/proc/${pid}/environ`,
      '/proc/self/environ',
      '/proc/thread-self/environ',
      `/proc/${pid}/cmdline`,
      `/proc/${pid}/root${tokenFile}`,
    ];
    for (const era of ['modern', 'legacy'] as const) {
      for (const meta of [undefined, { [POLICY]: { denyPaths: [] } }]) {
        for (const path of attempts) {
          const r = await rawCall(edge, token, era, 'read_file', { path, encoding: 'base64' }, meta);
          expect(r.body.result.isError, `${era} ${path}`).toBe(true);
          expect(JSON.stringify(r.body)).not.toContain(token);
          expect(JSON.stringify(r.body)).not.toContain(Buffer.from(token).toString('base64').slice(0, 20));
        }
        // Listing the edge's own /proc entry would show its open files; names of others are fine.
        for (const path of [`/proc/${pid}/fd`, '/proc/self/fd', `/proc/${pid}`]) {
          const r = await rawCall(edge, token, era, 'list_directory', { path }, meta);
          expect(r.body.result.isError, path).toBe(true);
        }
        const w = await rawCall(edge, token, era, 'write_file', { path: join(root, 'token-hardlink'), content: 'replaced-token-0123456789' }, meta);
        expect(w.body.result.isError).toBe(true);
        expect(readFileSync(tokenFile, 'utf8')).toBe(token + '\n');
      }
    }
    // Names in the directory holding them are fine.
    const listing = await rawCall(edge, token, 'modern', 'list_directory', { path: etc });
    expect(listing.body.result.structuredContent.entries.map((e: { name: string }) => e.name)).toEqual(['edge.json', 'token']);
  });

  it('acknowledges the policy for in-process callers (the hub local node) too', async () => {
    const parsed = parseCli(['--root', root, '--log-level', 'error'], { env: {}, readFile: (p) => readFileSync(p, 'utf8'), capabilityNames: capabilities.map((c) => c.name) });
    if (parsed.kind !== 'run') throw new Error('unexpected');
    const local = await createEdge(parsed.options, { env: { SOME_SECRET: 's3cr3t', PATH: '/usr/bin' }, log: createLogger({ level: 'silent' }), privatePaths: [join(home, 'notes.txt')] });
    const signal = new AbortController().signal;
    const denied = await local.mcp.callTool('read_file', { path: join(root, 'innocent.txt') }, signal, 'modern', { [POLICY]: policy });
    expect(denied).toMatchObject({ isError: true, _meta: { [POLICY]: { applied: true } } });
    expect(denied.content[0]!.text).toContain("denied by the hub's file policy for this role");
    const env = await local.mcp.callTool('get_env', {}, signal, 'legacy', { [POLICY]: { maskEnv: true } });
    expect(env.structuredContent).toEqual({ vars: { PATH: '/usr/bin', SOME_SECRET: '[masked]' } });
    expect(env._meta).toEqual({ [POLICY]: { applied: true } });
    // A private path added by the embedding program is refused without any policy.
    const priv = await local.mcp.callTool('read_file', { path: join(home, 'notes.txt') }, signal);
    expect(priv.isError).toBe(true);
    expect(priv._meta).toBeUndefined();
  });
});
