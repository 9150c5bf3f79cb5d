/**
 * What a built-in integration is: a config schema (strict zod, validated at start with the
 * rest of the hub's config) and a `setup` that turns a config into tools (and, optionally, a
 * health check). The hub adapts the tools into its catalog; an integration never imports the
 * hub (imports go downward), so everything it may use arrives in {@link IntegrationContext}.
 *
 * @example
 * export const pingIntegration = defineIntegration({
 *   name: 'ping',
 *   configSchema: z.strictObject({ url: z.url() }),
 *   setup: (config, { http }) => ({ name: 'ping', tools: [pingTool(config.url, http)] }),
 * });
 */
import * as z from 'zod';
import type { HttpClient } from '@homelab-mcp/core/http';
import { isHttpError } from '@homelab-mcp/core/http';
import { isHomelabError } from '@homelab-mcp/core';

/** pino's calling convention (fields first); the hub passes a child logger per integration. */
export interface IntegrationLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface IntegrationContext {
  /** The one outbound-HTTP helper, already reporting every request to the audit trail. */
  http: HttpClient;
  log: IntegrationLogger;
  /** The folder of hub.yaml: relative paths in an integration's config (a `caFile`) start there. */
  baseDir?: string;
}

/** MCP's tool annotations; each tool sets all four to match its class. */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** A tool as MCP lists it (the `Tool` JSON of tools/list). */
export interface IntegrationToolDef {
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; properties?: Record<string, object>; required?: string[]; [k: string]: unknown };
  annotations: ToolAnnotations;
}

/** A CallToolResult: text for the person, structuredContent (camelCase keys) for programs. */
export interface ToolResult {
  content: Array<{ type: 'text'; text: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** What a write would do, in words for the person approving it: `Restart LXC 30062 (n8n) on pve-mini5`. */
export interface IntegrationPreview {
  action: string;
  /** Where it acts (instances, nodes); default the integration. */
  where?: string[];
}

/**
 * What a tool's call runs with: its cancellation, and (from the hub) a way to add to the call's
 * audit event what the write changed (`{ uuid, previous: { enabled: true } }`), so a person can
 * undo it from the journal. The hub redacts it like the arguments.
 */
export interface ToolCallContext {
  signal: AbortSignal;
  auditDetail?(detail: Record<string, unknown>): void;
}

export interface IntegrationTool {
  def: IntegrationToolDef;
  toolClass: 'read' | 'write';
  call(args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult>;
  /** For writes: the preview the approval gate shows; it may read the service, never change it. */
  preview?(args: Record<string, unknown>, ctx: { signal: AbortSignal }): Promise<IntegrationPreview>;
}

export interface IntegrationHealth {
  ok: boolean;
  /** One line: `ready; 2 alerts firing`. */
  detail: string;
  /** What a person should look at, one sentence each. */
  problems?: string[];
}

/** A service of the topology, as run_diagnostic asks an integration about it. */
export interface DiagnosedService {
  name: string;
  /** The topology node it runs on (often a Proxmox guest's name). */
  node: string;
  url?: string;
}

/** One check an integration adds to run_diagnostic, with what to do when it is a problem. */
export interface IntegrationFinding {
  check: string;
  status: 'ok' | 'problem' | 'warning' | 'skipped';
  detail: string;
  suggestion?: string;
}

export interface IntegrationInstance {
  /** The integration's name; the hub uses it as the tools' source. */
  name: string;
  /** How a person names the service (`Caddy`), in service_health; default the name. */
  title?: string;
  tools: IntegrationTool[];
  health?(signal: AbortSignal): Promise<IntegrationHealth>;
  /** Its view of a topology service that matches it (by name, node or URL); [] when none does. */
  diagnose?(service: DiagnosedService, signal: AbortSignal): Promise<IntegrationFinding[]>;
  close?(): void | Promise<void>;
}

export interface Integration<S extends z.ZodType = z.ZodType, I extends IntegrationInstance = IntegrationInstance> {
  /** The config key under `integrations:` (camelCase) and the tools' source. */
  name: string;
  /** Strict: an unknown key is a config error, as everywhere in the hub's config. */
  configSchema: S;
  setup(config: z.output<S>, ctx: IntegrationContext): I;
}

/** Declares an integration (typed; no side effects: the static list in index.ts registers it). */
export function defineIntegration<S extends z.ZodType, I extends IntegrationInstance>(integration: Integration<S, I>): Integration<S, I> {
  return integration;
}

// ---------------------------------------------------------------------------------------------
// Helpers for writing tools

export interface ToolSpec<A extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  /** The arguments as a strict zod object; the JSON Schema clients see is derived from it. */
  args: A;
  toolClass: 'read' | 'write';
  /** Read tools default to read-only, non-destructive, idempotent, closed-world. */
  annotations?: Partial<ToolAnnotations>;
  run(args: z.output<A>, ctx: ToolCallContext): Promise<ToolResult>;
  /** For writes: what the call would do, named (looked up if need be); never changes anything. */
  preview?(args: z.output<A>, ctx: { signal: AbortSignal }): Promise<IntegrationPreview>;
}

/**
 * A tool whose arguments are validated before `run` (a clear isError result names the argument
 * and what was expected) and whose failures become isError results with the error's message.
 */
export function defineTool<A extends z.ZodObject>(spec: ToolSpec<A>): IntegrationTool {
  const { $schema: _drop, ...inputSchema } = z.toJSONSchema(spec.args, { io: 'input' }) as Record<string, unknown>;
  const read = spec.toolClass === 'read';
  return {
    def: {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      inputSchema: inputSchema as IntegrationToolDef['inputSchema'],
      annotations: { title: spec.title, readOnlyHint: read, destructiveHint: !read, idempotentHint: read, openWorldHint: false, ...spec.annotations },
    },
    toolClass: spec.toolClass,
    async call(args, ctx) {
      const parsed = spec.args.safeParse(args ?? {});
      if (!parsed.success) return errorResult(`${spec.name}: ${formatArgIssues(parsed.error.issues, spec.args)}`);
      try {
        return await spec.run(parsed.data, ctx);
      } catch (err) {
        return errorResult(errorMessage(err));
      }
    },
    ...(spec.preview
      ? {
          async preview(args: Record<string, unknown>, ctx: { signal: AbortSignal }): Promise<IntegrationPreview> {
            const parsed = spec.args.safeParse(args ?? {});
            // The call itself will refuse these arguments; the person sees why.
            if (!parsed.success) return { action: `${spec.name} with arguments it will refuse (${formatArgIssues(parsed.error.issues, spec.args)})` };
            return spec.preview!(parsed.data, ctx);
          },
        }
      : {}),
  };
}

/** `argument "limit": expected an integer ...`, one issue per sentence. */
export function formatArgIssues(issues: readonly z.core.$ZodIssue[], schema?: z.ZodObject): string {
  const known = schema ? Object.keys(schema.shape) : [];
  return issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') {
        return `unknown argument${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}${known.length ? ` (expected: ${known.join(', ')})` : ''}`;
      }
      const arg = i.path.length ? `argument "${i.path.join('.')}"` : 'arguments';
      if (i.code === 'invalid_type' && i.message.endsWith('received undefined')) {
        const desc = schema && typeof i.path[0] === 'string' ? schema.shape[i.path[0]]?.description : undefined;
        return `${arg} is required${desc ? ` (${desc})` : ''}`;
      }
      return `${arg}: ${i.message.replace(/^Invalid input: /, '')}`;
    })
    .join('; ');
}

