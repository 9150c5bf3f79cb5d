#!/usr/bin/env node
// Same-run A/B of hub bundles: two or more builds of the hub side by side in front of one edge,
// measured in interleaved blocks so that the load of a shared machine hits them alike. For
// "did this change make the hub faster", where two separate runs of run.mjs minutes apart
// differ more by the machine's load than by the change. See bench/hub/README.md.
//
//   git stash && pnpm --filter @homelab-mcp/hub build && cp packages/hub/dist/homelab-hub.mjs /tmp/before.mjs && git stash pop
//   pnpm --filter @homelab-mcp/hub build
//   node bench/hub/compare.mjs before=/tmp/before.mjs after=packages/hub/dist/homelab-hub.mjs
//
// Only talks to 127.0.0.1; every server binds port 0; every process is stopped by its own PID.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createBench, fmtMs, parseArgs, readCpuMs, stats } from '../lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const EDGE_BUNDLE = path.join(ROOT, 'packages/edge/dist/homelab-edge.mjs');

const HELP = `Usage: node bench/hub/compare.mjs [--quick] [--tools T,...] [--concurrency C,...] NAME=BUNDLE NAME=BUNDLE...

Starts one edge and one hub per NAME=BUNDLE (a built packages/hub/dist/homelab-hub.mjs, for
example of another commit; "NAME=BUNDLE --node-flag ..." as one argument runs that hub's node
with those flags, e.g. semi4="packages/hub/dist/homelab-hub.mjs --max-semi-space-size=4"),
all with the same config (the edge as node "e1", approval mode
session with writes approved once per hub, untimed; audit journal on), and calls each tool through every hub in interleaved rounds: in
each round the hubs take turns in a rotating order. Prints p50, p99 and the hub's CPU ms per
call (user + system from /proc) per hub, tool and concurrency.

  --tools T,...        run_command (with cmd "true"), get_status, list_nodes (default: run_command,get_status)
  --concurrency C,...  default 1,8
  --quick              fewer calls (200 per cell instead of 600)
  --help               show this help`;

const opts = parseArgs(process.argv.slice(2).filter((a) => !/^[\w.-]+=/.test(a) || a.startsWith('--')), HELP, {
  tools: { needs: 'a comma-separated list of tools', map: (v) => v.split(',') },
  concurrency: { needs: 'a comma-separated list of numbers', map: (v) => v.split(',').map(Number) },
});
/** [name, bundle, node flags] of each NAME=BUNDLE [FLAG...] argument. */
const hubsAsked = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--') && /^[\w.-]+=/.test(a))
  .map((a) => {
    const [bundle, ...flags] = a.slice(a.indexOf('=') + 1).trim().split(/\s+/);
    return [a.slice(0, a.indexOf('=')), path.resolve(bundle), flags];
  });
const TOOLS = opts.tools ?? ['run_command', 'get_status'];
const CONCURRENCY = opts.concurrency ?? [1, 8];
const CALLS = opts.quick ? 200 : 600;
const ROUNDS = opts.quick ? 4 : 8;
if (hubsAsked.length < 2) {
  process.stderr.write(`compare.mjs: name at least two hub bundles (NAME=BUNDLE)\n\n${HELP}\n`);
  process.exit(2);
}
for (const t of TOOLS) {
  if (!['run_command', 'get_status', 'list_nodes'].includes(t)) {
    process.stderr.write(`compare.mjs: --tools: unknown tool "${t}" (expected run_command, get_status, list_nodes)\n`);
    process.exit(2);
  }
}

const T0 = performance.now();
const { progress, startServer, newAgent, dropAgent, makeTmpRoot, ensureBuilt, run } = createBench({
  tag: () => `compare ${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s`,
  graceMs: 5000,
  listenTimeoutMs: 30_000,
});

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const ARGS = { run_command: { node: 'e1', cmd: 'true' }, get_status: { node: 'e1' }, list_nodes: {} };
let rpcId = 0;

/**
 * Session mode: writes are approved once per hub (`approve_writes`, untimed, again after 10
 * minutes, inside the approval's idle expiry); every hub since the first has it. (Confirm tokens
 * are single-use now: each write would pay a preview round trip.)
 */
const approvals = new Map();
async function approveOnce(port, token, agent) {
  let entry = approvals.get(port);
  if (!entry || performance.now() - entry.at > 10 * 60_000) {
    entry = { at: performance.now(), done: send(port, token, agent, 'approve_writes', {}, true) };
    approvals.set(port, entry);
  }
  return entry.done;
}

