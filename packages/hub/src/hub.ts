/**
 * Assembles a hub from its configuration: the nodes (the in-process `local` node and remote
 * edges), the native MCP upstreams, the catalog over them, and the HTTP app. The catalog is
 * rebuilt when any of them changes (state or lists), and clients are told with list_changed.
 */
import type { Catalog, NativeUpstream } from './catalog/catalog.ts';
import { buildCatalog } from './catalog/catalog.ts';
import type { HubNode } from './catalog/nodes.ts';
import type { HubConfig, UpstreamConfig } from './config/schema.ts';
import { createMetrics } from './metrics.ts';
import { createLocalNode } from './nodes/local-node.ts';
import { createAuthenticator, type TokenEntry } from './policy/auth.ts';
import { createRateLimiter } from './policy/rate-limit.ts';
import { createHubServer, type HubServerInfo } from './server/mcp-server.ts';
import type { Caller } from './catalog/types.ts';
import { listNodesTool } from './tools/network/list-nodes.ts';
import { createHttpApp, type UpstreamHealth } from './transports/http.ts';
import { createUpstream, type Upstream, type UpstreamSpec } from './upstreams/upstream.ts';

declare const __HUB_VERSION__: string | undefined;
export const HUB_VERSION: string = typeof __HUB_VERSION__ === 'string' ? __HUB_VERSION__ : '0.0.0-dev';

/** pino's calling convention: fields first, then the message. */
export interface HubLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface HubOptions {
  config: HubConfig;
  /** Tokens to accept; from the config, or the generated one of the embedded default. */
  tokens: TokenEntry[];
  log: HubLogger;
}

function upstreamSpec(alias: string, u: UpstreamConfig): UpstreamSpec {
  if (u.type === 'stdio') return { kind: 'stdio', name: alias, command: u.command, args: u.args, ...(u.env ? { env: u.env } : {}), ...(u.cwd ? { cwd: u.cwd } : {}) };
  if (u.type === 'sse') return { kind: 'sse', name: alias, url: u.url, ...(u.headers ? { headers: u.headers } : {}) };
  return { kind: 'http', name: alias, url: u.url, ...(u.headers ? { headers: u.headers } : {}) };
}

