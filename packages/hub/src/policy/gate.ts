/**
 * The write-approval gate every write goes through, whatever its source. Three modes:
 *
 * - `session`: the first write answers with a pending preview; after `approve_writes`, writes
 *   in this session run until `revoke_writes` or the session ends.
 * - `confirm`: a write without `confirm: true` answers with its preview; with it, it runs.
 * - `human`: the person approves each write, not the model: an elicitation on 2025 sessions,
 *   an `input_required` result on 2026-07-28 requests. `approve_writes` cannot unlock it, and a
 *   client that cannot ask its user gets an error that says so.
 *
 * Rules (hard limits) run first and refuse whatever the approval state. A viewer never writes.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { inputRequired, inputResponse, type CallToolResult } from '@modelcontextprotocol/server';
import { redactArgs } from '@homelab-mcp/core/audit-event';
import type { Caller, CatalogTool } from '../catalog/types.ts';

export type ApprovalMode = 'session' | 'confirm' | 'human';

/** What a write would do, shown before it runs. */
export interface Preview {
  tool: string;
  /** Nodes or upstreams it would act on. */
  where: string[];
  /** One sentence: what exactly would run. */
  action: string;
  /** The arguments, secrets redacted. */
  arguments: unknown;
}

/** A hard limit: a reason to refuse the call, or undefined to let it pass. */
export type Rule = (call: { tool: string; args: Record<string, unknown>; caller: Caller }) => string | undefined;

/** How the hub can reach the person behind this request, if at all. */
export interface HumanChannel {
  /** 2025 sessions whose client declared elicitation: ask and wait. */
  elicit?: (message: string) => Promise<'approved' | 'declined'>;
  /** 2026-07-28 requests: the responses and state the client sent back, if this is a retry. */
  retry?: { inputResponses?: Record<string, unknown>; requestState?: string };
  modern: boolean;
  /** Whether the client declared it can ask its user (elicitation). */
  canAsk: boolean;
}

export type GateDecision =
  | { kind: 'allow'; args: Record<string, unknown>; approvedBy?: 'session' | 'confirm' | 'human' }
  | { kind: 'hold'; decision: 'pending' | 'denied'; result: CallToolResult; reason: string };

export interface GateOptions {
  modeFor(caller: Caller): ApprovalMode;
  rules?: Rule[];
}

const APPROVE_KEY = 'approve';

/** The default preview: the tool, where it acts and its (redacted) arguments. */
export function defaultPreview(tool: CatalogTool, args: Record<string, unknown>): Preview {
  return { tool: tool.def.name, where: [tool.source], action: `call ${tool.def.name} on ${tool.source}`, arguments: redactArgs(args) };
}

function held(decision: 'pending' | 'denied', reason: string, data: Record<string, unknown>, text: string): GateDecision {
  return { kind: 'hold', decision, reason, result: { content: [{ type: 'text', text }], structuredContent: data, ...(decision === 'denied' ? { isError: true } : {}) } };
}

