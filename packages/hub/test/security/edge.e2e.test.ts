/**
 * Attacks on the edge agent (issue #10), each through a real bundled edge process on 127.0.0.1
 * (and the in-process edge the hub embeds), each asserting the attack fails: the hub's file
 * policy (`_meta["dev.homelab-mcp/policy"]`), the edge's own secret files, root confinement
 * races, memory bounds under the deployed heap flags, write_file modes, Host/Origin checks,
 * huge read offsets and `setsid` escapes from the command timeout.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge } from '@homelab-mcp/edge';
import { capabilities } from '@homelab-mcp/edge/src/capabilities/index.ts';
import { parseCli } from '@homelab-mcp/edge/src/cli.ts';
import { ownCgroupDir } from '@homelab-mcp/edge/src/run-cgroup.ts';
import { createLogger } from '@homelab-mcp/edge/src/log.ts';
import { connectClient, deployedEdgeNodeFlags, EDGE_BUNDLE, isAlive, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type Era } from '@homelab-mcp/testkit';

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
  const _meta = era === 'modern' ? { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, ...meta } : meta;
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

/** Every file under `d`, recursively, as paths relative to it (symlinks not followed). */
function tree(d: string, rel = ''): string[] {
  return readdirSync(join(d, rel), { withFileTypes: true }).flatMap((e) => {
    const r = join(rel, e.name);
    return e.isDirectory() ? [r, ...tree(d, r)] : [r];
  });
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe('root confinement races (item 6)', () => {
  it('3,000 read_file and 3,000 write_file calls while a directory is swapped for a symlink out of --root: 0 escapes, no temp files', { timeout: 300_000 }, async () => {
    const base = join(dir, 'race');
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    mkdirSync(join(root, 'd'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(root, 'd', 'f'), 'inside\n');
    writeFileSync(join(outside, 'f'), 'OUTSIDE SECRET\n');
    writeFileSync(join(outside, 'w.txt'), 'outside original\n');
    await using edge = await startEdgeProcess({ args: ['--root', root] });
    // A separate process swaps root/d for a symlink to the outside directory and back, as fast as
    // it can, in batches so that it still hears SIGTERM; on SIGTERM it puts d back and says how
    // many swaps it made.
    const script = `
      const fs = require('fs');
      const [d, real, outside] = process.argv.slice(1);
      let n = 0, stop = false;
      process.on('SIGTERM', () => { stop = true; });
      const batch = () => {
        for (let i = 0; i < 200; i++) {
          fs.renameSync(d, real); fs.symlinkSync(outside, d);
          fs.unlinkSync(d); fs.renameSync(real, d); n++;
        }
        if (stop) { process.stdout.write('swaps ' + n + '\\n'); process.exit(0); }
        setImmediate(batch);
      };
      process.stdout.write('ready\\n');
      batch();`;
    const swapper = spawn(process.execPath, ['-e', script, join(root, 'd'), join(root, 'd.real'), outside], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '';
    swapper.stdout!.on('data', (b: Buffer) => (said += b.toString()));
    await new Promise<void>((res) => swapper.stdout!.once('data', () => res()));
    const calls = Array.from({ length: 6000 }, (_, i) => i);
    let escapes = 0;
    let readsOk = 0;
    let writesOk = 0;
    try {
      await pool(calls, 8, async (i) => {
        if (i % 2 === 0) {
          const r = await rawCall(edge, edge.token, 'legacy', 'read_file', { path: join(root, 'd', 'f') });
          const content = r.body.result.structuredContent?.content;
          if (typeof content === 'string' && content.includes('OUTSIDE')) escapes++;
          if (content === 'inside\n') readsOk++;
        } else {
          const r = await rawCall(edge, edge.token, 'legacy', 'write_file', { path: join(root, 'd', 'w.txt'), content: `write ${i}\n` });
          if (!r.body.result.isError) writesOk++;
        }
      });
    } finally {
      swapper.kill('SIGTERM');
      await new Promise((res) => swapper.once('exit', res));
    }
    const swaps = Number(/swaps (\d+)/.exec(said)?.[1]);
    expect(swaps).toBeGreaterThan(0);
    expect(escapes).toBe(0);
    expect(readFileSync(join(outside, 'w.txt'), 'utf8')).toBe('outside original\n');
    expect(readdirSync(outside).sort()).toEqual(['f', 'w.txt']);
    expect(tree(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The calls that found the real directory worked: the test exercised both paths.
    expect(readsOk).toBeGreaterThan(0);
    expect(writesOk).toBeGreaterThan(0);
  });
});

describe('memory bounds under the deployed heap flags (item 7)', () => {
  // About 20 s on an idle 2-CPU machine (384 MiB of output through an edge with a 32 MB heap);
  // a loaded CI run took more than 120 s, so the time limit is generous.
  it('survives four concurrent 8 MB stdin requests, a 4 MiB max_output_bytes, 32 concurrent 1 MiB control-character outputs and eight reads of such a file', { timeout: 300_000 }, async () => {
    await using edge = await startEdgeProcess({ nodeFlags: deployedEdgeNodeFlags() });
    const big = 'x'.repeat(8_000_000);
    const stdin = await Promise.all(
      [1, 2, 3, 4].map(() => rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: 'wc -c', stdin: big }).catch((e: Error & { cause?: { code?: string } }) => ({ status: 0, body: `${e.message} (${e.cause?.code ?? 'no code'}); edge exit code ${edge.child.exitCode}` }))),
    );
    for (const r of stdin) {
      // Refused one way or the other (too large, or busy), never by a dead edge.
      expect([200, 503], JSON.stringify(r).slice(0, 400)).toContain(r.status);
      if (r.status === 200) expect(text(r)).toMatch(/stdin: must be at most 1048576 characters/);
      else expect(r.body.error.message).toMatch(/^busy: /);
    }
    const wide = await rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: 'head -c 5000000 /dev/zero', max_output_bytes: 4 * 1024 * 1024 });
    expect(text(wide)).toContain('max_output_bytes: 4194304 is more than this edge keeps per stream (1048576 bytes, its --max-output)');
    // As many as the edge runs at once by default (--max-commands 32), in bursts: answers sent
    // must not stay on the heap (the second or third burst aborted the edge while the child's
    // listeners kept each answer's output alive), control characters and plain text alike.
    for (const [byte, kept] of [['\\1', 1048576 / 6], ['\\1', 1048576 / 6], ['\\1', 1048576 / 6], ['x', 1048576], ['x', 1048576], ['x', 1048576]] as const) {
      const burst = await Promise.all(
        Array.from({ length: 32 }, () =>
          rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: `head -c 1048576 /dev/zero | tr '\\0' '${byte}'; head -c 1048576 /dev/zero | tr '\\0' '${byte}' >&2` }).catch(
            (e: Error & { cause?: { code?: string } }) => ({ status: 0, body: `${e.message} (${e.cause?.code ?? 'no code'}); edge exit code ${edge.child.exitCode}, signal ${edge.child.signalCode}` }),
          ),
        ),
      );
      for (const r of burst) {
        expect(r.body?.result?.structuredContent, JSON.stringify(r).slice(0, 400)).toMatchObject({ exitCode: 0, truncated: byte !== 'x', stdoutBytes: 1048576, stderrBytes: 1048576 });
        expect(r.body.result.structuredContent.stdout.length).toBe(Math.floor(kept));
      }
    }
    // The same for files: the text kept is bounded by its size in the answer; the rest is read on.
    const ctl = join(dir, 'controls.bin');
    writeFileSync(ctl, Buffer.alloc(1024 * 1024, 1));
    const reads = await Promise.all(Array.from({ length: 8 }, () => rawCall(edge, edge.token, 'legacy', 'read_file', { path: ctl })));
    for (const r of reads) {
      const data = r.body.result.structuredContent;
      expect(data).toMatchObject({ eof: false, size: 1024 * 1024 });
      expect(data.content).toBe('\x01'.repeat(data.bytesRead));
      expect(data.bytesRead).toBeGreaterThan(0);
    }
    expect(edge.child.exitCode).toBeNull();
    const status = await rawCall(edge, edge.token, 'modern', 'get_status', {});
    expect(status.body.result.isError).toBeFalsy();
  });

  it('refuses one command more than --max-commands with "busy: N commands running"', { timeout: 60_000 }, async () => {
    await using edge = await startEdgeProcess({ nodeFlags: deployedEdgeNodeFlags(), args: ['--max-commands', '2'] });
    const gate = join(dir, 'busy-gate');
    const slow = [1, 2].map(() => rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: `while [ ! -e ${gate} ]; do sleep 0.05; done`, timeout_s: 60 }));
    // Wait (by polling the edge, not the clock) until both are running.
    let third: RawResult;
    for (;;) {
      third = await rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: 'true' });
      if (text(third).startsWith('busy')) break;
    }
    expect(text(third)).toBe('busy: 2 commands running on this edge (its limit, --max-commands, is 2); try again when one has finished');
    writeFileSync(gate, '');
    for (const r of await Promise.all(slow)) expect(r.body.result.structuredContent.exitCode).toBe(0);
  });

  it('drains 1 GB of output past the cap outside the edge: its memory does not grow with it', { timeout: 300_000 }, async () => {
    await using edge = await startEdgeProcess({ nodeFlags: deployedEdgeNodeFlags() });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${edge.child.pid}/status`, 'utf8'))![1]) * 1024;
    await rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: 'head -c 4000000 /dev/zero' }); // warm up
    const before = rss();
    const r = await rawCall(edge, edge.token, 'legacy', 'run_command', { cmd: 'head -c 1000000000 /dev/zero', timeout_s: 600 });
    expect(r.body.result.structuredContent).toMatchObject({ exitCode: 0, truncated: true, stdoutBytes: 1_000_000_000 });
    // Before: +35-56 MB (every 64 KiB read became a buffer, returned to the system late). Now
    // 1-11 MB measured, the noise of a heap that grows and shrinks on its own: the bound sits
    // between the two, not at the edge of the noise.
    expect(rss() - before).toBeLessThan(20 * 1024 * 1024);
  });
});

describe('write_file modes (item 10)', () => {
  const root = join(dir, 'modes');

  it('refuses setuid, setgid and sticky bits without --allow-special-modes, and drops them on overwrite', async () => {
    mkdirSync(root, { recursive: true });
    await using edge = await startEdgeProcess({ args: ['--root', root] });
    for (const mode of ['4755', '2755', '1777', '6755', '04755', '7777']) {
      const path = join(root, `m${mode}`);
      const r = await rawCall(edge, edge.token, 'modern', 'write_file', { path, content: '#!/bin/sh\nid\n', mode });
      expect(r.body.result.isError, mode).toBe(true);
      expect(text(r)).toBe(`mode: "${mode}" sets the setuid, setgid or sticky bit; this edge only writes modes up to 0777 (start it with --allow-special-modes to allow them)`);
      expect(() => statSync(path)).toThrow();
    }
    const suid = join(root, 'suid-tool');
    writeFileSync(suid, '#!/bin/sh\n');
    chmodSync(suid, 0o4755);
    const w = await rawCall(edge, edge.token, 'modern', 'write_file', { path: suid, content: '#!/bin/sh\nid\n' });
    expect(w.body.result.structuredContent).toMatchObject({ created: false, mode: '0755' });
    expect(statSync(suid).mode & 0o7777).toBe(0o755);
    const plain = await rawCall(edge, edge.token, 'modern', 'write_file', { path: join(root, 'plain'), content: 'x', mode: '0750' });
    expect(plain.body.result.structuredContent.mode).toBe('0750');
    expect(execFileSync(process.execPath, [EDGE_BUNDLE, '--help']).toString()).toContain('--allow-special-modes');
  });

  it('sets them when the edge is started with --allow-special-modes', async () => {
    await using edge = await startEdgeProcess({ args: ['--root', root, '--allow-special-modes'] });
    const path = join(root, 'allowed-suid');
    const r = await rawCall(edge, edge.token, 'modern', 'write_file', { path, content: '#!/bin/sh\n', mode: '4750' });
    expect(r.body.result.structuredContent.mode).toBe('04750');
    expect(statSync(path).mode & 0o7777).toBe(0o4750);
  });
});

/** A raw HTTP request with a chosen Host header (fetch does not let a caller set it). */
function withHost(url: string, host: string, token: string | undefined, extra: Record<string, string> = {}): Promise<number> {
  const u = new URL(url);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Host and Origin checks with a token (item 12)', () => {
  it('refuses a DNS-rebinding Host or Origin with 403 even with the right token, and accepts loopback, IPs and --allowed-host names', async () => {
    await using edge = await startEdgeProcess({ args: ['--allowed-host', 'pi-kitchen.example'] });
    expect(await withHost(edge.url, 'evil.example', edge.token)).toBe(403);
    expect(await withHost(edge.url, `evil.example:${edge.port}`, edge.token)).toBe(403);
    expect(await withHost(edge.url, `127.0.0.1:${edge.port}`, edge.token, { origin: 'http://evil.example' })).toBe(403);
    expect(await withHost(edge.url, `127.0.0.1:${edge.port}`, edge.token, { origin: 'null' })).toBe(403);
    expect(await withHost(edge.url, `127.0.0.1:${edge.port}`, edge.token)).toBe(200);
    expect(await withHost(edge.url, `localhost:${edge.port}`, edge.token)).toBe(200);
    expect(await withHost(edge.url, `192.168.1.20:${edge.port}`, edge.token)).toBe(200);
    expect(await withHost(edge.url, `pi-kitchen.example:${edge.port}`, edge.token)).toBe(200);
    expect(await withHost(edge.url, `pi-kitchen.example:${edge.port}`, edge.token, { origin: 'http://pi-kitchen.example:8222' })).toBe(200);
    // The check comes before authentication: a rebinding page learns nothing from a 401 either.
    expect(await withHost(edge.url, 'evil.example', undefined)).toBe(403);
    // The operator learns which flag a hub using such a name would need.
    expect(edge.logs()).toContain('start the edge with --allowed-host evil.example');
    expect(execFileSync(process.execPath, [EDGE_BUNDLE, '--help']).toString()).toContain('--allowed-host NAME');
  });

  it("passes the hub's own requests (Host is the host of the node's URL)", { timeout: 60_000 }, async () => {
    await using edge = await startEdgeProcess();
    const ADMIN = 'admin-token-0123456789abcdef';
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }] },
        nodes: [{ name: 'pi', url: `http://localhost:${edge.port}/mcp`, token: '${PI_TOKEN}', roles: [] }],
      },
      env: { PI_TOKEN: edge.token },
    });
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const r = await client.callTool({ name: 'get_status', arguments: { node: 'pi' } });
    expect(r.isError).toBeFalsy();
    // The edge's refusal, not any "403" (get_status lists listening ports, e.g. 40393).
    expect(resultText(r)).not.toMatch(/\b403\b|forbidden (host|origin)/i);
    expect(r.structuredContent).toHaveProperty('hostname');
  });
});

