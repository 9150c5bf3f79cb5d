export { createEdge, EDGE_VERSION, type Edge } from './edge.ts';
export type { Capability, CapabilityReport, EdgeEnv, ToolContext, ToolDef, ToolOutput } from './capability.ts';
export type { EdgeOptions } from './cli.ts';
