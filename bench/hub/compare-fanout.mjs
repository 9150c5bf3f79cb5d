#!/usr/bin/env node
// Same-run A/B of hub bundles on the 50-node fan-out (bench/hub rows 3a/3c): N edges, one hub per
// NAME=BUNDLE in front of all of them (same config), and `run_command("true")` to node "all"
// through each hub, plus the same N calls sent straight to the edges ("direct"), taking turns
// call by call in a rotating order so that the load of a shared machine hits them alike.
// Prints p50/p99, the median within each turn of hub / direct, and each hub's CPU ms per fan-out.
//
//   node bench/hub/compare-fanout.mjs before=/tmp/before.mjs after=packages/hub/dist/homelab-hub.mjs
//
// Only talks to 127.0.0.1; every server binds port 0; every process is stopped by its own PID.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createBench, fmtMs, parseArgs, percentile, readCpuMs, stats } from '../lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const EDGE_BUNDLE = path.join(ROOT, 'packages/edge/dist/homelab-edge.mjs');

const HELP = `Usage: node bench/hub/compare-fanout.mjs [--edges N] [--calls N] NAME=BUNDLE NAME=BUNDLE...

Starts N edges (default 50) and one hub per NAME=BUNDLE ("NAME=BUNDLE --node-flag ..." as one
argument runs that hub's node with those flags), all with the same config (the N edges as nodes,
approval mode session with writes approved once per hub, untimed; audit journal on). Then
run_command("true") to node "all" through each hub and the same N calls straight to the edges
("direct") take turns call by call in a rotating order (--calls per row, default 60, after 5
warm-up calls each). Prints p50, p99, the median ratio to direct within each turn, and the hub's
CPU ms per fan-out (user + system from /proc, during its own calls) and per turn (over the whole
measured phase, so with what it does between its calls: health checks, journal commits).

  --edges N   edges (default 50)
  --calls N   measured calls per row (default 60)
  --pause MS  wait this long before each turn (default 0): a fan-out after a quiet spell, when
              idle keep-alive sockets may have been closed
  --help      show this help`;

const opts = parseArgs(process.argv.slice(2).filter((a) => !/^[\w.-]+=/.test(a) || a.startsWith('--')), HELP, {
  edges: { needs: 'a number', map: Number },
  calls: { needs: 'a number', map: Number },
  pause: { needs: 'milliseconds', map: Number },
});
const hubsAsked = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--') && /^[\w.-]+=/.test(a))
  .map((a) => {
    const [bundle, ...flags] = a.slice(a.indexOf('=') + 1).trim().split(/\s+/);
    return [a.slice(0, a.indexOf('=')), path.resolve(bundle), flags];
  });
const N = opts.edges ?? 50;
const CALLS = opts.calls ?? 60;
if (hubsAsked.length < 1) {
  process.stderr.write(`compare-fanout.mjs: name at least one hub bundle (NAME=BUNDLE)\n\n${HELP}\n`);
  process.exit(2);
}

const T0 = performance.now();
const { progress, startServer, newAgent, makeTmpRoot, ensureBuilt, run } = createBench({
  tag: () => `compare-fanout ${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s`,
  graceMs: 5000,
  listenTimeoutMs: 30_000,
});

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
let rpcId = 0;

/**
 * One 2026-07-28 tools/call; resolves { ms, text }, rejects on an HTTP error or isError. A request
 * on a reused keep-alive socket that the server closed at that moment (ECONNRESET) is sent once
 * more, as node:http's docs advise; on a loaded machine a turn can outlast a server's idle timeout.
 */
async function send(port, token, agent, tool, args) {
  try {
    return await sendOnce(port, token, agent, tool, args);
  } catch (err) {
    if (err.code !== 'ECONNRESET' || !err.reused) throw err;
    return sendOnce(port, token, agent, tool, args);
  }
}

