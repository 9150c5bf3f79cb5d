#!/usr/bin/env node
// Hub bench: what the hub adds to a call (against calling the edge directly and against
// punkpeye's mcp-proxy in front of the same edge), how a 50-node fan-out compares with one call,
// how fast `tools/list` of 100 upstreams x 20 tools is, and the hub's memory with those
// upstreams, and what the audit journal costs per call (a hub with it against one without);
// all measured in one run on this machine. Plain Node ESM; the only dependency is
// the peer, mcp-proxy, installed into bench/hub/node_modules on first use. The helpers it shares
// with bench/edge/run.mjs are in bench/lib.mjs. See bench/hub/README.md.
//
// Only talks to 127.0.0.1; every server binds port 0 or a free port found at run time. Every
// process it starts is tracked and stopped by its own PID, on success and on failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { alive, createBench, fmtMs, freePort, MB, parseArgs, percentile, readCpuMs, readMem, share, sleep, stats } from '../lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const EDGE_BUNDLE = path.join(ROOT, 'packages/edge/dist/homelab-edge.mjs');
const HUB_BUNDLE = path.join(ROOT, 'packages/hub/dist/homelab-hub.mjs');
const FAKE_UPSTREAMS = path.join(HERE, 'fake-upstreams.mjs');
const PEER = path.join(HERE, 'mcp-proxy-peer.mjs');
const FORWARDER = path.join(HERE, 'bare-forwarder.mjs');
const MCP_PROXY_VERSION = '6.7.19';
const MCP_PROXY_DIR = path.join(HERE, 'node_modules/mcp-proxy');
/**
 * The second peer, 1MCP (github.com/1mcp-app/agent), pinned like mcp-proxy: installed from npm
 * into bench/hub/node_modules if the registry has it, else a build of the same version named by
 * --onemcp or HOMELAB_BENCH_1MCP (its `build/index.js`), else its rows are "not measured".
 */
const ONEMCP_PACKAGE = '@1mcp/agent';
const ONEMCP_VERSION = '0.35.0';
const ONEMCP_DIR = path.join(HERE, 'node_modules/@1mcp/agent');

const HELP = `Usage: node bench/hub/run.mjs [--quick] [--only PHASES] [--json FILE] [--cpu-prof DIR] [--hub-node-flags FLAGS] [--onemcp FILE]

Measures, on 127.0.0.1, in one run:
  1-2  run_command("true") and get_status at concurrency 1, 8 and 32: straight to an edge,
       through the hub (node = that edge), through mcp-proxy ${MCP_PROXY_VERSION} and through
       1MCP ${ONEMCP_VERSION} in front of the same edge; at concurrency 1 also through a bare
       node:http forwarder (the floor of any hop)
  3    run_command to node "all" over 50 edges through the hub, against the same 50 calls made
       by the bench itself in parallel, without the hub (and one node through the hub)
  4    tools/list through the hub with 100 upstreams of 20 tools each (fake-upstreams.mjs)
  5    the hub's RSS with those 100 upstreams
  6    run_command("true") and list_nodes at concurrency 1 and 8 through two hubs in front of
       the same edge, one with the audit journal on and one with HOMELAB_HUB_UNSAFE_NO_AUDIT=1;
       and the journal's sustained events/s during a burst of list_nodes at concurrency 32
and prints one table plus the targets (✔/✘) on stdout; progress goes to stderr. About 4-6 min.

  --quick         smoke run: fewer calls (about 2 min)
  --only PHASES   run only these phases, comma-separated: latency, fanout, list, audit
                  (for iterating on one of them; the other rows and targets are left out)
  --json FILE     also write every number to FILE
  --cpu-prof DIR  run the hubs under --cpu-prof, write the profiles to DIR and print where
                  the hub's CPU time goes (self time by package and the top functions);
                  profiling slows the hub, so its latency numbers are not comparable then
  --hub-node-flags FLAGS
                  the Node flags every hub runs with (default: those of
                  deploy/systemd/homelab-hub.service, as deployed; --hub-node-flags= for none,
                  --hub-node-flags="--max-semi-space-size=8" for others). Row 5 also
                  shows the RSS of a hub without them
  --onemcp FILE   the 1MCP ${ONEMCP_VERSION} to run if npm cannot install ${ONEMCP_PACKAGE}@${ONEMCP_VERSION}: its
                  build/index.js, built outside this repo (default: $HOMELAB_BENCH_1MCP)
  --help          show this help

Needs the built bundles (pnpm bench:hub builds them first) and, for the peers, mcp-proxy and
1MCP in bench/hub/node_modules: installed on first use with
  npm install --prefix bench/hub --no-save --no-package-lock mcp-proxy@${MCP_PROXY_VERSION}
  npm install --prefix bench/hub --no-save --no-package-lock ${ONEMCP_PACKAGE}@${ONEMCP_VERSION}
If 1MCP can be neither installed nor found (--onemcp), its rows and targets say "not measured"
and why. Exits non-zero if any other row could not be measured (the targets do not affect it).`;

// ---------------------------------------------------------------- options

const PHASES = ['latency', 'fanout', 'list', 'audit'];
const opts = parseArgs(process.argv.slice(2), HELP, {
  json: {},
  'cpu-prof': { key: 'cpuProf', map: (v) => path.resolve(v) },
  only: { needs: `a comma-separated list of ${PHASES.join(', ')}`, map: (v) => v.split(',').map((x) => x.trim()) },
  'hub-node-flags': { key: 'hubNodeFlags', needs: 'Node flags in one argument (--hub-node-flags= for none)', map: (v) => v.split(/\s+/).filter(Boolean) },
  onemcp: { key: 'onemcp', needs: "the path of 1MCP's build/index.js", map: (v) => path.resolve(v) },
});

/**
 * The Node flags of the hub as deployed: HOMELAB_HUB_NODE_FLAGS of the systemd unit (Dockerfile.hub
 * and `pnpm start` pass the same; deploy/hub-unit.test.ts holds them together).
 */
function deployedHubNodeFlags() {
  const unit = readFileSync(path.join(ROOT, 'deploy/systemd/homelab-hub.service'), 'utf8');
  const m = /^Environment="HOMELAB_HUB_NODE_FLAGS=([^"]*)"$/m.exec(unit);
  if (!m) throw new Error('deploy/systemd/homelab-hub.service: no Environment="HOMELAB_HUB_NODE_FLAGS=..." line');
  return m[1].split(/\s+/).filter(Boolean);
}
const HUB_NODE_FLAGS = opts.hubNodeFlags ?? deployedHubNodeFlags();
for (const p of opts.only ?? []) {
  if (!PHASES.includes(p)) {
    process.stderr.write(`run.mjs: --only: unknown phase "${p}" (expected ${PHASES.join(', ')})\n`);
    process.exit(2);
  }
}
const CONCURRENCY = [1, 8, 32];
const AUDIT_CONCURRENCY = [1, 8];
const AUDIT_BURST_CONCURRENCY = 32;
const CFG = opts.quick
  ? { calls: { 1: 100, 8: 200, 32: 320 }, rounds: 2, fanoutCalls: 10, fanoutWarmup: 3, listCalls: 40, listRounds: 2, edges: 50, upstreams: 100, toolsPerUpstream: 20, settleS: 2, auditCalls: { 1: 100, 8: 200 }, auditRounds: 2, burstS: 2 }
  : { calls: { 1: 500, 8: 800, 32: 1280 }, rounds: 4, fanoutCalls: 80, fanoutWarmup: 5, listCalls: 200, listRounds: 4, edges: 50, upstreams: 100, toolsPerUpstream: 20, settleS: 3, auditCalls: { 1: 400, 8: 1200 }, auditRounds: 6, burstS: 10 };

/**
 * The targets (issue #19): the hub's added p50 at concurrency 1 at most 1.5x the bare
 * forwarder's; the 50-edge fan-out at most 1.1x the bench's own 50 parallel calls; the rest
 * kept from issue #3.
 */
const TARGET = { addedVsForwarder: 1.5, fanoutVsDirect: 1.1, listP50Ms: 20, hubRssMB: 150, auditCallsPerSRatio: 0.9 };

// ---------------------------------------------------------------- small helpers

const loadAvg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function memAvailableMB() {
  const m = /^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : Infinity;
}

