/**
 * Edge environments for capability unit tests: a real one (commands really run), or one
 * whose `run` answers from a table keyed by argv and records every call, so a test can
 * assert the exact command line a tool sends and feed it captured output.
 *
 * @example
 * const { env, argv } = scriptedEdgeEnv({ 'smartctl --scan --json': { stdout: fixture('scan.json') } });
 */
import type { EdgeEnv, ToolContext } from '@homelab-mcp/edge/src/capability.ts';
import { runProcess, type RunOptions, type RunResult } from '@homelab-mcp/edge/src/exec.ts';
import { createLogger } from '@homelab-mcp/edge/src/log.ts';

/** A scripted answer: part of a run result (the rest defaults to a clean exit), or a spawn error. */
export type ScriptedAnswer = Partial<RunResult> | Error;

/** An edge environment for tests; `overrides` replace any field. */
export function testEdgeEnv(overrides: Partial<EdgeEnv> = {}): EdgeEnv {
  return {
    procRoot: '/proc',
    sysRoot: '/sys',
    roots: { lexical: ['/'], real: ['/'] },
    maxOutputBytes: 1 << 20,
    childEnv: process.env,
    run: runProcess,
    log: createLogger({ level: 'silent' }),
    capabilities: () => [],
    ...overrides,
  };
}

export function scriptedEdgeEnv(answers: Record<string, ScriptedAnswer>, overrides: Partial<EdgeEnv> = {}) {
  const calls: RunOptions[] = [];
  const env = testEdgeEnv({
    childEnv: { PATH: '/usr/sbin:/usr/bin' },
    async run(opts) {
      calls.push(opts);
      const key = [opts.file, ...(opts.args ?? [])].join(' ');
      const a = answers[key];
      if (a === undefined) throw new Error(`unexpected command: ${key}`);
      if (a instanceof Error) throw a;
      return {
        stdout: '', stderr: '', exitCode: 0, signal: null, timedOut: false, aborted: false, stdoutTruncated: false,
        stderrTruncated: false, stdoutBytes: 0, stderrBytes: 0, durationMs: 1, ...a,
      };
    },
    ...overrides,
  });
  return { env, calls, argv: () => calls.map((c) => [c.file, ...(c.args ?? [])].join(' ')) };
}

/** A tool context around `env` with a signal that never aborts. */
export function toolContext(env: EdgeEnv): ToolContext {
  return { env, signal: new AbortController().signal };
}
