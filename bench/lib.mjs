// What the bench scripts (bench/edge/run.mjs, bench/hub/run.mjs) share: statistics, /proc
// readers, option parsing, and the bookkeeping that tracks every process a bench starts and
// stops it by its own PID, on success, on failure and on SIGINT/SIGTERM. Plain Node ESM, no
// dependencies. Only talks to 127.0.0.1.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------- small helpers

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** kB (as /proc reports them) to MB. */
export const MB = (kb) => kb / 1024;

/** The `p`th percentile of `samples` (nearest rank). */
export function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}

/** Count, p50 and p99 of `samples`. */
export const stats = (samples) => ({ n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) });

/** Splits `total` calls over `rounds` rounds: how many go in round `r`. */
export const share = (total, r, rounds) => Math.floor(((r + 1) * total) / rounds) - Math.floor((r * total) / rounds);

/** A time in ms for the table: 2 decimals under 10, 1 under 100, none above; '-' if missing. */
export function fmtMs(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** VmRSS, RssAnon (private, cannot be reclaimed) and VmHWM of one process, in kB. */
export function readMem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), hwmKb: kb('VmHWM') };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system, all threads, not children) a process has used so far, in ms. */
export function readCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // fields 14 and 15: utime, stime
}

/** A TCP port free on 127.0.0.1 right now (another program may still take it before we do). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Whether a child process has not exited yet. */
export const alive = (cp) => cp.exitCode === null && cp.signalCode === null;

// ---------------------------------------------------------------- options

/**
 * Parses `--quick`, `--help`/`-h` and the options that take a value (`--NAME VALUE` or
 * `--NAME=VALUE`), given as { NAME: { key = NAME, needs = 'a value', map } }: `key` is the
 * property it sets, `needs` what the error says is missing, `map` applied to the value.
 * On --help prints `help` and exits 0; on a bad argument prints why and `help` and exits 2.
 */
