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
 *
 * The gate also keeps the writes it holds, while they wait ({@link Gate.pending}, the admin UI's
 * Pending page): stored like the journal stores a call (arguments redacted), never with what
 * lets a call run (a confirm token, a `requestState`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inputRequired, inputResponse, type CallToolResult } from '@modelcontextprotocol/server';
import { canonicalJson, redactArgs, redactText } from '@homelab-mcp/core/audit-event';
import { capString } from '@homelab-mcp/core/redact';
import { isSecretKey, REDACTED } from '@homelab-mcp/core/secret-keys';
import type { Caller, CatalogTool } from '../catalog/types.ts';
import type { PendingWrite } from '../ui/contract.ts';

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
  /**
   * What the preview looked up that the call must still find when it runs (the packages an
   * upgrade would change, as the node says now): a confirmation, like a human's answer, is bound
   * to it as to `where`, and refused when the preview of the approved call no longer says it.
   * Not shown (a digest of what `action` shows).
   */
  binding?: string;
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
/** `where`, and what the preview found there when it binds to it (see {@link Preview.binding}). */
const boundDigest = (p: Preview) => (p.binding === undefined ? whereDigest(p.where) : whereDigest([...p.where, `\u0000binding:${p.binding}`]));

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

/** Most held writes {@link Gate.pending} keeps at once; a new one past it pushes out the oldest. */
export const MAX_PENDING = 1000;
/**
 * Most held writes of one user: one user's flood pushes out their own oldest, not the writes
 * of others waiting for a person.
 */
export const MAX_PENDING_PER_USER = 250;
/**
 * Most characters all held entries keep together (text, action and arguments): 1,000 entries of
 * the largest arguments must not hold tens of MB; past it the oldest leave too.
 */
export const MAX_PENDING_CHARS = 4_000_000;
/** Longest action line and text a pending entry keeps, in characters. */
const MAX_PENDING_ACTION = 2048;
const MAX_PENDING_TEXT = 16_384;
/** What a pending entry's text shows instead of the confirm token the model got. */
export const CONFIRM_TOKEN_SHOWN = '(confirm token)';

/**
 * The values `args` holds under secret keys (what {@link redactArgs} replaces by key: `password`,
 * `*Token`, `{ name: 'DB_PASSWORD', value }`), in every form a preview's text writes them: as is,
 * JSON-escaped, and with controls escaped ({@link showControls}). Values under 4 characters are
 * left out (replacing every `ab` would hide nothing and garble the text); the key-based patterns
 * of redactText still catch `"password":"ab"`.
 */
function argSecretForms(args: unknown): string[] {
  const values = new Set<string>();
  const leaves = (v: unknown, depth: number) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') values.add(String(v));
    else if (v && typeof v === 'object' && depth < 32) for (const x of Object.values(v)) leaves(x, depth + 1);
  };
  const walk = (v: unknown, depth: number) => {
    if (v === null || typeof v !== 'object' || depth >= 32 || values.size > 256) return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    const rec = v as Record<string, unknown>;
    const named = 'value' in rec && [rec.name, rec.key, rec.Name, rec.Key].some((n) => typeof n === 'string' && isSecretKey(n));
    for (const [k, x] of Object.entries(rec)) {
      if (isSecretKey(k) || (named && (k === 'value' || k === 'Value'))) leaves(x, depth + 1);
      else walk(x, depth + 1);
    }
  };
  walk(args, 0);
  const forms = new Set<string>();
  for (const v of values) {
    if (v.length < 4) continue;
    const json = JSON.stringify(v).slice(1, -1);
    for (const f of [v, json, showControls(v), showControls(json), v.trim()]) if (f.length >= 4) forms.add(f);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** `text` without the secret values of {@link argSecretForms} nor the patterns of redactText, capped at `max`. */
function scrubbed(text: string, forms: readonly string[], max: number): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
  return capString(redactText(out, max * 4), max);
}

