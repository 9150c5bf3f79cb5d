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
    `The command is killed with its children after timeout_s (default ${DEFAULT_TIMEOUT_S}). Each output stream is capped ` +
    '(default 1 MiB); `truncated` says when output was cut.',
  inputSchema: {
    type: 'object',
    properties: {
      cmd: { type: 'string', minLength: 1, maxLength: 65536, description: 'Shell command line, run with /bin/sh -c.' },
      cwd: { type: 'string', description: 'Working directory (absolute path); default: the edge’s working directory.' },
      timeout_s: { type: 'number', minimum: 0.1, maximum: MAX_TIMEOUT_S, description: `Seconds before the command and its children are killed (default ${DEFAULT_TIMEOUT_S}).` },
      env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra environment variables for the command.' },
      stdin: { type: 'string', maxLength: 8 * 1024 * 1024, description: 'Text written to the command’s standard input.' },
      max_output_bytes: { type: 'integer', minimum: 1, description: 'Cap of each output stream in bytes (default: the edge’s --max-output).' },
    },
    required: ['cmd'],
    additionalProperties: false,
  },
  annotations: { title: 'Run a shell command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, { env, signal }) {
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
      maxBytes: Math.min(args.max_output_bytes ?? env.maxOutputBytes, env.maxOutputBytes * 16),
      signal,
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