const randomToken = () => `bench-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

// ---------------------------------------------------------------- process bookkeeping

let tmpRoot;
/** When the run started: every progress line says how many seconds since. */
const T0 = performance.now();

const { progress, track, stopProcess, startServer, newAgent, dropAgent, makeTmpRoot, ensureBuilt, finish, run } = createBench({
  tag: () => `bench ${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s`,
  graceMs: 5000,
  listenTimeoutMs: 30_000,
});

// ---------------------------------------------------------------- MCP over plain HTTP

const MODERN = '2026-07-28';
/** What the bench asks a 2025-era server (1MCP) for in `initialize`. */
const LEGACY = '2025-11-25';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} };
let rpcId = 0;

/**
 * One 2026-07-28 request (stateless: the `_meta` envelope and the `Mcp-*` headers, no session)
 * to `target` = { port, headers }. Resolves the JSON-RPC result and `ms`, the time from sending
 * to the last byte of the answer (which came at `end`, a performance.now() time): parsing it is the bench's cost, not the server's (it is
 * 1.3 MB for the big tools/list). Rejects on an HTTP error, a JSON-RPC error or a tool error
 * (`isError`). The answer may be JSON or an SSE stream.
 */
/**
 * Writes through the hub go through its gate in `session` mode: the bench approves writes once
 * per hub (`approve_writes`, untimed; a 2026-07-28 client's approval is keyed by its user and
 * client name) before the first write, and again after 10 minutes, well inside the approval's
 * idle expiry. (`confirm` tokens are single-use: each write would pay a preview round trip.)
 * A call whose arguments carry {@link APPROVE_FIRST} gets this; the marker never goes out.
 */
const APPROVE_FIRST = Symbol('approve writes first');
const approvals = new Map();

async function mcp(target, agent, method, params = {}) {
  if (params.arguments?.approve !== APPROVE_FIRST) return mcpOnce(target, agent, method, params);
  const { approve: _a, ...args } = params.arguments;
  let entry = approvals.get(target.port);
  if (!entry || performance.now() - entry.at > 10 * 60_000) {
    entry = { at: performance.now(), done: mcpOnce(target, agent, 'tools/call', { name: 'approve_writes', arguments: {} }) };
    approvals.set(target.port, entry);
  }
  await entry.done;
  return mcpOnce(target, agent, method, { ...params, arguments: args });
}

/**
 * The request line of one call. A 2026-07-28 target gets the stateless request; a target with
 * `sessions` (a 2025-era server, see {@link openSessions}) gets the 2025 request on one of its
 * sessions, taken in turn: no `_meta`, `Mcp-Session-Id` and the negotiated protocol version
 * (`initialize` itself goes without either).
 */
function requestOf(target, id, method, params) {
  if (target.legacy) {
    const body = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    if (method === 'initialize') return { body, headers: {} };
    const session = target.sessions[target.nextSession++ % target.sessions.length];
    return { body, headers: { 'mcp-protocol-version': target.protocolVersion, 'mcp-session-id': session } };
  }
  return {
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } }),
    headers: { 'mcp-protocol-version': MODERN, 'mcp-method': method, ...(method === 'tools/call' ? { 'mcp-name': params.name } : {}) },
  };
}

function mcpOnce(target, agent, method, params = {}, retried = false) {
  const id = ++rpcId;
  const { body, headers: protocolHeaders } = requestOf(target, id, method, params);
  const headers = {
    ...target.headers,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...protocolHeaders,
    'content-length': Buffer.byteLength(body),
  };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port: target.port, method: 'POST', path: target.path ?? '/mcp', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const end = performance.now();
        const ms = end - t0;
        const text = Buffer.concat(chunks).toString();
        try {
          if (res.statusCode !== 200) throw new Error(`${method}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
          let msg;
          if (/^text\/event-stream/.test(res.headers['content-type'] ?? '')) {
            for (const line of text.split('\n')) {
              if (!line.startsWith('data:')) continue;
              const m = JSON.parse(line.slice(5));
              if (m.id === id) msg = m;
            }
            if (!msg) throw new Error(`${method}: the SSE stream ended without an answer: ${text.slice(0, 300)}`);
          } else msg = JSON.parse(text);
          if (msg.error) throw new Error(`${method}: JSON-RPC error ${JSON.stringify(msg.error).slice(0, 300)}`);
          if (msg.result?.isError) throw new Error(`${method} ${params.name ?? ''}: tool error ${JSON.stringify(msg.result.content ?? msg.result).slice(0, 300)}`);
          resolve({ result: msg.result, bytes: chunks.reduce((n, c) => n + c.length, 0), ms, end, headers: res.headers });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`${method}: no answer within 60 s`)));
    req.on('error', (err) => {
      // A kept-alive socket the server closed as idle just as this request went out (seen once
      // on a loaded machine between fan-out rounds): Node's documented case for one retry, as
      // the request never reached the server.
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') resolve(mcpOnce(target, agent, method, params, true));
      else reject(err);
    });
    req.end(body);
  });
}

/**
 * Opens `n` 2025-era sessions on `target` (1MCP speaks only that era: it is built on the v1
 * SDK): `initialize`, then `notifications/initialized`, as a 2025-11-25 client does; untimed.
 * Sets `target.sessions` and the negotiated `target.protocolVersion`; later calls to `target`
 * take the sessions in turn.
 */
async function openSessions(target, agent, n) {
  const sessions = [];
  for (let i = 0; i < n; i++) {
    const init = await mcpOnce({ ...target, legacy: true }, agent, 'initialize', { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'hub-bench', version: '1.0.0' } });
    const session = init.headers['mcp-session-id'];
    if (!session) throw new Error(`initialize: no Mcp-Session-Id in the answer (${JSON.stringify(init.result).slice(0, 200)})`);
    const protocolVersion = init.result?.protocolVersion ?? LEGACY;
    await notify(target, agent, session, protocolVersion, 'notifications/initialized');
    sessions.push(session);
    target.protocolVersion = protocolVersion;
  }
  target.legacy = true;
  target.sessions = sessions;
  target.nextSession = 0;
}

