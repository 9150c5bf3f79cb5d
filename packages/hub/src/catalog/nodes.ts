/**
 * The hub's view of a device: a name, roles, and something that serves the edge tool
 * surface: a remote edge through an upstream connection, or the hub host's own edge
 * (`local`, a child process of the hub).
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import type { ClientChannel } from '../upstreams/client-requests.ts';
import type { Progress } from './types.ts';

export interface SourceState {
  status: 'connecting' | 'up' | 'down';
  since: Date;
  lastError?: string;
  era?: 'modern' | 'legacy';
  /** Up, but something a person should fix (a Home Assistant that exposes no entities). */
  warning?: string;
  /** What the source said it is when it connected (an edge: `homelab-edge` and its version). */
  serverInfo?: { name: string; version: string };
}

export interface SourceCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onprogress?: (p: Progress) => void;
  /** Extra `_meta` for the request (the hub's file policy, nodes/file-policy.ts). */
  meta?: Record<string, unknown>;
  /** See CallContext.logLevel and onlog (native upstreams). */
  logLevel?: string;
  onlog?: (message: { level: string; logger?: string; data: unknown }) => void;
  /** The caller's client (upstreams/client-requests.ts). */
  client?: ClientChannel;
  /** A 2026-07-28 retry for the upstream's `input_required`. */
  resume?: { inputResponses?: Record<string, unknown>; requestState?: string };
}

/** Anything with tools: an upstream connection or the in-process edge. */
export interface ToolSource {
  state(): SourceState;
  tools(): Tool[];
  callTool(name: string, args: Record<string, unknown>, opts: SourceCallOptions): Promise<CallToolResult>;
  /** Checks reachability now rather than at the next health check (remote sources only). */
  checkNow?(): Promise<void>;
  /** Calls `listener` when the state or tools change (the local node's child restarts). */
  onChange?(listener: () => void): () => void;
}

export interface HubNode {
  name: string;
  roles: string[];
  /** Shown by list_nodes; never carries credentials. */
  url?: string;
  source: ToolSource;
}

/** `10:42:05Z` for today (UTC), the full ISO time otherwise: short, and never ambiguous. */
export function shortTime(d: Date, now: Date = new Date()): string {
  const iso = d.toISOString();
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? `${iso.slice(11, 19)}Z` : `${iso.slice(0, 19)}Z`;
}

/**
 * A connection state in words: `up`; `unreachable since 10:42:05Z (connection refused)` when
 * it is down, or reconnecting after having been up (a `connecting` state with the error that
 * broke it: from the user's side it is gone until the reconnect succeeds); `connecting since
 * ...` only for a first attempt that has not failed yet.
 */
export function stateText(s: SourceState, now: Date = new Date()): { up: boolean; text: string; since: Date } {
  if (s.status === 'up') return { up: true, text: 'up', since: s.since };
  const word = s.status === 'connecting' && !s.lastError ? 'connecting' : 'unreachable';
  return { up: false, text: `${word} since ${shortTime(s.since, now)}${s.lastError ? ` (${s.lastError})` : ''}`, since: s.since };
}

/**
 * The source of a configured node the hub cannot connect to at all, because its entry could
 * not be resolved (its `${VAR}` is unset, its `tokenFile` unreadable): always down, with that
 * reason, so the node stays in `all` and its roles and every answer says why.
 *
 * @example
 * const source = unresolvedSource('environment variable PI_TOKEN is not set');
 * stateText(source.state()).text; // "unreachable since 10:42:05Z (environment variable PI_TOKEN is not set)"
 */
export function unresolvedSource(why: string, since: Date = new Date()): ToolSource {
  return {
    state: () => ({ status: 'down', since, lastError: why }),
    tools: () => [],
    callTool: () => Promise.reject(new HomelabError('UPSTREAM_UNAVAILABLE', why)),
  };
}
