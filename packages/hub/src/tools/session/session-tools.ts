/**
 * Session tools: what this session may do, and the model's side of the `session` approval
 * mode. In `human` mode approve_writes refuses: only the person can approve, through the
 * client's own prompt.
 */
import type { CatalogTool, Caller } from '../../catalog/types.ts';
import type { Gate } from '../../policy/gate.ts';

export interface SessionToolsOptions {
  gate: Gate;
  /** Calls made so far in a session. */
  callsIn(caller: Caller, session: string): number;
  /** Records an approval change in the audit trail. */
  onApproval?(event: { caller: Caller; session: string; change: 'approved' | 'revoked' | 'refused'; reason?: string }): Promise<void> | void;
}

const noArgs = { type: 'object' as const, properties: {}, additionalProperties: false };

function result(text: string, data: Record<string, unknown>, isError = false) {
  return { content: [{ type: 'text' as const, text }], structuredContent: data, ...(isError ? { isError: true } : {}) };
}

export function sessionTools(opts: SessionToolsOptions): CatalogTool[] {
  const { gate } = opts;
  return [
    {
      def: {
        name: 'get_session_info',
        title: 'Session info',
        description: 'Who this session is (user, role), the approval mode for writes, whether writes are approved and until when, and how many calls it made.',
        inputSchema: noArgs,
        annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      toolClass: 'read',
      source: 'hub',
      async call(_args, ctx) {
        const mode = gate.mode(ctx.caller);
        const approval = gate.approval(ctx.caller, ctx.session);
        const data = {
          user: ctx.caller.user,
          role: ctx.caller.role,
          session: ctx.session,
          mode: ctx.caller.role === 'viewer' ? 'read-only' : mode,
          writesApproved: ctx.caller.role !== 'viewer' && mode === 'session' && approval !== undefined,
          ...(approval
            ? { approvedAt: approval.approvedAt.toISOString(), approvalExpiresAt: approval.expiresAt.toISOString(), approvalIdleMinutes: approval.idleMinutes }
            : {}),
          calls: opts.callsIn(ctx.caller, ctx.session),
        };
        const how =
          ctx.caller.role === 'viewer'
            ? 'This user is a viewer: write tools are not available.'
            : mode === 'session'
              ? data.writesApproved && approval
                ? `Writes are approved for this session until revoke_writes, or until ${approval.expiresAt.toISOString()} if no call comes before: the approval lapses after ${approval.idleMinutes} minutes without calls.`
                : "Writes need approval: after the user agrees, call approve_writes (this server's, with the same prefix as this tool if it has one)."
              : mode === 'confirm'
                ? "Each write runs only when called with confirm set to the token its preview returned (call without confirm first; the user sees the preview; a token lasts 5 minutes, runs one call, and fits only those arguments and the nodes the preview named)."
                : 'Each write is approved by the person through the client; the model cannot approve writes.';
        return result(`${data.user} (${data.role}), session ${data.session}: ${how} Calls so far: ${data.calls}.`, data);
      },
    },
    {
      def: {
        name: 'approve_writes',
        title: 'Approve writes for this session',
        description: 'Allows write tools in this session (approval mode "session"), after the user has agreed. Lasts until revoke_writes, the end of the session, or a spell without calls (get_session_info says until when).',
        inputSchema: noArgs,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      // The gate's own switch: it must not itself need approval.
      toolClass: 'read',
      source: 'hub',
      async call(_args, ctx) {
        const mode = gate.mode(ctx.caller);
        const refuse = async (reason: string) => {
          await opts.onApproval?.({ caller: ctx.caller, session: ctx.session, change: 'refused', reason });
          return result(reason, { approved: false, reason }, true);
        };
        if (ctx.caller.role === 'viewer') return refuse(`${ctx.caller.user} is a viewer: writes cannot be approved.`);
        if (mode === 'human') return refuse('Refused: in "human" mode only the person approves writes, one by one, when the client asks them. The model cannot approve writes.');
        if (mode === 'confirm') return refuse('Not needed: in "confirm" mode each write runs when called with confirm set to the token its preview returned, after the user saw that preview.');
        gate.approve(ctx.caller, ctx.session);
        await opts.onApproval?.({ caller: ctx.caller, session: ctx.session, change: 'approved' });
        const a = gate.approval(ctx.caller, ctx.session);
        return result(
          `Writes are approved for this session until revoke_writes, the session's end, or ${a?.idleMinutes ?? ''} minutes without calls.`,
          { approved: true, session: ctx.session, ...(a ? { expiresAt: a.expiresAt.toISOString(), idleMinutes: a.idleMinutes } : {}) },
        );
      },
    },
    {
      def: {
        name: 'revoke_writes',
        title: 'Revoke write approval',
        description: 'Withdraws the write approval of this session: writes need approval again.',
        inputSchema: noArgs,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      toolClass: 'read',
      source: 'hub',
      async call(_args, ctx) {
        const was = gate.revoke(ctx.caller, ctx.session);
        await opts.onApproval?.({ caller: ctx.caller, session: ctx.session, change: 'revoked' });
        return result(was ? 'Write approval revoked for this session.' : 'Writes were not approved in this session.', { revoked: was });
      },
    },
  ];
}