/** A JSON-RPC notification on a 2025 session: expects 202 (or 200) and no answer. */
function notify(target, agent, session, protocolVersion, method) {
  const body = JSON.stringify({ jsonrpc: '2.0', method });
  const headers = {
    ...target.headers,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': protocolVersion,
    'mcp-session-id': session,
    'content-length': Buffer.byteLength(body),
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: target.port, method: 'POST', path: target.path ?? '/mcp', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 || res.statusCode === 200 ? resolve() : reject(new Error(`${method}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The hub's write gate, when it has one (probed at start): `session` mode, approved once per hub
 * (see {@link mcp}). Calls through the hub are marked for it; calls to the edge or the peer are not.
 */
let hubWriteGate = 'none';

/** The calls the bench makes (`node` only through the hub), each with the check of its answer. */
const CALLS = {
  run_command: {
    method: 'tools/call',
    params: (node) => ({ name: 'run_command', arguments: { ...(node ? { node } : {}), cmd: 'true', ...(node && hubWriteGate === 'session' ? { approve: APPROVE_FIRST } : {}) } }),
    check(r) {
      const code = r.result?.structuredContent?.exitCode;
      if (code !== 0) throw new Error(`run_command: exit code ${code} (${JSON.stringify(r.result).slice(0, 200)})`);
    },
  },
  get_status: {
    method: 'tools/call',
    params: (node) => ({ name: 'get_status', arguments: node ? { node } : {} }),
    check(r) {
      if (!r.result?.structuredContent?.hostname) throw new Error(`get_status: no hostname in structuredContent (${JSON.stringify(r.result).slice(0, 200)})`);
    },
  },
  // The hub's own read tool: answered from the hub's memory, no edge involved (hub only).
  list_nodes: {
    method: 'tools/call',
    params: () => ({ name: 'list_nodes', arguments: {} }),
    check(r) {
      if (!Array.isArray(r.result?.structuredContent?.nodes) || r.result.structuredContent.nodes.length === 0) throw new Error(`list_nodes: no nodes in structuredContent (${JSON.stringify(r.result).slice(0, 200)})`);
    },
  },
};

/**
 * Runs `n` calls of `fn` with `c` in flight at a time (c workers, each waiting for its answer
 * before the next call). Returns the latency of each call (what `fn` resolves, if a number:
 * the time to the last byte; else the time `fn` took) and the wall time of the block.
 */
async function runConcurrent(fn, n, c) {
  const samples = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(c, n) }, async () => {
      while (next < n) {
        next++;
        const t = performance.now();
        const ms = await fn();
        samples.push(typeof ms === 'number' ? ms : performance.now() - t);
      }
    }),
  );
  return { samples, wallMs: performance.now() - t0 };
}

/**
 * Like runConcurrent, but for a fixed time: `c` workers call `fn` (which resolves a latency)
 * until `ms` have passed; the calls in flight then are waited for and counted.
 */
async function runFor(fn, ms, c) {
  const samples = [];
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < deadline) samples.push(await fn());
    }),
  );
  return { samples, wallMs: performance.now() - t0 };
}

// ---------------------------------------------------------------- starting things

function mcpProxyVersion() {
  try {
    return JSON.parse(readFileSync(path.join(MCP_PROXY_DIR, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** `npm install` of `specs` into bench/hub/node_modules (not into the workspace), nothing saved. */
function npmInstall(specs) {
  return spawnSync('npm', ['install', '--prefix', HERE, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { encoding: 'utf8', timeout: 180_000 });
}

/** Installs the pinned mcp-proxy into bench/hub/node_modules (not into the workspace) if absent. */
function ensureMcpProxy() {
  if (mcpProxyVersion() === MCP_PROXY_VERSION) return;
  progress(`installing mcp-proxy@${MCP_PROXY_VERSION} into ${path.relative(ROOT, path.join(HERE, 'node_modules'))}`);
  // Keeping an installed 1MCP: `npm install --no-save` prunes what it was not asked for.
  const r = npmInstall([`mcp-proxy@${MCP_PROXY_VERSION}`, ...(oneMcpInstalledVersion() === ONEMCP_VERSION ? [`${ONEMCP_PACKAGE}@${ONEMCP_VERSION}`] : [])]);
  if (r.status !== 0 || mcpProxyVersion() !== MCP_PROXY_VERSION) {
    throw new Error(`npm install mcp-proxy@${MCP_PROXY_VERSION} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().slice(-800)}`);
  }
}

function oneMcpInstalledVersion() {
  try {
    return JSON.parse(readFileSync(path.join(ONEMCP_DIR, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/**
 * Which 1MCP the bench runs: `{ main, source }` (its `build/index.js` and where it came from), or
 * `{ reason }` why it has none. First the pinned npm package in bench/hub/node_modules (installed
 * here if absent, as mcp-proxy is), then --onemcp / HOMELAB_BENCH_1MCP. Never throws: without
 * 1MCP its rows and targets are "not measured", and the rest of the run goes on.
 */
function resolveOneMcp() {
  const spec = `${ONEMCP_PACKAGE}@${ONEMCP_VERSION}`;
  let npmFailure;
  if (oneMcpInstalledVersion() !== ONEMCP_VERSION) {
    progress(`installing ${spec} into ${path.relative(ROOT, path.join(HERE, 'node_modules'))}`);
    // With mcp-proxy in the same command: an `npm install --no-save` of one package alone
    // would prune the other as extraneous.
    const r = npmInstall([`mcp-proxy@${MCP_PROXY_VERSION}`, spec]);
    if (r.status !== 0 || oneMcpInstalledVersion() !== ONEMCP_VERSION) {
      // npm's own words: "404 Not Found - GET https://registry.npmjs.org/@1mcp%2fagent", or the last line.
      const lines = (r.stderr ?? '').split('\n').map((l) => l.replace(/^npm (error|ERR!) /, '').trim());
      const why = lines.find((l) => /^\d{3} \S.* - (GET|PUT) /.test(l)) ?? lines.find((l) => /\b(ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET)\b/.test(l)) ?? lines.filter(Boolean).at(-1) ?? '';
      npmFailure = `npm install ${spec} failed (${r.error?.message ?? `exit ${r.status}`}${why ? `: ${why}` : ''})`;
    }
  }
  if (!npmFailure) return { main: path.join(ONEMCP_DIR, 'build/index.js'), source: `npm ${spec}` };
  const given = opts.onemcp ?? (process.env.HOMELAB_BENCH_1MCP ? path.resolve(process.env.HOMELAB_BENCH_1MCP) : undefined);
  if (!given) return { reason: `${npmFailure}, and no build given (--onemcp FILE or HOMELAB_BENCH_1MCP)` };
  if (!existsSync(given)) return { reason: `${npmFailure}, and ${given} (${opts.onemcp ? '--onemcp' : 'HOMELAB_BENCH_1MCP'}) does not exist` };
  let version;
  try {
    version = JSON.parse(readFileSync(path.join(path.dirname(given), '..', 'package.json'), 'utf8')).version;
  } catch {}
  return { main: given, source: `a local build of ${ONEMCP_PACKAGE}${version ? ` ${version}` : ''} (${given}; ${npmFailure})`, version };
}

/**
 * 1MCP in front of `edgeUrl` as its docs configure a Streamable HTTP upstream with a bearer
 * header (`mcpServers.e1: { type: "http", url, headers: { Authorization } }`), serving HTTP on
 * a free port with its own auth on (`--enable-auth`: OAuth 2.1, every /mcp request needs a
 * bearer token), and otherwise its defaults. Its config dir (`--config-dir`, where it keeps its
 * sessions, locks and OAuth state) is under the run's temp dir. The bearer token comes from its
 * localhost-only CLI token endpoint (`POST /api/auth/cli-token`, what its own CLI uses): a full
 * scope OAuth access token, checked on every request like any other. Resolves what
 * startServer does, plus `token`.
 */
async function startOneMcp(main, edgeUrl, edgeToken) {
  const dir = path.join(tmpRoot, '1mcp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = path.join(dir, 'mcp.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { e1: { type: 'http', url: edgeUrl, headers: { Authorization: `Bearer ${edgeToken}` } } } }, null, 2), { mode: 0o600 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const cp = track(spawn(process.execPath, [main, 'serve', '--transport', 'http', '--host', '127.0.0.1', '--port', String(port), '--config', config, '--config-dir', dir, '--enable-auth'], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env }));
    let tail = '';
    const keep = (c) => (tail = (tail + c.toString()).slice(-4000));
    cp.stdout.on('data', keep);
    cp.stderr.on('data', keep);
    const srv = { cp, pid: cp.pid, port, label: `1MCP`, tail: () => tail };
    try {
      // Its log says when the HTTP server runs; the token endpoint answering says it serves.
      let token;
      await waitFor('1MCP serves its CLI token', async () => {
        if (!alive(cp)) throw Object.assign(new Error(`1MCP exited (${cp.signalCode ?? `code ${cp.exitCode}`}):\n${tail.trim().slice(-1500)}`), { fatal: true });
        const r = await fetch(`http://127.0.0.1:${port}/api/auth/cli-token`, { method: 'POST' });
        const j = await r.json();
        if (!r.ok || typeof j.token !== 'string' || j.authRequired !== true) throw new Error(`POST /api/auth/cli-token: HTTP ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
        token = j.token;
        return true;
      });
      return { ...srv, token };
    } catch (err) {
      await stopProcess(cp);
      if (attempt >= 3 || !/EADDRINUSE/.test(tail)) throw err;
    }
  }
}

function startEdge(tokenFile, label = 'edge') {
  return startServer(process.execPath, [EDGE_BUNDLE, '--listen', '127.0.0.1:0', '--token-file', tokenFile], label);
}

let hubCount = 0;
/**
 * A hub with `config` (a hub.yaml object, written as JSON) on 127.0.0.1:0; `name` labels its
 * profile, `env` is its environment. The result carries `dir`, where its hub.yaml is and its
 * data (`dir/data`, the journal in `dir/data/audit`).
 */
async function startHub(config, name, { env = process.env, nodeFlags = HUB_NODE_FLAGS } = {}) {
  const dir = path.join(tmpRoot, `hub-${++hubCount}`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'hub.yaml');
  const gate = hubWriteGate === 'session' ? { approval: { mode: 'session' } } : {};
  writeFileSync(file, JSON.stringify({ dataDir: './data', local: { enabled: false }, ...gate, ...config }, null, 2));
  const flags = [...nodeFlags];
  if (opts.cpuProf) {
    mkdirSync(path.join(opts.cpuProf, name), { recursive: true });
    flags.push('--cpu-prof', `--cpu-prof-dir=${path.join(opts.cpuProf, name)}`);
  }
  const srv = await startServer(process.execPath, [...flags, HUB_BUNDLE, 'serve', '--config', file, '--listen', '127.0.0.1:0'], `hub (${name})`, { env });
  return { ...srv, dir };
}

/**
 * Whether this hub has the write-approval gate (`approval` in its config, which is strict about
 * unknown keys): asks `homelab-hub check-config` about a config that sets it.
 */
function probeHubWriteGate() {
  const file = path.join(tmpRoot, 'probe.yaml');
  writeFileSync(file, JSON.stringify({ approval: { mode: 'session' } }));
  const r = spawnSync(process.execPath, [HUB_BUNDLE, 'check-config', file], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? 'session' : 'none';
}

/** Auth block for a bench hub: one admin token, no effective rate limit (the bench is the only client). */
const hubAuth = (token) => ({ tokens: [{ user: 'bench', role: 'admin', token }], rateLimit: { perMinute: 1e9, burst: 1e9 } });

/** mcp-proxy in front of `edgeUrl`, on a free port (retried if another program takes it first). */
async function startPeer(edgeUrl, tokenFile, apiKey) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startServer(process.execPath, [PEER, '--port', String(port), '--upstream', edgeUrl, '--token-file', tokenFile, '--api-key', apiKey], 'mcp-proxy');
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test(err.message)) throw err;
    }
  }
}

function startForwarder(edgeUrl, tokenFile, authToken) {
  return startServer(process.execPath, [FORWARDER, '--upstream', edgeUrl, '--token-file', tokenFile, '--auth-token', authToken], 'bare forwarder');
}

/**
 * Polls `probe` (an async predicate) every 250 ms until it holds; throws after `timeoutMs`, or
 * at once if `probe` throws an error marked `fatal`.
 */
async function waitFor(what, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${last.message})` : ''}`);
}

// ---------------------------------------------------------------- rows and phases

/** One table row: an id for the JSON, a key and a label for the table. */
function row(key, id, label, extra = {}) {
  return { key, id, label, ok: true, samples: [], wallMs: 0, cpu: {}, ...extra };
}

function failRow(r, err) {
  if (!r.ok) return;
  r.ok = false;
  r.error = err.message;
  progress(`${r.key} ${r.id} FAILED: ${err.message}`);
}

/** Adds the CPU each process in `pids` ({ name: pid | pid[] }) used while `fn` ran to `r.cpu`. */
async function withCpu(r, pids, fn) {
  const read = () => Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, [p].flat().reduce((s, pid) => s + readCpuMs(pid), 0)]));
  const before = read();
  const out = await fn();
  const after = read();
  for (const k of Object.keys(pids)) r.cpu[k] = (r.cpu[k] ?? 0) + after[k] - before[k];
  return out;
}

/**
 * Runs one phase of the bench. Whatever it starts through `scope.start` and every pool from
 * `scope.agent` is stopped when the phase ends, however it ends: the next phase must not share
 * the CPUs with them. If the phase throws, its rows fail with the error; the others still run.
 */
async function phase(rows, fn) {
  const procs = [];
  const pools = [];
  const scope = {
    async start(pending) {
      const srv = await pending;
      procs.push(srv);
      return srv;
    },
    agent(maxSockets) {
      const a = newAgent(maxSockets);
      pools.push(a);
      return a;
    },
  };
  try {
    await fn(scope);
  } catch (err) {
    for (const r of rows) failRow(r, err);
  } finally {
    for (const a of pools) dropAgent(a);
    await Promise.all(procs.map((p) => stopProcess(p.cp)));
  }
}

/** Times `n` calls of `fn`, `c` at a time, into row `r`: latencies, wall time and the CPU of `pids`. */
async function timedBlock(r, pids, fn, n, c) {
  const { samples, wallMs } = await withCpu(r, pids, () => runConcurrent(fn, n, c));
  r.samples.push(...samples);
  r.wallMs += wallMs;
}

function writeToken(name) {
  const token = randomToken();
  const file = path.join(tmpRoot, name);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

// ---------------------------------------------------------------- 1-2: latency through each path

const TOOLS = ['run_command', 'get_status'];

async function measureLatency(rows, oneMcp) {
  const paths = [
    { id: 'direct', label: 'direct to the edge', node: undefined },
    { id: 'hub', label: 'through the hub (node: "e1")', node: 'e1' },
    { id: 'mcp-proxy', label: `through mcp-proxy ${MCP_PROXY_VERSION}`, node: undefined },
    // 1MCP names the edge's tools `e1_1mcp_<tool>` and speaks only the 2025 era (sessions).
    { id: '1mcp', label: `through 1MCP ${oneMcp.version ?? ONEMCP_VERSION} (2025-11-25 sessions)`, node: undefined, toolPrefix: 'e1_1mcp_', notMeasured: oneMcp.reason },
    { id: 'forwarder', label: 'through a bare node:http forwarder (reference: no MCP parsing)', node: undefined, only: [1] },
  ];
  const cells = [];
  TOOLS.forEach((tool, t) => {
    let letter = 0;
    for (const c of CONCURRENCY) {
      for (const p of paths) {
        if (p.only && !p.only.includes(c)) continue;
        const label = `${tool === 'run_command' ? 'run_command("true")' : 'get_status'}, ${p.label}`;
        const r = row(`${t + 1}${String.fromCharCode(97 + letter++)}`, `${tool}-${p.id}-c${c}`, label, { group: tool, path: p.id, tool, concurrency: c });
        if (p.notMeasured) Object.assign(r, { ok: false, notMeasured: true, error: p.notMeasured });
        cells.push({ r, tool, c, p });
      }
    }
  });
  const phaseRows = cells.map((x) => x.r);
  rows.push(...phaseRows);

  await phase(phaseRows, async (scope) => {
    const edgeTok = writeToken('edge-token');
    const hubToken = randomToken();
    const apiKey = randomToken();
    const fwdToken = randomToken();
    const edge = await scope.start(startEdge(edgeTok.file));
    const edgeUrl = `http://127.0.0.1:${edge.port}/mcp`;
    const [hub, peer, fwd, one] = await Promise.all([
      scope.start(startHub({ auth: hubAuth(hubToken), nodes: [{ name: 'e1', url: edgeUrl, token: edgeTok.token }] }, 'latency')),
      scope.start(startPeer(edgeUrl, edgeTok.file, apiKey)),
      scope.start(startForwarder(edgeUrl, edgeTok.file, fwdToken)),
      // 1MCP failing to start fails its rows only.
      oneMcp.main
        ? scope.start(startOneMcp(oneMcp.main, edgeUrl, edgeTok.token)).catch((err) => {
            for (const cell of cells) if (cell.p.id === '1mcp') failRow(cell.r, err);
          })
        : undefined,
    ]);
    progress(`edge pid ${edge.pid} :${edge.port}, hub pid ${hub.pid} :${hub.port}, mcp-proxy pid ${peer.pid} :${peer.port}, ${one ? `1MCP pid ${one.pid} :${one.port}, ` : ''}forwarder pid ${fwd.pid} :${fwd.port}`);
    const setup = {
      direct: { target: { port: edge.port, headers: { authorization: `Bearer ${edgeTok.token}` } } },
      hub: { target: { port: hub.port, headers: { authorization: `Bearer ${hubToken}` } }, proc: hub },
      'mcp-proxy': { target: { port: peer.port, headers: { 'x-api-key': apiKey } }, proc: peer },
      '1mcp': one ? { target: { port: one.port, headers: { authorization: `Bearer ${one.token}` } }, proc: one } : {},
      forwarder: { target: { port: fwd.port, headers: { authorization: `Bearer ${fwdToken}` } }, proc: fwd },
    };
    for (const p of paths) Object.assign(p, setup[p.id]);
    const live = (p) => cells.some((cell) => cell.p === p && cell.r.ok);
    const callOf = (p, tool, agent) => {
      const call = CALLS[tool];
      return async () => {
        const params = call.params(p.node);
        const r = await mcp(p.target, agent, call.method, p.toolPrefix ? { ...params, name: `${p.toolPrefix}${params.name}` } : params);
        call.check(r);
        return r.ms;
      };
    };

    // Warm up every path (JIT, the hub's and the proxies' upstream sockets) before anything counts.
    for (const p of paths) {
      if (!live(p)) continue;
      const agent = scope.agent(8);
      try {
        // A 2025-era peer: one session per client, as many as the highest concurrency, taken in turn.
        if (p.toolPrefix) await openSessions(p.target, agent, Math.max(...CONCURRENCY));
        for (const tool of TOOLS) await runConcurrent(callOf(p, tool, agent), 100, 8);
      } catch (err) {
        for (const cell of cells) if (cell.p === p) failRow(cell.r, err);
      }
    }

    // Interleaved rounds: each round runs a block of every cell, the three paths of a cell back
    // to back in a rotating order, so background load on a shared machine hits every path alike.
    for (let round = 0; round < CFG.rounds; round++) {
      progress(`latency round ${round + 1}/${CFG.rounds}`);
      for (const tool of TOOLS) {
        for (const c of CONCURRENCY) {
          const group = cells.filter((x) => x.tool === tool && x.c === c && x.r.ok);
          for (const { r, p } of group.map((_, i) => group[(i + round) % group.length])) {
            // A fresh pool per block: its sockets are opened by unmeasured warm-up calls, and
            // none can have been closed by the server's keep-alive timeout between blocks.
            const agent = newAgent(c);
            try {
              const once = callOf(p, tool, agent);
              await runConcurrent(once, 2 * c, c);
              await timedBlock(r, { edge: edge.pid, ...(p.proc ? { proxy: p.proc.pid } : {}) }, once, share(CFG.calls[c], round, CFG.rounds), c);
            } catch (err) {
              failRow(r, err);
            } finally {
              dropAgent(agent);
            }
          }
        }
      }
    }

    for (const p of paths) {
      if (!p.proc || !live(p)) continue;
      if (!alive(p.proc.cp)) {
        for (const cell of cells) if (cell.p === p) failRow(cell.r, new Error(`${p.proc.label} exited during the run:\n${p.proc.tail()}`));
        continue;
      }
      const mem = readMem(p.proc.pid);
      for (const cell of cells) if (cell.p === p) cell.r.mem = mem;
    }
  });
}

