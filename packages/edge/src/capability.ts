/**
 * The edge's extension point: a capability is one file under `capabilities/` that declares
 * its tools, probes whether it can work on this device at start, and is listed in the static
 * list in `capabilities/index.ts` (the node_exporter collector pattern).
 */
import type { Logger } from './log.ts';
import type { RunOptions, RunResult } from './exec.ts';
import type { PrivateFile } from './opened-path.ts';
import type { Roots } from './paths.ts';
import type { CallPolicy } from './policy.ts';
import type { ReplyLease } from './reply-size.ts';

/** A JSON Schema (the 2020-12 subset the edge validates; see `schema.ts`). */
export interface JsonSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null' | Array<'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null'>;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  /** Valid when any one of these is; preferred over type arrays, which some clients reject. */
  anyOf?: JsonSchema[];
  enum?: readonly (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  default?: unknown;
}

/** MCP tool annotations: hints a client shows and a hub classifies by. */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** Whether one capability of this edge is enabled and working, as its probe found. */
export interface CapabilityReport {
  name: string;
  enabled: boolean;
  /** Enabled and its probe passed. */
  active: boolean;
  /** Why it is disabled or inactive. */
  reason?: string;
}

/** Everything a tool may use; built once by `main.ts` from flags and config. */
export interface EdgeEnv {
  /** Root of the proc filesystem, `/proc` unless a test points it at a fixture tree. */
  procRoot: string;
  /** Root of sysfs, `/sys` unless a test points it elsewhere. */
  sysRoot: string;
  /** Directories the file tools are confined to, as configured and as real paths. */
  roots: Roots;
  /**
   * The node's compose directory (`--compose-dir`), absolute: each stack is a folder in it holding
   * a compose file. Unset when not configured; the compose tools then say which flag to set.
   */
  composeDir?: string;
  /**
   * Files the edge never serves through any tool, whatever the policy: its token file, its
   * config file, and whatever an embedding program adds (see `opened-path.ts`).
   */
  privateFiles?: readonly PrivateFile[];
  /** `write_file` may set setuid, setgid and sticky bits (`--allow-special-modes`). */
  allowSpecialModes?: boolean;
  /** What `reboot_node` runs (`--reboot-command`); default `systemctl reboot`. */
  rebootCommand?: readonly string[];
  /** The file holding this boot's id (`--boot-id-file`, for tests); default under `procRoot`. */
  bootIdFile?: string;
  /** Default cap, in bytes, of each captured output stream and of file reads. */
  maxOutputBytes: number;
  /** Environment handed to commands: the edge's own, minus its token. */
  childEnv: NodeJS.ProcessEnv;
  /** Runs a program (no shell) with a deadline and capped output; tests may replace it. */
  run(opts: RunOptions): Promise<RunResult>;
  log: Logger;
  /** The capabilities of this edge and their probe results (for `get_status`). */
  capabilities(): CapabilityReport[];
}

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  env: EdgeEnv;
  /** Aborted when the client goes away or the edge shuts down. */
  signal: AbortSignal;
  /** The hub's policy for this call (`_meta["dev.homelab-mcp/policy"]`); none when absent. */
  policy?: CallPolicy;
  /**
   * The call's share of the edge's reply budget. `env.run` claims from it; a tool that turns
   * large bytes into text itself (read_file) claims their cost before it decodes them.
   */
  lease?: ReplyLease;
}

/**
 * A tool's answer: `data` becomes `structuredContent`, `text` the text content
 * (JSON of `data` when absent). Throw a `HomelabError` for a failure the caller
 * should read: it becomes an `isError` result with that message.
 */
export interface ToolOutput {
  data: Record<string, unknown>;
  text?: string;
  isError?: boolean;
}

export interface ToolDef<A = any> {
  name: string;
  title?: string;
  description: string;
  inputSchema: JsonSchema & { type: 'object' };
  annotations: ToolAnnotations;
  handler(args: A, ctx: ToolContext): Promise<ToolOutput>;
}

export type ProbeResult = { ok: true; detail?: string } | { ok: false; reason: string };

export interface Capability {
  /** Flag name: `--enable-NAME` / `--disable-NAME`, and the config key. */
  name: string;
  description: string;
  /** Enabled when neither config nor a flag says otherwise. */
  enabledByDefault: boolean;
  /**
   * Checks at start whether the capability can work here (a binary present, a device
   * there). A capability whose probe fails still serves its tools, which then answer
   * with the probe's reason, so the AI learns why instead of seeing the tool vanish.
   */
  probe(env: EdgeEnv): Promise<ProbeResult>;
  tools: ToolDef[];
}

/** Declares a capability. @example export const env = defineCapability({ name: 'env', ... }) */
export function defineCapability(c: Capability): Capability {
  return c;
}

/** Declares a tool with typed arguments. */
export function defineTool<A>(t: ToolDef<A>): ToolDef<A> {
  return t;
}