export function parseArgs(argv, help, valueOptions) {
  const usage = (msg) => {
    process.stderr.write(`run.mjs: ${msg}\n\n${help}\n`);
    process.exit(2);
  };
  const o = { quick: false };
  for (const [name, { key = name }] of Object.entries(valueOptions)) o[key] = undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${help}\n`);
      process.exit(0);
    } else if (a === '--quick') o.quick = true;
    else {
      const name = Object.keys(valueOptions).find((n) => a === `--${n}` || a.startsWith(`--${n}=`));
      if (name === undefined) usage(`unknown argument ${a}`);
      const { key = name, needs = 'a value', map = (v) => v } = valueOptions[name];
      if (a === `--${name}`) {
        const v = argv[++i];
        if (!v) usage(`${a} needs ${needs}`);
        o[key] = map(v);
      } else o[key] = map(a.slice(name.length + 3));
    }
  }
  return o;
}

// ---------------------------------------------------------------- one bench run

/**
 * The bookkeeping of one bench run: every process started through it is tracked and stopped
 * by its own PID, its keep-alive agents are destroyed and its temp dir removed, when `run`'s
 * main function ends, on SIGINT/SIGTERM (exit code 130) and, with SIGKILL, as a last resort if
 * the process exits without reaching either. Options:
 *   tag()            the progress prefix: progress lines are `[tag()] message` on stderr
 *   graceMs          how long stopProcess waits after SIGTERM before it sends SIGKILL
 *   listenTimeoutMs  how long startServer waits for the "listen" log line
 *   timeoutTail      whether that timeout's error carries the tail of the server's output
 *   beforeCleanup()  async; what cleanup stops before the agents and the tracked processes
 *   onExit()         sync; what the last-resort exit handler kills before the tracked processes
 */
export function createBench({ tag, graceMs, listenTimeoutMs, timeoutTail = true, beforeCleanup, onExit }) {
  /** Set by SIGINT/SIGTERM: the measurements still running fail as their servers go; stay quiet. */
  let aborting = false;
  const children = new Set();
  /** Keep-alive agents, destroyed before the servers are stopped. */
  const agents = new Set();
  let tmpRoot;

  /** One progress line on stderr (none once the run is aborting). */
  const progress = (msg) => aborting || process.stderr.write(`[${tag()}] ${msg}\n`);

  /** Tracks a child process until it exits, so that cleanup stops it; returns it. */
  function track(cp) {
    children.add(cp);
    cp.once('exit', () => children.delete(cp));
    return cp;
  }

  /** SIGTERM to a child, SIGKILL if it is still there `grace` ms later; resolves once it exited. */
  async function stopProcess(cp, grace = graceMs) {
    if (!alive(cp)) return;
    const exited = once(cp, 'exit');
    try {
      process.kill(cp.pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(cp.pid, 'SIGKILL');
      } catch {}
    }, grace);
    await exited;
    clearTimeout(t);
  }

  /**
   * Spawns a server and resolves once one of its log lines names the address it listens on
   * (`"listen":"127.0.0.1:PORT"`). Rejects, with the tail of its output, if it exits first.
   */
  function startServer(cmd, args, label, { env = process.env, timeoutMs = listenTimeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      const cp = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env }));
      let tail = '';
      let done = false;
      const timer = setTimeout(
        () => fail(new Error(`${label}: no "listen" log line within ${timeoutMs / 1000} s${timeoutTail ? `:\n${tail.trim()}` : ''}`)),
        timeoutMs,
      );
      const fail = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stopProcess(cp).finally(() => reject(err));
      };
      const onData = (chunk) => {
        tail = (tail + chunk.toString()).slice(-4000);
        if (done) return;
        const m = /"listen":\s*"127\.0\.0\.1:(\d+)"/.exec(tail);
        if (m) {
          done = true;
          clearTimeout(timer);
          resolve({ cp, pid: cp.pid, port: Number(m[1]), label, tail: () => tail });
        }
      };
      // Keep draining both pipes for the whole life of the server, or a chatty one would block.
      cp.stdout.on('data', onData);
      cp.stderr.on('data', onData);
      cp.once('error', fail);
      cp.once('exit', (code, sig) => fail(new Error(`${label} exited (${sig ?? `code ${code}`}) before listening:\n${tail.trim()}`)));
    });
  }

  /** A keep-alive agent with `maxSockets` sockets, destroyed by cleanup unless dropped before. */
  function newAgent(maxSockets) {
    const agent = new http.Agent({ keepAlive: true, maxSockets });
    agents.add(agent);
    return agent;
  }

  /** Destroys an agent from newAgent now. */
  function dropAgent(agent) {
    agent.destroy();
    agents.delete(agent);
  }

  /** Creates the run's temp dir (`<os tmpdir>/<prefix>XXXXXX`), removed by cleanup; returns its path. */
  function makeTmpRoot(prefix) {
    tmpRoot = mkdtempSync(path.join(os.tmpdir(), prefix));
    return tmpRoot;
  }

  /** Builds `bundle` with `node <root>/<build>` if it is missing. */
  function ensureBuilt(root, bundle, build) {
    if (existsSync(bundle)) return;
    progress(`${path.relative(root, bundle)} is missing: building it`);
    execFileSync(process.execPath, [path.join(root, build)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** Stops everything the run started and removes its temp dir. */
  async function cleanup() {
    await beforeCleanup?.();
    for (const agent of agents) agent.destroy();
    agents.clear();
    await Promise.all([...children].map((cp) => stopProcess(cp)));
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
    tmpRoot = undefined;
  }

  // Last resort if we die without reaching `finally` (an uncaught error in a callback).
  process.on('exit', () => {
    onExit?.();
    for (const cp of children) {
      try {
        process.kill(cp.pid, 'SIGKILL');
      } catch {}
    }
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      progress(`${sig}: stopping every process this bench started`);
      aborting = true;
      cleanup().finally(() => process.exit(130));
    });
  }

  /**
   * The end of a run: writes `report` as JSON to `jsonFile` if one was asked for, names the
   * rows that failed (`ok` false) and returns the exit code, 1 if any did, else 0.
   */
  function finish(rows, jsonFile, report) {
    if (jsonFile) {
      writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
      progress(`wrote ${jsonFile}`);
    }
    const failed = rows.filter((r) => !r.ok);
    if (failed.length) {
      progress(`${failed.length} row(s) failed: ${failed.map((r) => r.key).join(', ')}`);
      return 1;
    }
    return 0;
  }

  /** Runs `main` (resolving an exit code), then cleanup whatever happened, and exits. */
  async function run(main) {
    let code = 1;
    try {
      code = await main();
    } catch (err) {
      progress(`failed: ${err.stack ?? err}`);
      code = 1;
    } finally {
      await cleanup();
    }
    process.exit(code);
  }

  return { progress, track, stopProcess, startServer, newAgent, dropAgent, makeTmpRoot, ensureBuilt, finish, run };
}