/** Shows a URL without credentials or query (where tokens sometimes hide). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function asNative(alias: string, u: Upstream): NativeUpstream {
  return {
    alias,
    state: () => u.state(),
    tools: () => u.tools(),
    resources: () => u.resources(),
    resourceTemplates: () => u.resourceTemplates(),
    prompts: () => u.prompts(),
    callTool: (n, a, o) => u.callTool(n, a, o),
    readResource: (uri, o) => u.readResource(uri, o),
    getPrompt: (n, a, o) => u.getPrompt(n, a, o),
  };
}

export async function createHub(opts: HubOptions) {
  const { config, log } = opts;
  const clientInfo = { name: 'homelab-hub', version: HUB_VERSION };
  const nodes: HubNode[] = [];
  const closers: Array<() => Promise<void>> = [];
  const upstreamConns: Upstream[] = [];

  if (config.local.enabled) {
    nodes.push(await createLocalNode({ name: config.local.name, roles: config.local.roles, edgeArgs: config.local.edgeArgs }));
  }
  for (const n of config.nodes) {
    const up = createUpstream({ kind: 'edge', name: n.name, url: n.url, ...(n.token ? { token: n.token } : {}) }, { callTimeoutMs: config.limits.callTimeoutMs, clientInfo, log });
    upstreamConns.push(up);
    nodes.push({ name: n.name, roles: n.roles, url: displayUrl(n.url), source: up });
  }
  const natives: NativeUpstream[] = [];
  for (const [alias, u] of Object.entries({ ...config.mcpServers, ...config.upstreams })) {
    const up = createUpstream(upstreamSpec(alias, u), { callTimeoutMs: config.limits.callTimeoutMs, clientInfo, log });
    upstreamConns.push(up);
    natives.push(asNative(alias, up));
  }

  const hubTools = [listNodesTool(() => nodes, () => natives)];
  let catalog: Catalog = buildCatalog({ nodes, upstreams: natives, hubTools, perDeviceTools: config.perDeviceTools, callTimeoutMs: config.limits.callTimeoutMs, maxToolName: config.limits.maxToolName });
  let signature = '';
  const sig = (c: Catalog) => JSON.stringify([c.tools('admin').map((t) => t.def.name), c.resources().map((r) => r.def.uri), c.prompts().map((p) => p.def.name)]);
  signature = sig(catalog);

  const info: HubServerInfo = {
    name: 'homelab-hub',
    version: HUB_VERSION,
    instructions:
      'homelab hub: one endpoint for the whole network. Fleet tools take a `node` argument (a node name, a list, "role:NAME" or "all") and run on several devices in parallel; ' +
      'list_nodes shows the devices and their state. Tools of other MCP servers are named <alias>__<tool>.',
  };
  const metrics = createMetrics();
  const rate = createRateLimiter(config.auth?.rateLimit ?? { perMinute: 600, burst: 60 });
  const health = (): UpstreamHealth[] => [
    ...nodes.map((n) => {
      const s = n.source.state();
      return { name: n.name, kind: 'node' as const, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}) };
    }),
    ...natives.map((u) => {
      const s = u.state();
      return { name: u.alias, kind: 'upstream' as const, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}) };
    }),
  ];
  const http = createHttpApp({
    info,
    catalog: () => catalog,
    authenticate: createAuthenticator(opts.tokens),
    rateLimit: (k) => rate.take(k),
    allowedHosts: config.allowedHosts,
    maxBodyBytes: config.limits.maxBodyBytes,
    metrics,
    health,
    log,
  });

  // Rebuild at most every 100 ms however many upstreams change at once (a hub restart
  // brings 50 edges up within a second), and tell clients only when the lists differ.
  const listChangedListeners = new Set<() => void>();
  let rebuildTimer: NodeJS.Timeout | undefined;
  const rebuild = () => {
    rebuildTimer ??= setTimeout(() => {
      rebuildTimer = undefined;
      catalog = buildCatalog({ nodes, upstreams: natives, hubTools, perDeviceTools: config.perDeviceTools, callTimeoutMs: config.limits.callTimeoutMs, maxToolName: config.limits.maxToolName });
      const next = sig(catalog);
      if (next !== signature) {
        signature = next;
        http.notifyListChanged();
        for (const l of listChangedListeners) l();
      }
    }, 100);
  };
  for (const up of upstreamConns) {
    up.onChange((what: string) => {
      if (what === 'state') log.info({ upstream: up.spec.name, status: up.state().status, ...(up.state().lastError ? { error: up.state().lastError } : {}) }, 'upstream state');
      rebuild();
    });
    closers.push(() => up.close());
  }
  // Connect in parallel; a dead upstream never delays the others or the hub's start.
  await Promise.all(upstreamConns.map((u) => u.start()));
  catalog = buildCatalog({ nodes, upstreams: natives, hubTools, perDeviceTools: config.perDeviceTools, callTimeoutMs: config.limits.callTimeoutMs, maxToolName: config.limits.maxToolName });
  signature = sig(catalog);

  return {
    app: http.app,
    catalog: () => catalog,
    /** A server instance for one caller, for transports outside HTTP (stdio). */
    serverFor: (caller: Caller) => createHubServer(info, () => catalog, caller, metrics.observeCall),
    /** Called whenever the catalog's lists change. */
    onListChanged(listener: () => void): () => void {
      listChangedListeners.add(listener);
      return () => listChangedListeners.delete(listener);
    },
    nodes,
    health,
    async close(): Promise<void> {
      clearTimeout(rebuildTimer);
      await http.close();
      await Promise.all(closers.map((c) => c()));
    },
  };
}

export type Hub = Awaited<ReturnType<typeof createHub>>;
