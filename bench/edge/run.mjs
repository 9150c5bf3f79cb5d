#!/usr/bin/env node
// Edge footprint bench: memory, cold start and per-call latency of the bundled edge (three Node
// flag sets) against the seed design's Python http.server edge and SSH to 127.0.0.1, all measured
// in one run on this machine. Plain Node ESM, no dependencies (the helpers it shares with
// bench/hub/run.mjs are in bench/lib.mjs). See bench/edge/README.md.
//
// Only talks to 127.0.0.1; every server binds port 0 or a free port found at run time. Every
// process it starts is tracked and stopped by its own PID, on success and on failure.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
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
const PYTHON_EDGE = path.join(HERE, 'python-edge.py');
const SSHD = '/usr/sbin/sshd';
const UNIT_FILE = path.join(ROOT, 'deploy/systemd/homelab-edge.service');
/** The flood row's command: 1 GiB of output, far past run_command's cap. */
const FLOOD_CMD = 'yes | head -c 1G';
const FLOOD_BYTES = 1024 ** 3;
/** How often the flood row samples the edge's RssAnon while the call runs. */
const FLOOD_SAMPLE_MS = 2;
/** systemd's PATH for system services (the unit sets none): what the deployed edge's commands see. */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const HELP = `Usage: node bench/edge/run.mjs [--quick] [--json FILE]

Measures the bundled edge (as the systemd unit runs it: its exact Node flags and Environment=;
default Node flags; recommended flags; lite-mode flags), the seed design's Python http.server edge
and SSH to 127.0.0.1 (new connection per command and ControlMaster), and prints one table plus the
targets (✔/✘, all relative to this run's Python edge and \`node -e 0\`) on stdout; progress goes
to stderr. Full run: 1,000 run_command("true") and 1,000 get_status calls per row (50 + 50 for new
SSH connections), 10 s idle before the second memory reading, cold start median of 5, then one
run_command("${FLOOD_CMD}") per edge row with its RssAnon sampled every ${FLOOD_SAMPLE_MS} ms; about 3 min.

  --quick       smoke run: 200 + 50 calls (10 + 10 for new SSH connections), 3 s idle,
                cold start median of 3; about 60 s
  --json FILE   also write every number to FILE
  --baseline FILE
                one more row, B: the bundle FILE (an older build) run as the unit runs the
                edge (row 0), for an A/B of two builds in one interleaved run
  --help        show this help

Needs a built edge (pnpm bench:edge builds it first), python3 and OpenSSH server and client
(installed with apt-get when running as root and /usr/sbin/sshd is missing).
Exits non-zero if any row could not be measured.`;

// ---------------------------------------------------------------- options

const FLAG_SETS = {
  default: [],
  recommended: ['--max-semi-space-size=1', '--max-old-space-size=32', '--v8-pool-size=1', '--optimize-for-size'],
  lite: ['--lite-mode', '--max-semi-space-size=1', '--v8-pool-size=1'],
};

/**
 * Splits a unit file value into words as systemd does: whitespace separates, double or single
 * quotes group (and are removed), a backslash escapes the next character.
 */
function unitWords(value) {
  const words = [];
  let cur = '';
  let quote;
  let inWord = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/**
 * How deploy/systemd/homelab-edge.service runs the edge, for the bench: its [Service]
 * Environment= assignments (EnvironmentFile= is optional and absent on a fresh install) and its
 * ExecStart= expanded as systemd does (`$VAR` splits into words, `${VAR}` stays one), with the
 * bundle, token file and listen address swapped for the bench's. The bundle keeps the name the
 * unit gives it (so a change of bundle format shows here), taken from packages/edge/dist.
 */
function readUnit(file, { tokenFile }) {
  const env = {};
  let exec;
  let section;
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const m = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (section !== 'Service' || !m) continue;
    if (m[1] === 'Environment') {
      for (const w of unitWords(m[2])) {
        const eq = w.indexOf('=');
        if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1);
      }
    } else if (m[1] === 'ExecStart') exec = m[2];
  }
  if (!exec) throw new Error(`${file}: no ExecStart=`);
  const argv = [];
  for (const w of unitWords(exec)) {
    const whole = /^\$(\w+)$/.exec(w);
    if (whole) argv.push(...(env[whole[1]] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(w.replace(/\$\{(\w+)\}/g, (_, k) => env[k] ?? ''));
  }
  const bundleAt = argv.findIndex((a) => /\/homelab-edge\.[cm]?js$/.test(a));
  if (bundleAt < 0) throw new Error(`${file}: ExecStart= names no homelab-edge bundle: ${exec}`);
  const bundle = path.join(ROOT, 'packages/edge/dist', path.basename(argv[bundleAt]));
  const args = argv.slice(bundleAt + 1);
  const set = (flag, value) => {
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = value;
    else args.push(flag, value);
  };
  set('--token-file', tokenFile);
  set('--listen', '127.0.0.1:0');
  return {
    nodeFlags: argv.slice(1, bundleAt),
    bundle,
    args,
    env: { PATH: SYSTEMD_PATH, ...env },
    /** The Environment= variables that are not the unit's own HOMELAB_EDGE_* settings. */
    extraEnv: Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('HOMELAB_EDGE_'))),
  };
}

const opts = parseArgs(process.argv.slice(2), HELP, { json: { needs: 'a file name' }, baseline: { needs: 'a bundle file', map: (v) => path.resolve(v) } });
const CFG = opts.quick
  ? { calls: 200, statusCalls: 50, idleS: 3, coldStarts: 3, sshNewCalls: 10, settleS: 2, warmup: 5, rounds: 10 }
  : { calls: 1000, statusCalls: 1000, idleS: 10, coldStarts: 5, sshNewCalls: 50, settleS: 2, warmup: 5, rounds: 20 };

