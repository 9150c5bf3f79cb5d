/**
 * The hub with the clients people use, each a real process on 127.0.0.1: Claude Code
 * (`claude mcp add` then `claude mcp list`), the MCP Inspector CLI, mcp-remote as a stdio
 * bridge, and a second hub that aggregates the first.
 *
 * Hub A serves its own host as node `local` (commands run by the hub process itself) and a
 * real edge process as node `pi`. Hub B has no nodes: its only upstream is hub A, as `site`.
 * Commands echo `$PPID`, so a result names the process that really ran them.
 *
 * Each client runs with a temporary HOME and a minimal environment (no proxy variables, no
 * real config), so it contacts nothing but loopback and touches nothing of the user's.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeCodeBinary, connectClient, startEdgeProcess, startHubProcess, TEST_CLIENTS_MODULES, type EdgeProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';


/** The parent pid of `pid` (field 4 of /proc/PID/stat, after the parenthesised name). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

const ADMIN_A = 'hub-a-admin-token-0123456789abcdef';
const ADMIN_B = 'hub-b-admin-token-0123456789abcdef';
const WRONG = 'not-a-token-of-this-hub-0123456789';

const modules = TEST_CLIENTS_MODULES;
const node22 = join(modules, 'node22', 'bin', 'node');
// The Inspector declares node >=22.19; it also runs on Node 20, the fallback.
const clientNode = existsSync(node22) ? node22 : process.execPath;
const INSPECTOR = join(modules, '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
const MCP_REMOTE = join(modules, 'mcp-remote', 'dist', 'proxy.js');
const CLAUDE = claudeCodeBinary();


interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client to completion; a non-zero exit is a result, not an error (the tests assert it). */
function run(file: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env, cwd: opts.cwd, timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

let root: string;
const tempDir = (name: string) => realpathSync(mkdtempSync(join(root, `${name}-`)));
/** No proxy variables, no user config: only loopback is reachable and HOME is a scratch dir. */
const clientEnv = (home: string): NodeJS.ProcessEnv => ({ HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin', TERM: 'dumb' });

interface Exchange {
  method: string;
  /** The JSON-RPC method of a POST body, if it had one. */
  rpc?: string;
  headers: IncomingHttpHeaders;
  status: number;
  contentType: string;
  body(): string;
}

/**
 * A transparent forwarder on 127.0.0.1:0 that records each exchange, so a test sees what the
 * hub answered a client on the wire. Host and every header pass through unchanged.
 */
async function startWireTap(target: string) {
  const to = new URL(target);
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let rpc: string | undefined;
      try {
        rpc = (JSON.parse(body.toString()) as { method?: string }).method;
      } catch {
        // not JSON: a GET or DELETE
      }
      const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        const answer: Buffer[] = [];
        exchanges.push({ method: req.method!, rpc, headers: req.headers, status: ur.statusCode!, contentType: String(ur.headers['content-type'] ?? ''), body: () => Buffer.concat(answer).toString() });
        res.writeHead(ur.statusCode!, ur.headers);
        ur.on('data', (c: Buffer) => answer.push(c));
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url: `http://127.0.0.1:${port}/mcp`, exchanges, [Symbol.asyncDispose]: stop };
}

/** The JSON-RPC message in a response body, whether sent as JSON or as one SSE event. */
function rpcMessage(ex: Exchange): any {
  const body = ex.body();
  if (!ex.contentType.includes('text/event-stream')) return JSON.parse(body);
  const data = body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
  return JSON.parse(data.find((d) => d.includes('"result"') || d.includes('"error"')) ?? 'null');
}

let edge: EdgeProcess;
let hubA: HubProcess;
let hubB: HubProcess;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hub-clients-'));
  edge = await startEdgeProcess();
  hubA = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN_A }], rateLimit: { perMinute: 6000, burst: 1000 } },
      // One-shot clients (the Inspector CLI) open a new session per call: each write carries
      // the confirm token its preview returned, the mode that suits them.
      approval: { mode: 'confirm' },
      nodes: [{ name: 'pi', url: edge.url, token: '${PI_TOKEN}', roles: ['speaker'] }],
    },
    env: { PI_TOKEN: edge.token },
  });
  hubB = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'bob', role: 'admin', token: ADMIN_B }], rateLimit: { perMinute: 6000, burst: 1000 } },
      local: { enabled: false },
      // Another hub of ours: its annotations state the classes it enforces itself, so they are
      // trusted (a native upstream's are not, by default).
      upstreams: { site: { url: hubA.url, headers: { Authorization: 'Bearer ${A_TOKEN}' }, trustAnnotations: true } },
    },
    env: { A_TOKEN: ADMIN_A },
  });
  // B listens before its upstream may be up; wait until it says so.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await fetch(`${hubB.base}/readyz`, { headers: { authorization: `Bearer ${ADMIN_B}` } });
    const body = (await r.json()) as { upstreams: Array<{ name: string; status: string }> };
    if (body.upstreams.some((u) => u.name === 'site' && u.status === 'up')) break;
    if (Date.now() > deadline) throw new Error(`hub B never saw hub A up: ${JSON.stringify(body)}\n${hubB.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await hubB?.stop();
  await hubA?.stop();
  await edge?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('Claude Code', () => {
  it('`claude mcp list` shows both hubs connected and a wrong token failed with 401', async () => {
    const home = tempDir('claude-home');
    const project = tempDir('claude-project');
    const env = { ...clientEnv(home), DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
    const claude = (...args: string[]) => run(CLAUDE, args, { env, cwd: project });
    await using tap = await startWireTap(hubA.url);

    const servers: Array<[name: string, url: string, token: string]> = [
      ['homelab', hubA.url, ADMIN_A],
      ['homelab-b', hubB.url, ADMIN_B],
      ['badtok', hubA.url, WRONG],
      ['wiretap', tap.url, ADMIN_A],
    ];
    // One at a time: each add rewrites ~/.claude.json.
    for (const [name, url, token] of servers) {
      const added = await claude('mcp', 'add', '--transport', 'http', name, url, '--header', `Authorization: Bearer ${token}`);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toContain(`Added HTTP MCP server ${name} with URL: ${url} to local config`);
      expect(added.stdout).not.toContain(token); // printed as [REDACTED]
    }
    const config = JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8'));
    expect(config.projects[project].mcpServers.homelab).toEqual({ type: 'http', url: hubA.url, headers: { Authorization: `Bearer ${ADMIN_A}` } });

    const list = await claude('mcp', 'list');
    expect(list.code).toBe(0); // 0 even when a server fails: the lines carry the verdict
    const line = (name: string) => list.stdout.split('\n').find((l) => l.startsWith(`${name}: `)) ?? `(no line for ${name} in)\n${list.stdout}${list.stderr}`;
    expect(line('homelab')).toBe(`homelab: ${hubA.url} (HTTP) - ✔ Connected`);
    expect(line('homelab-b')).toBe(`homelab-b: ${hubB.url} (HTTP) - ✔ Connected`);
    expect(line('wiretap')).toBe(`wiretap: ${tap.url} (HTTP) - ✔ Connected`);
    expect(line('badtok')).toMatch(new RegExp(`^badtok: ${hubA.url} \\(HTTP\\) - ✘ Failed to connect .*\\(HTTP 401\\)`));

    // Claude's own connection log says whom it reached and what it offered.
    const established = (name: string) => {
      const dirs = readdirSync(join(home, '.cache', 'claude-cli-nodejs')).map((d) => join(home, '.cache', 'claude-cli-nodejs', d, `mcp-logs-${name}`));
      const lines = dirs.filter(existsSync).flatMap((d) => readdirSync(d).flatMap((f) => readFileSync(join(d, f), 'utf8').split('\n').filter(Boolean)));
      const debug = lines.map((l) => String((JSON.parse(l) as { debug?: string }).debug ?? ''));
      const m = debug.map((d) => /^Connection established with capabilities: (.*)$/.exec(d)).find(Boolean);
      return m ? JSON.parse(m[1]!) : undefined;
    };
    expect(established('homelab')).toMatchObject({ hasTools: true, serverVersion: { name: 'homelab-hub' } });
    expect(established('homelab-b')).toMatchObject({ hasTools: true, serverVersion: { name: 'homelab-hub' } });
    expect(established('badtok')).toBeUndefined();

    // On the wire: every request carried the token, and the hub answered Claude's tools/list.
    const posts = tap.exchanges.filter((e) => e.method === 'POST');
    expect(posts.length).toBeGreaterThan(0);
    for (const e of posts) {
      expect(e.headers['user-agent']).toMatch(/^claude-code\/2\.1\.330 /);
      expect(e.headers.authorization).toBe(`Bearer ${ADMIN_A}`);
    }
    const toolsList = posts.find((e) => e.rpc === 'tools/list');
    expect(toolsList?.status, posts.map((e) => `${e.rpc} ${e.status}`).join(', ')).toBe(200);
    const names = (rpcMessage(toolsList!).result.tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['run_command', 'list_nodes', 'get_status']));
  });
});

describe('MCP Inspector CLI', () => {
  let home: string;
  beforeAll(() => {
    home = tempDir('inspector-home');
  });
  const inspector = (...args: string[]) => run(clientNode, [INSPECTOR, '--cli', hubA.url, '--header', `Authorization: Bearer ${ADMIN_A}`, ...args], { env: clientEnv(home) });
  /** A write in confirm mode, as a one-shot client does it: the preview, then the call with its token. */
  const confirmed = async (...args: string[]) => {
    const preview = await inspector(...args);
    expect(preview.code, preview.stderr).toBe(0);
    const token = JSON.parse(preview.stdout).structuredContent.confirm as string;
    return inspector(...args, '--tool-arg', `confirm=${token}`);
  };

  it('lists the fleet tools and list_nodes', async () => {
    const r = await inspector('--method', 'tools/list');
    expect(r.code, r.stderr).toBe(0);
    const names = (JSON.parse(r.stdout).tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['run_command', 'list_nodes', 'get_status', 'read_file']));
  });

  it('calls run_command on the local node, and on a list of nodes across hub and edge', async () => {
    const one = await confirmed('--method', 'tools/call', '--tool-name', 'run_command', '--tool-arg', 'node=local', '--tool-arg', 'cmd=echo inspector');
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).structuredContent.stdout).toBe('inspector\n');

    // --tool-arg JSON-parses a value when it can (`node=["local","pi"]` is a list; note that
    // `cmd=true` would send a boolean), and sends the raw text otherwise.
    const both = await confirmed('--method', 'tools/call', '--tool-name', 'run_command', '--tool-arg', 'node=["local","pi"]', '--tool-arg', 'cmd=echo $PPID');
    expect(both.code, both.stderr).toBe(0);
    const r = JSON.parse(both.stdout).structuredContent;
    expect(r.summary).toBe('2 nodes: 2 ok');
    const ppid = Object.fromEntries(r.nodes.map((n: any) => [n.node, n.structuredContent.stdout]));
    // On `local` the command's parent is the hub's local-node process, a child of the hub.
    expect({ ...ppid, local: parentOf(Number(ppid.local)) }).toEqual({ local: hubA.child.pid, pi: `${edge.child.pid}\n` });
  });

  it('exits 5 when the hub answers a tool error (an unknown node)', async () => {
    const r = await confirmed('--method', 'tools/call', '--tool-name', 'run_command', '--tool-arg', 'node=nowhere', '--tool-arg', 'cmd=echo never');
    expect(r.code).toBe(5);
    expect(r.stdout + r.stderr).toContain('tool_is_error');
    expect(r.stdout).toContain('unknown node \\"nowhere\\"');
  });
});

describe('mcp-remote as a stdio bridge', () => {
  it('answers initialize, tools/list and a run_command that crosses hub and edge', async () => {
    const home = tempDir('mcp-remote-home');
    const child = spawn(clientNode, [MCP_REMOTE, hubA.url, '--header', `Authorization: Bearer ${ADMIN_A}`], { env: clientEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await using _bridge = {
      async [Symbol.asyncDispose]() {
        child.stdin.end(); // mcp-remote shuts down when its stdin closes
        const t = setTimeout(() => child.kill('SIGTERM'), 3000);
        await exited;
        clearTimeout(t);
      },
    };
    const waiting = new Map<number, (msg: any) => void>();
    createInterface({ input: child.stdout }).on('line', (l) => {
      const msg = JSON.parse(l);
      waiting.get(msg.id)?.(msg);
    });
    let nextId = 1;
    const call = (method: string, params?: unknown) => {
      const id = nextId++;
      const answered = new Promise<any>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer to ${method} within 15 s; mcp-remote said:\n${stderr}`)), 15_000);
        waiting.set(id, (m) => (clearTimeout(t), resolve(m)));
      });
      child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }) + '\n');
      return answered;
    };

    const init = await call('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'clients-e2e', version: '1.0.0' } });
    expect(init.result.serverInfo.name).toBe('homelab-hub');
    expect(init.result.capabilities.tools).toBeDefined();
    child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');

    const list = await call('tools/list');
    expect(list.result.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['run_command', 'list_nodes']));

    const args = { node: 'pi', cmd: 'echo via mcp-remote from $PPID' };
    const preview = await call('tools/call', { name: 'run_command', arguments: args });
    expect(preview.result.structuredContent.status).toBe('confirmation_required');
    const ran = await call('tools/call', { name: 'run_command', arguments: { ...args, confirm: preview.result.structuredContent.confirm } });
    expect(ran.result.isError).toBeFalsy();
    expect(ran.result.structuredContent.stdout).toBe(`via mcp-remote from ${edge.child.pid}\n`);

    // The static header was enough: the hub offers no OAuth, so no sign-in ran and no token was stored.
    const authDir = join(home, '.mcp-auth');
    const stored = existsSync(authDir) ? readdirSync(authDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
    expect(stored.map((e) => e.name)).toEqual([]);
  });
});

