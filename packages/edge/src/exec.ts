/**
 * Runs a program with a deadline and bounded output. Every command an edge runs goes
 * through here, so that a command printing gigabytes or never ending cannot exhaust the
 * device: each stream keeps at most `maxBytes` (the rest is read and dropped, so the
 * child never blocks on a full pipe), and a deadline or an abort kills the whole process
 * group, children included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { HomelabError, randomHex } from '@homelab-mcp/core';
import { bytesCost, keptBytes, type ReplyLease } from './reply-size.ts';
import { createRunCgroup, wrapForCgroup } from './run-cgroup.ts';

/**
 * Set in every command's environment with a value unique to the run. `setsid` (or `setsid -f`,
 * or a double fork) takes a process out of the command's process group and session, and its
 * parent may exit so that it is reparented away from the tree; the environment it inherited
 * still names the run, so the deadline finds and kills it too.
 */
export const RUN_MARKER = 'HOMELAB_EDGE_RUN';

/**
 * A run's marker: 9 random bytes, drawn 512 markers at a time (one call into the CSPRNG per 512
 * commands). Random per run, not a counter: a command sees its own marker, and every local user
 * sees its cgroup's name (`homelab-run-PID-MARKER`, in /proc/PID/cgroup); with a counter a command
 * could make the cgroups of the next runs first, and those ran without one (mkdir failed).
 */
const MARKER_HEX = 18;
let markerPool = '';
let markerAt = 0;
function newMarker(): string {
  if (markerAt + MARKER_HEX > markerPool.length) {
    markerPool = randomHex((MARKER_HEX / 2) * 512);
    markerAt = 0;
  }
  return markerPool.slice(markerAt, (markerAt += MARKER_HEX));
}

export interface RunOptions {
  file: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdin?: string | Buffer;
  /** Deadline in milliseconds; the whole process group is killed when it passes. */
  timeoutMs: number;
  /** Cap of each captured stream in bytes. */
  maxBytes: number;
  signal?: AbortSignal;
  /**
   * The call's share of the edge's reply budget: the kept output is claimed from it before it
   * becomes text, so that many large answers at once wait instead of exhausting the heap.
   */
  lease?: ReplyLease;
  /**
   * Run it in a cgroup of its own where the edge can make one (run-cgroup.ts), so that the
   * deadline kills everything it started, however it left the process tree. For run_command.
   */
  cgroup?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended the process, if any. */
  signal: string | null;
  timedOut: boolean;
  /** True when the run was aborted by the caller (client gone, edge stopping). */
  aborted: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Total bytes each stream produced, kept or not. */
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
}

/**
 * Every live process that belongs to a run: descendants of `pid` by parent, members of its
 * process group and session (the command leads both: `detached`), and processes whose
 * environment carries the run's marker (with `byPid: false`, once `pid` may have been reused:
 * only the marked ones and their descendants). Linux `/proc`; elsewhere, empty (the group kill remains).
 */
