/**
 * Assembles an edge from options: the environment tools run in, the capabilities with
 * their probe results, and the MCP handler. Used by `main.ts` for the standalone edge and
 * by the hub for its in-process `local` node.
 */
import { hostname } from 'node:os';
import type { Capability, CapabilityReport, EdgeEnv, ToolContext } from './capability.ts';
import { capabilities as allCapabilities } from './capabilities/index.ts';
import type { EdgeOptions } from './cli.ts';
import { limitCommands, runProcess } from './exec.ts';
import { createLogger, type Logger } from './log.ts';
import { createMcpHandler, type McpHandler, type ServedTool } from './mcp.ts';
import { resolvePrivateFiles } from './opened-path.ts';
import { resolveRoots } from './paths.ts';

declare const __EDGE_VERSION__: string | undefined;
/** The edge's version, stamped into the bundle at build time. */
export const EDGE_VERSION: string = typeof __EDGE_VERSION__ === 'string' ? __EDGE_VERSION__ : '0.0.0-dev';

export interface Edge {
  mcp: McpHandler;
  env: EdgeEnv;
  report: CapabilityReport[];
  tools: ServedTool[];
}

/** Variables the edge reads itself and must not hand to the commands it runs. */
const PRIVATE_ENV = ['HOMELAB_EDGE_TOKEN', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'];

/**
 * @example
 * const edge = await createEdge(options, { env: process.env });
 * const reply = await edge.mcp.handle(body, header, signal);
 */
export async function createEdge(
  options: EdgeOptions,
  deps: {
    env: NodeJS.ProcessEnv;
    log?: Logger;
    capabilities?: readonly Capability[];
    /**
     * More files or directories no tool may serve, besides the edge's token and config files
     * (an embedding hub adds its own config, secrets and data directory).
     */
    privatePaths?: readonly string[];
  },
): Promise<Edge> {
  const log = deps.log ?? createLogger({ level: options.logLevel });
  const childEnv: NodeJS.ProcessEnv = { ...deps.env };
  for (const k of PRIVATE_ENV) delete childEnv[k];
  const report: CapabilityReport[] = [];
  const env: EdgeEnv = {
    procRoot: options.procRoot,
    sysRoot: options.sysRoot,
    roots: await resolveRoots(options.roots),
    privateFiles: await resolvePrivateFiles([options.tokenFile, options.configFile, ...(deps.privatePaths ?? [])].filter((p): p is string => p !== undefined)),
    allowSpecialModes: options.allowSpecialModes,
    maxOutputBytes: options.maxOutputBytes,
    ...(options.composeDir ? { composeDir: options.composeDir } : {}),
    ...(options.rebootCommand ? { rebootCommand: options.rebootCommand } : {}),
    ...(options.bootIdFile ? { bootIdFile: options.bootIdFile } : {}),
    childEnv,
    run: limitCommands(runProcess, options.maxCommands),
    log,
    capabilities: () => report,
  };

  const tools: ServedTool[] = [];
  const caps = deps.capabilities ?? allCapabilities;
  // Probes run in parallel: start-up time is a target (cold start to first answer).
  const probes = await Promise.all(
    caps.map(async (cap) => {
      const enabled = options.capabilities[cap.name] ?? cap.enabledByDefault;
      if (!enabled) return { cap, enabled, result: undefined };
      const result = await cap.probe(env).catch((err: unknown) => ({ ok: false as const, reason: `probe failed: ${err instanceof Error ? err.message : String(err)}` }));
      return { cap, enabled, result };
    }),
  );
  for (const { cap, enabled, result } of probes) {
    if (!enabled || !result) {
      report.push({ name: cap.name, enabled: false, active: false, reason: 'disabled by configuration' });
      continue;
    }
    report.push({ name: cap.name, enabled: true, active: result.ok, ...(result.ok ? {} : { reason: result.reason }) });
    if (!result.ok) log.warn('capability not active', { capability: cap.name, reason: result.reason });
    for (const def of cap.tools) tools.push(result.ok ? { def } : { def, unavailable: `${def.name} is not available on this node: ${result.reason}` });
  }

  const node = options.nodeName ?? hostname();
  const mcp = createMcpHandler({
    serverInfo: { name: 'homelab-edge', version: EDGE_VERSION, title: `homelab edge on ${node}` },
    instructions:
      `Tools of the homelab edge agent on the device "${node}". run_command runs shell commands there; ` +
      'read_file/write_file/list_directory work on its files; get_status reports its health.',
    tools,
    // Each call's commands claim their output from the call's share of the reply budget.
    context: (signal, policy, lease): ToolContext => ({ env: { ...env, run: (o) => env.run({ ...o, lease }) }, signal, lease, ...(policy ? { policy } : {}) }),
    onToolCall: ({ name, ok, durationMs, era }) => log.info('tool call', { tool: name, ok, ms: Math.round(durationMs * 10) / 10, era }),
  });
  return { mcp, env, report, tools };
}
