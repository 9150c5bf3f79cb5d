/**
 * The write-approval gate every write goes through, whatever its source. Three modes:
 *
 * - `session`: the first write answers with a pending preview; after `approve_writes`, writes
 *   in this session run until `revoke_writes`, the session ends, or no call came for the idle
 *   time (`approval.idleMinutes`, default 30): 2026-07-28 "sessions" are only a client's
 *   self-declared name, so nothing else would ever end them.
 * - `confirm`: a write without `confirm` answers with its preview and a confirmation token
 *   bound to this user, tool, exact arguments and the targets the preview showed (valid
 *   {@link TOKEN_TTL_MS}, single-use); the same call with `confirm: "<token>"` runs once.
 *   `confirm: true`, a token of another call, a used token, or one whose `node: "all"` or
 *   `"role:X"` now names other nodes than the preview did, is refused: the model cannot skip
 *   or stretch the preview the person is meant to see.
 * - `human`: the person approves each write, not the model: an elicitation on 2025 sessions,
 *   an `input_required` result on 2026-07-28 requests, whose `requestState` is single-use and
 *   expires after {@link TOKEN_TTL_MS}. `approve_writes` cannot unlock it. A client that
 *   cannot ask its user, or whose elicitation fails (it answers "Method not found", no answer
 *   comes), gets a denial that says why and which setting would let this user write
 *   (`approval.users: { <user>: confirm }`).
 *
 * Previews show the exact arguments that will run, never a redacted form: the model wrote them
 * (so showing them back leaks nothing), and the person must see what they approve. Redaction
 * is for what is stored (journal, logs). What a person reads (the action line, the text, the
 * elicitation question) shows control, bidi and zero-width characters as escapes (`\u{1b}`)
 * and says so, so that a command cannot redraw or reorder its own preview in a terminal;
 * `structuredContent.preview.arguments` keeps them exact.
 *
 * Rules (hard limits) run first and refuse whatever the approval state. A viewer never writes.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inputRequired, inputResponse, type CallToolResult } from '@modelcontextprotocol/server';
import { canonicalJson } from '@homelab-mcp/core/audit-event';
import type { Caller, CatalogTool } from '../catalog/types.ts';

export type ApprovalMode = 'session' | 'confirm' | 'human';

/** What a write would do, shown before it runs. */
export interface Preview {
  tool: string;
  /** Nodes or upstreams it would act on. */
  where: string[];
  /** One sentence: what exactly would run. */
  action: string;
  /** The arguments exactly as they will run (not redacted: the person must see them). */
  arguments: unknown;
}

/**
 * A hard limit: a reason to refuse the call, or undefined to let it pass. It may look things up
 * (is this playbook on main?), never change anything; a rule that throws refuses the call.
 */
export type Rule = (call: { tool: string; args: Record<string, unknown>; caller: Caller; signal?: AbortSignal }) => string | undefined | Promise<string | undefined>;

/** How the hub can reach the person behind this request, if at all. */
export interface HumanChannel {
  /**
   * 2025 sessions whose client declared elicitation: ask and wait. Rejects with an Error whose
   * message says, for the person, why asking failed ("the client answered \"Method not found\"").
   */
  elicit?: (message: string) => Promise<'approved' | 'declined'>;
  /** 2026-07-28 requests: the responses and state the client sent back, if this is a retry. */
  retry?: { inputResponses?: Record<string, unknown>; requestState?: string };
  modern: boolean;
  /** Whether the client declared it can ask its user (elicitation). */
  canAsk: boolean;
}

export type GateDecision =
  | { kind: 'allow'; args: Record<string, unknown>; approvedBy?: 'session' | 'confirm' | 'human'; /** The class this call had (a tool's `classFor` may make one call a write). */ toolClass?: 'read' | 'write' }
  | { kind: 'hold'; decision: 'pending' | 'denied'; result: CallToolResult; reason: string };

