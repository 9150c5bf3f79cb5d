/** `get_audit_log`: what was called, by whom, with which decision; from Loki or the journal. */
import type { AuditEvent } from '@homelab-mcp/core/audit-event';
import type { CatalogTool } from '../../catalog/types.ts';

export interface AuditLogSource {
  read(q: { limit: number; since?: string; tool?: string; session?: string; user?: string; kind?: 'tool_call' | 'approval' | 'http_request' | 'oauth' }): Promise<AuditEvent[]>;
  /** Where the answer came from, for the reader. */
  name: string;
}

function line(e: AuditEvent): string {
  const who = `${e.user}${e.session ? `@${e.session.slice(0, 8)}` : ''}`;
  const what = e.kind === 'tool_call' ? `${e.tool}${e.nodes?.length ? ` on ${e.nodes.join(',')}` : ''} ${e.decision}/${e.outcome}` : e.kind === 'approval' ? `approval ${JSON.stringify(e.detail)}` : `http ${JSON.stringify(e.detail)}`;
  return `${e.time} ${who} ${what}${e.durationMs !== undefined ? ` ${Math.round(e.durationMs)} ms` : ''}${e.error ? ` (${e.error})` : ''}`;
}

export function auditLogTool(source: () => AuditLogSource): CatalogTool {
  return {
    def: {
      name: 'get_audit_log',
      title: 'Audit log',
      description: 'Recent audit events, newest first: tool calls with their decision and outcome (default), approval changes, or the hub’s outbound HTTP requests. Viewers and operators see their own; admins see everyone’s.',
      inputSchema: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'How many events (default 50).' },
          since: { type: 'string', description: 'Only events at or after this ISO time.' },
          tool: { type: 'string', description: 'Only calls of this tool.' },
          session: { type: 'string', description: 'Only this session ("current" for this one).' },
          kind: { type: 'string', enum: ['tool_call', 'approval', 'http_request', 'oauth'], description: 'Which events (default tool_call; http_request lists the hub’s outbound requests; oauth its OAuth grants, refreshes, revocations and refusals).' },
        },
        additionalProperties: false,
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    toolClass: 'read',
    source: 'hub',
    async call(args, ctx) {
      const src = source();
      const limit = typeof args.limit === 'number' ? Math.min(1000, Math.max(1, Math.floor(args.limit))) : 50;
      const session = args.session === 'current' ? ctx.session : typeof args.session === 'string' ? args.session : undefined;
      // Only an admin reads what other users did. A hub calling for one of its users shares its
      // token with all of them: such a caller (below admin) sees only the events journaled for
      // the same user (hub.ts, detail.actingFor).
      const own = ctx.caller.role === 'admin' ? undefined : ctx.caller.user;
      const onBehalf = ctx.caller.role === 'admin' ? undefined : ctx.caller.actingFor;
      const read = await src.read({
        limit: onBehalf === undefined ? limit : 1000,
        ...(typeof args.since === 'string' ? { since: args.since } : {}),
        ...(typeof args.tool === 'string' ? { tool: args.tool } : {}),
        ...(session ? { session } : {}),
        kind: args.kind === 'approval' || args.kind === 'http_request' || args.kind === 'oauth' ? args.kind : 'tool_call',
        // Only an admin reads what other users did.
        ...(own !== undefined ? { user: own } : {}),
      });
      // Loki narrows by user with a line filter only, which another field can satisfy: check the field.
      const events = read
        .filter((e) => own === undefined || e.user === own)
        .filter((e) => onBehalf === undefined || (e.detail as { actingFor?: unknown } | undefined)?.actingFor === onBehalf)
        .slice(0, limit);
      return {
        content: [{ type: 'text', text: [`${events.length} event(s) from ${src.name}:`, ...events.map(line)].join('\n') }],
        structuredContent: { source: src.name, events: events as unknown as Record<string, unknown>[] },
      };
    },
  };
}