export function textResult(text: string, structuredContent?: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text }], ...(structuredContent ? { structuredContent } : {}) };
}

export function errorResult(text: string, structuredContent?: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text }], isError: true, ...(structuredContent ? { structuredContent } : {}) };
}

/** A message safe for a client: our errors carry one; anything else is reported generically. */
export function errorMessage(err: unknown): string {
  if (isHomelabError(err) || isHttpError(err)) return err.message;
  return `internal error: ${err instanceof Error ? err.name : 'unknown'}`;
}

// ---------------------------------------------------------------------------------------------
// Time arguments shared by the query tools

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };

/** `1h30m`, `15m`, `500ms` in ms, or undefined when it is not a duration. */
export function parseDuration(v: string): number | undefined {
  const s = v.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w|y))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/**
 * A point in time from what a person types: RFC3339 (`2026-11-21T10:00:00Z`), Unix seconds
 * (`1763719200`), `now`, or a relative duration meaning that long ago (`1h`, `15m`, `-1h`).
 * Undefined when it is none of these.
 */
export function parseTimeArg(v: string, now: number = Date.now()): Date | undefined {
  const s = v.trim();
  if (s === 'now') return new Date(now);
  const rel = parseDuration(s.replace(/^-/, ''));
  if (rel !== undefined) {
    const d = new Date(now - rel);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  if (/^\d+(\.\d+)?$/.test(s)) {
    const sec = Number(s);
    // Past what a Date holds (year 275760), a time would fail later, in toISOString.
    const d = new Date(sec * 1000);
    return Number.isFinite(sec) && !Number.isNaN(d.getTime()) ? d : undefined;
  }
  // RFC3339 only: Date.parse alone accepts things like "1" or "March".
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** A zod string argument that must be a time {@link parseTimeArg} understands. */
export function timeArg(description: string) {
  return z
    .string()
    .refine((v) => parseTimeArg(v) !== undefined, { message: 'expected RFC3339 (2026-11-21T10:00:00Z), Unix seconds, "now", or a relative time such as 1h or 15m (that long ago)' })
    .describe(description);
}

/** `s` cut to `max` characters, with a marker saying how many were cut. */
export function capText(s: string, max: number): { text: string; cut: boolean } {
  if (s.length <= max) return { text: s, cut: false };
  return { text: `${s.slice(0, max)}… [${s.length - max} more characters]`, cut: true };
}

/** `{job="x", instance="y"}` (Prometheus' notation; `__name__` goes in front). */
export function formatLabels(labels: Record<string, string>, opts: { skipName?: boolean } = {}): string {
  const name = labels.__name__;
  const rest = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ');
  if (opts.skipName || !name) return `{${rest}}`;
  return rest ? `${name}{${rest}}` : name;
}