describe.each<Era>(['modern', 'legacy'])('hub B aggregating hub A (SDK v2 client, %s era)', (era) => {
  it("shows A's tools as site__*, and site__run_command runs on A's nodes", async () => {
    await using client = await connectClient(hubB.url, ADMIN_B, era);
    const tools = (await client.listTools()).tools;
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['list_nodes', 'site__run_command', 'site__get_status', 'site__list_nodes']));
    // trustAnnotations: A's classes hold on B.
    expect(tools.find((t) => t.name === 'site__get_status')!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tools.find((t) => t.name === 'site__run_command')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(names).not.toContain('run_command'); // B has no nodes of its own

    // Each hub applies its own gate: B's session is approved on B, and A (confirm mode)
    // answers with its preview and token, and runs when the token comes back through B.
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const confirmed = async (args: Record<string, unknown>) => {
      const preview = (await client.callTool({ name: 'site__run_command', arguments: args })) as any;
      expect(preview.structuredContent.status).toBe('confirmation_required');
      return (await client.callTool({ name: 'site__run_command', arguments: { ...args, confirm: preview.structuredContent.confirm } })) as any;
    };
    const onA = await confirmed({ node: 'local', cmd: 'echo $PPID' });
    expect(onA.isError).toBeFalsy();
    expect(parentOf(Number(onA.structuredContent.stdout))).toBe(hubA.child.pid);
    const onEdge = await confirmed({ node: 'pi', cmd: 'echo $PPID' });
    expect(onEdge.structuredContent.stdout).toBe(`${edge.child.pid}\n`);
  });
});