/** One 2026-07-28 tools/call; resolves its latency in ms, rejects on any error or isError. */
async function call(port, token, agent, tool) {
  if (tool === 'run_command') await approveOnce(port, token, agent);
  return send(port, token, agent, tool, ARGS[tool]);
}

/** Resolves the latency in ms, or with `raw` the answer's text. */
function send(port, token, agent, tool, args, raw = false) {
  const body = JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method: 'tools/call', params: { name: tool, arguments: args, _meta: META } });
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': tool,
    'content-length': Buffer.byteLength(body),
  };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const ms = performance.now() - t0;
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200 || /"isError":true/.test(text) || !/"result"/.test(text)) reject(new Error(`${tool}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(raw ? text : ms);
      });
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${tool}: no answer in 60 s`)));
    req.end(body);
  });
}

async function main() {
  ensureBuilt(ROOT, EDGE_BUNDLE, 'packages/edge/build.mjs');
  const tmp = makeTmpRoot('hub-compare-');
  const tokenFile = path.join(tmp, 'edge-token');
  const edgeToken = `edge-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const hubToken = `hub-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  writeFileSync(tokenFile, edgeToken, { mode: 0o600 });
  const edge = await startServer(process.execPath, [EDGE_BUNDLE, '--listen', '127.0.0.1:0', '--token-file', tokenFile], 'edge');
  const hubs = [];
  for (const [name, bundle, flags] of hubsAsked) {
    const dir = path.join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const config = {
      dataDir: './data',
      local: { enabled: false },
      approval: { mode: 'session' },
      auth: { tokens: [{ user: 'bench', role: 'admin', token: hubToken }], rateLimit: { perMinute: 1e9, burst: 1e9 } },
      nodes: [{ name: 'e1', url: `http://127.0.0.1:${edge.port}/mcp`, token: edgeToken }],
    };
    writeFileSync(path.join(dir, 'hub.yaml'), JSON.stringify(config, null, 2));
    const srv = await startServer(process.execPath, [...flags, bundle, 'serve', '--config', path.join(dir, 'hub.yaml'), '--listen', '127.0.0.1:0'], `hub ${name}`);
    hubs.push({ name, ...srv });
  }
  progress(`edge pid ${edge.pid}; ${hubs.map((h) => `${h.name} pid ${h.pid}`).join(', ')}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  // Warm-up: every hub connects to the edge and its paths get hot.
  for (const h of hubs) {
    const agent = newAgent(1);
    for (const tool of TOOLS) for (let i = 0; i < 50; i++) await call(h.port, hubToken, agent, tool);
    dropAgent(agent);
  }
  const cells = [];
  for (const tool of TOOLS) {
    for (const c of CONCURRENCY) {
      const per = new Map(hubs.map((h) => [h.name, { lat: [], cpuMs: 0, wallMs: 0 }]));
      const perBlock = Math.ceil(CALLS / ROUNDS);
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < hubs.length; i++) {
          const h = hubs[(i + r) % hubs.length];
          const m = per.get(h.name);
          const agent = newAgent(c);
          await Promise.all(Array.from({ length: 2 * c }, () => call(h.port, hubToken, agent, tool)));
          const cpu0 = readCpuMs(h.pid);
          const w0 = performance.now();
          let left = perBlock;
          await Promise.all(
            Array.from({ length: c }, async () => {
              while (left-- > 0) m.lat.push(await call(h.port, hubToken, agent, tool));
            }),
          );
          m.wallMs += performance.now() - w0;
          m.cpuMs += readCpuMs(h.pid) - cpu0;
          dropAgent(agent);
        }
      }
      progress(`${tool} c=${c} done`);
      cells.push({ tool, c, per });
    }
  }
  const lines = ['| tool | concurrency | hub | calls | p50 ms | p99 ms | calls/s | hub CPU ms per call |', '|---|---|---|---|---|---|---|---|'];
  for (const { tool, c, per } of cells) {
    for (const h of hubs) {
      const m = per.get(h.name);
      const s = stats(m.lat);
      lines.push(`| ${tool} | ${c} | ${h.name} | ${s.n} | ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${((s.n / m.wallMs) * 1000).toFixed(0)} | ${fmtMs(m.cpuMs / s.n)} |`);
    }
  }
  lines.push('', `${hubs.length} hubs in front of one edge, ${ROUNDS} interleaved rounds, ${CALLS} calls per hub and cell; Node ${process.version}, ${os.cpus().length} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end.`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

await run(main);