// ---------------------------------------------------------------- 3: fan-out over 50 edges

async function measureFanout(rows) {
  const N = CFG.edges;
  const all = row('3a', 'fanout-hub-all', `run_command("true") to node "all" (${N} edges), through the hub`, { group: 'fanout', path: 'hub', concurrency: 1 });
  const one = row('3b', 'fanout-hub-one', 'run_command("true") to one of those edges (node: "e01"), through the same hub', { group: 'fanout', path: 'hub', concurrency: 1 });
  const direct = row('3c', 'fanout-direct', `the same ${N} run_command("true") sent by the bench straight to the ${N} edges at once (no hub)`, {
    group: 'fanout',
    path: 'direct',
    concurrency: N,
  });
  const fanRows = [all, one, direct];
  rows.push(...fanRows);

  await phase(fanRows, async (scope) => {
    const needMB = N * 100 + 1024;
    if (memAvailableMB() < needMB) throw new Error(`needs about ${needMB} MB of available memory for ${N} edges, only ${memAvailableMB().toFixed(0)} MB available`);
    const edgeTok = writeToken('fleet-token');
    const hubToken = randomToken();
    const name = (i) => `e${String(i + 1).padStart(2, '0')}`;
    const edges = [];
    const t0 = performance.now();
    // Ten at a time: fifty Node processes starting at once on a small machine would time out.
    for (let i = 0; i < N; i += 10) {
      edges.push(...(await Promise.all(Array.from({ length: Math.min(10, N - i) }, (_, j) => scope.start(startEdge(edgeTok.file, `edge ${name(i + j)}`))))));
    }
    progress(`${N} edges started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const nodes = edges.map((e, i) => ({ name: name(i), url: `http://127.0.0.1:${e.port}/mcp`, token: edgeTok.token, roles: ['bench'] }));
    const hub = await scope.start(startHub({ auth: hubAuth(hubToken), nodes }, 'fanout'));
    const target = { port: hub.port, headers: { authorization: `Bearer ${hubToken}` } };
    const agent = scope.agent(1);
    const call = CALLS.run_command;
    const fanCall = async () => {
      const r = await mcp(target, agent, call.method, call.params('all'));
      const summary = r.result?.structuredContent?.summary;
      if (summary !== `${N} nodes: ${N} ok`) throw new Error(`node "all": summary "${summary}"`);
      return r.ms;
    };
    const oneCall = async () => {
      const r = await mcp(target, agent, call.method, call.params(name(0)));
      call.check(r);
      return r.ms;
    };
    const edgeAgents = edges.map(() => scope.agent(1));
    const edgeTargets = edges.map((e) => ({ port: e.port, headers: { authorization: `Bearer ${edgeTok.token}` } }));
    // Timed to the last of the fifty answers, as the hub's fan-out waits for the last one.
    const directCall = async () => {
      const t = performance.now();
      const ends = await Promise.all(
        edgeTargets.map(async (target, i) => {
          const r = await mcp(target, edgeAgents[i], call.method, call.params());
          call.check(r);
          return r.end;
        }),
      );
      return Math.max(...ends) - t;
    };

    await waitFor(`hub sees all ${N} edges up`, async () => {
      await fanCall();
      return true;
    });
    // Fair and steady: both sides keep their sockets to the 50 edges between calls (the hub its
    // keep-alive pool, the bench one keep-alive socket per edge), both are warmed up alike
    // (JIT, sockets open), and the rows take turns call by call, in a rotating order, so that
    // a burst of load from the rest of the machine hits each of them alike.
    const subjects = [
      [all, fanCall, { proxy: hub.pid, edge: edges.map((e) => e.pid) }],
      [direct, directCall, { edge: edges.map((e) => e.pid) }],
      [one, oneCall, { proxy: hub.pid, edge: edges[0].pid }],
    ];
    for (let i = 0; i < CFG.fanoutWarmup; i++) for (const [, fn] of subjects) await fn();
    progress(`fan-out: ${CFG.fanoutCalls} calls per row, taking turns`);
    const turns = [];
    for (let i = 0; i < CFG.fanoutCalls; i++) {
      const turn = {};
      for (const [r, fn, pids] of subjects.map((_, k) => subjects[(k + i) % subjects.length])) {
        if (!r.ok) continue;
        try {
          await timedBlock(r, pids, fn, 1, 1);
          turn[r.id] = r.samples.at(-1);
        } catch (err) {
          failRow(r, err);
        }
      }
      turns.push(turn);
    }
    // A second view, for the record: 3a over 3c within each turn (the two calls a moment
    // apart), whose median cancels load that drifts over the phase.
    const paired = turns.filter((t) => t[all.id] !== undefined && t[direct.id] !== undefined).map((t) => t[all.id] / t[direct.id]);
    if (paired.length) all.pairedRatio = percentile(paired, 50);
    all.mem = one.mem = readMem(hub.pid);
  });
}

// ---------------------------------------------------------------- 4-5: tools/list of 2,000 tools

async function measureToolsList(rows) {
  const U = CFG.upstreams;
  const T = CFG.toolsPerUpstream;
  const viaHub = row('4a', 'tools-list-hub', `tools/list through the hub: ${U} upstreams x ${T} tools (+ the hub's own)`, { group: 'tools/list', path: 'hub', concurrency: 1 });
  const upstream = row('4b', 'tools-list-upstream', `tools/list straight from one of those upstreams (${T} tools)`, { group: 'tools/list', path: 'direct', concurrency: 1 });
  const flagged = HUB_NODE_FLAGS.length > 0;
  const memRow = row('5', 'hub-memory', `hub RSS with ${U} upstreams of ${T} tools: ${CFG.settleS} s after start / after the tools/list calls [a hub with no upstreams, ${CFG.settleS} s after start]${flagged ? ` {the same hub without its Node flags (${HUB_NODE_FLAGS.join(' ')})}` : ''}`, {
    group: 'memory',
    path: 'hub',
  });
  const listRows = [viaHub, upstream, memRow];
  rows.push(...listRows);

  await phase(listRows, async (scope) => {
    // The baseline: the same hub with nothing behind it, so the cost of the upstreams shows.
    const empty = await startHub({ auth: hubAuth(randomToken()) }, 'empty');
    try {
      await sleep(CFG.settleS * 1000);
      memRow.empty = readMem(empty.pid);
    } finally {
      await stopProcess(empty.cp);
    }
    const fake = await scope.start(startServer(process.execPath, [FAKE_UPSTREAMS, '--count', String(U), '--tools', String(T)], 'fake upstreams'));
    const hubToken = randomToken();
    const upstreams = Object.fromEntries(Array.from({ length: U }, (_, i) => [`u${i + 1}`, { url: `http://127.0.0.1:${fake.port}/u${i + 1}/mcp` }]));
    const t0 = performance.now();
    const hub = await scope.start(startHub({ auth: hubAuth(hubToken), upstreams }, 'tools-list'));
    progress(`hub with ${U} upstreams listening after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const target = { port: hub.port, headers: { authorization: `Bearer ${hubToken}` } };
    const agent = scope.agent(1);
    const expected = U * T;
    const listHub = async () => {
      const r = await mcp(target, agent, 'tools/list');
      const tools = r.result?.tools ?? [];
      // Every upstream tool, as `u<N>__<tool>`, plus the hub's own (list_nodes, ...).
      const fromUpstreams = tools.filter((t) => /^u\d+__/.test(t.name)).length;
      if (fromUpstreams !== expected) throw new Error(`tools/list through the hub: ${fromUpstreams} upstream tools (of ${tools.length}), expected ${expected}`);
      viaHub.bytes = r.bytes;
      viaHub.tools = tools.length;
      return r.ms;
    };
    const listOne = async () => {
      const r = await mcp({ port: fake.port, path: '/u1/mcp', headers: {} }, agent, 'tools/list');
      if (r.result?.tools?.length !== T) throw new Error(`tools/list of u1: ${r.result?.tools?.length} tools, expected ${T}`);
      upstream.bytes = r.bytes;
      return r.ms;
    };

    await waitFor(`hub lists all ${expected} upstream tools`, async () => {
      await listHub();
      return true;
    });
    await sleep(CFG.settleS * 1000);
    memRow.idle = readMem(hub.pid);
    for (let i = 0; i < 10; i++) {
      await listHub();
      await listOne();
    }
    const subjects = [
      [viaHub, listHub, { proxy: hub.pid }],
      [upstream, listOne, { edge: fake.pid }],
    ];
    for (let round = 0; round < CFG.listRounds; round++) {
      for (const [r, fn, pids] of subjects.map((_, i) => subjects[(i + round) % subjects.length])) {
        if (!r.ok) continue;
        try {
          await timedBlock(r, pids, fn, share(CFG.listCalls, round, CFG.listRounds), 1);
        } catch (err) {
          failRow(r, err);
        }
      }
    }
    memRow.after = readMem(hub.pid);
    viaHub.mem = memRow.after;
    if (flagged) {
      // What the Node flags save: the same hub and upstreams, plain `node`, the same readings.
      await stopProcess(hub.cp);
      const plain = await scope.start(startHub({ auth: hubAuth(hubToken), upstreams }, 'tools-list-no-flags', { nodeFlags: [] }));
      const plainTarget = { port: plain.port, headers: { authorization: `Bearer ${hubToken}` } };
      const listPlain = async () => {
        const r = await mcp(plainTarget, agent, 'tools/list');
        if ((r.result?.tools ?? []).filter((t) => /^u\d+__/.test(t.name)).length !== expected) throw new Error('tools/list through the hub without node flags: upstream tools missing');
      };
      await waitFor(`hub without node flags lists all ${expected} upstream tools`, async () => {
        await listPlain();
        return true;
      });
      await sleep(CFG.settleS * 1000);
      memRow.plainIdle = readMem(plain.pid);
      for (let i = 0; i < CFG.listCalls; i++) await listPlain();
      memRow.plainAfter = readMem(plain.pid);
    }
  });
}

// ---------------------------------------------------------------- 6: the audit journal's cost

/** A call's start record (packages/hub/src/audit/journal.ts BEGIN_PREFIX): a line, not an event. */
const BEGIN_LINE = Buffer.from('{"v":1,"begin":');

/**
 * Events in the journal files `*.jsonl` under `dir` (one JSON line each; a call's start record is
 * a line of its own and not counted); 0 if there is no such dir.
 */
function journalLines(dir) {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.jsonl')) continue;
    const buf = readFileSync(path.join(dir, f));
    let start = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
      if (buf.compare(BEGIN_LINE, 0, BEGIN_LINE.length, start, Math.min(start + BEGIN_LINE.length, i)) !== 0) n++;
      start = i + 1;
    }
  }
  return n;
}

const AUDIT_TOOLS = ['run_command', 'list_nodes'];

async function measureAudit(rows) {
  const modes = [
    { id: 'audit-on', label: 'audit journal on' },
    { id: 'audit-off', label: 'audit journal off (HOMELAB_HUB_UNSAFE_NO_AUDIT=1)' },
  ];
  const cells = [];
  let letter = 0;
  for (const tool of AUDIT_TOOLS) {
    for (const c of AUDIT_CONCURRENCY) {
      for (const m of modes) {
        const what = tool === 'run_command' ? 'run_command("true") (a write: gate + journal)' : 'list_nodes (a read the hub answers itself)';
        const r = row(`6${String.fromCharCode(97 + letter++)}`, `${tool}-${m.id}-c${c}`, `${what}, through a hub with the ${m.label}`, { group: 'audit', path: m.id, tool, concurrency: c });
        cells.push({ r, tool, c, m });
      }
    }
  }
  const burst = row(`6${String.fromCharCode(97 + letter++)}`, 'journal-events', `the journal's sustained events/s: list_nodes for ${CFG.burstS} s through the hub with the journal on, lines added to data/audit/*.jsonl`, {
    group: 'audit',
    path: 'audit-on',
    tool: 'list_nodes',
    concurrency: AUDIT_BURST_CONCURRENCY,
  });
  const phaseRows = [...cells.map((x) => x.r), burst];
  rows.push(...phaseRows);

  await phase(phaseRows, async (scope) => {
    const edgeTok = writeToken('audit-edge-token');
    const hubToken = randomToken();
    const edge = await scope.start(startEdge(edgeTok.file));
    const edgeUrl = `http://127.0.0.1:${edge.port}/mcp`;
    const config = { auth: hubAuth(hubToken), nodes: [{ name: 'e1', url: edgeUrl, token: edgeTok.token }] };
    const { HOMELAB_HUB_UNSAFE_NO_AUDIT: _, ...envOn } = process.env;
    const [on, off] = await Promise.all([
      scope.start(startHub(config, 'audit-on', { env: envOn })),
      scope.start(startHub(config, 'audit-off', { env: { ...envOn, HOMELAB_HUB_UNSAFE_NO_AUDIT: '1' } })),
    ]);
    progress(`edge pid ${edge.pid} :${edge.port}, hub (audit on) pid ${on.pid} :${on.port}, hub (audit off) pid ${off.pid} :${off.port}`);
    const journalDir = (hub) => path.join(hub.dir, 'data', 'audit');
    for (const m of modes) m.hub = m.id === 'audit-on' ? on : off;
    for (const m of modes) m.target = { port: m.hub.port, headers: { authorization: `Bearer ${hubToken}` } };
    const callOf = (m, tool, agent) => {
      const call = CALLS[tool];
      return async () => {
        const r = await mcp(m.target, agent, call.method, call.params('e1'));
        call.check(r);
        return r.ms;
      };
    };

    for (const m of modes) {
      const agent = scope.agent(8);
      try {
        await waitFor(`hub (${m.id}) reaches e1`, async () => {
          await callOf(m, 'run_command', agent)();
          return true;
        });
        for (const tool of AUDIT_TOOLS) await runConcurrent(callOf(m, tool, agent), 100, 8);
      } catch (err) {
        for (const cell of cells) if (cell.m === m) failRow(cell.r, err);
        if (m.id === 'audit-on') failRow(burst, err);
      }
    }
    // The comparison only means something if the variable did what it says.
    if (journalLines(journalDir(on)) === 0) throw new Error(`the hub with the journal on wrote nothing to ${journalDir(on)}`);
    if (journalLines(journalDir(off)) !== 0) throw new Error(`HOMELAB_HUB_UNSAFE_NO_AUDIT=1 did not turn the journal off: ${journalDir(off)} has events`);

    for (let round = 0; round < CFG.auditRounds; round++) {
      progress(`audit round ${round + 1}/${CFG.auditRounds}`);
      for (const tool of AUDIT_TOOLS) {
        for (const c of AUDIT_CONCURRENCY) {
          const group = cells.filter((x) => x.tool === tool && x.c === c && x.r.ok);
          for (const { r, m } of group.map((_, i) => group[(i + round) % group.length])) {
            const agent = newAgent(c);
            try {
              const once = callOf(m, tool, agent);
              await runConcurrent(once, 2 * c, c);
              await timedBlock(r, { edge: edge.pid, proxy: m.hub.pid }, once, share(CFG.auditCalls[c], round, CFG.auditRounds), c);
            } catch (err) {
              failRow(r, err);
            } finally {
              dropAgent(agent);
            }
          }
        }
      }
    }

    if (burst.ok) {
      const m = modes[0];
      const agent = newAgent(AUDIT_BURST_CONCURRENCY);
      try {
        const once = callOf(m, 'list_nodes', agent);
        await runConcurrent(once, 2 * AUDIT_BURST_CONCURRENCY, AUDIT_BURST_CONCURRENCY);
        progress(`journal burst: list_nodes at concurrency ${AUDIT_BURST_CONCURRENCY} for ${CFG.burstS} s`);
        const before = journalLines(journalDir(on));
        const { samples, wallMs } = await withCpu(burst, { proxy: on.pid }, () => runFor(once, CFG.burstS * 1000, AUDIT_BURST_CONCURRENCY));
        // Every answered call was journaled before its answer: all of them are on disk now.
        const events = journalLines(journalDir(on)) - before;
        if (events < samples.length) throw new Error(`${samples.length} calls answered but only ${events} events journaled`);
        burst.samples.push(...samples);
        burst.wallMs += wallMs;
        burst.events = events;
      } catch (err) {
        failRow(burst, err);
      } finally {
        dropAgent(agent);
      }
    }
    if (journalLines(journalDir(off)) !== 0) {
      for (const cell of cells) if (cell.m.id === 'audit-off') failRow(cell.r, new Error(`the hub with HOMELAB_HUB_UNSAFE_NO_AUDIT=1 journaled events`));
    }

    for (const m of modes) {
      if (!alive(m.hub.cp)) {
        for (const cell of cells) if (cell.m === m) failRow(cell.r, new Error(`${m.hub.label} exited during the run:\n${m.hub.tail()}`));
        continue;
      }
      const mem = readMem(m.hub.pid);
      for (const cell of cells) if (cell.m === m) cell.r.mem = mem;
      if (m.id === 'audit-on') burst.mem = mem;
    }
  });
}

// ---------------------------------------------------------------- results

const fmtSigned = (v) => (v === undefined ? '-' : `${v >= 0 ? '+' : '−'}${fmtMs(Math.abs(v))}`);
/** A rate for the table: no decimals from 100 up, else one. */
const rate = (v) => v.toFixed(v >= 100 ? 0 : 1);

/** Turns the raw rows into what the table and the JSON show. */
function summarize(rows) {
  const out = rows.map((r) => {
    const head = { key: r.key, id: r.id, label: r.label, group: r.group, path: r.path, ...(r.tool ? { tool: r.tool } : {}), ...(r.concurrency ? { concurrency: r.concurrency } : {}) };
    if (!r.ok) return { ...head, ok: false, ...(r.notMeasured ? { notMeasured: true } : {}), error: r.error };
    if (r.group === 'memory') {
      if (!r.idle || !r.after) return { ...head, ok: false, error: 'not measured' };
      return { ...head, ok: true, rssIdleMB: MB(r.idle.rssKb), rssAfterMB: MB(r.after.rssKb), peakRssMB: MB(r.after.hwmKb), ...(r.empty ? { emptyHubRssMB: MB(r.empty.rssKb) } : {}), ...(r.plainIdle && r.plainAfter ? { plainRssIdleMB: MB(r.plainIdle.rssKb), plainRssAfterMB: MB(r.plainAfter.rssKb), plainPeakRssMB: MB(r.plainAfter.hwmKb) } : {}) };
    }
    if (r.samples.length === 0) return { ...head, ok: false, error: 'no calls measured' };
    const s = stats(r.samples);
    const perCall = (k) => (r.cpu[k] === undefined ? undefined : r.cpu[k] / s.n);
    return {
      ...head,
      ok: true,
      ...s,
      callsPerS: (s.n * 1000) / r.wallMs,
      ...(perCall('proxy') !== undefined ? { proxyCpuMsPerCall: perCall('proxy') } : {}),
      ...(perCall('edge') !== undefined ? { edgeCpuMsPerCall: perCall('edge') } : {}),
      ...(r.mem ? { rssMB: MB(r.mem.rssKb), peakRssMB: MB(r.mem.hwmKb) } : {}),
      ...(r.bytes ? { responseBytes: r.bytes } : {}),
      ...(r.tools ? { tools: r.tools } : {}),
      ...(r.events !== undefined ? { events: r.events, burstS: r.wallMs / 1000, eventsPerS: (r.events * 1000) / r.wallMs } : {}),
      ...(r.pairedRatio !== undefined ? { pairedRatio: r.pairedRatio } : {}),
    };
  });
  // Added latency: p50 of the path minus p50 straight to the edge, same tool and concurrency.
  const byId = Object.fromEntries(out.map((r) => [r.id, r]));
  for (const r of out) {
    if (!r.ok || !r.tool || r.path === 'direct' || r.group === 'audit') continue;
    const base = byId[`${r.tool}-direct-c${r.concurrency}`];
    if (base?.ok) r.addedP50Ms = r.p50 - base.p50;
  }
  // The journal's cost: each audit-on row against the audit-off row of the same tool and concurrency.
  for (const r of out) {
    if (!r.ok || r.group !== 'audit' || r.path !== 'audit-on' || r.events !== undefined) continue;
    const off = byId[`${r.tool}-audit-off-c${r.concurrency}`];
    if (!off?.ok) continue;
    r.auditCallsPerSRatio = r.callsPerS / off.callsPerS;
    r.auditAddedP50Ms = r.p50 - off.p50;
    if (r.proxyCpuMsPerCall !== undefined && off.proxyCpuMsPerCall !== undefined) r.auditAddedCpuMsPerCall = r.proxyCpuMsPerCall - off.proxyCpuMsPerCall;
  }
  return out;
}

function renderTable(rows) {
  const head = [
    'row',
    'what',
    'concurrency',
    'calls',
    'p50 ms',
    'p99 ms',
    'calls/s (6: on/off ratio)',
    'added p50 ms (vs direct; 6: audit on vs off)',
    'CPU ms per call: hub or peer / edge(s)',
    'RSS MB: hub or peer (peak)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    if (!r.ok) {
      lines.push(`| ${r.key} | ${r.label} | ${r.concurrency ?? '-'} | ${r.notMeasured ? 'not measured' : 'FAILED'}: ${r.error.split('\n')[0].slice(0, r.notMeasured ? 400 : 200)} | | | | | | |`);
      continue;
    }
    if (r.group === 'memory') {
      const empty = r.emptyHubRssMB === undefined ? '' : ` [${r.emptyHubRssMB.toFixed(1)}]`;
      const plain = r.plainRssIdleMB === undefined ? '' : ` {${r.plainRssIdleMB.toFixed(1)} / ${r.plainRssAfterMB.toFixed(1)} (${r.plainPeakRssMB.toFixed(1)})}`;
      lines.push(`| ${r.key} | ${r.label} | - | - | - | - | - | - | - | ${r.rssIdleMB.toFixed(1)} / ${r.rssAfterMB.toFixed(1)} (${r.peakRssMB.toFixed(1)})${empty}${plain} |`);
      continue;
    }
    const cpu = r.proxyCpuMsPerCall !== undefined || r.edgeCpuMsPerCall !== undefined ? `${fmtMs(r.proxyCpuMsPerCall)} / ${fmtMs(r.edgeCpuMsPerCall)}` : '-';
    const rss = r.rssMB !== undefined ? `${r.rssMB.toFixed(1)} (${r.peakRssMB.toFixed(1)})` : '-';
    let what = r.responseBytes ? `${r.label}; answer ${r.tools ? `${r.tools} tools, ` : ''}${(r.responseBytes / 1024).toFixed(0)} KiB` : r.label;
    if (r.eventsPerS !== undefined) what += `: **${r.eventsPerS.toFixed(0)} events/s** (${r.events} events in ${r.burstS.toFixed(1)} s)`;
    const callsPerS = r.auditCallsPerSRatio !== undefined ? `${rate(r.callsPerS)} (${r.auditCallsPerSRatio.toFixed(2)}x)` : rate(r.callsPerS);
    const added = r.auditAddedP50Ms !== undefined ? fmtSigned(r.auditAddedP50Ms) : fmtSigned(r.addedP50Ms);
    lines.push(`| ${r.key} | ${what} | ${r.concurrency ?? '-'} | ${r.n} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${callsPerS} | ${added} | ${cpu} | ${rss} |`);
  }
  return lines.join('\n');
}

/** The targets, from this run's numbers only. */
function evaluateTargets(byId) {
  const targets = [];
  const ok = (...ids) => ids.every((id) => byId[id]?.ok);
  const tools = ['run_command', 'get_status'];

  const added = (tool, p, c) => byId[`${tool}-${p}-c${c}`]?.addedP50Ms;

  // The hub's added p50 at concurrency 1 against the bare forwarder's, measured in the same rounds.
  if (tools.every((t) => ok(`${t}-direct-c1`, `${t}-hub-c1`, `${t}-forwarder-c1`))) {
    const parts = tools.map((t) => {
      const h = added(t, 'hub', 1);
      const f = added(t, 'forwarder', 1);
      // A forwarder at or below the direct p50 leaves no room to compare against: the hub must then add nothing.
      const pass = f > 0 ? h <= TARGET.addedVsForwarder * f : h <= 0;
      return { pass, text: `${t} ${fmtSigned(h)} vs ${fmtSigned(f)} ms (${f > 0 ? `${(h / f).toFixed(2)}x` : 'forwarder adds nothing'})` };
    });
    targets.push({
      id: 'hub-added-vs-forwarder',
      pass: parts.every((x) => x.pass),
      text: `the hub adds at most ${TARGET.addedVsForwarder}x what the bare forwarder adds (added p50, concurrency 1)`,
      value: parts.map((x) => `${x.pass ? '' : '✘ '}${x.text}`).join('; '),
    });
  } else targets.push({ id: 'hub-added-vs-forwarder', pass: false, text: `the hub adds at most ${TARGET.addedVsForwarder}x what the bare forwarder adds`, value: 'not measured' });

  // Ahead of each peer: lower added p50 at every concurrency, for both tools.
  for (const [peer, name] of [
    ['mcp-proxy', 'mcp-proxy'],
    ['1mcp', '1MCP'],
  ]) {
    const id = `hub-vs-${peer}`;
    const text = `the hub adds less latency than ${name} (added p50, concurrency ${CONCURRENCY.join(', ')})`;
    const notMeasured = byId[`run_command-${peer}-c1`]?.notMeasured ? byId[`run_command-${peer}-c1`].error : undefined;
    if (notMeasured) {
      targets.push({ id, pass: false, notMeasured: true, text, value: `not measured: ${notMeasured}` });
      continue;
    }
    const cellsOk = tools.every((t) => CONCURRENCY.every((c) => ok(`${t}-direct-c${c}`, `${t}-hub-c${c}`, `${t}-${peer}-c${c}`)));
    if (!cellsOk) {
      const rowsThere = tools.every((t) => CONCURRENCY.every((c) => [`${t}-direct-c${c}`, `${t}-hub-c${c}`, `${t}-${peer}-c${c}`].every((x) => byId[x])));
      targets.push({ id, pass: false, text, value: rowsThere ? 'not measured (a row failed)' : 'not measured' });
      continue;
    }
    const parts = tools.flatMap((t) => CONCURRENCY.map((c) => ({ pass: added(t, 'hub', c) < added(t, peer, c), text: `${t} c=${c} ${fmtSigned(added(t, 'hub', c))} vs ${fmtSigned(added(t, peer, c))}` })));
    targets.push({ id, pass: parts.every((x) => x.pass), text, value: `${parts.map((x) => `${x.pass ? '' : '✘ '}${x.text}`).join('; ')} ms` });
  }

  // The fan-out against what the machine does without a hub: the bench's own 50 parallel calls.
  if (ok('fanout-hub-all', 'fanout-direct')) {
    const a = byId['fanout-hub-all'];
    const o = byId['fanout-hub-one'];
    const d = byId['fanout-direct'];
    const ratio = a.p50 / d.p50;
    targets.push({
      id: 'fanout',
      pass: ratio <= TARGET.fanoutVsDirect,
      text: `${CFG.edges}-node fan-out through the hub at most ${TARGET.fanoutVsDirect}x the same ${CFG.edges} calls made directly in parallel (p50)`,
      value:
        `${ratio.toFixed(2)}x (${fmtMs(a.p50)} vs ${fmtMs(d.p50)} ms; p99 ${fmtMs(a.p99)} vs ${fmtMs(d.p99)} ms)` +
        (a.pairedRatio !== undefined ? `; median of 3a / 3c within each turn ${a.pairedRatio.toFixed(2)}x` : '') +
        (a.proxyCpuMsPerCall !== undefined ? `; hub CPU ${fmtMs(a.proxyCpuMsPerCall)} ms per fan-out = ${fmtMs(a.proxyCpuMsPerCall / CFG.edges)} ms per upstream call` : '') +
        (o?.ok ? `; one node through the same hub ${fmtMs(o.p50)} ms` : ''),
    });
  } else targets.push({ id: 'fanout', pass: false, text: `${CFG.edges}-node fan-out through the hub at most ${TARGET.fanoutVsDirect}x the same calls made directly`, value: 'not measured' });

  const l = byId['tools-list-hub'];
  targets.push({
    id: 'tools-list',
    pass: !!l?.ok && l.p50 < TARGET.listP50Ms,
    text: `tools/list of ${CFG.upstreams * CFG.toolsPerUpstream} upstream tools under ${TARGET.listP50Ms} ms at p50`,
    value: l?.ok ? `${fmtMs(l.p50)} ms (p99 ${fmtMs(l.p99)} ms; ${l.tools} tools in all, ${(l.responseBytes / 1024).toFixed(0)} KiB)` : 'not measured',
  });

  const m = byId['hub-memory'];
  const rss = m?.ok ? Math.max(m.rssIdleMB, m.rssAfterMB) : undefined;
  targets.push({
    id: 'hub-rss',
    pass: rss !== undefined && rss < TARGET.hubRssMB,
    text: `hub RSS under ${TARGET.hubRssMB} MB with ${CFG.upstreams} upstreams`,
    value: m?.ok
      ? `${rss.toFixed(1)} MB (idle ${m.rssIdleMB.toFixed(1)}, after tools/list ${m.rssAfterMB.toFixed(1)}, peak ${m.peakRssMB.toFixed(1)}${m.emptyHubRssMB === undefined ? '' : `; with no upstreams ${m.emptyHubRssMB.toFixed(1)}`}${m.plainRssIdleMB === undefined ? '' : `; without its Node flags ${Math.max(m.plainRssIdleMB, m.plainRssAfterMB).toFixed(1)}`})`
      : 'not measured',
  });

  // The journal's cost: calls/s with it on against off, at concurrency 8, for run_command (a
  // write: gate + journal); list_nodes (no edge, so the journal's share is largest) for the record.
  const audit = (tool, c) => byId[`${tool}-audit-on-c${c}`];
  const auditText = (tool, c) => {
    const r = audit(tool, c);
    const off = byId[`${tool}-audit-off-c${c}`];
    if (r?.auditCallsPerSRatio === undefined) return `${tool} c=${c} not measured`;
    const cost = (1 - r.auditCallsPerSRatio) * 100;
    return `${tool} c=${c} ${r.auditCallsPerSRatio.toFixed(2)}x (${rate(r.callsPerS)} vs ${rate(off.callsPerS)} calls/s, ${cost >= 0 ? '−' : '+'}${Math.abs(cost).toFixed(0)}%; p50 ${fmtSigned(r.auditAddedP50Ms)} ms${r.auditAddedCpuMsPerCall === undefined ? '' : `, hub CPU ${fmtSigned(r.auditAddedCpuMsPerCall)} ms per call`})`;
  };
  const main = audit('run_command', 8);
  const info = [auditText('list_nodes', 8), ...AUDIT_TOOLS.map((t) => auditText(t, 1))];
  const ev = byId['journal-events'];
  if (ev?.ok) info.push(`journal ${ev.eventsPerS.toFixed(0)} events/s sustained at c=${AUDIT_BURST_CONCURRENCY}`);
  targets.push({
    id: 'audit-cost',
    pass: main?.auditCallsPerSRatio !== undefined && main.auditCallsPerSRatio >= TARGET.auditCallsPerSRatio,
    text: `the audit journal costs at most ${Math.round((1 - TARGET.auditCallsPerSRatio) * 100)}% of calls/s at concurrency 8 (run_command, audit on / off)`,
    value: main?.auditCallsPerSRatio !== undefined ? `${auditText('run_command', 8)} (not targets: ${info.join('; ')})` : 'not measured',
  });
  return targets;
}


// ---------------------------------------------------------------- --cpu-prof: where the time goes

/**
 * Maps a line of the hub bundle to the source module esbuild put there: the bundle keeps its
 * `// node_modules/.pnpm/<pkg>@<v>/node_modules/<pkg>/...` and `// packages/<pkg>/src/...` markers,
 * and `// src/...` for the hub's own files (esbuild names them relative to packages/hub).
 */
function bundleModuleIndex() {
  const lines = readFileSync(HUB_BUNDLE, 'utf8').split('\n');
  const marks = [];
  lines.forEach((l, i) => {
    const m = /^\/\/ ((?:\.\.\/)*(node_modules|packages)\/\S+|src\/\S+)$/.exec(l);
    if (m) marks.push([i, m[1].startsWith('src/') ? `packages/hub/${m[1]}` : m[1]]);
  });
  return (line) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid][0] <= line) {
        found = marks[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found ?? '(hub bundle prologue)';
  };
}

