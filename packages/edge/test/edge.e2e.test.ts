/**
 * The bundled edge as a user runs it: a real process on loopback, called through the SDK v2
 * client in both protocol eras and with raw HTTP for the paths a client library hides.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, EDGE_BUNDLE, isAlive, resultText, startEdgeProcess, type EdgeProcess, type Era } from '@homelab-mcp/testkit';

const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
const root = join(dir, 'root');
let edge: EdgeProcess;

beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'hello world\n');
  writeFileSync(join(root, 'secret-mode.conf'), 'a=1\n', { mode: 0o640 });
  chmodSync(join(root, 'secret-mode.conf'), 0o640);
  writeFileSync(join(dir, 'outside.txt'), 'outside the root\n');
  symlinkSync('/etc', join(root, 'etc-link'));
  symlinkSync(join(dir, 'outside.txt'), join(root, 'outside-link.txt'));
  symlinkSync(join(root, 'hello.txt'), join(root, 'inside-link.txt'));
  edge = await startEdgeProcess({ args: ['--root', root, '--max-output', String(64 * 1024)] });
});

afterAll(async () => {
  await edge?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(client: Awaited<ReturnType<typeof connectClient>>, name: string, args: Record<string, unknown>) {
  const r = await client.callTool({ name, arguments: args });
  return r as { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
}

describe.each<Era>(['modern', 'legacy'])('SDK v2 client, %s era', (era) => {
  it('lists every tool with annotations that match what it does', async () => {
    await using client = await connectClient(edge.url, edge.token, era);
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of ['get_status', 'run_command', 'read_file', 'write_file', 'list_directory', 'get_env', 'get_service_status', 'list_services', 'get_smart_health', 'gpio_info', 'gpio_read', 'gpio_write']) {
      expect(byName[name], name).toBeDefined();
      expect(byName[name]!.description!.length).toBeGreaterThan(10);
      expect(byName[name]!.inputSchema.type).toBe('object');
    }
    for (const w of ['run_command', 'write_file', 'gpio_write']) {
      expect(byName[w]!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    }
    for (const r of ['get_status', 'read_file', 'list_directory', 'get_env', 'get_smart_health', 'gpio_read', 'list_services']) {
      expect(byName[r]!.annotations).toMatchObject({ readOnlyHint: true });
    }
  });

  it('runs a command and returns stdout, stderr, exit code and duration', async () => {
    await using client = await connectClient(edge.url, edge.token, era);
    const r = await call(client, 'run_command', { cmd: 'echo out; echo err >&2; exit 3' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false, truncated: false });
    expect(r.structuredContent.durationMs).toBeGreaterThan(0);
    expect(resultText(r)).toMatch(/^exit 3 in/);
  });

  it('reports the device status', async () => {
    await using client = await connectClient(edge.url, edge.token, era);
    const r = await call(client, 'get_status', {});
    expect(r.isError).toBeFalsy();
    expect(JSON.stringify(r.structuredContent)).toContain(execFileSync('hostname').toString().trim());
  });
});

describe('run_command limits', () => {
  it('kills the command and its children when the timeout passes', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const pidFile = join(dir, 'child.pid');
    // sleep 31 runs past the test's own timeout: only timeout_s can end it in time.
    const r = await call(client, 'run_command', { cmd: `sleep 30 & echo $! > ${pidFile}; sleep 31`, timeout_s: 1 });
    expect(r.structuredContent.timedOut).toBe(true);
    expect(resultText(r)).toContain('timed out');
    const childPid = Number(readFileSync(pidFile, 'utf8'));
    // The background child is gone too (polled: SIGKILL follows SIGTERM after a grace).
    await expect.poll(() => isAlive(childPid), { timeout: 20_000, interval: 50 }).toBe(false);
  });

  it('caps huge output and says it did', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const r = await call(client, 'run_command', { cmd: 'head -c 50000000 /dev/zero | tr "\\0" a' });
    expect(r.structuredContent.truncated).toBe(true);
    expect(r.structuredContent.stdout.length).toBe(64 * 1024);
    expect(r.structuredContent.stdoutBytes).toBe(50_000_000);
    expect(r.structuredContent.exitCode).toBe(0);
  });

  it('does not wait for a background job that keeps the output open', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const pidFile = join(dir, 'bg.pid');
    const r = await call(client, 'run_command', { cmd: `sleep 25 & echo $! > ${pidFile}; echo started`, timeout_s: 28 });
    expect(r.structuredContent).toMatchObject({ exitCode: 0, stdout: 'started\n', timedOut: false });
    // Answered while the background job still ran (it would otherwise hold the answer).
    const bg = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(bg)).toBe(true);
    process.kill(bg, 'SIGKILL');
  });

  it('passes stdin, env and cwd, and never hands out the edge token', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const r = await call(client, 'run_command', { cmd: 'cat; echo "$GREETING"; pwd; env', stdin: 'from stdin\n', env: { GREETING: 'hi' }, cwd: root });
    expect(r.structuredContent.stdout).toContain(`from stdin\nhi\n${root}\n`);
    expect(r.structuredContent.stdout).not.toContain(edge.token!);
  });
});

describe('file tools', () => {
  it('reads, writes atomically keeping the mode, and lists', async () => {
    await using client = await connectClient(edge.url, edge.token, 'legacy');
    expect((await call(client, 'read_file', { path: join(root, 'hello.txt') })).structuredContent).toMatchObject({ content: 'hello world\n', eof: true, size: 12 });
    const part = await call(client, 'read_file', { path: join(root, 'hello.txt'), offset: 6, length: 5 });
    expect(part.structuredContent).toMatchObject({ content: 'world', eof: false, bytesRead: 5 });
    const b64 = await call(client, 'read_file', { path: join(root, 'hello.txt'), encoding: 'base64' });
    expect(Buffer.from(b64.structuredContent.content, 'base64').toString()).toBe('hello world\n');

    const w = await call(client, 'write_file', { path: join(root, 'secret-mode.conf'), content: 'a=2\n' });
    expect(w.structuredContent).toMatchObject({ created: false, mode: '0640', bytesWritten: 4 });
    expect(readFileSync(join(root, 'secret-mode.conf'), 'utf8')).toBe('a=2\n');
    expect(statSync(join(root, 'secret-mode.conf')).mode & 0o777).toBe(0o640);

    const nested = join(root, 'new', 'deep', 'f.bin');
    const missingDir = await call(client, 'write_file', { path: nested, content: 'AAEC', encoding: 'base64' });
    expect(missingDir.isError).toBe(true);
    expect(resultText(missingDir)).toContain('create_dirs');
    await call(client, 'write_file', { path: nested, content: 'AAEC', encoding: 'base64', create_dirs: true, mode: '0600' });
    expect([...readFileSync(nested)]).toEqual([0, 1, 2]);
    expect(statSync(nested).mode & 0o777).toBe(0o600);

    const list = await call(client, 'list_directory', { path: root, depth: 2 });
    const names = list.structuredContent.entries.map((e: { name: string }) => e.name);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('hello.txt');
    const link = list.structuredContent.entries.find((e: { name: string }) => e.name === 'etc-link');
    expect(link).toMatchObject({ type: 'symlink', target: '/etc' });
    expect(link.entries).toBeUndefined(); // never followed
    const sub = list.structuredContent.entries.find((e: { name: string }) => e.name === 'new');
    expect(sub.entries[0].name).toBe('deep');
  });

  it('refuses .. and symlinks that leave the roots', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const attempts: Array<[string, Record<string, unknown>]> = [
      ['read_file', { path: join(root, '..', 'outside.txt') }],
      ['read_file', { path: `${root}/sub/../../outside.txt` }],
      ['read_file', { path: '/etc/passwd' }],
      ['read_file', { path: join(root, 'etc-link', 'passwd') }],
      ['read_file', { path: join(root, 'outside-link.txt') }],
      ['write_file', { path: join(root, 'etc-link', 'evil.conf'), content: 'x' }],
      ['write_file', { path: join(root, 'outside-link.txt'), content: 'x' }],
      ['list_directory', { path: join(root, 'etc-link') }],
      ['read_file', { path: 'relative.txt' }],
    ];
    for (const [tool, args] of attempts) {
      const r = await call(client, tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(resultText(r)).toMatch(/outside the allowed roots|refused|must be absolute/);
    }
    expect(readFileSync(join(dir, 'outside.txt'), 'utf8')).toBe('outside the root\n');
    // A symlink that stays inside the roots works.
    expect((await call(client, 'read_file', { path: join(root, 'inside-link.txt') })).structuredContent.content).toBe('hello world\n');
  });

  it('answers invalid arguments with a readable tool error', async () => {
    await using client = await connectClient(edge.url, edge.token, 'modern');
    const r = await call(client, 'read_file', { path: 5, bogus: true });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('path: expected string');
    expect(resultText(r)).toContain('bogus: is not a known argument');
  });
});

describe('HTTP surface', () => {
  const init = (m: string) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: m, version: '1' } } });

  it('answers /healthz without a token', async () => {
    const r = await fetch(`${edge.base}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok' });
  });

  it('gives a bare 401 for a missing or wrong token', async () => {
    for (const auth of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${edge.token}`, `Bearer ${edge.token}x`]) {
      const r = await fetch(edge.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify(init('x')) });
      expect(r.status).toBe(401);
      expect(await r.text()).toBe('');
      expect(r.headers.get('www-authenticate')).toBeNull();
    }
  });

  it('rejects a body over the limit with 413', async () => {
    const small = await startEdgeProcess({ args: ['--max-body', '1024'] });
    try {
      const r = await fetch(small.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${small.token}` }, body: JSON.stringify({ ...init('x'), pad: 'x'.repeat(5000) }) });
      expect(r.status).toBe(413);
    } finally {
      await small.stop();
    }
  });

  it('enforces the protocol headers of 2026-07-28', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const post = async (headers: Record<string, string>, body: unknown) => {
      const r = await fetch(edge.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${edge.token}`, ...headers }, body: JSON.stringify(body) });
      return { status: r.status, json: async () => (await r.json()) as any };
    };
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_env', arguments: { key: 'HOME' }, _meta: meta } };
    const mismatch = await post({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'run_command' }, call);
    expect(mismatch.status).toBe(400);
    // Worded and shaped as the SDK (the hub) answers: the disagreeing pair in data.mismatch.
    const disagree = 'the body carries params.name="get_env" but the Mcp-Name header names "run_command"';
    expect(await mismatch.json()).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32020, message: `Bad Request: the request headers and body disagree: ${disagree}`, data: { mismatch: { header: 'run_command', body: disagree } } } });
    const noMethod = await post({ 'mcp-protocol-version': '2026-07-28' }, call);
    expect(noMethod.status).toBe(400);
    expect((await noMethod.json()).error).toMatchObject({ code: -32020, data: { mismatch: { header: '(missing)', body: 'the body names method tools/call but the required Mcp-Method header is absent' } } });
    const noVersion = await post({ 'mcp-method': 'tools/call', 'mcp-name': 'get_env' }, call);
    expect(noVersion.status).toBe(400);
    expect((await noVersion.json()).error).toMatchObject({ code: -32020, data: { mismatch: { header: '(missing)', body: 'the body envelope names protocol version 2026-07-28 but the required MCP-Protocol-Version header is absent' } } });
    const otherVersion = await post({ 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/call', 'mcp-name': 'get_env' }, call);
    expect((await otherVersion.json()).error).toMatchObject({ code: -32020, data: { mismatch: { header: '2025-11-25' } } });
    const future = await post({ 'mcp-method': 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } });
    expect(future.status).toBe(400);
    expect((await future.json()).error).toMatchObject({ code: -32022, data: { requested: '2099-01-01' } });
    const good = await post({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_env' }, call);
    expect((await good.json()).result).toMatchObject({ resultType: 'complete', structuredContent: { key: 'HOME' } });
  });

  describe('the 2026-07-28 envelope, answered as the hub (the SDK) answers it', () => {
    const VERSION = 'io.modelcontextprotocol/protocolVersion';
    const CAPS = 'io.modelcontextprotocol/clientCapabilities';
    const modern = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };
    const post = async (headers: Record<string, string>, params?: Record<string, unknown>, method = 'tools/list') => {
      const r = await fetch(edge.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${edge.token}`, ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method, ...(params ? { params } : {}) }),
      });
      return { status: r.status, body: (await r.json()) as any };
    };

    it('answers a 2026 request with no _meta or no protocol version with invalid params (-32602), naming what is missing', async () => {
      const noMeta = await post(modern);
      expect(noMeta.status).toBe(400);
      expect(noMeta.body.error).toMatchObject({ code: -32602, data: { envelope: { missing: ['_meta'] } } });
      expect(noMeta.body.error.message).toContain('missing the required per-request envelope key(s): _meta');
      const later = await post({ ...modern, 'mcp-protocol-version': '2099-01-01' });
      expect(later.status).toBe(400);
      expect(later.body.error).toMatchObject({ code: -32602, data: { envelope: { missing: ['_meta'] } } });
      const noVersion = await post(modern, { _meta: { [CAPS]: {} } });
      expect(noVersion.status).toBe(400);
      expect(noVersion.body.error).toMatchObject({ code: -32602, data: { envelope: { missing: [VERSION] } } });
    });

    it('refuses _meta without clientCapabilities (400, -32602), and a version that is not a string', async () => {
      const r = await post(modern, { _meta: { [VERSION]: '2026-07-28' } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: -32602, data: { envelope: { key: CAPS, problem: 'missing' } } });
      expect(r.body.error.message).toBe(`Invalid _meta envelope for protocol revision 2026-07-28: ${CAPS}: missing`);
      const notString = await post({ 'mcp-method': 'tools/list' }, { _meta: { [VERSION]: 20260728, [CAPS]: {} } });
      expect(notString.status).toBe(400);
      expect(notString.body.error).toMatchObject({ code: -32602, data: { envelope: { key: VERSION } } });
      // The same request with its capabilities is served.
      const ok = await post(modern, { _meta: { [VERSION]: '2026-07-28', [CAPS]: {} } });
      expect(ok.status).toBe(200);
      expect(ok.body.result.tools.length).toBeGreaterThan(0);
    });

    it('lists in an unsupported-version error only the versions server/discover advertises', async () => {
      const discover = await post({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' }, { _meta: { [VERSION]: '2026-07-28', [CAPS]: {} } }, 'server/discover');
      const advertised = discover.body.result.supportedVersions;
      expect(advertised).toEqual(['2026-07-28']);
      const inBody = await post({ 'mcp-method': 'tools/list' }, { _meta: { [VERSION]: '2099-01-01', [CAPS]: {} } });
      expect(inBody.status).toBe(400);
      expect(inBody.body.error).toMatchObject({ code: -32022, data: { requested: '2099-01-01' } });
      expect(inBody.body.error.data.supported).toEqual(advertised);
      // A version before 2026-07-28 that is none of 2025's: a later one in the header is a
      // 2026-era request missing its envelope (-32602), as the hub answers it.
      const inHeader = await post({ 'mcp-protocol-version': '2024-01-01' });
      expect(inHeader.status).toBe(400);
      expect(inHeader.body.error).toMatchObject({ code: -32022, data: { requested: '2024-01-01' } });
      expect(inHeader.body.error.data.supported).toEqual(advertised);
      // A 2025 client still learns which versions initialize negotiates.
      expect(inHeader.body.error.message).toContain('2025-11-25');
    });

    it('carries ttlMs and cacheScope on server/discover', async () => {
      const r = await post({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' }, { _meta: { [VERSION]: '2026-07-28', [CAPS]: {} } }, 'server/discover');
      expect(r.status).toBe(200);
      expect(r.body.result).toMatchObject({ resultType: 'complete', ttlMs: 60_000, cacheScope: 'private', supportedVersions: ['2026-07-28'] });
    });
  });

  it('validates the Host header on a loopback edge without a token', async () => {
    const open = await startEdgeProcess({ token: null });
    try {
      const body = JSON.stringify(init('x'));
      const ok = await fetch(open.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(ok.status).toBe(200);
      // fetch will not let us forge Host: use a raw request.
      const forged = await new Promise<number>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request(open.url, { method: 'POST', headers: { host: 'evil.example:80', 'content-type': 'application/json' } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on('error', reject);
          req.end(body);
        });
      });
      expect(forged).toBe(403);
      const origin = await fetch(open.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body });
      expect(origin.status).toBe(403);
    } finally {
      await open.stop();
    }
  });
});

describe('start-up', () => {
  it('refuses a non-loopback address without a token, and says why', () => {
    let out = '';
    let code = 0;
    try {
      execFileSync(process.execPath, [EDGE_BUNDLE, '--listen', '0.0.0.0:0'], { env: { ...process.env, HOMELAB_EDGE_TOKEN: '' }, stdio: 'pipe' });
    } catch (err) {
      code = (err as { status: number }).status;
      out = String((err as { stderr: Buffer }).stderr);
    }
    expect(code).toBe(2);
    expect(out).toMatch(/refusing to listen on 0\.0\.0\.0:0 without a token/);
  });

  it('prints --help and --version', () => {
    expect(execFileSync(process.execPath, [EDGE_BUNDLE, '--help']).toString()).toContain('--token-file FILE');
    expect(execFileSync(process.execPath, [EDGE_BUNDLE, '--version']).toString()).toMatch(/^homelab-edge \d+\.\d+\.\d+/);
  });

  it('names the flag and what it expected on bad input', () => {
    const run = (...args: string[]) => {
      try {
        execFileSync(process.execPath, [EDGE_BUNDLE, ...args], { stdio: 'pipe' });
        return '';
      } catch (err) {
        return String((err as { stderr: Buffer }).stderr);
      }
    };
    expect(run('--listen', 'nope:port')).toContain('--listen: expected HOST:PORT');
    expect(run('--enable-teleport')).toContain('unknown capability "teleport"');
    expect(run('--token-file', join(dir, 'missing'))).toMatch(/--token-file .*missing: cannot read \(ENOENT\)/);
    writeFileSync(join(dir, 'bad.json'), '{"listen": 5, "nope": 1}');
    expect(run('--config', join(dir, 'bad.json'))).toContain('unknown key "nope"');
  });
});

describe('socket activation', () => {
  it('serves an inherited socket and exits after --idle-exit seconds without requests', async () => {
    const listener = createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    // systemd sets LISTEN_PID to the service's own pid: exec through sh so $$ is that pid.
    const child = spawn('/bin/sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${EDGE_BUNDLE}" --idle-exit 1`], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      env: { ...process.env, HOMELAB_EDGE_TOKEN: 'socket-activation-test-token' },
    });
    // The edge owns the socket now; our copy must not accept connections.
    listener.close();
    let logs = '';
    child.stderr!.on('data', (b) => (logs += b));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await expect.poll(() => logs, { timeout: 10_000 }).toContain('systemd socket');
      await using client = await connectClient(`http://127.0.0.1:${port}/mcp`, 'socket-activation-test-token', 'modern');
      const r = await call(client, 'run_command', { cmd: 'echo via-socket' });
      expect(r.structuredContent.stdout).toBe('via-socket\n');
      await client.close();
      // Only the idle exit can end it (a hang fails the test's own timeout).
      expect(await exited).toBe(0);
      expect(logs).toContain('idle for 1 s');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