describe('small ones (item 15)', () => {
  it('refuses a read_file offset above 2^53 instead of reading from byte 0', async () => {
    const root = join(dir, 'offset');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'f'), 'start of the file\n');
    await using edge = await startEdgeProcess({ args: ['--root', root] });
    for (const offset of [2 ** 53, 2 ** 53 + 2, 1e20]) {
      const r = await rawCall(edge, edge.token, 'legacy', 'read_file', { path: join(root, 'f'), offset });
      expect(r.body.result.isError, String(offset)).toBe(true);
      expect(text(r)).toContain(`offset: must be <= ${Number.MAX_SAFE_INTEGER}`);
      expect(text(r)).not.toContain('start of the file');
    }
    const edgeOfRange = await rawCall(edge, edge.token, 'legacy', 'read_file', { path: join(root, 'f'), offset: Number.MAX_SAFE_INTEGER });
    expect(edgeOfRange.body.result.structuredContent).toMatchObject({ bytesRead: 0, eof: true, content: '' });
  });

  it('kills a setsid child (and a setsid -f one) at the command timeout', { timeout: 60_000 }, async () => {
    await using edge = await startEdgeProcess();
    const r = await rawCall(edge, edge.token, 'legacy', 'run_command', {
      cmd: "setsid sleep 1000 & echo $!; setsid -f sh -c 'echo $$; exec sleep 1000'; sleep 30",
      timeout_s: 1,
    });
    expect(r.body.result.structuredContent.timedOut).toBe(true);
    const pids = String(r.body.result.structuredContent.stdout).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    // Polled by /proc entry, not timed: the test's own timeout is the only bound.
    while (pids.some(isAlive)) await new Promise((res) => setTimeout(res, 50));
  });

  it('kills, through the run\'s own cgroup, a setsid child that also dropped the run\'s marker (env -i, env -u)', { timeout: 60_000 }, async (ctx) => {
    // Where the edge can make a cgroup v2 child (root here; Delegate=yes under systemd).
    if (!ownCgroupDir()) return ctx.skip();
    await using edge = await startEdgeProcess();
    const r = await rawCall(edge, edge.token, 'legacy', 'run_command', {
      cmd: "env -i setsid -f sh -c 'echo $$; exec sleep 1000'; setsid -f env -u HOMELAB_EDGE_RUN sh -c 'echo $$; exec sleep 1000'; sleep 30",
      timeout_s: 1,
    });
    expect(r.body.result.structuredContent.timedOut).toBe(true);
    const pids = String(r.body.result.structuredContent.stdout).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    while (pids.some(isAlive)) await new Promise((res) => setTimeout(res, 50));
    // And its cgroup is gone once empty.
    const base = ownCgroupDir()!;
    await expect.poll(() => readdirSync(base).filter((n) => n.startsWith(`homelab-run-${edge.child.pid}-`)), { timeout: 10_000 }).toEqual([]);
  });
});

