/**
 * What the admin web UI (`/ui`) reads, and from where. The UI never changes anything: every
 * action stays in the MCP chat. Each part of the hub that the UI shows implements its piece of
 * this contract; `ui/app.ts` renders it.
 *
 * Visibility: an admin sees everything; an operator or viewer sees only their own sessions,
 * pending writes and audit events (filtered here, on the server, never in the browser).
 */
import type { AuditEvent } from '@homelab-mcp/core/audit-event';
import type { Role } from '../catalog/types.ts';
import type { UpstreamHealth } from '../transports/http.ts';
import type { LokiShipperStats } from '../audit/loki-shipper.ts';
import type { JournalStats } from '../audit/journal.ts';
import type { TopologyNodeView, TopologyService } from '../topology/topology.ts';

/** Who is looking: the hub token's user and role (looked up again on every request). */
export interface UiViewer {
  user: string;
  role: Role;
  /** The token's key (auth.ts), never the token. */
  key: string;
}

/** An open 2025-era session (Streamable HTTP with Mcp-Session-Id, or legacy /sse). */
export interface LiveSession {
  id: string;
  transport: 'streamable-http' | 'sse';
  user: string;
  role: Role;
  /** The token's key: a session belongs to whoever holds that token. */
  key: string;
  /** The protocol revision the session negotiated (`2025-11-25`), when known. */
  protocolVersion?: string;
  client?: { name: string; version?: string };
  openedAt: string;
  lastSeenAt: string;
}

/**
 * Calls seen per user and session id, whatever the era. A 2026-07-28 client has no session: its
 * calls are counted under `client:<name>` (the name it declares), shown as user + client name.
 */
export interface SessionActivity {
  user: string;
  /** The caller's role and token key at the last call (the key finds the session's approval). */
  role?: Role;
  key?: string;
  session: string;
  client?: { name: string; version?: string };
  calls: number;
  lastCallAt: string;
  lastTool: string;
}

/**
 * A write the gate held, while it waits: a preview the model was shown (session and confirm
 * modes: it waits for approve_writes or a confirmed call), or a question a person has not
 * answered yet (human mode). It leaves the list when the write runs, is approved or declined,
 * its session ends, or it expires.
 */
export interface PendingWrite {
  /** Opaque, stable while it is pending. */
  id: string;
  user: string;
  role: Role;
  session: string;
  tool: string;
  mode: 'session' | 'confirm' | 'human';
  /** `preview`: the model got a preview; `question`: a person is being asked (human mode). */
  kind: 'preview' | 'question';
  at: string;
  expiresAt?: string;
  /** The preview as the gate made it; `arguments` redacted like the journal's args. */
  preview: { action: string; where: string[]; arguments: unknown; note?: string };
  /** The text the model got back (session/confirm), or the question the person sees (human). */
  text: string;
}

/** A filter of the Audit page; every field optional. Times are ISO 8601. */
export interface AuditFilter {
  user?: string;
  session?: string;
  tool?: string;
  node?: string;
  kind?: AuditEvent['kind'];
  decision?: NonNullable<AuditEvent['decision']>;
  outcome?: NonNullable<AuditEvent['outcome']>;
  since?: string;
  until?: string;
}

/** One page of the journal, newest first. */
export interface AuditPage {
  events: Array<{ /** The event's position in the journal (opaque). */ pos: string; event: AuditEvent }>;
  /** Pass as `before` for the next, older page; absent when there is none. */
  older?: string;
}

/** A drafted playbook waiting for review, as the Playbooks page shows it. */
export interface PlaybookDraftView {
  name: string;
  branch: string;
  commit: string;
  author: string;
  /** When the draft's commit (or its PR) was made. */
  createdAt?: string;
  pr?: { number: number; url: string; title: string; checks: string; mergeable?: boolean | null };
  /** Unified diff of the draft against main (`git diff main...draft`), capped; `cut` says so. */
  diff: string;
  cut: boolean;
  /**
   * `ansible-playbook --syntax-check` of the draft at `commit` (cached per commit). `pending`:
   * the check is still running (a page does not wait long for it); a later view has the result.
   */
  syntax: { ok: true } | { ok: false; error: string; line?: number; pending?: true };
}

export interface PlaybookDrafts {
  /** `main at 1a2b3c4d5e6f, PRs on Gitea at ...` */
  repo: string;
  drafts: PlaybookDraftView[];
  /** Why the list could not be read (the forge down): shown instead of the list. */
  error?: string;
}

/** One line of the Health page. */
export interface HealthItem {
  name: string;
  kind: 'node' | 'upstream' | 'integration';
  /** `up`, `down`, `connecting` for nodes and upstreams; `ok` / `problem` for integrations. */
  status: 'up' | 'down' | 'connecting' | 'ok' | 'problem';
  /** Since when it is in this state (for integrations: since the UI first saw it so). */
  since?: string;
  detail?: string;
}

/** A tool as the viewer's client sees it. */
export interface UiTool {
  name: string;
  source: string;
  toolClass: 'read' | 'write';
  description: string;
}

/** Everything the UI reads; hub.ts implements it. */
export interface UiData {
  version: string;
  startedAt: Date;
  nodesAndUpstreams(): UpstreamHealth[];
  /** Integration health, each checked at most every 15 s (cached), bounded by `signal`. */
  integrations(signal: AbortSignal): Promise<HealthItem[]>;
  topology: {
    nodes(): TopologyNodeView[];
    services(): TopologyService[];
    lastRefresh(): { edges?: string; ansible?: string };
  };
  journalStats(): JournalStats;
  shipper(): LokiShipperStats | undefined;
  /** The events Loki has not acknowledged yet and the oldest one's time; undefined without Loki. */
  shipperBacklog(): Promise<{ events: number; capped: boolean; oldest?: string } | undefined>;
  /** Open 2025-era sessions (all users: the UI filters by viewer). */
  sessions(): LiveSession[];
  activity(): SessionActivity[];
  /** The write approval of a session, as get_session_info reports it. */
  approval(who: { user: string; role: Role; key: string }, session: string): { approvedAt: Date; expiresAt: Date } | undefined;
  /** The approval mode in force for this user. */
  modeOf(who: { user: string; role: Role }): 'session' | 'confirm' | 'human';
  pending(): PendingWrite[];
  /** A page of the audit journal, newest first, at most `limit` (≤ 500) events; `signal` stops a long scan. */
  audit(filter: AuditFilter, page: { before?: string; limit: number; signal?: AbortSignal }): Promise<AuditPage>;
  /**
   * Calls `listener` with every event committed to the journal from now on, in order, each with
   * its position; returns the unsubscribe function. A listener that returns a promise gets no
   * more calls until it settles; if it falls too far behind (ui/audit-feed.ts) it is
   * unsubscribed and `onDropped` is called.
   */
  follow(listener: (events: AuditPage['events']) => void | Promise<void>, onDropped?: () => void): () => void;
  tools(role: Role): UiTool[];
  /** undefined: no playbook repo is configured (`ansible:`). */
  playbooks(signal: AbortSignal): Promise<PlaybookDrafts | undefined>;
}