// The shape of what lets a held call run: a confirm token (`<expiry>.<targets>.<mac>`) and a
// human approval's requestState (`<nonce>.<expiry>.<mac>`), the mac a base64url SHA-256.
const APPROVAL_SHAPE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{4,32}\.[A-Za-z0-9_-]{4,32}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
/**
 * `s` without anything shaped like a confirm token or a requestState: a model may pass one as a
 * plain argument (after a mode change), and the entry must not carry one whatever the path.
 */
const withoutApprovals = (s: string) => s.replace(APPROVAL_SHAPE, CONFIRM_TOKEN_SHOWN);

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** A held write as the gate keeps it: the UI's entry and how it leaves. */
interface HeldWrite {
  entry: PendingWrite;
  /** The session's approval key (token key + session). */
  approvalKey: string;
  /** Digest of user, tool and exact arguments: what a confirm token is bound to. */
  callDigest: string;
  expires?: number;
  /** Human mode, 2026-07-28: the nonce of the `requestState` the client got. */
  nonce?: string;
  /** Human mode, 2025: elicitations of this call still waiting for their answer. */
  asking: number;
  /** Characters the entry holds (counted against {@link MAX_PENDING_CHARS}). */
  chars: number;
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

  // Held writes while they wait, by a digest of approval key, tool and exact arguments: the same
  // call held again refreshes its entry. Insertion order is age (a refresh moves it last).
  const waiting = new Map<string, HeldWrite>();
  let waitingChars = 0;
  const perUser = new Map<string, number>();
  const drop = (k: string) => {
    const h = waiting.get(k);
    if (!h) return;
    waiting.delete(k);
    waitingChars -= h.chars;
    const n = (perUser.get(h.entry.user) ?? 1) - 1;
    if (n > 0) perUser.set(h.entry.user, n);
    else perUser.delete(h.entry.user);
  };
  const digest = (...parts: unknown[]) => createHash('sha256').update(canonicalJson(parts)).digest('base64url');
  function sweepHeld(): void {
    const t = now();
    for (const [k, h] of waiting) if (h.expires !== undefined && h.expires <= t && h.asking === 0) drop(k);
  }
  function hold(k: string, h: Omit<HeldWrite, 'asking' | 'entry' | 'chars'> & { entry: Omit<PendingWrite, 'id'> }): HeldWrite {
    const before = waiting.get(k);
    drop(k);
    const chars = h.entry.text.length + h.entry.preview.action.length + JSON.stringify(h.entry.preview.arguments).length;
    if (!before) sweepHeld();
    // A flood of distinct held calls pushes out the oldest: the list is for people to read.
    // The user's own first, so that one user cannot push the writes of others off the list.
    const user = h.entry.user;
    if ((perUser.get(user) ?? 0) >= MAX_PENDING_PER_USER) {
      for (const [wk, w] of waiting) {
        if (w.entry.user !== user) continue;
        drop(wk);
        break;
      }
    }
    while (waiting.size > 0 && (waiting.size >= MAX_PENDING || waitingChars + chars > MAX_PENDING_CHARS)) drop(waiting.keys().next().value!);
    // Frozen: the UI reads the very objects, and must not change what another page shows.
    const next: HeldWrite = { ...h, entry: deepFreeze({ id: before?.entry.id ?? randomBytes(9).toString('base64url'), ...h.entry }), asking: before?.asking ?? 0, chars };
    waiting.set(k, next);
    waitingChars += chars;
    perUser.set(user, (perUser.get(user) ?? 0) + 1);
    return next;
  }
  /** Drops the held writes `leave` picks. */
  function release(leave: (h: HeldWrite) => boolean): void {
    for (const [k, h] of waiting) if (leave(h)) drop(k);
  }

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
  /** What a confirm token is bound to besides its expiry and targets: its held entry leaves when one is used. */
  const confirmDigest = (caller: Caller, tool: string, args: Record<string, unknown>) => digest('confirm', caller.user, caller.role, tool, args);

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
      const k = key(caller, session);
      approvals.set(k, { at: t, lastUsed: t });
      release((h) => h.entry.mode === 'session' && h.approvalKey === k);
    },
    revoke(caller: Caller, session: string): boolean {
      return approvals.delete(key(caller, session));
    },
    /** Forgets every approval of a session that ended, and the previews held in it. */
    endSession(session: string): void {
      for (const k of approvals.keys()) if (k.endsWith(`\u0000${session}`)) approvals.delete(k);
      release((h) => h.entry.mode === 'session' && h.entry.session === session);
    },

    /**
     * The writes held now, oldest first: session and confirm previews the model got and human
     * questions not answered yet (see {@link PendingWrite}). Arguments redacted as the journal's,
     * no confirm token nor `requestState`; at most {@link MAX_PENDING}. Entries are frozen.
     *
     * @example gate.pending().filter((p) => p.user === viewer.user)
     */
    pending(): PendingWrite[] {
      sweepHeld();
      return [...waiting.values()].map((h) => h.entry);
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
      // The held entry of this very call (approval key, tool, exact arguments), computed once.
      let ck: string | undefined;
      const callKey = () => (ck ??= digest(k, tool.def.name, args));
      /** This call is no longer waiting in `mode` (it ran, or was refused). */
      const settle = (mode: ApprovalMode) => {
        if (waiting.size > 0 && waiting.get(callKey())?.entry.mode === mode) drop(callKey());
      };
      for (const rule of opts.rules ?? []) {
        const why = await rule({ tool: tool.def.name, args, caller, ...(call.signal ? { signal: call.signal } : {}) });
        if (why) {
          settle('session');
          return held('denied', `rule: ${why}`, { status: 'denied', reason: why }, `Denied by a hard limit: ${why}`);
        }
      }
      const { binding: _binding, ...rawShown } = (await tool.preview?.(args)) ?? defaultPreview(tool, args);
      const raw: Preview = rawShown;
      const bound = boundDigest({ ...rawShown, ...(_binding !== undefined ? { binding: _binding } : {}) });
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

      // What the Pending page keeps of a held call: the preview as the person reads it, but
      // stored like the journal stores a call. The model wrote the secrets it sees back; an admin
      // reading every user's held writes did not, so values under secret keys leave the action
      // and the text too, and the text is rebuilt around the redacted arguments.
      const heldEntry = (mode: ApprovalMode, kind: PendingWrite['kind'], text: (shown: { previewText: string; action: string; argsText: string }) => string, expires?: number): Omit<PendingWrite, 'id'> => {
        const forms = argSecretForms([call.args, raw.arguments]);
        const action = withoutApprovals(scrubbed(preview.action, forms, MAX_PENDING_ACTION));
        const shownArgs = JSON.parse(withoutApprovals(JSON.stringify(redactArgs(raw.arguments) ?? null))) as unknown;
        const argsText = showLayout(showControls(JSON.stringify(shownArgs)), false).text;
        return {
          user: caller.user,
          role: caller.role,
          session,
          tool: tool.def.name,
          mode,
          kind,
          at: new Date(now()).toISOString(),
          ...(expires !== undefined ? { expiresAt: new Date(expires).toISOString() } : {}),
          preview: { action, where: [...preview.where], arguments: shownArgs, ...(preview.note ? { note: preview.note } : {}) },
          text: withoutApprovals(scrubbed(text({ previewText: `${action}\narguments: ${argsText}${warn}`, action, argsText }), forms, MAX_PENDING_TEXT)),
        };
      };

      if (mode === 'session') {
        if (approval) {
          settle('session');
          return { kind: 'allow', args, approvedBy: 'session' };
        }
        const sessionText = (p: string) => `Approval required (writes are not approved in this session, or the approval lapsed after ${idleMs() / 60_000} minutes without calls). This would ${p}\nShow this to the user; if they agree, call approve_writes (this server's tool: behind an aggregator or a client that adds a prefix, with the same prefix as this tool) and call the tool again.`;
        // Nothing else ends a 2026-07-28 "session": an unapproved preview leaves after the idle time.
        const expires = now() + idleMs();
        hold(callKey(), { approvalKey: k, callDigest: '', expires, entry: heldEntry('session', 'preview', (shown) => sessionText(shown.previewText), expires) });
        return held('pending', 'session not approved', { status: 'approval_required', mode, preview, next: "Show this preview to the user. If they agree, call approve_writes (this server's, with the same prefix as this tool if it has one), then call this tool again." }, sessionText(previewText));
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
          if (where !== bound) {
            // Both are said when the preview binds more than the nodes: the token cannot tell which changed.
            const what = _binding === undefined ? 'the nodes this call would act on' : 'the nodes this call would act on, or what its preview found on them (such as the packages an upgrade would change),';
            return held(
              'denied',
              'confirm token for other targets',
              { status: 'denied', reason: `${what} changed since the preview`.replace(', changed', ' changed'), where: preview.where },
              `Refused: ${what} changed since the preview (now: ${preview.where.join(', ')}). Preview again: ${again}`,
            );
          }
          const used = consume(`c:${mac}`, expires);
          if (used !== 'ok') {
            return used === 'used'
              ? held('denied', 'confirm token replayed', { status: 'denied', reason: 'the confirm token was already used' }, `Refused: this confirm token was already used; each token lets one call run. ${again}`)
              : held('denied', 'too many approvals in flight', { status: 'denied', reason: 'too many approvals in flight' }, 'Refused: too many confirmations in the last minutes; try again later.');
          }
          if (waiting.size > 0) {
            const cd = confirmDigest(caller, tool.def.name, args);
            release((h) => h.entry.mode === 'confirm' && h.callDigest === cd);
          }
          return { kind: 'allow', args, approvedBy: 'confirm' };
        }
        const expires = now() + TOKEN_TTL_MS;
        const where = bound;
        const token = `${expires.toString(36)}.${where}.${confirmMac(caller, tool.def.name, args, expires, where)}`;
        const confirmText = (p: string, shownToken: string) => `Confirmation required. This would ${p}\nIf the user agrees, call the tool again with exactly the same arguments and confirm: ${shownToken} (valid until ${new Date(expires).toISOString()}).`;
        // Never the token on the Pending page: whoever holds it and this user's hub token can run
        // the call without the preview having been shown, and the page is read by other people.
        hold(callKey(), { approvalKey: k, callDigest: confirmDigest(caller, tool.def.name, args), expires, entry: heldEntry('confirm', 'preview', (shown) => confirmText(shown.previewText, CONFIRM_TOKEN_SHOWN), expires) });
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
          confirmText(previewText, JSON.stringify(token)),
        );
      }

      // human
      const question = `${preview.action}?\n${argsText}${warn}`;
      // Bound to the nodes the person was shown too: `all` or `role:X` that names other nodes by
      // the time the answer comes back is another call, asked again.
      const binding = canonicalJson([caller.user, session, tool.def.name, args, bound]);
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
          // The question got its answer (whatever follows): it no longer waits.
          if (waiting.size > 0) release((h) => h.nonce === nonce);
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
        hold(callKey(), { approvalKey: k, callDigest: '', expires, nonce, entry: heldEntry('human', 'question', (shown) => `${shown.action}?\n${shown.argsText}${warn}`, expires) });
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
      let asked = false;
      try {
        if (!call.human.elicit) throw new Error('this transport cannot send the question');
        tellAsked();
        // On the Pending page while the person has not answered (the same call asked twice at
        // once is one entry, there until both answers came).
        hold(callKey(), { approvalKey: k, callDigest: '', entry: heldEntry('human', 'question', (shown) => `${shown.action}?\n${shown.argsText}${warn}`) }).asking++;
        asked = true;
        verdict = await call.human.elicit(question);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return held(
          'denied',
          `asking the user failed: ${why}`,
          { status: 'denied', reason: `asking the user failed: ${why}`, config: confirmModeHint(caller.user), preview },
          `Denied: writes need a person's approval here (mode "human"), and asking this client's user failed: ${why}. ${remedy} This would ${previewText}`,
        );
      } finally {
        if (asked) {
          const h = waiting.get(callKey());
          if (h && h.asking > 0 && --h.asking === 0) drop(callKey());
        }
      }
      return verdict === 'approved'
        ? { kind: 'allow', args, approvedBy: 'human' }
        : held('denied', 'declined by the user', { status: 'denied', reason: 'the user declined', preview }, 'The user declined this write.');
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
