/**
 * Builds the MCP server instance the hub serves to one caller: a low-level SDK `Server`
 * whose handlers read the live catalog, so a request (2026-07-28) or a session (2025 era)
 * costs no per-tool registration, and a catalog change is seen by the next list.
 */
import { ProtocolError, ProtocolErrorCode, Server, type ServerContext } from '@modelcontextprotocol/server';
import type { Catalog } from '../catalog/catalog.ts';
import type { CallContext, Caller } from '../catalog/types.ts';

export interface HubServerInfo {
  name: string;
  version: string;
  instructions: string;
}

/**
 * Drops the protocol's reserved `_meta` keys (`io.modelcontextprotocol/...`) from a relayed
 * result: an upstream's `serverInfo` there would make a 2026-07-28 client believe it talks to
 * the upstream, not the hub. Other `_meta` entries are the upstream's to pass on.
 */
export function withoutReservedMeta<T extends { _meta?: Record<string, unknown> }>(result: T): T {
  if (!result._meta) return result;
  const kept = Object.entries(result._meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/'));
  const { _meta: _dropped, ...rest } = result;
  return (kept.length ? { ...rest, _meta: Object.fromEntries(kept) } : rest) as T;
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
/** The minimum log level each client asked for (`logging/setLevel`); `info` until it asks. */
const logLevels = new WeakMap<Server, number>();

/**
 * Passes an upstream's log message to a client, named `<source>` or `<source>/<logger>`,
 * when it is at or above the level the client asked for.
 */
export function relayLog(server: Server, source: string, message: { level: string; logger?: string; data: unknown }): void {
  const rank = LOG_LEVELS.indexOf(message.level);
  if (rank < 0 || rank < (logLevels.get(server) ?? 1)) return;
  void server
    .sendLoggingMessage({ level: message.level as 'info', logger: message.logger ? `${source}/${message.logger}` : source, data: message.data })
    .catch(() => undefined);
}

/** Relays upstream progress to the client when it asked for progress (sent a token). */
function progressRelay(ctx: ServerContext): CallContext['onprogress'] {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return (p) => {
    void ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } }).catch(() => undefined);
  };
}

/**
 * @example
 * const server = createHubServer(info, () => catalog, caller);
 * await server.connect(transport);
 */
export function createHubServer(
  info: HubServerInfo,
  catalog: () => Catalog,
  caller: Caller,
  observe?: (tool: string, outcome: 'ok' | 'error' | 'unknown', seconds: number) => void,
): Server {
  const server = new Server(
    { name: info.name, version: info.version },
    {
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {} },
      instructions: info.instructions,
      // 2026-07-28 clients may cache lists: 30 s, per client (a viewer's list differs from an
      // admin's). A change is announced on subscriptions/listen within that time anyway.
      cacheHints: Object.fromEntries(
        (['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'server/discover'] as const).map((m) => [m, { ttlMs: 30_000, cacheScope: 'private' as const }]),
      ),
    },
  );
  const callContext = (ctx: ServerContext): CallContext => ({ caller, signal: ctx.mcpReq.signal, onprogress: progressRelay(ctx) });

  server.setRequestHandler('logging/setLevel', async (req) => {
    logLevels.set(server, Math.max(0, LOG_LEVELS.indexOf(req.params.level)));
    return {};
  });

  server.setRequestHandler('tools/list', async () => ({ tools: catalog().tools(caller.role).map((t) => t.def) }));

  server.setRequestHandler('tools/call', async (req, ctx) => {
    const { name, arguments: args } = req.params;
    const tool = catalog().tool(name);
    // A viewer is told the tool does not exist rather than that it is forbidden: it never saw it.
    if (!tool || !catalog().tools(caller.role).includes(tool)) {
      observe?.('(unknown)', 'unknown', 0);
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
    }
    const started = performance.now();
    try {
      const result = withoutReservedMeta(await tool.call(args ?? {}, callContext(ctx)));
      observe?.(name, result.isError ? 'error' : 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      observe?.(name, 'error', (performance.now() - started) / 1000);
      // Failures while running a tool are results the model can read (MCP's second channel).
      const message = err instanceof Error ? err.message : String(err);
      return { content: [{ type: 'text', text: message }], isError: true };
    }
  });

  server.setRequestHandler('resources/list', async () => ({ resources: catalog().resources().map((r) => r.def) }));
  server.setRequestHandler('resources/templates/list', async () => ({ resourceTemplates: catalog().resourceTemplates().map((r) => r.def) }));
  server.setRequestHandler('resources/read', async (req, ctx) => {
    const r = catalog().resource(req.params.uri);
    if (!r) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource ${req.params.uri} not found`);
    return withoutReservedMeta(await r.read(callContext(ctx)));
  });
  server.setRequestHandler('prompts/list', async () => ({ prompts: catalog().prompts().map((p) => p.def) }));
  server.setRequestHandler('prompts/get', async (req, ctx) => {
    const p = catalog().prompt(req.params.name);
    if (!p) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${req.params.name} not found`);
    return withoutReservedMeta(await p.get(req.params.arguments, callContext(ctx)));
  });
  return server;
}