export function createGate(opts: GateOptions) {
  const approvals = new Map<string, Date>();
  // Signs the input_required round trip, so a client cannot send an approval the hub never
  // asked for, or reuse one for another call (the state is bound to tool and arguments).
  const secret = randomBytes(32);
  const key = (caller: Caller & { key?: string }, session: string) => `${caller.key ?? caller.user}\u0000${session}`;
  const sign = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');

  return {
    mode: (caller: Caller) => opts.modeFor(caller),
    isApproved: (caller: Caller, session: string) => approvals.has(key(caller, session)),
    approvedAt: (caller: Caller, session: string) => approvals.get(key(caller, session)),
    approve(caller: Caller, session: string): void {
      approvals.set(key(caller, session), new Date());
    },
    revoke(caller: Caller, session: string): boolean {
      return approvals.delete(key(caller, session));
    },
    /** Forgets every approval of a session that ended. */
    endSession(session: string): void {
      for (const k of approvals.keys()) if (k.endsWith(`\u0000${session}`)) approvals.delete(k);
    },

    async check(call: { tool: CatalogTool; args: Record<string, unknown>; caller: Caller; session: string; human: HumanChannel }): Promise<GateDecision> {
      const { tool, caller, session } = call;
      let args = call.args;
      if (tool.toolClass === 'read') return { kind: 'allow', args };
      if (caller.role === 'viewer') return held('denied', 'viewer', { status: 'denied', reason: 'viewers cannot write' }, `Denied: ${caller.user} is a viewer and cannot run write tools.`);
      const mode = opts.modeFor(caller);
      const { confirm, ...rest } = args;
      if (mode === 'confirm') args = rest;
      for (const rule of opts.rules ?? []) {
        const why = rule({ tool: tool.def.name, args, caller });
        if (why) return held('denied', `rule: ${why}`, { status: 'denied', reason: why }, `Denied by a hard limit: ${why}`);
      }
      const preview = tool.preview?.(args) ?? defaultPreview(tool, args);
      const previewText = `${preview.action}\narguments: ${JSON.stringify(preview.arguments)}`;

      if (mode === 'session') {
        if (approvals.has(key(caller, session))) return { kind: 'allow', args, approvedBy: 'session' };
        return held(
          'pending',
          'session not approved',
          { status: 'approval_required', mode, preview, next: 'Show this preview to the user. If they agree, call approve_writes, then call this tool again.' },
          `Approval required (writes are not approved in this session). This would ${previewText}\nShow this to the user; if they agree, call approve_writes and call the tool again.`,
        );
      }
      if (mode === 'confirm') {
        if (confirm === true) return { kind: 'allow', args, approvedBy: 'confirm' };
        return held(
          'pending',
          'not confirmed',
          { status: 'confirmation_required', mode, preview, next: 'Show this preview to the user. If they agree, call this tool again with the same arguments and confirm: true.' },
          `Confirmation required. This would ${previewText}\nIf the user agrees, call the tool again with the same arguments and confirm: true.`,
        );
      }

      // human
      const question = `${preview.action}?\n${JSON.stringify(preview.arguments)}`;
      const binding = JSON.stringify([caller.user, session, tool.def.name, args]);
      if (!call.human.canAsk) {
        return held(
          'denied',
          'client cannot ask its user',
          { status: 'denied', reason: 'human approval needs a client that can ask its user (elicitation); this one cannot', preview },
          `Denied: writes need a person's approval here (mode "human"), and this client cannot ask its user (it does not support elicitation). Use a client that does (Claude Code), or ask the hub's admin for another mode. This would ${previewText}`,
        );
      }
      if (call.human.modern) {
        const state = call.human.retry?.requestState;
        const answer = inputResponse(call.human.retry?.inputResponses, APPROVE_KEY);
        if (state && answer.kind === 'elicit') {
          const [nonce, mac] = state.split('.');
          if (!nonce || mac !== sign(`${nonce}\u0000${binding}`)) {
            return held('denied', 'bad approval state', { status: 'denied', reason: 'the approval does not match this call' }, 'Denied: the approval sent back does not belong to this call.');
          }
          return answer.action === 'accept' && answer.content?.approve === true
            ? { kind: 'allow', args, approvedBy: 'human' }
            : held('denied', 'declined by the user', { status: 'denied', reason: 'the user declined' }, 'The user declined this write.');
        }
        if (call.human.retry?.inputResponses && !state) {
          return held('denied', 'unsolicited approval', { status: 'denied', reason: 'an approval the hub did not ask for' }, 'Denied: an approval was sent that the hub did not ask for.');
        }
        const nonce = randomBytes(12).toString('base64url');
        const result = inputRequired({
          inputRequests: {
            [APPROVE_KEY]: inputRequired.elicit({
              message: question,
              requestedSchema: { type: 'object', properties: { approve: { type: 'boolean', title: 'Approve this change?' } }, required: ['approve'] },
            }),
          },
          requestState: `${nonce}.${sign(`${nonce}\u0000${binding}`)}`,
        });
        return { kind: 'hold', decision: 'pending', reason: 'asked the user (input_required)', result: result as unknown as CallToolResult };
      }
      const verdict = await call.human.elicit!(question);
      return verdict === 'approved'
        ? { kind: 'allow', args, approvedBy: 'human' }
        : held('denied', 'declined by the user', { status: 'denied', reason: 'the user declined', preview }, 'The user declined this write.');
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
