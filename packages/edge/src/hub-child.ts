/**
 * The hub's `local` node as a child process, started by the hub (hub `nodes/local-node.ts`) as
 * `homelab-edge.mjs --hub-child` (a small process: the edge bundle), or `homelab-hub.mjs
 * local-node` where the edge bundle is not beside the hub: the edge's capabilities run here, in a process whose environment holds none of the hub's
 * secrets, so get_env and run_command on `local` cannot show them. It speaks to the hub over
 * Node's IPC channel only, and ends when that channel closes (the hub exited, even by SIGKILL).
 *
 * Messages, hub -> child: `init` (node name, edge flags, the hub's own files), `call` (id, tool, arguments, `_meta`),
 * `cancel` (id). Child -> hub: `ready` (the tool list), `result` / `error` (id), `log` (one line
 * for the hub's logger), `fatal` (could not start).
 */
import { readFileSync } from 'node:fs';
import { capabilities } from './capabilities/index.ts';
import { parseCli } from './cli.ts';
import { createEdge, EDGE_VERSION } from './edge.ts';
import { resolvePrivateFiles } from './opened-path.ts';
import { edgeLoggerFor } from './fields-first-log.ts';

export type ToChild =
  | { t: 'init'; name: string; edgeArgs: string[]; privatePaths?: string[] }
  | { t: 'call'; id: number; name: string; args: Record<string, unknown>; meta?: Record<string, unknown> }
  | { t: 'cancel'; id: number };

export type FromChild =
  | { t: 'ready'; tools: unknown[]; version?: string }
  | { t: 'result'; id: number; result: unknown }
  | { t: 'error'; id: number; code: string; message: string }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> }
  | { t: 'fatal'; message: string };

/** What the child needs of its process: main.ts passes `process` and `process.env`. */
export interface ChildChannel {
  send(message: FromChild): void;
  onMessage(listener: (message: ToChild) => void): void;
  onDisconnect(listener: () => void): void;
}

/** The edge's command line as the local node builds it: its name and quiet logs first. */
export function localEdgeArgv(name: string, edgeArgs: readonly string[]): string[] {
  return ['--node-name', name, '--log-level', 'warn', ...edgeArgs];
}

/** Parses the local node's edge flags; throws naming the problem, as the edge's own CLI does. */
export function parseLocalEdgeArgs(name: string, edgeArgs: readonly string[]) {
  const parsed = parseCli(localEdgeArgv(name, edgeArgs), {
    env: {},
    readFile: (p) => readFileSync(p, 'utf8'),
    capabilityNames: capabilities.map((c) => c.name),
  });
  if (parsed.kind !== 'run') throw new Error('local.edgeArgs must not ask for --help or --version');
  return parsed.options;
}

/**
 * Runs the child: waits for `init`, builds the edge, then serves calls until the hub goes away.
 *
 * @example runLocalChild({ channel: ipcChannel(process), env: process.env, exit: process.exit })
 */
export function runLocalChild(deps: { channel: ChildChannel; env: NodeJS.ProcessEnv; exit(code: number): never }): { stop(): never } {
  const { channel } = deps;
  const running = new Map<number, AbortController>();
  let edge: Awaited<ReturnType<typeof createEdge>> | undefined;
  let privatePaths: string[] = [];
  const pending: ToChild[] = [];
  // The hub is gone or stops us: nothing may outlive it, commands in flight included (aborting
  // a call kills its process group).
  const stop = (): never => {
    for (const c of running.values()) c.abort(new Error('the hub went away'));
    return deps.exit(0);
  };
  channel.onDisconnect(stop);

  const serve = (m: ToChild) => {
    if (m.t === 'cancel') {
      running.get(m.id)?.abort(new Error('cancelled by the hub'));
      return;
    }
    if (m.t !== 'call' || !edge) return;
    const ac = new AbortController();
    running.set(m.id, ac);
    const e = edge;
    // The identities of the hub's files are looked up again for each call: an editor saves
    // hub.yaml as a new file (a new inode), which the identity found at start would miss.
    // `meta` carries the hub's file policy; the edge enforces and acknowledges it as over HTTP.
    // The answer's share of the reply budget is held until it is handed to the channel.
    const lease = e.mcp.lease();
    resolvePrivateFiles(privatePaths).then((files) => {
      e.env.privateFiles = files;
      return e.mcp.callTool(m.name, m.args, ac.signal, 'modern', m.meta, lease);
    }).then(
      (result) => channel.send({ t: 'result', id: m.id, result }),
      (err: unknown) =>
        channel.send({
          t: 'error',
          id: m.id,
          code: typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'TOOL_FAILED',
          message: err instanceof Error ? err.message : String(err),
        }),
    ).finally(() => {
      lease.release();
      running.delete(m.id);
    });
  };

  channel.onMessage((m) => {
    if (m.t !== 'init') {
      if (edge) serve(m);
      else pending.push(m);
      return;
    }
    if (edge) return;
    void (async () => {
      try {
        const options = parseLocalEdgeArgs(m.name, m.edgeArgs);
        const log = edgeLoggerFor(
          {
            debug: (fields, msg) => channel.send({ t: 'log', level: 'debug', msg, fields }),
            info: (fields, msg) => channel.send({ t: 'log', level: 'info', msg, fields }),
            warn: (fields, msg) => channel.send({ t: 'log', level: 'warn', msg, fields }),
            error: (fields, msg) => channel.send({ t: 'log', level: 'error', msg, fields }),
          },
          { level: options.logLevel, bindings: { node: m.name } },
        );
        // The edge's own token and config files (if its flags name any) stay private too.
        privatePaths = [options.tokenFile, options.configFile, ...(m.privatePaths ?? [])].filter((p): p is string => p !== undefined);
        edge = await createEdge(options, { env: deps.env, log, privatePaths: m.privatePaths ?? [] });
        channel.send({ t: 'ready', tools: edge.mcp.listTools(), version: EDGE_VERSION });
        for (const p of pending.splice(0)) serve(p);
      } catch (err) {
        channel.send({ t: 'fatal', message: err instanceof Error ? err.message : String(err) });
        deps.exit(1);
      }
    })();
  });
  return { stop };
}

/**
 * Runs this process as the hub's `local` node over Node's IPC channel (the process was started
 * with `fork`-style stdio). Returns false when there is no IPC channel: not started by a hub.
 *
 * @example if (!serveHubChild()) fail('--hub-child is started by the hub itself')
 */
export function serveHubChild(): boolean {
  if (!process.send) return false;
  const child = runLocalChild({
    channel: {
      send: (m: FromChild) => void process.send!(m),
      onMessage: (l) => void process.on('message', (m) => l(m as ToChild)),
      onDisconnect: (l) => void process.on('disconnect', l),
    },
    env: process.env,
    exit: (code) => process.exit(code),
  });
  // The hub decides when this process ends: Ctrl-C in a terminal reaches the whole process
  // group, and the hub then stops it (SIGTERM) once its own shutdown needs it to.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.stop());
  return true;
}
