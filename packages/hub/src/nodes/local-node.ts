/**
 * The hub host itself as node `local`: the edge's capabilities, with the same validation,
 * limits and error mapping an edge gives HTTP clients, run in a child process of the hub
 * (`homelab-hub local-node`, see the edge's hub-child.ts) over IPC, and no socket.
 *
 * Why a child: in-process, get_env and run_command on `local` read the hub's own environment,
 * and with it every `${VAR}` secret of hub.yaml. The child gets a scrubbed environment
 * ({@link localNodeEnv}); it ends with the hub (its IPC channel closes) and is started again
 * when it dies, the node showing as unreachable meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import type { HubNode, SourceCallOptions, SourceState } from '../catalog/nodes.ts';
import type { FieldsFirstLogger } from '@homelab-mcp/edge/src/fields-first-log.ts';
import { parseLocalEdgeArgs, type FromChild, type ToChild } from '@homelab-mcp/edge/src/hub-child.ts';

/** The hub's variables a local node may inherit: what commands need to behave, nothing secret. */
const INHERITED = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|USER|LOGNAME|SHELL|TERM|TMPDIR)$/;

/**
 * The local node's environment: the harmless variables of the hub's (never HOMELAB_*, never one
 * hub.yaml names as `${VAR}`: those hold its secrets), plus `extra` (config `local.env`).
 *
 * @example localNodeEnv(process.env, ['HA_TOKEN'], { EDITOR: 'vi' })
 */
export function localNodeEnv(hubEnv: NodeJS.ProcessEnv, configVars: Iterable<string>, extra: Record<string, string> = {}): Record<string, string> {
  const referenced = new Set(configVars);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(hubEnv)) {
    if (v !== undefined && INHERITED.test(k) && !referenced.has(k)) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (!k.startsWith('HOMELAB_')) env[k] = v;
  return env;
}

/** The local node's `url` as list_nodes shows it; its services are on the hub's loopback. */
export const LOCAL_NODE_URL = 'local (a child process of the hub)';

/**
 * Node's flags for the local node's child when it runs the edge bundle: the edge unit's own
 * (deploy/systemd/homelab-edge.service), which the edge's memory bounds are made for.
 */
export const EDGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--max-old-space-size=32', '--v8-pool-size=1', '--optimize-for-size'];

export interface LocalNodeOptions {
  name: string;
  roles: string[];
  /** Edge flags, as on the edge's command line (e.g. `--root /srv`, `--disable-gpio`). */
  edgeArgs?: string[];
  /** How to start the child: the hub's own bundle with its hidden `local-node` command. */
  command: { execPath: string; args: string[] };
  /** The child's whole environment (see {@link localNodeEnv}). */
  env: Record<string, string>;
  /**
   * The hub's own files and directories (config, topology, secrets file, data dir): the child's
   * edge never serves them, to any role, matched by device + inode (see localPrivatePaths).
   */
  privatePaths?: string[];
  /** The hub's logger: the edge's lines come out in the hub's format and stream. */
  log: FieldsFirstLogger;
  /** First delay before starting a dead child again; doubles up to 30 s. Default 500 ms. */
  restartDelayMs?: number;
}

export interface LocalNode extends HubNode {
  /** The child's pid while it runs (its /proc entries are refused too). */
  pid(): number | undefined;
  /** Stops the child for good. */
  close(): Promise<void>;
}

interface Pending {
  resolve(r: CallToolResult): void;
  reject(err: unknown): void;
}

/**
 * Starts the child and resolves once it serves (or rejects with why it could not start: bad
 * `local.edgeArgs` fail the hub's start as they always did).
 */
