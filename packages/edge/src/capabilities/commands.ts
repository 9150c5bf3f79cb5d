/**
 * `run_command`: a shell command on this device, with a deadline that kills the whole
 * process group and each output stream capped, so that a runaway command cannot take
 * the device down with it.
 */
import { stat } from 'node:fs/promises';
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool } from '../capability.ts';

const DEFAULT_TIMEOUT_S = 60;
const MAX_TIMEOUT_S = 3600;
/**
 * Largest stdin: held in the edge's small heap until the command has read it (several requests
 * of 8 MB aborted an edge running with the deployed 32 MB heap). Bigger input goes through
 * write_file to a file the command reads.
 */
export const MAX_STDIN_BYTES = 1024 * 1024;

interface RunCommandArgs {
  cmd: string;
  cwd?: string;
  timeout_s?: number;
  env?: Record<string, string>;
  stdin?: string;
  max_output_bytes?: number;
}

const SHELL = '/bin/sh';

export const runCommand = defineTool<RunCommandArgs>({
  name: 'run_command',
  title: 'Run a shell command',
  description:
    'Runs a command with /bin/sh -c on this device and returns stdout, stderr, the exit code and the duration. ' +
    `The command is killed with all its descendants (setsid ones included) after timeout_s (default ${DEFAULT_TIMEOUT_S}). ` +
    'Each output stream is capped (the edge’s --max-output, 1 MiB by default; output past it is discarded, not kept); `truncated` says when output was cut. ' +
    `stdin takes at most ${MAX_STDIN_BYTES} bytes: write bigger input with write_file and redirect it.`,
  inputSchema: {
    type: 'object',
    properties: {
      cmd: { type: 'string', minLength: 1, maxLength: 65536, description: 'Shell command line, run with /bin/sh -c.' },
      cwd: { type: 'string', description: 'Working directory (absolute path); default: the edge’s working directory.' },
      timeout_s: { type: 'number', minimum: 0.1, maximum: MAX_TIMEOUT_S, description: `Seconds before the command and its children are killed (default ${DEFAULT_TIMEOUT_S}).` },
      env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra environment variables for the command.' },
      stdin: { type: 'string', maxLength: MAX_STDIN_BYTES, description: `Text written to the command’s standard input (at most ${MAX_STDIN_BYTES} bytes).` },
      max_output_bytes: { type: 'integer', minimum: 1, description: 'Cap of each output stream in bytes (default and most: the edge’s --max-output).' },
    },
    required: ['cmd'],
    additionalProperties: false,
  },
  annotations: { title: 'Run a shell command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, { env, signal }) {
    if (args.max_output_bytes !== undefined && args.max_output_bytes > env.maxOutputBytes) {
      throw new HomelabError(
        'INVALID_ARGUMENTS',
        `max_output_bytes: ${args.max_output_bytes} is more than this edge keeps per stream (${env.maxOutputBytes} bytes, its --max-output); ask for at most that, or redirect the output to a file and read it in parts with read_file`,
      );
    }
    const stdinBytes = args.stdin === undefined ? 0 : Buffer.byteLength(args.stdin);
    if (stdinBytes > MAX_STDIN_BYTES) {
      throw new HomelabError('INVALID_ARGUMENTS', `stdin: ${stdinBytes} bytes is more than the ${MAX_STDIN_BYTES} this edge accepts; write bigger input with write_file and redirect it into the command`);
    }
    if (args.cwd !== undefined) {
      const st = await stat(args.cwd).catch(() => undefined);
      if (!st?.isDirectory()) throw new HomelabError('INVALID_ARGUMENTS', `cwd: ${args.cwd} is not an existing directory`);
    }
    const r = await env.run({
      file: SHELL,
      args: ['-c', args.cmd],
      cwd: args.cwd,
      env: { ...env.childEnv, ...args.env },
      stdin: args.stdin,
      timeoutMs: Math.round((args.timeout_s ?? DEFAULT_TIMEOUT_S) * 1000),
      maxBytes: args.max_output_bytes ?? env.maxOutputBytes,
      signal,
      cgroup: true,
    });
    const truncated = r.stdoutTruncated || r.stderrTruncated;
    const data = {
      exitCode: r.exitCode,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
      durationMs: r.durationMs,
      timedOut: r.timedOut,
      truncated,
      stdoutBytes: r.stdoutBytes,
      stderrBytes: r.stderrBytes,
    };
    const status = r.timedOut
      ? `timed out after ${args.timeout_s ?? DEFAULT_TIMEOUT_S} s (process group killed)`
      : r.signal
        ? `killed by ${r.signal}`
        : `exit ${r.exitCode}`;
    const lines = [`${status} in ${r.durationMs} ms${truncated ? ' (output truncated)' : ''}`];
    if (r.stdout) lines.push('--- stdout', r.stdout + (r.stdoutTruncated ? `\n[... ${r.stdoutBytes - Buffer.byteLength(r.stdout)} more bytes cut]` : ''));
    if (r.stderr) lines.push('--- stderr', r.stderr + (r.stderrTruncated ? `\n[... ${r.stderrBytes - Buffer.byteLength(r.stderr)} more bytes cut]` : ''));
    // A failing command is a result the model reads, not a tool error: it ran as asked.
    return { data, text: lines.join('\n') };
  },
});

export const commands = defineCapability({
  name: 'commands',
  description: 'run_command: shell commands with deadlines and capped output',
  enabledByDefault: true,
  async probe() {
    const st = await stat(SHELL).catch(() => undefined);
    return st ? { ok: true } : { ok: false, reason: `${SHELL} not found on this node` };
  },
  tools: [runCommand],
});
