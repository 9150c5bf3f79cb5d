/**
 * Starts the real, bundled edge (`packages/edge/dist/homelab-edge.mjs`) as a child process
 * on 127.0.0.1 port 0 and tells the test where it listens. Stopped by its own PID.
 *
 * @example
 * await using edge = await startEdgeProcess();
 * const client = await connectClient(edge.url, edge.token, 'modern');
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnListening } from './listening-process.ts';

export const EDGE_BUNDLE = fileURLToPath(new URL('../../edge/dist/homelab-edge.mjs', import.meta.url));

/** The Node flags devices run the edge with, as the systemd unit sets them (one source). */
export function deployedEdgeNodeFlags(): string[] {
  const unit = readFileSync(fileURLToPath(new URL('../../../deploy/systemd/homelab-edge.service', import.meta.url)), 'utf8');
  const m = /HOMELAB_EDGE_NODE_FLAGS=([^"\n]*)/.exec(unit);
  if (!m) throw new Error('deploy/systemd/homelab-edge.service has no HOMELAB_EDGE_NODE_FLAGS');
  return m[1]!.trim().split(/\s+/);
}

export interface EdgeProcess {
  /** The MCP endpoint, `http://127.0.0.1:PORT/mcp`. */
  url: string;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  port: number;
  /** The bearer token, or undefined when started without one. */
  token: string | undefined;
  child: ChildProcess;
  /** Everything the edge wrote to stderr so far (its JSON log lines). */
  logs(): string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartEdgeOptions {
  /** Extra CLI arguments. */
  args?: string[];
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** A token to use; `null` for none; default: a fresh random one. */
  token?: string | null;
  /** The node binary (to run the bundle on another Node version). */
  node?: string;
  /** Node flags before the script. */
  nodeFlags?: string[];
  /** Listen address; default 127.0.0.1:0. */
  listen?: string;
  /** Milliseconds to wait for the edge to listen. */
  timeoutMs?: number;
}

export async function startEdgeProcess(opts: StartEdgeOptions = {}): Promise<EdgeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-edge-test-'));
  const token = opts.token === null ? undefined : (opts.token ?? randomBytes(24).toString('hex'));
  const args = [...(opts.nodeFlags ?? []), EDGE_BUNDLE, '--listen', opts.listen ?? '127.0.0.1:0'];
  if (token) {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    args.push('--token-file', tokenFile);
  }
  args.push(...(opts.args ?? []));
  const proc = await spawnListening('edge', opts.node ?? process.execPath, args, {
    env: { ...process.env, HOMELAB_EDGE_TOKEN: '', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
  const { child, port } = proc;
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    base: `http://127.0.0.1:${port}`,
    port,
    token,
    child,
    logs: () => proc.output(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