/** A short package name for a frame: a package of the bundle, a group of Node's own code, or undefined for native code. */
function packageOf(url, line, moduleAt) {
  if (!url) return undefined;
  if (url.endsWith('homelab-hub.mjs')) {
    const mod = moduleAt(line);
    const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(mod);
    if (pnpm) return pnpm[1];
    const own = /packages\/([^/]+)\/src\/(.*)$/.exec(mod);
    if (own) return `@homelab-mcp/${own[1]}/${own[2].split('/').slice(0, -1).join('/') || own[2]}`;
    return mod;
  }
  if (url.startsWith('node:internal/deps/undici')) return 'node: undici (fetch)';
  if (url.startsWith('node:')) return `node: ${url.replace(/^node:(internal\/)?/, '').split('/')[0].replace(/\.js$/, '')}`;
  return url;
}

/**
 * Where a V8 .cpuprofile spent its (non-idle) time, by package: self time (native code such as
 * `writev` or `JSON.stringify` is charged to the JavaScript that called it) and inclusive time
 * (samples with the package anywhere on the stack), plus the top functions by self time.
 */
function summarizeProfile(file, moduleAt) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const special = (n) => /^\((garbage collector|program|idle|root)\)$/.test(n.callFrame.functionName);
  const info = new Map();
  // Per node: its package (natives take their caller's) and the set of packages on its stack.
  const infoOf = (id) => {
    let hit = info.get(id);
    if (hit) return hit;
    const n = nodes.get(id);
    const up = parent.has(id) ? infoOf(parent.get(id)) : { pkg: undefined, stack: new Set() };
    const own = special(n) ? n.callFrame.functionName : packageOf(n.callFrame.url, n.callFrame.lineNumber, moduleAt);
    const pkg = own ?? (up.pkg ? `${up.pkg} (native)` : '(native)');
    const stack = new Set(up.stack);
    // The microtask and bootstrap frames are at the root of nearly every stack: no information.
    if (own && !special(n) && own !== 'node: process' && own !== 'node: bootstrap') stack.add(own);
    hit = { pkg, stack, ownPkg: own ?? up.pkg };
    info.set(id, hit);
    return hit;
  };
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
  const byPkg = new Map();
  const incl = new Map();
  const byFn = new Map();
  let total = 0;
  const add = (m, k, us) => m.set(k, (m.get(k) ?? 0) + us);
  for (const [id, us] of self) {
    const n = nodes.get(id);
    if (n.callFrame.functionName === '(idle)') continue;
    total += us;
    const { pkg, stack } = infoOf(id);
    add(byPkg, pkg.replace(/ \(native\)$/, ''), us);
    for (const k of stack) add(incl, k, us);
    if (special(n)) add(incl, n.callFrame.functionName, us);
    const where = n.callFrame.url ? `${pkg}:${n.callFrame.lineNumber + 1}` : pkg;
    add(byFn, `${n.callFrame.functionName || '(anonymous)'} — ${where}`, us);
  }
  const top = (m, k) => [...m].sort((x, y) => y[1] - x[1]).slice(0, k);
  return { totalMs: total / 1000, self: top(byPkg, 14), inclusive: top(incl, 14), functions: top(byFn, 15) };
}