export async function runProcesses(pid: number, marker: string, opts: { byPid: boolean; procRoot?: string } = { byPid: true }): Promise<number[]> {
  const procRoot = opts.procRoot ?? '/proc';
  const names = await readdir(procRoot).catch(() => [] as string[]);
  const byParent = new Map<number, number[]>();
  const found = new Set<number>();
  const others: number[] = [];
  const needle = `\0${RUN_MARKER}=${marker}\0`;
  await Promise.all(
    names.map(async (n) => {
      if (!/^\d+$/.test(n)) return;
      const p = Number(n);
      if (p === process.pid) return;
      const stat = await readFile(`${procRoot}/${n}/stat`, 'latin1').catch(() => undefined);
      if (!stat) return;
      // Fields after the parenthesised command name (which may hold spaces): state ppid pgrp session.
      const [, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const parent = Number(ppid);
      (byParent.get(parent) ?? byParent.set(parent, []).get(parent)!).push(p);
      if (opts.byPid && (p === pid || Number(pgrp) === pid || Number(session) === pid)) found.add(p);
      else others.push(p);
    }),
  );
  await Promise.all(
    others.map(async (p) => {
      // Only the same user (or root) may read another process's environment: the edge's children are.
      const environ = await readFile(`${procRoot}/${p}/environ`, 'latin1').catch(() => '');
      if (`\0${environ}`.includes(needle)) found.add(p);
    }),
  );
  const stack = opts.byPid ? [pid, ...found] : [...found];
  while (stack.length) {
    for (const c of byParent.get(stack.pop()!) ?? []) {
      if (!found.has(c)) {
        found.add(c);
        stack.push(c);
      }
    }
  }
  return [...found];
}

/** `wc`, which counts the output past the cap without it ever entering the edge; found once. */
let wcPath: string | null | undefined;
function findWc(): string | null {
  wcPath ??= ['/usr/bin/wc', '/bin/wc'].find((p) => existsSync(p)) ?? null;
  return wcPath;
}

/**
 * Hands a stream's pipe over to `wc -c` once its cap is reached: the rest of the output goes from
 * the command straight to wc in the kernel, and is counted there, instead of passing through the
 * edge in 64 KiB buffers (1 GB of output grew the edge by 35-56 MB: freed buffers are returned to
 * the system late). Resolves with the bytes wc counted (undefined if it could not say), and gives
 * a way to stop it when the answer cannot wait any longer (a background job holds the pipe).
 */
function drainToWc(stream: Readable, env: NodeJS.ProcessEnv | undefined): { counted: Promise<number | undefined>; stop(): void } | undefined {
  const wc = findWc();
  if (!wc) return undefined;
  // pause() on a pipe socket stops reading at once (readStop), so wc is the only reader.
  stream.pause();
  stream.removeAllListeners('data');
  let drain: ChildProcess;
  try {
    drain = spawn(wc, ['-c'], { stdio: [stream as never, 'pipe', 'ignore'], env: { PATH: env?.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  } catch {
    stream.resume();
    return undefined;
  }
  // wc holds its own copy of the pipe; ours must close, or the command's 'close' never comes.
  stream.destroy();
  let out = '';
  drain.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  const counted = new Promise<number | undefined>((resolve) => {
    drain.on('error', () => resolve(undefined));
    drain.on('close', (code) => resolve(code === 0 && /^\s*\d+\s*$/.test(out) ? Number(out.trim()) : undefined));
  });
  return {
    counted,
    stop: () => {
      if (drain.exitCode === null && drain.signalCode === null) drain.kill('SIGKILL');
    },
  };
}

/** Grace between SIGTERM and SIGKILL for the process group. */
const KILL_GRACE_MS = 500;
/** How long the pipes must stay quiet after the command itself exited before the answer. */
const PIPE_DRAIN_MS = 200;
/** The longest a background job that keeps writing can delay the answer after the exit. */
const PIPE_DRAIN_MAX_MS = 2000;

/**
 * Keeps the first `max` bytes of a stream and counts the rest, which is read and dropped
 * at once (never buffered), so the child never blocks on a full pipe and the edge's memory
 * does not grow with the output.
 */
class Capture {
  private chunks: Buffer[] = [];
  kept = 0;
  total = 0;
  /** What the kept bytes cost in a JSON answer (reply-size.ts): keeping stops once it passes `max`. */
  private cost = 0;
  /** Set when the kept text had to be cut further to bound its size in the answer. */
  private cut = false;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    const room = this.max - this.kept;
    // Nothing more can be kept once the kept bytes cost more than the cap in the answer: take()
    // cuts there anyway (1 MiB of "y\n" keeps 699,051 bytes), so the rest is counted, not held,
    // and goes to wc at once.
    if (room <= 0 || this.cost > this.max) return;
    // A copy of just the kept part: a subarray would pin the whole 64 KiB read buffer.
    const part = b.length > room ? Buffer.from(b.subarray(0, room)) : b;
    this.chunks.push(part);
    this.kept += part.length;
    this.cost += bytesCost(part);
  }
  get truncated(): boolean {
    return this.total > this.kept || this.cut;
  }
  /**
   * The kept output, cut where its JSON-escaped size would pass `max` (output of control
   * characters, 1 MiB of \x01, is 6 MiB of JSON, twice in a result), and what it costs in the
   * answer. Only the kept bytes are ever decoded: a slice of a longer decoded string keeps the
   * whole string alive.
   */
  take(): { bytes: Buffer; cost: number } {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    const n = all.length === 0 ? 0 : keptBytes(all, this.max);
    if (n < all.length) this.cut = true;
    const bytes = all.subarray(0, n);
    return { bytes, cost: bytesCost(bytes) };
  }
}

/**
 * @example
 * const r = await runProcess({ file: '/bin/sh', args: ['-c', 'uname -a'], timeoutMs: 5000, maxBytes: 1 << 20 });
 */
export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const marker = newMarker();
  return new Promise((resolvePromise, rejectPromise) => {
    // Dropped once used: listeners of the child and its pipes outlive the answer by a while, and
    // through the resolve function they would keep the promise and its output alive after the
    // answer was sent (32 answers of 2 MiB at once aborted an edge with a 32 MB heap).
    let settleWith: ((r: RunResult) => void) | undefined = resolvePromise;
    let failWith: ((e: unknown) => void) | undefined = rejectPromise;
    const resolve = (r: RunResult) => {
      const f = settleWith;
      settleWith = failWith = undefined;
      f?.(r);
    };
    const reject = (e: unknown) => {
      const f = failWith;
      settleWith = failWith = undefined;
      f?.(e);
    };
    const cgroup = opts.cgroup ? createRunCgroup(marker) : undefined;
    const target = cgroup ? wrapForCgroup(cgroup.procsFile, opts.file, opts.args ?? []) : { file: opts.file, args: opts.args ?? [] };
    let child;
    try {
      child = spawn(target.file, target.args, {
        cwd: opts.cwd,
        env: { ...(opts.env ?? process.env), [RUN_MARKER]: marker },
        // A new process group, so a deadline can kill the command and everything it started.
        detached: true,
        // No input: /dev/null, which reads as the same immediate end of file as a pipe closed at
        // once, without a socketpair and a stream to set up and tear down per command.
        stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      cgroup?.release();
      reject(err);
      return;
    }
    const out = new Capture(opts.maxBytes);
    const err = new Capture(opts.maxBytes);
    let timedOut = false;
    let aborted = false;
    let exited: { code: number | null; signal: string | null } | undefined;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals) => {
      // Its cgroup first: nothing the command started can have left it.
      cgroup?.kill(sig);
      const pid = child.pid;
      if (pid === undefined) return;
      try {
        process.kill(-pid, sig);
      } catch {
        // The group is already gone.
      }
      // Then everything that left the group (setsid, double fork): found by tree, session and
      // marker; once the command itself has been reaped its pid may be reused, so by marker only.
      const reaped = child.exitCode !== null || child.signalCode !== null;
      void runProcesses(pid, marker, { byPid: !reaped }).then((pids) => {
        for (const p of pids) {
          try {
            process.kill(p, sig);
          } catch {
            // Gone meanwhile.
          }
        }
      });
    };
    const terminate = () => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      terminate();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      terminate();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    const finish = () => {
      if (settled || !exited) return;
      settled = true;
      cgroup?.release();
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const o = out.take();
      const e = err.take();
      const { code, signal } = exited;
      const claimed = opts.lease ? opts.lease.claim(o.cost + e.cost) : Promise.resolve();
      void claimed.then(() => resolve({
        stdout: o.bytes.toString('utf8'),
        stderr: e.bytes.toString('utf8'),
        exitCode: code,
        signal,
        timedOut,
        aborted,
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        stdoutBytes: out.total,
        stderrBytes: err.total,
        durationMs,
      }));
    };

    const drains: Array<{ counted: Promise<number | undefined>; stop(): void }> = [];
    let lastOutput = performance.now();
    const capture = (stream: Readable, cap: Capture) => {
      const onData = (b: Buffer) => {
        lastOutput = performance.now();
        cap.push(b);
        if (cap.total > cap.kept) {
          // Past the cap: let wc read the rest. Data Node already read but not yet delivered
          // is counted and dropped.
          stream.off('data', onData);
          const buffered = stream.readableLength;
          const d = drainToWc(stream, opts.env);
          if (!d) {
            stream.on('data', (c: Buffer) => {
              lastOutput = performance.now();
              cap.push(c);
            });
            return;
          }
          cap.total += buffered;
          const counted = d.counted.then((n) => {
            if (n !== undefined) cap.total += n;
            return n;
          });
          drains.push({ counted, stop: d.stop });
        }
      };
      stream.on('data', onData);
    };
    capture(child.stdout!, out);
    capture(child.stderr!, err);
    // wc's count arrives when the command's side of the pipe closes; a background job that keeps
    // it open must not delay the answer for long.
    const settleDrains = async (waitMs: number) => {
      if (!drains.length) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(drains.map((d) => d.counted)), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
      for (const d of drains) d.stop();
    };
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      // Not started (a cwd it may not enter, a refused fork): its cgroup goes too, or it stayed
      // among the live ones, which no sweep removes.
      cgroup?.release();
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // A command that started a background job (`daemon &`) has exited, but the job still
      // holds the pipes open. Wait briefly for the output to drain, then stop reading and
      // answer; the job keeps running, as it would after an SSH command.
      // Quiet means no output for PIPE_DRAIN_MS, judged after the poll phase (setImmediate): on a
      // busy event loop a timer can fire before reads already waiting, which would drop output.
      const exitedAt = performance.now();
      const check = () =>
        setImmediate(() => {
          const now = performance.now();
          if (settled) return;
          if (now - lastOutput < PIPE_DRAIN_MS && now - exitedAt < PIPE_DRAIN_MAX_MS) {
            setTimeout(check, PIPE_DRAIN_MS).unref();
            return;
          }
          child.stdout!.destroy();
          child.stderr!.destroy();
          void settleDrains(PIPE_DRAIN_MS).then(finish);
        });
      setTimeout(check, PIPE_DRAIN_MS).unref();
    });
    child.on('close', (code, signal) => {
      exited ??= { code, signal };
      // killTimer is left running on purpose: after a deadline, members of the group
      // that ignored SIGTERM still get SIGKILL. Every writer closed the pipes: wc ends at once
      // (on a busy edge, allow it the longer bound).
      void settleDrains(PIPE_DRAIN_MAX_MS).then(finish);
    });
    if (opts.stdin !== undefined) {
      child.stdin!.on('error', () => {
        // EPIPE when the command does not read its input: not an error of the run.
      });
      child.stdin!.end(opts.stdin);
    }
  });
}

/**
 * Bounds how many commands run at once: each holds up to two capped output buffers and its
 * input, and the edge runs in a heap of a few tens of MB (the deployed `--max-old-space-size`).
 * One more is refused at once with a clear error rather than queued: a queue would hold its
 * input in memory too, and the caller can retry or wait for its other commands.
 *
 * @example const run = limitCommands(runProcess, 4);
 */
export function limitCommands(run: (opts: RunOptions) => Promise<RunResult>, max: number): (opts: RunOptions) => Promise<RunResult> {
  let running = 0;
  return async (opts) => {
    if (running >= max) {
      throw new HomelabError('BUSY', `busy: ${running} commands running on this edge (its limit, --max-commands, is ${max}); try again when one has finished`);
    }
    running++;
    try {
      return await run(opts);
    } finally {
      running--;
    }
  };
}