describe('process and kernel memory, the edge thread ids, get_env masking (red team of issue #10)', () => {
  const token = 'memory-edge-token-0123456789abcdef';
  const victimSecret = 'victim-secret-in-environment-0123456789';
  let edge: EdgeProcess;
  let victim: ReturnType<typeof spawn>;
  const edgeEnv = {
    HOMELAB_EDGE_TOKEN: token,
    DATABASE_URL: 'postgres://app:pg-PASSWORD-1@db/x',
    REDIS_URL: 'redis://:redis-PASSWORD-2@host:6379',
    MQTT_PASSWD: 'mqtt-secret-3',
    SMTP_AUTH: 'smtp-secret-4',
    JWT_LIKE: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.jwt-signature-5_abcdefghij',
    NOTIFY_URL: 'https://hooks.slack.com/services/T00000000/B00000000/slack-secret-6',
    PRIVATE: 'private-secret-7',
    MY_CREDS: 'creds-secret-8',
    OPENAI: 'sk-proj-openai-secret-9-abcdefghijklmnop',
    GH: 'ghp_githubsecret10abcdefghijklmnopqrstuv',
    SESSION_COOKIE: 'cookie-secret-11',
    PIN: '4711',
    SIGNING_SALT: 'salt-secret-12',
    PLAIN_SETTING: 'visible',
  };

  beforeAll(async () => {
    // Another process of the same user, its secret in its environment (at the top of its stack).
    victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { env: { VICTIM_SECRET: victimSecret }, stdio: 'ignore' });
    edge = await startEdgeProcess({ token: null, args: ['--root', '/proc', '--root', '/dev'], env: edgeEnv });
  });
  afterAll(async () => {
    victim?.kill('SIGKILL');
    await edge?.stop();
  });

  const policies = [undefined, { [POLICY]: VIEWER_POLICY }];

  it("never serves another process's memory or its layout, to anyone (the /proc/<pid>/maps + mem attack)", async () => {
    const pid = victim.pid!;
    // What the attacker would have read through maps: where the victim's stack (and environment) is.
    const stack = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((l) => l.endsWith('[stack]'))!;
    const end = Number.parseInt(stack.split('-')[1]!.split(' ')[0]!, 16);
    // The secret's bytes at each of the three alignments base64 may give them.
    const secret64 = [0, 1, 2].map((k) => Buffer.from('xx'.slice(0, k) + victimSecret).toString('base64').slice(4, 24));
    for (const era of ['modern', 'legacy'] as const) {
      for (const meta of policies) {
        for (const path of [`/proc/${pid}/maps`, `/proc/${pid}/smaps`, `/proc/${pid}/task/${pid}/maps`, `/proc/${pid}/pagemap`, `/proc/${pid}/syscall`, `/proc/${pid}/stack`]) {
          const r = await rawCall(edge, token, era, 'read_file', { path }, meta);
          expect(r.body.result.isError, `${era} ${path}`).toBe(true);
          expect(text(r)).toContain('never serves the memory of a process or of the kernel');
        }
        for (const path of [`/proc/${pid}/mem`, `/proc/${pid}/task/${pid}/mem`]) {
          const r = await rawCall(edge, token, era, 'read_file', { path, offset: end - 65536, length: 65535, encoding: 'base64' }, meta);
          expect(r.body.result.isError, `${era} ${path}`).toBe(true);
          expect(text(r)).toContain('never serves the memory of a process or of the kernel');
          expect(JSON.stringify(r.body)).not.toContain(victimSecret);
          for (const s of secret64) expect(JSON.stringify(r.body)).not.toContain(s);
        }
        const files = await rawCall(edge, token, era, 'list_directory', { path: `/proc/${pid}/map_files` }, meta);
        expect(files.body.result.isError).toBe(true);
        // Kernel memory: refused whether or not this machine has it (a container may not).
        for (const path of ['/proc/kcore', '/dev/mem', '/dev/kmem', '/dev/port']) {
          const r = await rawCall(edge, token, era, 'read_file', { path, length: 16, encoding: 'base64' }, meta);
          expect(r.body.result.isError, path).toBe(true);
        }
        // What a process uses stays readable.
        const status = await rawCall(edge, token, era, 'read_file', { path: `/proc/${pid}/status` }, meta);
        expect(status.body.result.structuredContent.content).toContain(`Pid:\t${pid}`);
      }
    }
  });

  it("applies a viewer's /proc/*/environ rule to every thread's copy (/proc/<pid>/task/<tid>/environ)", async () => {
    const pid = victim.pid!;
    for (const era of ['modern', 'legacy'] as const) {
      const r = await rawCall(edge, token, era, 'read_file', { path: `/proc/${pid}/task/${pid}/environ` }, { [POLICY]: VIEWER_POLICY });
      expect(text(r)).toBe(`/proc/${pid}/task/${pid}/environ: denied by the hub's file policy for this role`);
      expect(JSON.stringify(r.body)).not.toContain(victimSecret);
    }
  });

  it('never serves /proc/<tid>/ for a thread id of its own (the token through a thread entry)', async () => {
    const pid = edge.child.pid!;
    const tids = readdirSync(`/proc/${pid}/task`).filter((t) => t !== String(pid));
    expect(tids.length).toBeGreaterThan(0);
    const token64 = Buffer.from(token).toString('base64').slice(0, 16);
    for (const era of ['modern', 'legacy'] as const) {
      for (const meta of policies) {
        for (const tid of tids) {
          for (const path of [`/proc/${tid}/environ`, `/proc/${tid}/status`, `/proc/${tid}/cmdline`, `/proc/${tid}/maps`, `/proc/${tid}/mem`]) {
            const r = await rawCall(edge, token, era, 'read_file', { path, encoding: 'base64' }, meta);
            expect(r.body.result.isError, `${era} ${path}`).toBe(true);
            expect(JSON.stringify(r.body)).not.toContain(token);
            expect(JSON.stringify(r.body)).not.toContain(token64);
          }
          for (const path of [`/proc/${tid}`, `/proc/${tid}/fd`, `/proc/${tid}/task`]) {
            const r = await rawCall(edge, token, era, 'list_directory', { path }, meta);
            expect(r.body.result.isError, `${era} ${path}`).toBe(true);
          }
        }
      }
    }
  });

  it('masks secret names and secret-looking values in get_env for a viewer, showing URLs with only the password redacted', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const r = await rawCall(edge, token, era, 'get_env', {}, { [POLICY]: VIEWER_POLICY });
      const vars = r.body.result.structuredContent.vars;
      expect(vars).toMatchObject({
        DATABASE_URL: 'postgres://app:[REDACTED]@db/x',
        REDIS_URL: 'redis://:[REDACTED]@host:6379',
        MQTT_PASSWD: '[masked]',
        SMTP_AUTH: '[masked]',
        JWT_LIKE: '[masked]',
        NOTIFY_URL: '[masked]',
        PRIVATE: '[masked]',
        MY_CREDS: '[masked]',
        OPENAI: '[masked]',
        GH: '[masked]',
        SESSION_COOKIE: '[masked]',
        PIN: '[masked]',
        SIGNING_SALT: '[masked]',
        PLAIN_SETTING: 'visible',
      });
      const all = JSON.stringify(r.body);
      for (const secret of ['pg-PASSWORD-1', 'redis-PASSWORD-2', ...Object.entries(edgeEnv).filter(([k]) => !/_URL$|^PLAIN_SETTING$/.test(k)).map(([, v]) => v)]) {
        expect(all).not.toContain(secret);
      }
      const one = await rawCall(edge, token, era, 'get_env', { key: 'DATABASE_URL' }, { [POLICY]: VIEWER_POLICY });
      expect(one.body.result.structuredContent.value).toBe('postgres://app:[REDACTED]@db/x');
      expect(text(one)).toBe('DATABASE_URL=postgres://app:[REDACTED]@db/x');
    }
    // An admin (no policy) sees the values as they are.
    const admin = await rawCall(edge, token, 'modern', 'get_env', { key: 'MQTT_PASSWD' });
    expect(admin.body.result.structuredContent.value).toBe('mqtt-secret-3');
  });
});