// ---------------------------------------------------------------- small helpers

const median = (samples) => percentile(samples, 50);

/** pid -> { ppid, comm } for every process, from /proc/PID/stat. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      table.set(Number(name), { ppid: Number(rest[1]), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

/** All descendants of `root` (not `root` itself). */
function descendants(root) {
  const table = processTable();
  const out = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift();
    for (const [pid, p] of table) {
      if (p.ppid === parent) {
        out.push({ pid, comm: p.comm });
        queue.push(pid);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- process bookkeeping

/** PIDs we caused to exist but did not spawn directly (the ControlMaster that ssh daemonizes). */
const strayPids = new Set();
let tmpRoot;
let sshdListener;
let controlMaster;
/** Median time to spawn `node -e 0` and see it exit: the part of a cold start no edge code can save. */
let nodeBareStartMs;

const { progress, track, stopProcess, startServer, newAgent, makeTmpRoot, ensureBuilt, finish, run } = createBench({
  tag: () => 'bench',
  graceMs: 3000,
  listenTimeoutMs: 15_000,
  timeoutTail: false,
  beforeCleanup: stopSsh,
  onExit: killSsh,
});

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Cleanup, first: closes the ControlMaster, stops sshd and its sessions, then any stray PID. */
async function stopSsh() {
  if (controlMaster) {
    // Ask the master to close its connection; SIGTERM below is the fallback.
    spawnSyncText('ssh', [...controlMaster.sshd.base, '-o', `ControlPath=${controlMaster.controlPath}`, '-O', 'exit', controlMaster.sshd.target]);
    controlMaster = undefined;
    await sleep(100);
  }
  await stopSshd();
  for (const pid of strayPids) {
    if (pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
    }
  }
  strayPids.clear();
}

/** Last resort on exit, first: SIGKILL to sshd's sessions (while sshd still holds them) and the stray PIDs. */
function killSsh() {
  if (sshdListener && alive(sshdListener)) {
    for (const p of descendants(sshdListener.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {}
    }
  }
  for (const pid of strayPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

// ---------------------------------------------------------------- HTTP

/** One HTTP request; resolves { status, body }. */
function request(port, { method = 'GET', path: p, body, headers = {}, agent }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${p}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- clients of each kind of server

/** Talks MCP to the edge: legacy stateless requests, no session. */
function edgeClient(token) {
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  let id = 0;
  const rpc = (port, agent, method, params) =>
    request(port, { method: 'POST', path: '/mcp', headers, agent, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
  const check = (what, r, verify) => {
    if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    const msg = JSON.parse(r.body);
    if (msg.error) throw new Error(`${what}: JSON-RPC error ${JSON.stringify(msg.error).slice(0, 300)}`);
    if (msg.result?.isError) throw new Error(`${what}: tool error ${JSON.stringify(msg.result).slice(0, 300)}`);
    verify?.(msg.result);
  };
  return {
    firstAnswer: async (port) => {
      const r = await rpc(port, false, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
      check('initialize', r, (res) => {
        if (!res?.protocolVersion) throw new Error('initialize: no protocolVersion in the result');
      });
    },
    cmd: (port, agent) => rpc(port, agent, 'tools/call', { name: 'run_command', arguments: { cmd: 'true' } }),
    checkCmd: (r) =>
      check('run_command', r, (res) => {
        // The field was renamed exit_code -> exitCode while the edge was being written: accept both.
        const sc = res?.structuredContent ?? {};
        const code = sc.exitCode ?? sc.exit_code;
        if (code !== 0) throw new Error(`run_command: exit code ${code} (structuredContent ${JSON.stringify(sc).slice(0, 200)})`);
      }),
    status: (port, agent) => rpc(port, agent, 'tools/call', { name: 'get_status', arguments: {} }),
    checkStatus: (r) =>
      check('get_status', r, (res) => {
        if (!res?.structuredContent) throw new Error('get_status: no structuredContent');
      }),
    flood: (port, agent) => rpc(port, agent, 'tools/call', { name: 'run_command', arguments: { cmd: FLOOD_CMD } }),
    /** The flood's answer: exit 0, all 1 GiB counted, output cut at the edge's cap. Returns what it kept. */
    checkFlood: (r) => {
      let sc;
      check('run_command flood', r, (res) => (sc = res?.structuredContent ?? {}));
      if (sc.exitCode !== 0) throw new Error(`${FLOOD_CMD}: exit code ${sc.exitCode}`);
      if (sc.stdoutBytes !== FLOOD_BYTES) throw new Error(`${FLOOD_CMD}: stdoutBytes ${sc.stdoutBytes}, expected ${FLOOD_BYTES}`);
      if (!sc.truncated) throw new Error(`${FLOOD_CMD}: the answer does not say the output was cut`);
      const kept = Buffer.byteLength(sc.stdout ?? '');
      if (kept === 0 || kept > 1024 * 1024) throw new Error(`${FLOOD_CMD}: kept ${kept} bytes of stdout, expected 1 to 1 MiB (the default cap)`);
      return { keptBytes: kept, answerBytes: Buffer.byteLength(r.body) };
    },
  };
}

/** Talks to bench/edge/python-edge.py. */
function pythonClient(token) {
  const auth = { authorization: `Bearer ${token}` };
  const ok = (what, r) => {
    if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body);
  };
  return {
    firstAnswer: async (port) => ok('GET /status', await request(port, { path: '/status', headers: auth, agent: false })),
    cmd: (port, agent) => request(port, { method: 'POST', path: '/cmd', headers: { ...auth, 'content-type': 'application/json' }, agent, body: '{"cmd":"true"}' }),
    checkCmd: (r) => {
      const b = ok('POST /cmd', r);
      if (b.exit_code !== 0) throw new Error(`POST /cmd: exit_code ${b.exit_code}`);
    },
    status: (port, agent) => request(port, { path: '/status', headers: auth, agent }),
    checkStatus: (r) => {
      if (!ok('GET /status', r).loadavg) throw new Error('GET /status: no loadavg');
    },
  };
}

// ---------------------------------------------------------------- subjects and rounds
//
// Every row is a "subject". The long-lived instances all run at the same time and take their
// calls in interleaved rounds (a block of calls each, the order rotating every round), so that
// background load on a shared machine hits every row alike instead of whichever ran during a
// noisy minute. All of them then idle together before the memory is read again.

/** Cold start of one HTTP subject: spawn to the first successful answer, in ms. */
async function coldStart(subject) {
  const t0 = performance.now();
  const srv = await subject.start();
  try {
    await subject.client.firstAnswer(srv.port);
    return performance.now() - t0;
  } finally {
    await stopProcess(srv.cp);
  }
}

/** Turns an HTTP subject's running instance into timed, checked calls over one keep-alive socket. */
function httpCalls(subject) {
  const { client, srv } = subject;
  const agent = newAgent(1);
  const timed = (call, check) => async () => {
    const t = performance.now();
    const r = await call(srv.port, agent);
    const ms = performance.now() - t;
    check(r); // after the clock stops: parsing the answer is the client's cost, not the server's
    return ms;
  };
  return { cmd: timed(client.cmd, client.checkCmd), status: timed(client.status, client.checkStatus) };
}

/**
 * One run_command(FLOOD_CMD) on an edge's long-lived instance, its RssAnon read every
 * FLOOD_SAMPLE_MS ms from just before the call to just after the answer: extra = peak - before.
 */
async function floodCall(subject) {
  const { client, srv } = subject;
  const pid = srv.pid;
  const beforeKb = readMem(pid).anonKb;
  let peakKb = beforeKb;
  let samples = 0;
  const sample = () => {
    try {
      const kb = readMem(pid).anonKb;
      samples++;
      if (kb > peakKb) peakKb = kb;
    } catch {
      // exited: the check of the answer reports it
    }
  };
  const timer = setInterval(sample, FLOOD_SAMPLE_MS);
  const t = performance.now();
  let r;
  try {
    r = await client.flood(srv.port, false);
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t;
  sample();
  const kept = client.checkFlood(r);
  return { beforeMB: MB(beforeKb), peakMB: MB(peakKb), extraMB: MB(peakKb - beforeKb), samples, ms, ...kept };
}

function fail(subject, err) {
  if (subject.error) return;
  subject.error = err.message;
  progress(`${subject.key} ${subject.label} FAILED: ${err.message}`);
}

/** Runs `count(subject)` calls of `kind` for every live subject, in interleaved rounds. */
async function runRounds(subjects, kind, count) {
  const rounds = CFG.rounds;
  for (let r = 0; r < rounds; r++) {
    const live = subjects.filter((s) => !s.error);
    const order = live.map((_, i) => live[(i + r) % live.length]);
    for (const s of order) {
      const n = share(count(s), r, rounds);
      try {
        for (let i = 0; i < n; i++) s.samples[kind].push(await s.calls[kind]());
      } catch (err) {
        fail(s, err);
      }
    }
  }
}

// ---------------------------------------------------------------- SSH

function ensureSshd() {
  if (existsSync(SSHD)) return;
  if (process.getuid?.() !== 0) throw new Error(`${SSHD} is missing: install openssh-server (apt-get install -y --no-install-recommends openssh-server)`);
  progress(`${SSHD} is missing: apt-get install -y --no-install-recommends openssh-server`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'openssh-server'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** A throwaway sshd on 127.0.0.1:<free port> with its own host key, config and authorized_keys. */
async function startSshd(dir) {
  ensureSshd();
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  const keygen = (file) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-bench', '-f', file], { stdio: 'ignore' });
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'id_ed25519');
  keygen(hostKey);
  keygen(userKey);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const user = os.userInfo().username;

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const cfg = path.join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'StrictModes no',
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        // Debian's defaults: PAM on (pam_motd, the session stack), no motd printed by sshd itself.
        'UsePAM yes',
        'PrintMotd no',
        'KbdInteractiveAuthentication no',
        'PasswordAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        // SHLVL=1 makes bash skip ~/.bashrc for `ssh host cmd` as a stock Debian/Pi .bashrc would;
        // this machine's root .bashrc runs pyenv init and would add ~80 ms (reference doc, §4).
        'SetEnv SHLVL=1',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    const cp = track(spawn(SSHD, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let log = '';
    const ready = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      cp.stderr.on('data', (c) => {
        log = (log + c.toString()).slice(-4000);
        if (/Server listening on 127\.0\.0\.1 port/.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      cp.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) {
      const knownHosts = path.join(dir, 'known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
      const base = [
        '-F', '/dev/null', '-p', String(port), '-i', userKey,
        '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
        '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-T',
      ];
      return { cp, pid: cp.pid, port, base, target: `${user}@127.0.0.1` };
    }
    await stopProcess(cp);
    // A lost race for the free port: try another one.
    if (attempt >= 3 || !/Address already in use|Bind to port/.test(log)) throw new Error(`sshd did not start:\n${log.trim()}`);
  }
}

/** Runs `ssh ARGS` and resolves its wall time in ms; throws on a non-zero exit. */
async function sshTimed(args, { capture = false } = {}) {
  const t = performance.now();
  const cp = track(spawn('ssh', args, { stdio: ['ignore', capture ? 'pipe' : 'ignore', 'pipe'] }));
  let err = '';
  let out = '';
  cp.stderr.on('data', (c) => (err = (err + c).slice(-2000)));
  cp.stdout?.on('data', (c) => (out += c));
  // 'exit', not 'close': a ControlMaster that ssh daemonizes may hold our pipes open for 60 s.
  const [code] = await once(cp, 'exit');
  const ms = performance.now() - t;
  if (code !== 0) {
    await sleep(50);
    throw new Error(`ssh ${args.slice(-1)[0]} exited ${code}: ${err.trim()}`);
  }
  return { ms, out };
}

/** Memory of one live session: every descendant of the listener while `ssh host 'sleep 4'` runs. */
async function sshSessionMemory(listenerPid, args) {
  const cp = track(spawn('ssh', [...args, 'sleep 4'], { stdio: 'ignore' }));
  const exited = once(cp, 'exit');
  const deadline = Date.now() + 3000;
  while (!descendants(listenerPid).some((p) => p.comm === 'sleep')) {
    if (Date.now() > deadline || !alive(cp)) throw new Error('ssh session memory: the remote `sleep` never appeared');
    await sleep(20);
  }
  await sleep(300);
  let privateKb = 0;
  let rssKb = 0;
  const procs = [];
  for (const p of descendants(listenerPid)) {
    try {
      const m = readMem(p.pid);
      privateKb += m.anonKb;
      rssKb += m.rssKb;
      procs.push(`${p.comm} ${MB(m.rssKb).toFixed(1)}/${MB(m.anonKb).toFixed(1)}`);
    } catch {}
  }
  const [code] = await exited;
  if (code !== 0) throw new Error(`ssh 'sleep 4' exited ${code}`);
  return { privateMB: MB(privateKb), rssMB: MB(rssKb), processes: procs };
}

/**
 * Starts the throwaway sshd and checks that a command runs through it. Returns the ssh argument
 * lists for a new connection per command and for ControlMaster multiplexing.
 */
async function prepareSsh(dir) {
  const sshd = await startSshd(dir);
  sshdListener = sshd.cp;
  progress(`sshd listening on 127.0.0.1:${sshd.port} (pid ${sshd.pid})`);
  const fresh = [...sshd.base, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', sshd.target];
  const { out } = await sshTimed([...fresh, 'cat /proc/loadavg'], { capture: true });
  if (!/^\d+\.\d+ /.test(out)) throw new Error(`ssh host 'cat /proc/loadavg' printed ${JSON.stringify(out)}`);
  const controlPath = path.join(dir, 'cm');
  const mux = [...sshd.base, '-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=60', sshd.target];
  return { sshd, fresh, mux, controlPath };
}

/** Opens the ControlMaster (ssh daemonizes it) and records its PID so that cleanup can stop it. */
async function openControlMaster(ssh) {
  await sshTimed([...ssh.mux, 'true']);
  const check = spawnSyncText('ssh', [...ssh.sshd.base, '-o', `ControlPath=${ssh.controlPath}`, '-O', 'check', ssh.sshd.target]);
  const pid = Number(/pid=(\d+)/.exec(check)?.[1]);
  if (!pid) throw new Error(`ControlMaster did not start: ${check.trim()}`);
  strayPids.add(pid);
  controlMaster = { ...ssh, pid };
}

/**
 * Stops the sshd listener and the per-connection sshd processes it forked: those do not end
 * with the listener, and each is a session this bench opened.
 */
async function stopSshd() {
  const cp = sshdListener;
  sshdListener = undefined;
  if (!cp || !alive(cp)) return;
  for (const p of descendants(cp.pid)) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {}
  }
  await stopProcess(cp);
}

/** stdout + stderr of a short command (`ssh -V` and `ssh -O check` answer on stderr). */
function spawnSyncText(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`;
}

// ---------------------------------------------------------------- report

const fmtMB = (v) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(1));
const fmtCpu = (v) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));
const fmtPair = (s) => (s ? `${fmtMs(s.p50)} / ${fmtMs(s.p99)}` : '-');

function renderTable(rows) {
  const head = [
    'row',
    'what',
    'private MB idle',
    'RSS MB idle',
    'private MB after calls + idle',
    'RSS MB after calls + idle',
    'peak RSS MB',
    'cold start ms',
    'run_command("true") p50 / p99 ms',
    'get_status p50 / p99 ms',
    'server CPU ms per call: run_command / get_status',
    `${FLOOD_CMD.replace(/\|/g, "\\|")} via run_command: private MB before -> peak (extra)`,
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    if (!r.ok) {
      lines.push(`| ${r.key} | ${r.label} | failed: ${String(r.error).split('\n')[0].replace(/\|/g, '/')} |${' |'.repeat(head.length - 3)}`);
      continue;
    }
    lines.push(
      `| ${[
        r.key,
        r.label,
        fmtMB(r.idle?.privateMB),
        fmtMB(r.idle?.rssMB),
        fmtMB(r.after?.privateMB),
        fmtMB(r.after?.rssMB),
        fmtMB(r.peakRssMB),
        fmtMs(r.coldStartMs),
        fmtPair(r.cmd),
        fmtPair(r.status),
        r.cmd?.cpuMsPerCall === undefined ? '-' : `${fmtCpu(r.cmd.cpuMsPerCall)} / ${fmtCpu(r.status.cpuMsPerCall)}`,
        r.flood ? `${fmtMB(r.flood.beforeMB)} -> ${fmtMB(r.flood.peakMB)} (+${fmtMB(r.flood.extraMB)})` : '-',
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The targets of issue #19, from this run's numbers only: each a ratio to what ran in the same
 * minutes (Python's edge, `node -e 0`), or a difference of one process's own readings.
 */
function evaluateTargets(byId, setId) {
  const e = byId[setId];
  const py = byId.python;
  const fresh = byId['ssh-per-connection'];
  const mux = byId['ssh-controlmaster'];
  const has = (...rs) => rs.every((r) => r?.ok);
  const t = [];
  const add = (id, text, value, limitText, pass) => t.push({ id, text, value, limit: limitText, pass });
  const x = (a, b) => `${(a / b).toFixed(2)}x`;
  if (has(e, py)) {
    add('status-vs-python', 'get_status p50 <= Python /status p50', `${fmtMs(e.status.p50)} vs ${fmtMs(py.status.p50)} ms (${x(e.status.p50, py.status.p50)})`, '<= 1x', e.status.p50 <= py.status.p50);
    add(
      'status-cpu-vs-python',
      'server CPU per get_status <= Python per /status',
      `${fmtCpu(e.status.cpuMsPerCall)} vs ${fmtCpu(py.status.cpuMsPerCall)} ms (${x(e.status.cpuMsPerCall, py.status.cpuMsPerCall)})`,
      '<= 1x',
      e.status.cpuMsPerCall <= py.status.cpuMsPerCall,
    );
    add('cmd-vs-python', 'run_command("true") p50 <= 1.2x Python /cmd p50', `${fmtMs(e.cmd.p50)} vs ${fmtMs(py.cmd.p50)} ms (${x(e.cmd.p50, py.cmd.p50)})`, '<= 1.2x', e.cmd.p50 <= 1.2 * py.cmd.p50);
    add(
      'after-private-vs-python',
      `private memory after ${CFG.calls} + ${CFG.statusCalls} calls and ${CFG.idleS} s idle <= Python's`,
      `${fmtMB(e.after.privateMB)} vs ${fmtMB(py.after.privateMB)} MB (${x(e.after.privateMB, py.after.privateMB)})`,
      '<= 1x',
      e.after.privateMB <= py.after.privateMB,
    );
  }
  if (has(e) && nodeBareStartMs) {
    add('cold-start-vs-node', 'cold start to first answer <= 1.5x `node -e 0`', `${fmtMs(e.coldStartMs)} vs ${fmtMs(nodeBareStartMs)} ms (${x(e.coldStartMs, nodeBareStartMs)})`, '<= 1.5x', e.coldStartMs <= 1.5 * nodeBareStartMs);
  }
  if (has(e) && e.flood) {
    add(
      'flood-extra-private',
      `\`${FLOOD_CMD}\` through run_command costs < 4 MB extra private memory`,
      `+${fmtMB(e.flood.extraMB)} MB (${fmtMB(e.flood.beforeMB)} -> ${fmtMB(e.flood.peakMB)}, ${e.flood.samples} samples; kept ${e.flood.keptBytes} bytes of ${FLOOD_BYTES})`,
      '< 4 MB',
      e.flood.extraMB < 4,
    );
  }
  if (has(e, fresh)) {
    add('cmd-vs-ssh', '(information) run_command p50 >= 50x faster than a new SSH connection', `${(fresh.cmd.p50 / e.cmd.p50).toFixed(1)}x (${fmtMs(fresh.cmd.p50)} vs ${fmtMs(e.cmd.p50)} ms)`, '>= 50x', fresh.cmd.p50 / e.cmd.p50 >= 50);
  }
  if (has(e, mux)) {
    add('cmd-vs-controlmaster', '(information) run_command p50 >= 3x faster than SSH ControlMaster', `${(mux.cmd.p50 / e.cmd.p50).toFixed(1)}x (${fmtMs(mux.cmd.p50)} vs ${fmtMs(e.cmd.p50)} ms)`, '>= 3x', mux.cmd.p50 / e.cmd.p50 >= 3);
  }
  return t;
}

/**
 * Which of the two candidate flag sets to deploy. These flags exist to keep memory flat under
 * load, so the one with less private memory after the calls wins, unless that costs a clear
 * regression elsewhere: a p50 latency or the cold start more than 20% worse than the other's
 * (beyond this machine's noise), or more than 2x the server CPU per call (lite mode runs JS in the
 * interpreter only, which a Pi pays for several times over). Target counts are not used: a
 * threshold such as the 150 ms cold start can flip on noise.
 */
function pickWinner(byId) {
  const cands = ['edge-recommended', 'edge-lite'].filter((id) => byId[id]?.ok);
  const name = (id) => id.replace('edge-', '');
  if (cands.length === 0) return undefined;
  if (cands.length === 1) {
    return { id: cands[0], flags: FLAG_SETS[name(cands[0])].join(' '), text: `Winner: ${name(cands[0])} flags \`${FLAG_SETS[name(cands[0])].join(' ')}\` (the other set failed to run).` };
  }
  const regressions = (r, o) => {
    const out = [];
    const worse = (what, a, b, factor) => {
      if (a > b * factor) out.push(`${what} ${(a / b).toFixed(2)}x`);
    };
    worse('run_command p50', r.cmd.p50, o.cmd.p50, 1.2);
    worse('get_status p50', r.status.p50, o.status.p50, 1.2);
    worse('cold start', r.coldStartMs, o.coldStartMs, 1.2);
    worse('CPU per run_command', r.cmd.cpuMsPerCall, o.cmd.cpuMsPerCall, 2);
    worse('CPU per get_status', r.status.cpuMsPerCall, o.status.cpuMsPerCall, 2);
    return out;
  };
  const [lean, other] = cands.map((id) => byId[id]).sort((a, b) => a.after.privateMB - b.after.privateMB || a.after.rssMB - b.after.rssMB);
  const costs = regressions(lean, other);
  const win = costs.length ? other : lean;
  const lose = win === lean ? other : lean;
  const why = costs.length
    ? `${name(lean.id)} uses less memory after load but costs ${costs.join(', ')}`
    : `least private memory after load, with no latency, cold-start or CPU regression beyond the thresholds`;
  const a = win;
  const b = lose;
  const pct = (x, y) => `${x <= y ? '-' : '+'}${Math.abs((100 * (x - y)) / y).toFixed(0)}%`;
  const cmp = (what, x, y, f, unit) => `${what} ${f(x)} vs ${f(y)}${unit} (${pct(x, y)})`;
  const text =
    `Winner: ${name(win.id)} flags \`${FLAG_SETS[name(win.id)].join(' ')}\` over ${name(lose.id)} (${why}): ` +
    [
      cmp('private after load', a.after.privateMB, b.after.privateMB, fmtMB, ' MB'),
      cmp('RSS after load', a.after.rssMB, b.after.rssMB, fmtMB, ' MB'),
      cmp('peak RSS', a.peakRssMB, b.peakRssMB, fmtMB, ' MB'),
      cmp('idle RSS', a.idle.rssMB, b.idle.rssMB, fmtMB, ' MB'),
      cmp('run_command p50', a.cmd.p50, b.cmd.p50, fmtMs, ' ms'),
      cmp('get_status p50', a.status.p50, b.status.p50, fmtMs, ' ms'),
      cmp('cold start', a.coldStartMs, b.coldStartMs, fmtMs, ' ms'),
      cmp('CPU per run_command', a.cmd.cpuMsPerCall, b.cmd.cpuMsPerCall, fmtCpu, ' ms'),
      cmp('CPU per get_status', a.status.cpuMsPerCall, b.status.cpuMsPerCall, fmtCpu, ' ms'),
    ].join(', ') +
    '.';
  return { id: win.id, flags: FLAG_SETS[name(win.id)].join(' '), against: lose.id, reason: why, text };
}

// ---------------------------------------------------------------- the protocol

/**
 * 1. cold starts of every HTTP row, interleaved, with nothing else of ours running;
 * 2. one long-lived instance of every row at once, plus sshd; settle, read memory;
 * 3. memory of one SSH session, each way; open the ControlMaster;
 * 4. warm-up, then run_command("true") calls and status calls in interleaved rounds;
 * 5. idle together, read memory again. Returns the table rows.
 */
async function measureAll({ python, token, tokenFile }) {
  const edge = edgeClient(token);
  const edgeStart = (flags) => () =>
    startServer(process.execPath, [...FLAG_SETS[flags], EDGE_BUNDLE, '--listen', '127.0.0.1:0', '--token-file', tokenFile], `edge (${flags} flags)`);
  const unit = readUnit(UNIT_FILE, { tokenFile });
  ensureBuilt(ROOT, unit.bundle, 'packages/edge/build.mjs');
  const unitEnvText = Object.entries(unit.extraEnv).map(([k, v]) => `${k}=${v}`).join(' ');
  const subject = (key, id, label, more) => ({ key, id, label, samples: { cmd: [], status: [] }, coldMs: [], ...more });
  const httpSubjects = [
    subject(
      '0',
      'edge-unit',
      `bundled edge as deploy/systemd/homelab-edge.service runs it: \`${unit.nodeFlags.join(' ')} ${path.basename(unit.bundle)}\`${unitEnvText ? `, environment \`${unitEnvText}\`` : ', no other environment'}`,
      { start: () => startServer(process.execPath, [...unit.nodeFlags, unit.bundle, ...unit.args], 'edge (the unit)', { env: unit.env }), client: edge, edge: true, unit },
    ),
    ...(opts.baseline
      ? [
          subject('B', 'edge-baseline', `baseline build \`${opts.baseline}\`, run as row 0`, {
            start: () => startServer(process.execPath, [...unit.nodeFlags, opts.baseline, ...unit.args], 'edge (baseline)', { env: unit.env }),
            client: edge,
            edge: true,
          }),
        ]
      : []),
    subject('1', 'edge-default', 'bundled edge, default Node flags', { start: edgeStart('default'), client: edge, edge: true }),
    subject('2a', 'edge-recommended', `bundled edge, recommended flags \`${FLAG_SETS.recommended.join(' ')}\``, { start: edgeStart('recommended'), client: edge, edge: true }),
    subject('2b', 'edge-lite', `bundled edge, lite flags \`${FLAG_SETS.lite.join(' ')}\``, { start: edgeStart('lite'), client: edge, edge: true }),
    subject('3', 'python', 'Python http.server edge (ThreadingHTTPServer, keep-alive, TCP_NODELAY): `/cmd` and `/status`', {
      start: () => startServer(python, [PYTHON_EDGE, '0', tokenFile], 'python-edge'),
      client: pythonClient(token),
    }),
  ];
  const listener = subject('4a', 'sshd-listener', 'sshd listener alone (always running)');
  const sshFresh = subject('4b', 'ssh-per-connection', 'SSH, new connection per command (memory: one session = per-connection sshd + command); status = `cat /proc/loadavg`');
  const sshMux = subject('4c', 'ssh-controlmaster', 'SSH over a ControlMaster (memory: the master connection + one session); status = `cat /proc/loadavg`');
  const sshSubjects = [listener, sshFresh, sshMux];
  const live = (list) => list.filter((s) => !s.error);

  // 1. cold starts, and the floor under them: Node starting and exiting with no code at all,
  // one in every round, so that it meets the same load as the rows it is compared with
  const bareMs = [];
  const bare = async () => {
    const t = performance.now();
    const cp = track(spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }));
    await once(cp, 'exit');
    bareMs.push(performance.now() - t);
  };
  for (let i = 0; i < CFG.coldStarts; i++) {
    const list = [bare, ...live(httpSubjects)];
    for (const s of list.map((_, j) => list[(i + j) % list.length])) {
      if (s === bare) {
        await bare();
        continue;
      }
      try {
        s.coldMs.push(await coldStart(s));
      } catch (err) {
        fail(s, err);
      }
    }
  }
  nodeBareStartMs = median(bareMs);
  progress(`node -e 0: ${bareMs.map((x) => x.toFixed(0)).join(', ')} ms`);
  for (const s of live(httpSubjects)) progress(`${s.key} ${s.id}: cold start ${s.coldMs.map((x) => x.toFixed(0)).join(', ')} ms`);

  // 2. long-lived instances
  for (const s of live(httpSubjects)) {
    try {
      s.srv = await s.start();
      s.calls = httpCalls(s);
    } catch (err) {
      fail(s, err);
    }
  }
  let ssh;
  try {
    ssh = await prepareSsh(tmpRoot);
  } catch (err) {
    for (const s of sshSubjects) fail(s, err);
  }
  await sleep(CFG.settleS * 1000);
  for (const s of live(httpSubjects)) s.idleMem = readMem(s.srv.pid);
  if (ssh) listener.idleMem = readMem(ssh.sshd.pid);

  // 3. SSH sessions
  if (ssh) {
    try {
      sshFresh.session = await sshSessionMemory(ssh.sshd.pid, ssh.fresh);
      progress(`ssh session (RSS/private MB): ${sshFresh.session.processes.join(', ')}`);
      await openControlMaster(ssh);
      sshMux.session = await sshSessionMemory(ssh.sshd.pid, ssh.mux);
      progress(`ssh ControlMaster connection + session (RSS/private MB): ${sshMux.session.processes.join(', ')}`);
    } catch (err) {
      for (const s of sshSubjects) fail(s, err);
    }
    const call = (args, cmd) => async () => (await sshTimed([...args, cmd])).ms;
    sshFresh.calls = { cmd: call(ssh.fresh, 'true'), status: call(ssh.fresh, 'cat /proc/loadavg') };
    sshMux.calls = { cmd: call(ssh.mux, 'true'), status: call(ssh.mux, 'cat /proc/loadavg') };
  }
  listener.samples = undefined; // memory only: it takes no calls itself

  // 4. calls
  const callers = [...httpSubjects, sshFresh, sshMux];
  for (const s of live(callers)) {
    try {
      for (let i = 0; i < (s === sshFresh ? 1 : CFG.warmup); i++) {
        await s.calls.cmd();
        await s.calls.status();
      }
    } catch (err) {
      fail(s, err);
    }
  }
  // The server's own CPU per call (not its children's): what the interpreter-only lite mode
  // costs shows here even where the wall-clock latency is dominated by fork/exec or a sleep.
  const cpuDelta = async (kind, count) => {
    const before = new Map(live(httpSubjects).map((s) => [s, readCpuMs(s.srv.pid)]));
    await runRounds(callers, kind, count);
    for (const [s, ms] of before) if (!s.error) s.cpuMsPerCall = { ...s.cpuMsPerCall, [kind]: (readCpuMs(s.srv.pid) - ms) / s.samples[kind].length };
  };
  progress(`run_command("true") / \`true\`: ${CFG.calls} calls per row (${CFG.sshNewCalls} for new SSH connections), ${CFG.rounds} interleaved rounds`);
  await cpuDelta('cmd', (s) => (s === sshFresh ? CFG.sshNewCalls : CFG.calls));
  progress(`get_status / status: ${CFG.statusCalls} calls per row (${CFG.sshNewCalls} for new SSH connections)`);
  await cpuDelta('status', (s) => (s === sshFresh ? CFG.sshNewCalls : CFG.statusCalls));

  // 5. idle, memory again
  progress(`idling ${CFG.idleS} s`);
  await sleep(CFG.idleS * 1000);
  const memoryHolders = [...httpSubjects, ...(ssh ? [listener] : [])];
  for (const s of live(memoryHolders)) {
    const proc = s === listener ? ssh.sshd : s.srv;
    if (!alive(proc.cp)) fail(s, new Error(`exited during the run${proc.tail ? `:\n${proc.tail()}` : ''}`));
    else s.afterMem = readMem(proc.pid);
  }

  // 6. one flood per edge: what 1 GiB of output costs the edge's private memory while it runs
  for (const s of live(httpSubjects).filter((x) => x.edge)) {
    try {
      s.flood = await floodCall(s);
      progress(`${s.key} ${s.id}: ${FLOOD_CMD}: private ${fmtMB(s.flood.beforeMB)} -> peak ${fmtMB(s.flood.peakMB)} MB (+${fmtMB(s.flood.extraMB)}), ${s.flood.samples} samples, ${fmtMs(s.flood.ms)} ms`);
    } catch (err) {
      fail(s, err);
    }
  }

  const mem = (m) => ({ privateMB: MB(m.anonKb), rssMB: MB(m.rssKb) });
  return [...httpSubjects, ...sshSubjects].map((s) => {
    const head = { key: s.key, id: s.id, label: s.label };
    if (s.error) return { ...head, ok: false, error: s.error };
    if (s === sshFresh || s === sshMux) {
      const session = { privateMB: s.session.privateMB, rssMB: s.session.rssMB };
      return { ...head, ok: true, idle: session, session: s.session, cmd: stats(s.samples.cmd), status: stats(s.samples.status) };
    }
    const row = { ...head, ok: true, idle: mem(s.idleMem), after: mem(s.afterMem), peakRssMB: MB(s.afterMem.hwmKb) };
    if (s === listener) return row;
    return {
      ...row,
      ...(s.flood ? { flood: s.flood } : {}),
      coldStartMs: median(s.coldMs),
      coldStartsMs: s.coldMs,
      cmd: { ...stats(s.samples.cmd), cpuMsPerCall: s.cpuMsPerCall.cmd },
      status: { ...stats(s.samples.status), cpuMsPerCall: s.cpuMsPerCall.status },
    };
  });
}

// ---------------------------------------------------------------- main

async function main() {
  const t0 = performance.now();
  ensureBuilt(ROOT, EDGE_BUNDLE, 'packages/edge/build.mjs');
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  tmpRoot = makeTmpRoot('edge-bench-');
  const token = `bench-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const tokenFile = path.join(tmpRoot, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

  const meta = {
    date: new Date().toISOString(),
    quick: opts.quick,
    calls: CFG.calls,
    statusCalls: CFG.statusCalls,
    sshNewConnectionCalls: CFG.sshNewCalls,
    idleSeconds: CFG.idleS,
    settleSeconds: CFG.settleS,
    coldStarts: CFG.coldStarts,
    node: process.version,
    python: spawnSyncText(python, ['--version']).trim(),
    openssh: spawnSyncText('ssh', ['-V']).trim(),
    arch: os.arch(),
    cpus: os.cpus().length,
    kernel: os.release(),
    flagSets: Object.fromEntries(Object.entries(FLAG_SETS).map(([k, v]) => [k, v.join(' ')])),
    unit: (({ nodeFlags, bundle, extraEnv }) => ({ nodeFlags: nodeFlags.join(' '), bundle: path.relative(ROOT, bundle), extraEnv }))(readUnit(UNIT_FILE, { tokenFile })),
  };
  progress(`${meta.node}, ${meta.python}, ${meta.openssh}; ${CFG.calls} calls, ${CFG.idleS} s idle, cold start median of ${CFG.coldStarts}`);

  const rows = await measureAll({ python, token, tokenFile });

  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  const targets = evaluateTargets(byId, 'edge-unit');
  const baseTargets = opts.baseline ? Object.fromEntries(evaluateTargets(byId, 'edge-baseline').map((t) => [t.id, t])) : {};
  const recTargets = Object.fromEntries(evaluateTargets(byId, 'edge-recommended').map((t) => [t.id, t]));
  const liteTargets = Object.fromEntries(evaluateTargets(byId, 'edge-lite').map((t) => [t.id, t]));
  const winner = pickWinner(byId);
  meta.seconds = (performance.now() - t0) / 1000;
  meta.nodeBareStartMs = nodeBareStartMs;

  const out = [renderTable(rows), ''];
  out.push('Targets (#19), the edge as the unit runs it (row 0); the recommended and lite flag sets in brackets:');
  const short = (l) => l.value.replace(/ \(.*$/, '');
  for (const t of targets) {
    const r = recTargets[t.id];
    const l = liteTargets[t.id];
    const b = baseTargets[t.id];
    const more = [b && `baseline: ${b.pass ? '✔' : '✘'} ${short(b)}`, r && `recommended: ${r.pass ? '✔' : '✘'} ${short(r)}`, l && `lite: ${l.pass ? '✔' : '✘'} ${short(l)}`].filter(Boolean).join('; ');
    out.push(`${t.pass ? '✔' : '✘'} ${t.text}: ${t.value}${more ? ` [${more}]` : ''}`);
  }
  if (winner) out.push('', winner.text);
  out.push(
    '',
    `Node ${meta.node}, ${meta.python}, ${meta.openssh.split(',')[0]}; ${meta.arch}, ${meta.cpus} CPUs, Linux ${meta.kernel}. ` +
      `${CFG.calls} run_command + ${CFG.statusCalls} get_status calls per row (${CFG.sshNewCalls} + ${CFG.sshNewCalls} for SSH new connections), ` +
      `${CFG.settleS} s settle, ${CFG.idleS} s idle, cold start median of ${CFG.coldStarts} (\`node -e 0\` alone: ${fmtMs(nodeBareStartMs)} ms). Private = RssAnon. Took ${meta.seconds.toFixed(0)} s.`,
  );
  process.stdout.write(`${out.join('\n')}\n`);

  return finish(rows, opts.json, { meta, rows, targets, recommendedTargets: Object.values(recTargets), liteTargets: Object.values(liteTargets), winner });
}

await run(main);