export async function createLocalNode(opts: LocalNodeOptions): Promise<LocalNode> {
  // Checked here first so that a bad flag is a config error naming it, before any process.
  parseLocalEdgeArgs(opts.name, opts.edgeArgs ?? []);
  const baseDelay = opts.restartDelayMs ?? 500;
  let state: SourceState = { status: 'connecting', since: new Date() };
  let tools: Tool[] = [];
  let child: ChildProcess | undefined;
  let closed = false;
  // Until the first child serves, a death is a failed start (the hub does not start); after,
  // it is an outage, and the child is started again.
  let everReady = false;
  let delay = baseDelay;
  let restartTimer: NodeJS.Timeout | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  const setState = (s: SourceState) => {
    state = s;
    changed();
  };

  /** One child's life; resolves when it serves, rejects when it died before. */
  function start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      // stdout is the protocol in `homelab-hub stdio`: the child never writes there. stderr
      // stays shared for a crash's last words; its lines otherwise come over IPC.
      const c = spawn(opts.command.execPath, opts.command.args, { env: opts.env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      child = c;
      let fatal: string | undefined;
      c.on('message', (raw) => {
        const m = raw as FromChild;
        switch (m.t) {
          case 'ready':
            ready = true;
            everReady = true;
            delay = baseDelay;
            tools = m.tools as Tool[];
            setState({ status: 'up', since: new Date(), era: 'modern', ...(typeof m.version === 'string' ? { serverInfo: { name: 'homelab-edge', version: m.version.slice(0, 64) } } : {}) });
            resolve();
            break;
          case 'result':
            pending.get(m.id)?.resolve(m.result as CallToolResult);
            pending.delete(m.id);
            break;
          case 'error':
            pending.get(m.id)?.reject(new HomelabError(m.code, m.message));
            pending.delete(m.id);
            break;
          case 'log':
            opts.log[m.level]?.(m.fields, m.msg);
            break;
          case 'fatal':
            fatal = m.message;
            break;
        }
      });
      let gone = false;
      // A process that could not be spawned at all emits 'error' and perhaps no 'exit'.
      c.on('error', (err) => {
        fatal ??= err.message;
        if (c.pid === undefined) onGone(null, null);
      });
      c.on('exit', (code, signal) => onGone(code, signal));
      function onGone(code: number | null, signal: NodeJS.Signals | null) {
        if (gone) return;
        gone = true;
        if (child === c) child = undefined;
        const why = fatal ?? `its process exited (${signal ? `signal ${signal}` : `code ${code}`})`;
        for (const p of pending.values()) p.reject(new HomelabError('UPSTREAM_UNAVAILABLE', `node ${opts.name} is unreachable: ${why}; it is being restarted`));
        pending.clear();
        if (!ready) reject(new HomelabError('LOCAL_NODE_FAILED', `node ${opts.name} could not start: ${why}`));
        if (closed || !everReady) return;
        setState({ status: 'down', since: new Date(), lastError: `${why}; restarting` });
        scheduleRestart();
      }
      // A child that died already reports through 'exit'; the send's own error adds nothing.
      c.send({ t: 'init', name: opts.name, edgeArgs: opts.edgeArgs ?? [], privatePaths: opts.privatePaths ?? [] } satisfies ToChild, (err) => void err);
    });
  }

  function scheduleRestart() {
    if (closed || restartTimer) return;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      opts.log.warn({ node: opts.name }, 'restarting the local node');
      start().catch((err: unknown) => opts.log.error({ node: opts.name, err: err instanceof Error ? err.message : String(err) }, 'the local node did not start again'));
    }, delay);
    delay = Math.min(delay * 2, 30_000);
  }

  await start();

  return {
    name: opts.name,
    roles: opts.roles,
    url: LOCAL_NODE_URL,
    pid: () => child?.pid,
    source: {
      state: () => state,
      tools: () => tools,
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      callTool(name, args, o: SourceCallOptions) {
        const c = child;
        if (state.status !== 'up' || !c?.connected) {
          return Promise.reject(new HomelabError('UPSTREAM_UNAVAILABLE', `node ${opts.name} is unreachable since ${state.since.toISOString()}${state.lastError ? ` (${state.lastError})` : ''}`));
        }
        const id = nextId++;
        const deadline = AbortSignal.timeout(o.timeoutMs ?? 60_000);
        const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
        return new Promise<CallToolResult>((resolve, reject) => {
          // Cancelled or late: the child aborts the tool, which answers with its error as an
          // edge does; the answer still settles this call.
          const onAbort = () => {
            if (c.connected) c.send({ t: 'cancel', id } satisfies ToChild, (err) => void err);
          };
          const done = () => signal.removeEventListener('abort', onAbort);
          pending.set(id, {
            resolve: (r) => (done(), resolve(r)),
            reject: (e) => (done(), reject(e)),
          });
          try {
            c.send({ t: 'call', id, name, args, ...(o.meta ? { meta: o.meta } : {}) } satisfies ToChild);
          } catch {
            // The child died between the check above and now; its exit fails the others.
            pending.delete(id);
            done();
            reject(new HomelabError('UPSTREAM_UNAVAILABLE', `node ${opts.name} is unreachable: its process is gone; it is being restarted`));
            return;
          }
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        });
      },
    },
    async close() {
      closed = true;
      clearTimeout(restartTimer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const force = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(force);
    },
  };
}