export interface GateOptions {
  modeFor(caller: Caller): ApprovalMode;
  rules?: Rule[];
  /** Minutes without any call after which a session's write approval lapses; default 30. Read per call (config reloads). */
  idleMinutes?: () => number;
  /** The clock, in ms since the epoch; tests inject one. */
  now?: () => number;
  /** The key that signs confirmation tokens and approval requests; default random per process. */
  secret?: Uint8Array;
  /** Told when a write waits for a person's answer in human mode (the hub's `notify:` pings their phone). */
  onHumanAsk?: (e: { caller: Caller; tool: string; action: string; where: string[] }) => void;
}

/** A session's write approval, as get_session_info reports it. */
export interface ApprovalState {
  approvedAt: Date;
  /** When it lapses if no call comes before. */
  expiresAt: Date;
  idleMinutes: number;
}

/** How long a confirmation token and a human approval request stay valid. */
export const TOKEN_TTL_MS = 5 * 60_000;
export const DEFAULT_IDLE_MINUTES = 30;

const APPROVE_KEY = 'approve';
/** Most single-use nonces remembered at once (used confirm tokens and approval requests, until they expire). */
export const MAX_USED_NONCES = 100_000;

// C0 and C1 controls but \n and \t, DEL, bidi controls, zero-width characters and the Unicode
// line/paragraph separators: what can move the cursor, erase, or reorder what a terminal shows.
// Also the invisible operators, soft hyphen, Hangul fillers, Mongolian and variation selectors
// and tag characters: they hide nothing visible, but two previews that look alike could differ,
// and tag characters can carry text to a model unseen.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\u3164\ufe00-\ufe0f\ufeff\u{e0000}-\u{e007f}]/gu;
/** What a preview says when it escaped characters. */
export const ESCAPED_NOTE = 'contains control characters, shown escaped';

