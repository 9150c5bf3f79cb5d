/**
 * Starts the real, bundled hub (`packages/hub/dist/homelab-hub.mjs serve`) on 127.0.0.1
 * port 0 with a config written to a temp dir, and tells the test where it listens.
 *
 * @example
 * await using hub = await startHubProcess({ config: { nodes: [...] , auth: {...} } });
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnListening } from './listening-process.ts';

export const HUB_BUNDLE = fileURLToPath(new URL('../../hub/dist/homelab-hub.mjs', import.meta.url));

export interface HubProcess {
  url: string;
  base: string;
  port: number;
  dir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartHubOptions {
  /** The hub.yaml content as an object (written as JSON, which is YAML); omit for the embedded default. */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Working directory; default a fresh temp dir (the embedded default keeps ./data there). */
  cwd?: string;
  listen?: string;
  args?: string[];
  timeoutMs?: number;
  /** The hub bundle to run; default HUB_BUNDLE (a caller bundled elsewhere, bench/services, names it). */
  bundle?: string;
  /**
   * Resolve as soon as the hub listens, before its nodes and upstreams have had their first
   * connect attempt. Default false: wait for that too (the log line "first connect attempts
   * done"), so the catalog already shows every upstream that could come up.
   */
  noWaitForUpstreams?: boolean;
}

export async function startHubProcess(opts: StartHubOptions = {}): Promise<HubProcess> {
  const dir = opts.cwd ?? mkdtempSync(join(tmpdir(), 'homelab-hub-test-'));
  const args = [opts.bundle ?? HUB_BUNDLE, 'serve', '--listen', opts.listen ?? '127.0.0.1:0'];
  if (opts.config) {
    const file = join(dir, 'hub.yaml');
    writeFileSync(file, JSON.stringify({ dataDir: './data', ...opts.config }, null, 2));
    args.push('--config', file);
  }
  args.push(...(opts.args ?? []));
  const proc = await spawnListening('hub', process.execPath, args, { cwd: dir, env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 20_000, ...(opts.noWaitForUpstreams ? {} : { ready: /first connect attempts done/ }) });
  const { child, port } = proc;
  const stop = async () => {
    await proc.stop();
    if (!opts.cwd) rmSync(dir, { recursive: true, force: true });
  };
  return { url: `http://127.0.0.1:${port}/mcp`, base: `http://127.0.0.1:${port}`, port, dir, child, output: () => proc.output(), stop, [Symbol.asyncDispose]: stop };
}