function renderProfiles(dir) {
  const moduleAt = bundleModuleIndex();
  const out = [];
  for (const name of ['latency', 'fanout', 'tools-list', 'audit-on', 'audit-off']) {
    const sub = path.join(dir, name);
    if (!existsSync(sub)) continue;
    const files = readdirSync(sub)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort();
    if (files.length === 0) {
      out.push('', `(no profile written for the ${name} hub)`);
      continue;
    }
    const file = path.join(sub, files.at(-1));
    const p = summarizeProfile(file, moduleAt);
    const pct = (us) => `${((us / 1000 / p.totalMs) * 100).toFixed(1)}%`.padStart(6);
    out.push('', `Hub CPU profile, ${name} phase: ${p.totalMs.toFixed(0)} ms of CPU (${file})`);
    out.push('  self time by package (native code charged to its caller) | inclusive (package anywhere on the stack):');
    for (let i = 0; i < Math.max(p.self.length, p.inclusive.length); i++) {
      const l = p.self[i] ? `${pct(p.self[i][1])}  ${p.self[i][0]}` : '';
      const r = p.inclusive[i] ? `${pct(p.inclusive[i][1])}  ${p.inclusive[i][0]}` : '';
      out.push(`  ${l.padEnd(52)} | ${r}`);
    }
    out.push('  top functions by self time:');
    for (const [k, us] of p.functions) out.push(`  ${pct(us)}  ${k}`);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const t0 = performance.now();
  ensureBuilt(ROOT, EDGE_BUNDLE, 'packages/edge/build.mjs');
  ensureBuilt(ROOT, HUB_BUNDLE, 'packages/hub/build.mjs');
  ensureMcpProxy();
  const oneMcp = !opts.only || opts.only.includes('latency') ? resolveOneMcp() : { reason: 'the latency phase did not run' };
  if (oneMcp.reason) progress(`1MCP: not measured: ${oneMcp.reason}`);
  else progress(`1MCP: ${oneMcp.source}`);
  tmpRoot = makeTmpRoot('hub-bench-');
  hubWriteGate = probeHubWriteGate();
  const meta = {
    date: new Date().toISOString(),
    quick: opts.quick,
    calls: CFG.calls,
    rounds: CFG.rounds,
    fanoutCalls: CFG.fanoutCalls,
    listCalls: CFG.listCalls,
    edges: CFG.edges,
    upstreams: CFG.upstreams,
    toolsPerUpstream: CFG.toolsPerUpstream,
    auditCalls: CFG.auditCalls,
    auditRounds: CFG.auditRounds,
    burstS: CFG.burstS,
    mcpProxy: mcpProxyVersion(),
    oneMcp: oneMcp.main ? { version: oneMcp.version ?? ONEMCP_VERSION, source: oneMcp.source } : { notMeasured: oneMcp.reason },
    node: process.version,
    arch: os.arch(),
    cpus: os.cpus().length,
    kernel: os.release(),
    cpuProfile: !!opts.cpuProf,
    hubWriteGate,
    hubNodeFlags: HUB_NODE_FLAGS,
    loadBefore: loadAvg(),
  };
  progress(`${meta.node}, mcp-proxy ${meta.mcpProxy}, ${meta.cpus} CPUs, load average ${meta.loadBefore}; ${opts.quick ? 'quick' : 'full'} run`);

  const raw = [];
  for (const [what, fn, key] of [
    ['latency', (raw) => measureLatency(raw, oneMcp), 'latency'],
    ['fan-out', measureFanout, 'fanout'],
    ['tools/list', measureToolsList, 'list'],
    ['audit', measureAudit, 'audit'],
  ]) {
    if (opts.only && !opts.only.includes(key)) continue;
    const before = raw.length;
    try {
      await fn(raw);
    } catch (err) {
      // A phase that could not even start: its rows (if it named them) fail, the others still run.
      progress(`${what} failed: ${err.stack ?? err}`);
      if (raw.length === before) raw.push(row('-', `${what}-phase`, what, { group: what }));
      for (const r of raw.slice(before)) failRow(r, err);
    }
  }
  const rows = summarize(raw);
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  const targets = evaluateTargets(byId);
  meta.seconds = (performance.now() - t0) / 1000;
  meta.loadAfter = loadAvg();

  const out = [renderTable(rows), '', 'Targets:'];
  for (const t of targets) out.push(`${t.notMeasured ? '–' : t.pass ? '✔' : '✘'} ${t.text}: ${t.value}`);
  out.push(
    '',
    `Node ${meta.node}, mcp-proxy ${meta.mcpProxy}, 1MCP ${meta.oneMcp.notMeasured ? `not measured (${meta.oneMcp.notMeasured})` : `${meta.oneMcp.version} from ${meta.oneMcp.source}`}; ${meta.arch}, ${meta.cpus} CPUs, Linux ${meta.kernel}. ` +
      `Calls per row at concurrency 1/8/32: ${CONCURRENCY.map((c) => CFG.calls[c]).join('/')} in ${CFG.rounds} interleaved rounds; ` +
      `fan-out ${CFG.fanoutCalls} calls per row, the three rows taking turns call by call after ${CFG.fanoutWarmup} unmeasured calls each; tools/list ${CFG.listCalls}; audit rows at concurrency 1/8: ${AUDIT_CONCURRENCY.map((c) => CFG.auditCalls[c]).join('/')} in ${CFG.auditRounds} interleaved rounds, journal burst ${CFG.burstS} s. All requests 2026-07-28 (stateless) over keep-alive${meta.oneMcp.notMeasured ? '' : ", except 1MCP's (2025-11-25, on 32 sessions taken in turn)"}. ` +
      `${meta.hubWriteGate === 'session' ? 'Hub write gate in session mode (writes approved once per hub with approve_writes, untimed). ' : ''}` +
      `Hubs run with ${HUB_NODE_FLAGS.length ? `the Node flags ${HUB_NODE_FLAGS.join(' ')}${opts.hubNodeFlags ? '' : ' (deploy/systemd/homelab-hub.service)'}` : 'no Node flags'}. ` +
      `${opts.cpuProf ? 'Hubs ran under --cpu-prof (slower). ' : ''}Load average ${meta.loadBefore} before, ${meta.loadAfter} after. Took ${meta.seconds.toFixed(0)} s.`,
  );
  if (opts.cpuProf) out.push(renderProfiles(opts.cpuProf));
  process.stdout.write(`${out.join('\n')}\n`);

  // A peer that is not there (1MCP without npm or a build) is reported, not a failure.
  return finish(
    rows.filter((r) => !r.notMeasured),
    opts.json,
    { meta, rows, targets },
  );
}

await run(main);
