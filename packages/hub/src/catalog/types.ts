/**
 * What the hub serves: every tool, resource and prompt of the merged catalog, each with the
 * function that runs it. Built by `catalog.ts` from the nodes, the native upstreams and the
 * hub's own tools; read by the transports for every list and call.
 */
import type { ClientChannel } from '../upstreams/client-requests.ts';
import type { CallToolResult, CompleteResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/server';

export type Role = 'admin' | 'operator' | 'viewer';
export type ToolClass = 'read' | 'write';

/** Who is calling: from the bearer token that authenticated the request. */
export interface Caller {
  user: string;
  role: Role;
  /** The user an upstream hub calls for (`_meta` actingFor, policy/acting-for.ts): journaled. */
  actingFor?: string;
  /** The OAuth client (its registered name, else its id) when the call came through /oauth/mcp: journaled. */
  oauthClient?: string;
}

export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

export interface CallContext {
  caller: Caller;
  /** The session the call belongs to (2025 session id, `stdio`, or the 2026 client's name). */
  session: string;
  signal: AbortSignal;
  onprogress?: (p: Progress) => void;
  /** The least severe log level the client asked for on this request (2026-07-28 `_meta`). */
  logLevel?: string;
  /** An upstream's log message sent on this call's stream, for the client's request stream. */
  onlog?: (message: { level: string; logger?: string; data: unknown }) => void;
  /**
   * Adds to the call's audit event `detail` (what ran: a commit, a playbook's hash, a recap);
   * redacted like the arguments on the way into the journal.
   */
  auditDetail?: (detail: Record<string, unknown>) => void;
  /** The caller's client, for what an upstream asks it mid-call (sampling, elicitation, roots). */
  client?: ClientChannel;
  /** A 2026-07-28 retry of an upstream's `input_required`: what goes back to that upstream. */
  resume?: { inputResponses?: Record<string, unknown>; requestState?: string };
}

export interface CatalogTool {
  /** The tool as clients see it (name already namespaced). */
  def: Tool;
  toolClass: ToolClass;
  /**
   * For a read tool that is a write for some arguments: the class of this call (the gate asks
   * before anything runs; a viewer is then refused and a writer asked for approval).
   */
  classFor?(args: Record<string, unknown>): ToolClass | Promise<ToolClass>;
  /** Where it comes from, for list_nodes and errors: `hub`, `fleet`, a node or an upstream alias. */
  source: string;
  /**
   * A native upstream's tool: it may ask the client mid-call (sampling, elicitation, roots) or
   * answer `input_required`. The hub's own tools and the edges never do.
   */
  mayAskClient?: boolean;
  call(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult>;
  /** The nodes or upstreams a call with these arguments acts on (default: its source). */
  targets?(args: Record<string, unknown>): string[];
  /**
   * What a write would do, for the approval gate (default: tool, source and arguments). May look
   * things up (an integration names the guest it would restart); it must not change anything.
   */
  preview?(args: Record<string, unknown>): import('../policy/gate.ts').Preview | Promise<import('../policy/gate.ts').Preview>;
}

export interface CatalogResource {
  def: Resource;
  source: string;
  read(ctx: CallContext): Promise<ReadResourceResult>;
  /**
   * Subscription to the resource's changes at its upstream, when it has one: `key` names it
   * there (`<alias>` NUL `<upstream's URI>`), the key the upstream's updates are announced by.
   */
  watch?: ResourceWatch;
}

/** See `CatalogResource.watch`. */
export interface ResourceWatch {
  key: string;
  subscribe(ctx: Pick<CallContext, 'signal'>): Promise<void>;
  unsubscribe(): Promise<void>;
}

/** The argument a client wants completed and what it filled in already (`completion/complete`). */
export interface CompletionAsk {
  argument: { name: string; value: string };
  context?: { arguments?: Record<string, string> };
}

export interface CatalogResourceTemplate {
  def: ResourceTemplate;
  source: string;
  /** Completes one of the template's variables at its upstream. */
  complete?(ask: CompletionAsk, ctx: CallContext): Promise<CompleteResult>;
}

export interface CatalogPrompt {
  def: Prompt;
  source: string;
  get(args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult>;
  /** An upstream's prompt: getting it may ask the client (sampling, elicitation, roots). */
  mayAskClient?: boolean;
  /** Completes one of the prompt's arguments at its upstream. */
  complete?(ask: CompletionAsk, ctx: CallContext): Promise<CompleteResult>;
}