/** `s` for a person to read: each character of {@link INVISIBLE} as `\u{hex}`. */
export function showControls(s: string): string {
  return s.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** What a preview says when it marked or counted lines and blanks (see {@link showLayout}). */
export const LAYOUT_NOTE = 'spans several lines (each one after the first marked │) or holds long blank runs (shown counted)';
const BLANK_RUN = /[ \t]{16,}/g;
/** Empty lines in a row shown as they are; more are shown as a count. */
const MAX_EMPTY_LINES = 2;

/**
 * `s` for a person to read, with the layout of the text unable to pass for the preview's own: an
 * action line continued over several lines has each line after the first marked `│ `, so a
 * command cannot print a second "arguments:" line of its own, and runs of empty lines or of 16 or
 * more spaces and tabs are shown counted (`[200 empty lines]`), so that what follows them is not
 * pushed out of the dialog. Applied after {@link showControls}; returns the text and whether it
 * changed anything.
 *
 * @example showLayout('ls` on pi\narguments: {}') // { text: 'ls` on pi\n│ arguments: {}', changed: true }
 */
export function showLayout(s: string, continued = true): { text: string; changed: boolean } {
  let changed = false;
  const blanks = (line: string) =>
    line.replace(BLANK_RUN, (m) => {
      changed = true;
      return ` [${m.length} blanks] `;
    });
  const lines = s.split('\n');
  if (lines.length === 1) return { text: blanks(s), changed };
  if (continued) changed = true;
  const out = [blanks(lines[0]!)];
  const mark = continued ? '│ ' : '';
  let empty = 0;
  const flush = () => {
    if (empty > MAX_EMPTY_LINES) {
      out.push(`${mark}[${empty} empty lines]`);
      changed = true;
    } else for (let i = 0; i < empty; i++) out.push(mark.trimEnd());
    empty = 0;
  };
  for (const line of lines.slice(1)) {
    if (line.trim() === '') empty++;
    else {
      flush();
      out.push(`${mark}${blanks(line)}`);
    }
  }
  flush();
  return { text: out.join('\n'), changed };
}

/** Whether any string in `v` (arguments as JSON) holds a character {@link showControls} escapes. */
function hasControls(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return v.search(INVISIBLE) >= 0;
  if (v === null || typeof v !== 'object' || depth > 32) return false;
  if (Array.isArray(v)) return v.some((x) => hasControls(x, depth + 1));
  return Object.entries(v).some(([k, x]) => k.search(INVISIBLE) >= 0 || hasControls(x, depth + 1));
}

/** Short digest of the targets a preview showed, carried in the confirm token. */
// Sorted: the same nodes in another config order are the same approval.
const whereDigest = (where: string[]) => createHash('sha256').update(canonicalJson([...where].sort())).digest('base64url').slice(0, 16);

/** The default preview: the tool, where it acts and its exact arguments. */
export function defaultPreview(tool: CatalogTool, args: Record<string, unknown>): Preview {
  return { tool: tool.def.name, where: [tool.source], action: `call ${tool.def.name} on ${tool.source}`, arguments: args };
}

/**
 * What the hub's admin can set so that `user` writes without a person's elicitation, as YAML
 * for hub.yaml: `approval.users: { hugo: confirm }`.
 */
export function confirmModeHint(user: string): string {
  const name = /^[A-Za-z0-9_.-]+$/.test(user) ? user : JSON.stringify(user);
  return `approval.users: { ${name}: confirm }`;
}

function held(decision: 'pending' | 'denied', reason: string, data: Record<string, unknown>, text: string): GateDecision {
  return { kind: 'hold', decision, reason, result: { content: [{ type: 'text', text }], structuredContent: data, ...(decision === 'denied' ? { isError: true } : {}) } };
}

export function createGate(opts: GateOptions) {
  const now = opts.now ?? Date.now;
  const idleMs = () => (opts.idleMinutes?.() ?? DEFAULT_IDLE_MINUTES) * 60_000;
  const approvals = new Map<string, { at: number; lastUsed: number }>();
  // Nonces of confirm tokens and human approvals already used, until their expiry: each is single-use.
  const usedNonces = new Map<string, number>();
  // Signs confirmation tokens and the input_required round trip, so a client cannot send an
  // approval the hub never gave, or reuse one for another call (bound to tool and arguments).
  const secret = opts.secret ?? randomBytes(32);
  const key = (caller: Caller & { key?: string }, session: string) => `${caller.key ?? caller.user}\u0000${session}`;
  const sign = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');
  const sameMac = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

  /** The live approval of a session, dropping it when it lapsed. */
  function live(k: string): { at: number; lastUsed: number } | undefined {
    const a = approvals.get(k);
    if (a && now() - a.lastUsed >= idleMs()) {
      approvals.delete(k);
      return undefined;
    }
    return a;
  }
  function sweep(): void {
    const t = now();
    for (const [k, a] of approvals) if (t - a.lastUsed >= idleMs()) approvals.delete(k);
    for (const [n, exp] of usedNonces) if (exp <= t) usedNonces.delete(n);
  }
  /**
   * Marks a nonce used; false when it already was, or when the set is full of live ones (a
   * flood of approvals: refusing is safe, forgetting one would let it be replayed).
   */
  function consume(nonce: string, expires: number): 'ok' | 'used' | 'full' {
    if (usedNonces.has(nonce)) return 'used';
    sweep();
    if (usedNonces.size >= MAX_USED_NONCES) return 'full';
    usedNonces.set(nonce, expires);
    return 'ok';
  }

  // `<expiry>.<digest of the targets>.<mac>`: the digest lets a confirm say the targets changed
  // rather than only "not this call"; the mac, unique per call and expiry, is what the used-set
  // remembers. No random part: a preview is the same bytes for the same call, key and clock.
  const confirmMac = (caller: Caller, tool: string, args: Record<string, unknown>, expires: number, where: string) =>
    sign(['confirm', caller.user, caller.role, tool, canonicalJson(args), expires, where].join('\u0000'));

  return {
    mode: (caller: Caller) => opts.modeFor(caller),
    isApproved: (caller: Caller, session: string) => live(key(caller, session)) !== undefined,
    /** The session's write approval and when it lapses, or undefined when it has none. */
    approval(caller: Caller, session: string): ApprovalState | undefined {
      const a = live(key(caller, session));
      return a ? { approvedAt: new Date(a.at), expiresAt: new Date(a.lastUsed + idleMs()), idleMinutes: idleMs() / 60_000 } : undefined;
    },
    approve(caller: Caller, session: string): void {
      sweep();
      const t = now();
      approvals.set(key(caller, session), { at: t, lastUsed: t });
    },
    revoke(caller: Caller, session: string): boolean {
      return approvals.delete(key(caller, session));
    },
    /** Forgets every approval of a session that ended. */
    endSession(session: string): void {
      for (const k of approvals.keys()) if (k.endsWith(`\u0000${session}`)) approvals.delete(k);
    },

    async check(call: { tool: CatalogTool; args: Record<string, unknown>; caller: Caller; session: string; human: HumanChannel; signal?: AbortSignal }): Promise<GateDecision> {
      const { tool, caller, session } = call;
      // Any call keeps the session's approval alive: it lapses after idle time, not use.
      const k = key(caller, session);
      const approval = live(k);
      if (approval) approval.lastUsed = now();
      let args = call.args;
      // A read tool may be a write for some arguments (dry_run_playbook of a playbook whose
      // check_mode: false tasks run for real even in check mode).
      const toolClass = tool.toolClass === 'read' && tool.classFor ? await tool.classFor(args) : tool.toolClass;
      if (toolClass === 'read') return { kind: 'allow', args, toolClass };
      if (caller.role === 'viewer') return held('denied', 'viewer', { status: 'denied', reason: 'viewers cannot write' }, `Denied: ${caller.user} is a viewer and cannot run write tools.`);
      const mode = opts.modeFor(caller);
      const { confirm, ...rest } = args;
      if (mode === 'confirm') args = rest;
      for (const rule of opts.rules ?? []) {
        const why = await rule({ tool: tool.def.name, args, caller, ...(call.signal ? { signal: call.signal } : {}) });
        if (why) return held('denied', `rule: ${why}`, { status: 'denied', reason: why }, `Denied by a hard limit: ${why}`);
      }
      const raw = (await tool.preview?.(args)) ?? defaultPreview(tool, args);
      const escaped = raw.action.search(INVISIBLE) >= 0 || raw.where.some((w) => w.search(INVISIBLE) >= 0) || hasControls(raw.arguments);
      // The action line is for people; `arguments` stays exact (escaped only in the text). Its
      // layout too: a command's own newlines must not pass for lines of the preview.
      const action = showLayout(showControls(raw.action));
      const args1 = showLayout(showControls(JSON.stringify(raw.arguments)), false);
      const laidOut = action.changed || args1.changed;
      const notes = [...(escaped ? [`${ESCAPED_NOTE} (\\u{…})`] : []), ...(laidOut ? [LAYOUT_NOTE] : [])];
      const preview: Preview & { note?: string } = { ...raw, action: action.text, where: raw.where.map(showControls), ...(notes.length ? { note: `The preview ${notes.join('; it ')}; arguments holds them exactly.` } : {}) };
      const warn = notes.length ? `\n(This preview ${notes.join('; it ')}.)` : '';
      const argsText = args1.text;
      const previewText = `${preview.action}\narguments: ${argsText}${warn}`;

      if (mode === 'session') {
        if (approval) return { kind: 'allow', args, approvedBy: 'session' };
        return held(
          'pending',
          'session not approved',
          { status: 'approval_required', mode, preview, next: 'Show this preview to the user. If they agree, call approve_writes, then call this tool again.' },
          `Approval required (writes are not approved in this session, or the approval lapsed after ${idleMs() / 60_000} minutes without calls). This would ${previewText}\nShow this to the user; if they agree, call approve_writes and call the tool again.`,
        );
      }
      if (mode === 'confirm') {
        if (confirm !== undefined) {
          const again = 'Call the tool without confirm first, show its preview to the user, and if they agree call it again with the same arguments and confirm set to the token the preview returned.';
          if (typeof confirm !== 'string') {
            return held('denied', 'confirm without a token', { status: 'denied', reason: 'confirm must be the token a preview returned, not true' }, `Refused: confirm must be the token returned by this tool's preview, not ${JSON.stringify(confirm)}. ${again}`);
          }
          const [exp36, where, mac] = confirm.split('.');
          const expires = exp36 ? parseInt(exp36, 36) : NaN;
          if (!where || !mac || !Number.isFinite(expires) || !sameMac(mac, confirmMac(caller, tool.def.name, args, expires, where))) {
            return held('denied', 'confirm token for another call', { status: 'denied', reason: 'the confirm token was not issued for this user, tool and arguments' }, `Refused: this confirm token was not issued for this call (it belongs to other arguments, another tool or another user). ${again}`);
          }
          if (expires <= now()) {
            return held('denied', 'confirm token expired', { status: 'denied', reason: 'the confirm token expired' }, `Refused: this confirm token expired (tokens last ${TOKEN_TTL_MS / 60_000} minutes). ${again}`);
          }
          // `node: "all"` or `"role:X"` names the nodes of now: the person approved those of the preview.
          if (where !== whereDigest(raw.where)) {
            return held(
              'denied',
              'confirm token for other targets',
              { status: 'denied', reason: 'the nodes this call would act on changed since the preview', where: preview.where },
              `Refused: the nodes this call would act on changed since the preview (now: ${preview.where.join(', ')}). Preview again: ${again}`,
            );
          }
          const used = consume(`c:${mac}`, expires);
          if (used !== 'ok') {
            return used === 'used'
              ? held('denied', 'confirm token replayed', { status: 'denied', reason: 'the confirm token was already used' }, `Refused: this confirm token was already used; each token lets one call run. ${again}`)
              : held('denied', 'too many approvals in flight', { status: 'denied', reason: 'too many approvals in flight' }, 'Refused: too many confirmations in the last minutes; try again later.');
          }
          return { kind: 'allow', args, approvedBy: 'confirm' };
        }
        const expires = now() + TOKEN_TTL_MS;
        const where = whereDigest(raw.where);
        const token = `${expires.toString(36)}.${where}.${confirmMac(caller, tool.def.name, args, expires, where)}`;
        return held(
          'pending',
          'not confirmed',
          {
            status: 'confirmation_required',
            mode,
            preview,
            confirm: token,
            expiresAt: new Date(expires).toISOString(),
            next: 'Show this preview to the user. If they agree, call this tool again with exactly the same arguments and confirm set to this token.',
          },
          `Confirmation required. This would ${previewText}\nIf the user agrees, call the tool again with exactly the same arguments and confirm: ${JSON.stringify(token)} (valid until ${new Date(expires).toISOString()}).`,
        );
      }

      // human
      const question = `${preview.action}?\n${argsText}${warn}`;
      // Bound to the nodes the person was shown too: `all` or `role:X` that names other nodes by
      // the time the answer comes back is another call, asked again.
      const binding = canonicalJson([caller.user, session, tool.def.name, args, whereDigest(raw.where)]);
      // Either way the person is not reached: say why, and what would let this user write.
      const remedy = `Use a client that supports elicitation (Claude Code), or have the hub's admin set ${confirmModeHint(caller.user)} in hub.yaml (the model then shows a preview and the person confirms it).`;
      const tellAsked = () => {
        try {
          opts.onHumanAsk?.({ caller, tool: tool.def.name, action: preview.action, where: preview.where });
        } catch {
          // A notice that fails never holds up the question.
        }
      };
      if (!call.human.canAsk) {
        return held(
          'denied',
          'client cannot ask its user',
          { status: 'denied', reason: 'human approval needs a client that can ask its user (elicitation); this one cannot', config: confirmModeHint(caller.user), preview },
          `Denied: writes need a person's approval here (mode "human"), and this client cannot ask its user (it does not support elicitation). ${remedy} This would ${previewText}`,
        );
      }
      if (call.human.modern) {
        const state = call.human.retry?.requestState;
        const answer = inputResponse(call.human.retry?.inputResponses, APPROVE_KEY);
        if (state && answer.kind === 'elicit') {
          const [nonce, exp36, mac] = state.split('.');
          const expires = exp36 ? parseInt(exp36, 36) : NaN;
          if (!nonce || !mac || !Number.isFinite(expires) || !sameMac(mac, sign(`${nonce}\u0000${expires}\u0000${binding}`))) {
            return held('denied', 'bad approval state', { status: 'denied', reason: 'the approval does not match this call' }, 'Denied: the approval sent back does not belong to this call.');
          }
          if (expires <= now()) {
            return held('denied', 'approval expired', { status: 'denied', reason: 'the approval request expired' }, `Denied: this approval request expired (they last ${TOKEN_TTL_MS / 60_000} minutes). Call the tool again without it to ask the user again.`);
          }
          const used = consume(`h:${nonce}`, expires);
          if (used === 'used') {
            return held('denied', 'approval replayed', { status: 'denied', reason: 'this approval was already used' }, 'Denied: this approval was already used; each approval lets one call run. Call the tool again without it to ask the user again.');
          }
          if (used === 'full') return held('denied', 'too many approvals in flight', { status: 'denied', reason: 'too many approvals in flight' }, 'Denied: too many approvals in the last minutes; try again later.');
          return answer.action === 'accept' && answer.content?.approve === true
            ? { kind: 'allow', args, approvedBy: 'human' }
            : held('denied', 'declined by the user', { status: 'denied', reason: 'the user declined' }, 'The user declined this write.');
        }
        if (call.human.retry?.inputResponses && !state) {
          return held('denied', 'unsolicited approval', { status: 'denied', reason: 'an approval the hub did not ask for' }, 'Denied: an approval was sent that the hub did not ask for.');
        }
        const nonce = randomBytes(12).toString('base64url');
        const expires = now() + TOKEN_TTL_MS;
        tellAsked();
        const result = inputRequired({
          inputRequests: {
            [APPROVE_KEY]: inputRequired.elicit({
              message: question,
              requestedSchema: { type: 'object', properties: { approve: { type: 'boolean', title: 'Approve this change?' } }, required: ['approve'] },
            }),
          },
          requestState: `${nonce}.${expires.toString(36)}.${sign(`${nonce}\u0000${expires}\u0000${binding}`)}`,
        });
        return { kind: 'hold', decision: 'pending', reason: 'asked the user (input_required)', result: result as unknown as CallToolResult };
      }
      let verdict: 'approved' | 'declined';
      try {
        if (!call.human.elicit) throw new Error('this transport cannot send the question');
        tellAsked();
        verdict = await call.human.elicit(question);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return held(
          'denied',
          `asking the user failed: ${why}`,
          { status: 'denied', reason: `asking the user failed: ${why}`, config: confirmModeHint(caller.user), preview },
          `Denied: writes need a person's approval here (mode "human"), and asking this client's user failed: ${why}. ${remedy} This would ${previewText}`,
        );
      }
      return verdict === 'approved'
        ? { kind: 'allow', args, approvedBy: 'human' }
        : held('denied', 'declined by the user', { status: 'denied', reason: 'the user declined', preview }, 'The user declined this write.');
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
