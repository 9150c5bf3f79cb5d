/**
 * The hub host itself as node `local`: the edge's capabilities run in-process, with the
 * same validation, limits and error mapping an edge gives HTTP clients, and no socket.
 */
import { readFileSync } from 'node:fs';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { createEdge } from '@homelab-mcp/edge';
import { capabilities } from '@homelab-mcp/edge/src/capabilities/index.ts';
import { parseCli } from '@homelab-mcp/edge/src/cli.ts';
import { createLogger } from '@homelab-mcp/edge/src/log.ts';
import type { HubNode, SourceState } from '../catalog/nodes.ts';
import { edgeLoggerFor, type FieldsFirstLogger } from './edge-log.ts';

export interface LocalNodeOptions {
  name: string;
  roles: string[];
  /** Edge flags, as on the edge's command line (e.g. `--root /srv`, `--disable-gpio`). */
  edgeArgs?: string[];
  /**
   * The hub's logger: the edge's lines then come out in the hub's format and stream. Without
   * it (tests), the edge writes its own JSON lines to stderr.
   */
  log?: FieldsFirstLogger;
}

export async function createLocalNode(opts: LocalNodeOptions): Promise<HubNode> {
  const parsed = parseCli(['--node-name', opts.name, '--log-level', 'warn', ...(opts.edgeArgs ?? [])], {
    env: {},
    readFile: (p) => readFileSync(p, 'utf8'),
    capabilityNames: capabilities.map((c) => c.name),
  });
  if (parsed.kind !== 'run') throw new Error('local node: edge arguments must not ask for --help or --version');
  const edge = await createEdge(parsed.options, { env: process.env, log: opts.log ? edgeLoggerFor(opts.log, { level: parsed.options.logLevel, bindings: { node: opts.name } }) : createLogger({ level: parsed.options.logLevel, bindings: { node: opts.name } }) });
  const tools = edge.mcp.listTools() as Tool[];
  const state: SourceState = { status: 'up', since: new Date(), era: 'modern' };
  return {
    name: opts.name,
    roles: opts.roles,
    url: 'in-process',
    source: {
      state: () => state,
      tools: () => tools,
      async callTool(name, args, { signal, timeoutMs }) {
        const deadline = AbortSignal.timeout(timeoutMs ?? 60_000);
        return (await edge.mcp.callTool(name, args, signal ? AbortSignal.any([signal, deadline]) : deadline)) as CallToolResult;
      },
    },
  };
}