function sendOnce(port, token, agent, tool, args) {
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
        const end = performance.now();
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200 || /"isError":true/.test(text) || !/"result"/.test(text)) reject(new Error(`${tool}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve({ ms: end - t0, end, text });
      });
    });
    req.on('error', (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
    req.setTimeout(60_000, () => req.destroy(new Error(`${tool}: no answer in 60 s`)));
    req.end(body);
  });
}

async function main() {
  ensureBuilt(ROOT, EDGE_BUNDLE, 'packages/edge/build.mjs');
  const tmp = makeTmpRoot('hub-compare-fanout-');
  const tokenFile = path.join(tmp, 'edge-token');
  const edgeToken = `edge-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const hubToken = `hub-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  writeFileSync(tokenFile, edgeToken, { mode: 0o600 });
  const edges = [];
  const name = (i) => `e${String(i + 1).padStart(2, '0')}`;
  for (let i = 0; i < N; i += 10) {
    edges.push(...(await Promise.all(Array.from({ length: Math.min(10, N - i) }, (_, j) => startServer(process.execPath, [EDGE_BUNDLE, '--listen', '127.0.0.1:0', '--token-file', tokenFile], `edge ${name(i + j)}`)))));
  }
  const hubs = [];
  for (const [hubName, bundle, flags] of hubsAsked) {
    const dir = path.join(tmp, hubName);
    mkdirSync(dir, { recursive: true });
    const config = {
      dataDir: './data',
      local: { enabled: false },
      approval: { mode: 'session' },
      auth: { tokens: [{ user: 'bench', role: 'admin', token: hubToken }], rateLimit: { perMinute: 1e9, burst: 1e9 } },
      nodes: edges.map((e, i) => ({ name: name(i), url: `http://127.0.0.1:${e.port}/mcp`, token: edgeToken, roles: ['bench'] })),
    };
    writeFileSync(path.join(dir, 'hub.yaml'), JSON.stringify(config, null, 2));
    const srv = await startServer(process.execPath, [...flags, bundle, 'serve', '--config', path.join(dir, 'hub.yaml'), '--listen', '127.0.0.1:0'], `hub ${hubName}`);
    hubs.push({ name: hubName, ...srv, agent: newAgent(1) });
  }
  progress(`${N} edges; ${hubs.map((h) => `${h.name} pid ${h.pid}`).join(', ')}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const fan = async (h) => {
    const r = await send(h.port, hubToken, h.agent, 'run_command', { node: 'all', cmd: 'true' });
    if (!r.text.includes(`${N} nodes: ${N} ok`)) throw new Error(`hub ${h.name}: not "${N} nodes: ${N} ok": ${r.text.slice(0, 300)}`);
    return r.ms;
  };
  const edgeAgents = edges.map(() => newAgent(1));
  const direct = async () => {
    const t = performance.now();
    const ends = await Promise.all(edges.map(async (e, i) => (await send(e.port, edgeToken, edgeAgents[i], 'run_command', { cmd: 'true' })).end));
    return Math.max(...ends) - t;
  };
  for (const h of hubs) {
    await send(h.port, hubToken, h.agent, 'approve_writes', {});
    // Until the hub sees every edge up.
    for (let i = 0; ; i++) {
      try {
        await fan(h);
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  const subjects = [...hubs.map((h) => ({ name: h.name, fn: () => fan(h), pid: h.pid })), { name: 'direct', fn: direct }];
  for (let i = 0; i < 5; i++) for (const s of subjects) await s.fn();
  const per = new Map(subjects.map((s) => [s.name, { lat: [], cpuMs: 0, ratios: [] }]));
  // Each hub's CPU over the whole phase too: what it spends between its own fan-outs (health
  // checks, journal commits) competes with the edges as well.
  const phaseCpu0 = new Map(hubs.map((h) => [h.name, readCpuMs(h.pid)]));
  for (let i = 0; i < CALLS; i++) {
    if (opts.pause) await new Promise((r) => setTimeout(r, opts.pause));
    const turn = {};
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(k + i) % subjects.length];
      const m = per.get(s.name);
      const cpu0 = s.pid ? readCpuMs(s.pid) : 0;
      const ms = await s.fn();
      if (s.pid) m.cpuMs += readCpuMs(s.pid) - cpu0;
      m.lat.push(ms);
      turn[s.name] = ms;
    }
    for (const h of hubs) per.get(h.name).ratios.push(turn[h.name] / turn.direct);
    if ((i + 1) % 20 === 0) progress(`${i + 1}/${CALLS} turns`);
  }
  for (const h of hubs) per.get(h.name).phaseCpuMs = readCpuMs(h.pid) - phaseCpu0.get(h.name);
  const d = stats(per.get('direct').lat);
  const lines = ['| row | calls | p50 ms | p99 ms | p50 / direct | median of per-turn ratio | hub CPU ms per fan-out | hub CPU ms per turn, all of it |', '|---|---|---|---|---|---|---|---|'];
  for (const s of subjects) {
    const m = per.get(s.name);
    const st = stats(m.lat);
    const isHub = s.name !== 'direct';
    lines.push(`| ${s.name} | ${st.n} | ${fmtMs(st.p50)} | ${fmtMs(st.p99)} | ${(st.p50 / d.p50).toFixed(3)}x | ${isHub ? `${percentile(m.ratios, 50).toFixed(3)}x` : '–'} | ${isHub ? fmtMs(m.cpuMs / st.n) : '–'} | ${isHub ? fmtMs(m.phaseCpuMs / CALLS) : '–'} |`);
  }
  lines.push('', `${N} edges, ${CALLS} turns; Node ${process.version}, ${os.cpus().length} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end.`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

await run(main);
