/**
 * Runs a program with a deadline and bounded output. Every command an edge runs goes
 * through here, so that a command printing gigabytes or never ending cannot exhaust the
 * device: each stream keeps at most `maxBytes` (the rest is read and dropped, so the
 * child never blocks on a full pipe), and a deadline or an abort kills the whole process
 * group, children included.
 */
import { spawn } from 'node:child_process';

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

/** Grace between SIGTERM and SIGKILL for the process group. */
const KILL_GRACE_MS = 500;
/** How long output may keep arriving after the command itself exited. */
const PIPE_DRAIN_MS = 200;

class Capture {
  private chunks: Buffer[] = [];
  kept = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    const room = this.max - this.kept;
    if (room <= 0) return;
    const part = b.length > room ? b.subarray(0, room) : b;
    this.chunks.push(part);
    this.kept += part.length;
  }
  get truncated(): boolean {
    return this.total > this.kept;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * @example
 * const r = await runProcess({ file: '/bin/sh', args: ['-c', 'uname -a'], timeoutMs: 5000, maxBytes: 1 << 20 });
 */
export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(opts.file, opts.args ?? [], {
        cwd: opts.cwd,
        env: opts.env,
        // A new process group, so a deadline can kill the command and everything it started.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
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
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
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
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({
        stdout: out.text(),
        stderr: err.text(),
        exitCode: exited.code,
        signal: exited.signal,
        timedOut,
        aborted,
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        stdoutBytes: out.total,
        stderrBytes: err.total,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      });
    };

    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // A command that started a background job (`daemon &`) has exited, but the job still
      // holds the pipes open. Wait briefly for the output to drain, then stop reading and
      // answer; the job keeps running, as it would after an SSH command.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, PIPE_DRAIN_MS).unref();
    });
    child.on('close', (code, signal) => {
      exited ??= { code, signal };
      // killTimer is left running on purpose: after a deadline, members of the group
      // that ignored SIGTERM still get SIGKILL.
      finish();
    });
    child.stdin.on('error', () => {
      // EPIPE when the command does not read its input: not an error of the run.
    });
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();
  });
}
