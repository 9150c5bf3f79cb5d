/**
 * `homelab-edge`: the only file that reads argv, the environment and the disk.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { hostname } from 'node:os';
import { isHomelabError } from '@homelab-mcp/core';
import { capabilities } from './capabilities/index.ts';
import { HELP, isLoopback, parseCli } from './cli.ts';
import { createEdge, EDGE_VERSION } from './edge.ts';
import { createLogger } from './log.ts';
import { createEdgeServer, inheritedSocketFd } from './server.ts';
import { serveHubChild } from './hub-child.ts';

async function main(): Promise<number | undefined> {
  // Not in --help: the hub starts the edge this way as its own `local` node (hub-child.ts).
  if (process.argv[2] === '--hub-child') {
    if (serveHubChild()) return undefined;
    process.stderr.write('homelab-edge: --hub-child is started by the hub itself, over IPC\n');
    return 2;
  }
  let parsed;
  try {
    parsed = parseCli(process.argv.slice(2), {
      env: process.env,
      readFile: (p) => readFileSync(p, 'utf8'),
      capabilityNames: capabilities.map((c) => c.name),
    });
  } catch (err) {
    process.stderr.write(`homelab-edge: ${isHomelabError(err) ? err.message : String(err)}\n`);
    return 2;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`homelab-edge ${EDGE_VERSION}\n`);
    return 0;
  }
  const options = parsed.options;
  const log = createLogger({ level: options.logLevel });
  const edge = await createEdge(options, { env: process.env, log });
  const { server, activity } = createEdgeServer({
    mcp: edge.mcp,
    token: options.token,
    allowedHosts: options.allowedHosts,
    deviceNames: [hostname(), ...(options.nodeName ? [options.nodeName] : [])],
    maxBodyBytes: options.maxBodyBytes,
    log,
    version: EDGE_VERSION,
  });

  const fd = inheritedSocketFd(process.env, process.pid);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (fd !== undefined) server.listen({ fd }, resolve);
    else server.listen(options.port, options.host, resolve);
  }).catch((err: NodeJS.ErrnoException) => {
    const where = fd !== undefined ? 'the socket systemd passed' : `${options.host}:${options.port}`;
    const hint = err.code === 'EADDRINUSE' ? ' (address in use: is another edge running?)' : err.code === 'EACCES' ? ' (permission denied)' : '';
    log.error(`cannot listen on ${where}: ${err.code ?? err.message}${hint}`);
    process.exit(1);
  });
  const addr = server.address();
  const listening = fd !== undefined ? 'systemd socket' : typeof addr === 'object' && addr ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
  log.info('homelab-edge listening', {
    listen: listening,
    version: EDGE_VERSION,
    auth: options.token ? `bearer token from ${options.tokenSource}` : 'none (loopback only)',
    capabilities: edge.report.map((c) => `${c.name}:${c.active ? 'on' : c.enabled ? 'unavailable' : 'off'}`).join(' '),
  });
  if (!options.token && isLoopback(options.host)) log.warn('no token: any local user can call this edge; use --token-file for anything but a test');

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { why });
    // A client's keep-alive connection that is never idle (the hub asking every second while
    // an upgrade restarts this edge) would keep it serving, as the old version, for the whole
    // grace period: each answer from now on closes its connection.
    server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'));
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    // Calls still running get a grace period, then the process ends anyway.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  collectWhenIdle(activity);

  if (fd !== undefined && options.idleExitSeconds > 0) {
    // Socket activation: systemd keeps the listening socket and starts us again on the
    // next connection, so an idle device runs no edge process at all.
    const idleMs = options.idleExitSeconds * 1000;
    setInterval(() => {
      if (activity.inFlight === 0 && Date.now() - activity.last >= idleMs) stop(`idle for ${options.idleExitSeconds} s`);
    }, Math.min(1000, idleMs)).unref();
  }
  return undefined;
}

/**
 * Full garbage collections once the edge has gone quiet after serving requests: at 2 s and at
 * 6 s of quiet. Under load V8 grows its heap in 256 KiB pages and keeps them when the calls
 * stop; its memory reducer did not give them back within 10 s of idle (2,000 calls: 8.9 MB
 * private at start, 16-17.5 MB after, and still after 10 s). A forced collection frees them
 * (10.6-10.9 MB); the second one catches what the first could not (seen: a collection during
 * concurrent marking freed nothing). 10-30 ms of CPU per quiet spell (the hub's health check
 * comes every 15 s), never while a call is in flight. `gc` comes from V8's --expose-gc, set at
 * run time (NODE_OPTIONS cannot add it, and the unit, Dockerfile and hub all start the edge);
 * where that fails, nothing happens.
 */
function collectWhenIdle(activity: { inFlight: number; last: number }): void {
  let gc: ((opts?: object) => void) | undefined;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as (opts?: object) => void;
  } catch {
    return;
  }
  if (typeof gc !== 'function') return;
  // 'last-resort' is V8's memory-reducing collection (what a low-memory notification runs): it
  // also gives back the young generation's pages and the pooled ones, which a plain gc() keeps
  // on Node 18 and 22. Older V8s ignore the options and do a plain full collection.
  const collect = () => gc!({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  /** The activity.last that the collections of this quiet spell were for, and how many ran. */
  let spell = activity.last;
  let done = IDLE_GC_AT_MS.length;
  setInterval(() => {
    if (activity.inFlight > 0) return;
    if (activity.last !== spell) {
      spell = activity.last;
      done = 0;
    }
    if (done < IDLE_GC_AT_MS.length && Date.now() - activity.last >= IDLE_GC_AT_MS[done]!) {
      done++;
      collect();
    }
  }, 1000).unref();
}
/** After how long of quiet collectWhenIdle collects (ms). */
const IDLE_GC_AT_MS = [2000, 6000];

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`homelab-edge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
