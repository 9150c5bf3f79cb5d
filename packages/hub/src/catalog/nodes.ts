/**
 * The hub's view of a device: a name, roles, and something that serves the edge tool
 * surface: a remote edge through an upstream connection, or the hub host's own in-process
 * edge (`local`).
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { Progress } from './types.ts';

export interface SourceState {
  status: 'connecting' | 'up' | 'down';
  since: Date;
  lastError?: string;
  era?: 'modern' | 'legacy';
}

export interface SourceCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onprogress?: (p: Progress) => void;
}

/** Anything with tools: an upstream connection or the in-process edge. */
export interface ToolSource {
  state(): SourceState;
  tools(): Tool[];
  callTool(name: string, args: Record<string, unknown>, opts: SourceCallOptions): Promise<CallToolResult>;
  /** Checks reachability now rather than at the next health check (remote sources only). */
  checkNow?(): Promise<void>;
}

export interface HubNode {
  name: string;
  roles: string[];
  /** Shown by list_nodes; never carries credentials. */
  url?: string;
  source: ToolSource;
}
