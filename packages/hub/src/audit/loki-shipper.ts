/**
 * Ships the audit journal to Grafana Loki, and reads it back from there.
 *
 * How nothing is lost and nothing is doubled:
 * - The journal is the source of truth; the shipper only reads it, from a cursor
 *   (`{ file, offset }` plus the timestamp state below) kept in `cursorFile`.
 * - A batch is the events from the cursor on. The cursor moves (and is written to
 *   `cursorFile` atomically: temp file, fsync, rename, fsync of the directory) only after Loki
 *   answered 2xx for that batch. While Loki is down, slow (timeout) or answers 5xx/429 (or
 *   401/403/404: a proxy or credentials being fixed), the same batch is retried with
 *   exponential backoff capped at 30 s, and the journal keeps every file the cursor has not
 *   passed (a retention hold). An outage delays shipping; it deletes nothing.
 * - A crash after Loki's 2xx but before the cursor rename re-sends that one batch. It is sent
 *   byte for byte the same (same lines, same nanosecond timestamps: derived from the journal
 *   alone, never from the clock at push time), and Loki drops exact duplicates (same stream,
 *   timestamp and line) when it answers queries. So at most one batch is pushed twice, and is
 *   seen once.
 * - A batch Loki refuses as such (400: entry too old or too new, line too long, bad labels; 413
 *   for a single event) cannot succeed by retrying: it is skipped with an error log, counted in
 *   `stats().rejectedBatches/rejectedEvents` and reported to `onReject`. The events stay in
 *   the journal. (Loki keeps the valid entries of a partly rejected push, so a 400 rarely
 *   means the whole batch is missing.)
 *
 * Timestamps: each event's ms time from its `time` field, plus a counter within the same ms in
 * the last 6 digits (`<ms>000001`), so entries keep journal order in Loki and a re-sent batch
 * gets the same timestamps. The counter is part of the saved cursor.
 *
 * Labels: `job="mcp-audit"`, the configured ones (a site or hub name) and `kind` (3 values).
 * Never users, sessions, tools or nodes: those are unbounded and belong in the line, where
 * LogQL filters (`|= "..."`, `| json`) find them.
 *
 * @example
 * const shipper = createLokiShipper({ journal, url: 'http://loki:3100', labels: { hub: 'home' },
 *   cursorFile: join(dataDir, 'audit', 'loki-cursor.json'), log });
 * await shipper.start();
 * ...
 * await shipper.stop({ deadlineMs: 5000 }); // ships what it can, then stops
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { HomelabError } from '@homelab-mcp/core';
import { parseAuditLine, safeUrl, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { createBackoff } from '../upstreams/backoff.ts';
import type { AuditLogger, Journal, JournalCursor } from './journal.ts';

const gzip = promisify(gzipCb);

export interface LokiShipperOptions {
  journal: Journal;
  /** Loki's base URL (`http://loki:3100`, or a proxy path); `user:pass@` becomes Basic auth. */
  url: string;
  /** Extra stream labels (a few, fixed: `hub`, `site`). `job` is `mcp-audit` unless given here. */
  labels?: Record<string, string>;
  /** Sent as `X-Scope-OrgID` (multi-tenant Loki). */
  tenant?: string;
  /** Sent with every request (`Authorization` for a proxy in front of Loki). */
  headers?: Record<string, string>;
  /** Events per push; default 500. */
  batchSize?: number;
  /** Uncompressed bytes per push at most; default 1 MiB (Loki's gRPC limit is 4 MiB). */
  maxBatchBytes?: number;
  /** Pause after a partial batch, i.e. the longest an event waits when traffic is low; default 1000. */
  intervalMs?: number;
  /** Deadline of each request; default 10 s. */
  timeoutMs?: number;
  /** Retry delays; default 500 ms doubling to 30 s, with jitter. */
  backoff?: { initialMs: number; maxMs: number; jitter?: number };
  /** Where the cursor is kept, e.g. `<data>/audit/loki-cursor.json`. */
  cursorFile: string;
  /** With no cursor file yet: ship the whole journal (`oldest`, default) or only new events (`end`). */
  startAt?: 'oldest' | 'end';
  /** Add `kind` to the stream labels; default true. */
  kindLabel?: boolean;
  /** Gzip bodies over 1 KiB; default true. */
  gzip?: boolean;
  log?: AuditLogger;
  /**
   * Backlog (journal bytes not yet in Loki) at which one warning is logged; again after it fell
   * below. Nothing is ever dropped: the journal keeps every file the shipper still needs.
   * Default 64 MiB (`audit.loki.backlogWarnBytes`).
   */
  backlogWarnBytes?: number;
  /** Called when a batch is skipped because Loki refused it (see the module comment). */
  onReject?: (info: LokiRejection) => void;
}

export interface LokiRejection {
  status: number;
  /** Loki's plain-text answer, first 500 chars. */
  message: string;
  events: number;
  /** Ids of the first and last skipped event (to find them in the journal). */
  firstId: string;
  lastId: string;
}

export interface LokiShipperStats {
  state: 'new' | 'idle' | 'shipping' | 'retrying' | 'stopped';
  /** Events Loki acknowledged since start. */
  shipped: number;
  pushes: number;
  retries: number;
  rejectedBatches: number;
  rejectedEvents: number;
  /** Lines that were not events (torn writes inside old files), passed over. */
  skippedLines: number;
  lastError?: string;
  lastSuccessAt?: string;
  cursor: JournalCursor;
  /** Journal bytes not yet acknowledged by Loki (or skipped). */
  backlogBytes: number;
  /** Time of the oldest event not yet in Loki, while a batch waits for it (a push failing). */
  oldestUnshippedAt?: string;
  /** The warning threshold in use. */
  backlogWarnBytes: number;
}

export interface LokiShipper extends AsyncDisposable {
  /** Loads the cursor, holds the journal files it still needs, and starts shipping. */
  start(): Promise<void>;
  /**
   * Resolves true once everything synced in the journal when called has been acknowledged (or
   * skipped), false if `timeoutMs` (default 30 s) passed first. Wakes the shipper at once.
   */
  flush(opts?: { timeoutMs?: number }): Promise<boolean>;
  /**
   * Ships what it can until caught up or `deadlineMs` (default 5000) passed, aborts what is in
   * flight, saves the cursor and releases the journal hold. Unshipped events stay in the journal
   * for the next start.
   */
  stop(opts?: { deadlineMs?: number }): Promise<void>;
  stats(): LokiShipperStats;
  /**
   * The events Loki has not acknowledged yet, counted by reading the journal from the cursor
   * (at most `maxBytes`, default 16 MiB: beyond it `capped` says the count is a floor), and the
   * time of the oldest. Cached for a few seconds: the admin UI's Health page asks every 10 s.
   */
  backlog(maxBytes?: number): Promise<{ events: number; capped: boolean; oldest?: string }>;
}

/** The cursor as saved: the journal position plus the timestamp counter state. */
interface SavedCursor extends JournalCursor {
  v: 1;
  /** ms of the last shipped event, and how many before it had that same ms. */
  lastMs: number;
  lastSeq: number;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Bytes as people read them: `12.3 MiB`, `800 KiB`, `512 bytes`. */
export function mib(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

/**
 * Creates a shipper; nothing happens until `start()`.
 */
export function createLokiShipper(opts: LokiShipperOptions): LokiShipper {
  const { journal } = opts;
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const maxBatchBytes = Math.max(64 * 1024, opts.maxBatchBytes ?? 1024 * 1024);
  const intervalMs = Math.max(0, opts.intervalMs ?? 1000);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const useGzip = opts.gzip ?? true;
  const kindLabel = opts.kindLabel ?? true;
  const log = opts.log;
  const labels: Record<string, string> = { job: 'mcp-audit', ...opts.labels };
  for (const k of Object.keys(labels)) {
    if (!LABEL_NAME.test(k) || k === 'kind') throw new HomelabError('CONFIG_INVALID', `Loki label name ${JSON.stringify(k)} is not allowed`);
  }
  const target = lokiTarget(opts.url, opts.tenant, opts.headers);
  const pushUrl = `${target.base}/loki/api/v1/push`;
  const backoff = createBackoff({ initialMs: 500, maxMs: 30_000, ...opts.backoff });

  let cursor: SavedCursor | undefined;
  let state: LokiShipperStats['state'] = 'new';
  const counters = { shipped: 0, pushes: 0, retries: 0, rejectedBatches: 0, rejectedEvents: 0, skippedLines: 0 };
  let lastError: string | undefined;
  let lastSuccessAt: string | undefined;
  let oldestUnshippedAt: string | undefined;
  let loop: Promise<void> | undefined;
  const backlogWarnBytes = Math.max(1, opts.backlogWarnBytes ?? 64 * 1024 * 1024);
  let backlogWarned = false;
  let offCommit: (() => void) | undefined;
  const backlog = () => (cursor ? journal.bytesFrom(cursor) : 0);
  /**
   * While Loki is down the journal grows: it never drops an event, so the person running the
   * hub has to hear about it (once per crossing of the threshold, not per commit).
   */
  function checkBacklog(): void {
    const bytes = backlog();
    if (bytes < backlogWarnBytes) {
      backlogWarned = false;
      return;
    }
    if (backlogWarned) return;
    backlogWarned = true;
    log?.warn(
      { backlogBytes: bytes, backlogWarnBytes, ...(oldestUnshippedAt ? { oldestUnshippedAt } : {}), ...(lastError ? { lastError } : {}) },
      `audit shipper: ${mib(bytes)} of audit events wait in the journal for Loki${oldestUnshippedAt ? ` (oldest from ${oldestUnshippedAt})` : ''}${lastError ? `; last error: ${lastError}` : ''}. Nothing is dropped: the journal keeps growing until Loki takes them (warning at audit.loki.backlogWarnBytes = ${backlogWarnBytes})`,
    );
  }
  let stopping = false;
  /** Aborted at stop's deadline: cancels the request in flight and any wait. */
  const hardStop = new AbortController();
  // Held from now, not from start(): until the cursor is read, every file is kept (0), so no
  // rotation deletes what was not shipped (the hub opens its journal with deferPrune and prunes
  // once this hold is in place).
  const releaseHold = journal.addRetentionHold(() => (cursor ? cursor.file : 0));
  let wake: (() => void) | undefined;
  const flushWaiters = new Set<{ target: JournalCursor; resolve: (ok: boolean) => void }>();
  /** A smaller batch after a 413, until the next success. */
  let limit = batchSize;

  async function loadCursor(): Promise<SavedCursor> {
    try {
      const raw = JSON.parse(await readFile(opts.cursorFile, 'utf8')) as Partial<SavedCursor>;
      if (raw.v === 1 && Number.isInteger(raw.file) && Number.isInteger(raw.offset) && typeof raw.lastMs === 'number' && typeof raw.lastSeq === 'number') {
        return raw as SavedCursor;
      }
      log?.error({ file: opts.cursorFile }, 'audit shipper: cursor file is not a cursor; shipping from the oldest journal file');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log?.error({ file: opts.cursorFile, err }, 'audit shipper: cannot read the cursor file; shipping from the oldest journal file');
      }
      if (opts.startAt === 'end' && (err as NodeJS.ErrnoException).code === 'ENOENT') return { v: 1, ...journal.end(), lastMs: 0, lastSeq: 0 };
    }
    return { v: 1, ...journal.first(), lastMs: 0, lastSeq: 0 };
  }

  async function saveCursor(c: SavedCursor): Promise<void> {
    const tmp = `${opts.cursorFile}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(c));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, opts.cursorFile);
    const d = await open(dirname(opts.cursorFile), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  /** Waits `ms`, or less when stopped at the deadline; an idle wait also ends on flush/stop. */
  function sleep(ms: number, idle: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        hardStop.signal.removeEventListener('abort', done);
        if (wake === done) wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      hardStop.signal.addEventListener('abort', done);
      // A flush must not cut a backoff short: that would hammer a Loki that is down.
      if (idle) wake = done;
    });
  }

  function settleFlushes(): void {
    for (const w of flushWaiters) {
      if (cursor && !before(cursor, w.target)) {
        flushWaiters.delete(w);
        w.resolve(true);
      }
    }
  }

  /** Timestamps for the events of a batch, from the committed counter state; and the state after. */
  function timestamps(events: AuditEvent[], from: SavedCursor): { ts: string[]; lastMs: number; lastSeq: number } {
    let { lastMs, lastSeq } = from;
    const ts: string[] = [];
    for (const ev of events) {
      let ms = Date.parse(ev.time);
      if (!Number.isFinite(ms) || ms < 0) ms = 0;
      if (ms === lastMs) lastSeq = Math.min(lastSeq + 1, 999_999);
      else {
        lastMs = ms;
        lastSeq = 0;
      }
      ts.push(`${ms}${String(lastSeq).padStart(6, '0')}`);
    }
    return { ts, lastMs, lastSeq };
  }

  async function body(events: AuditEvent[], lines: string[], ts: string[]): Promise<{ data: Buffer; gzipped: boolean }> {
    const streams = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>();
    events.forEach((ev, i) => {
      const key = kindLabel ? ev.kind : '';
      let s = streams.get(key);
      if (!s) streams.set(key, (s = { stream: kindLabel ? { ...labels, kind: ev.kind } : { ...labels }, values: [] }));
      s.values.push([ts[i]!, lines[i]!]);
    });
    const json = Buffer.from(JSON.stringify({ streams: [...streams.values()] }));
    if (!useGzip || json.length < 1024) return { data: json, gzipped: false };
    return { data: await gzip(json), gzipped: true };
  }

  type PushResult = { kind: 'ok' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'reject'; status: number; message: string };

  async function pushOnce(data: Buffer, gzipped: boolean): Promise<PushResult> {
    counters.pushes++;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), hardStop.signal]);
    let res: Response;
    try {
      res = await fetch(pushUrl, {
        method: 'POST',
        headers: { ...target.headers, 'content-type': 'application/json', ...(gzipped ? { 'content-encoding': 'gzip' } : {}) },
        body: data,
        signal,
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.name === 'AbortError' ? 'stopped' : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { kind: 'retry', error: `${target.display}: ${why}` };
    }
    const s = res.status;
    if (s >= 200 && s < 300) {
      // Read the (empty) body so the connection goes back to the pool.
      await res.arrayBuffer().catch(() => undefined);
      return { kind: 'ok' };
    }
    const text = (await res.text().catch(() => '')).slice(0, 500).trim();
    // Retried: Loki or a proxy in front of it is unwell, busy or being fixed. Retrying these
    // cannot loop fast (backoff) and the events wait in the journal.
    if (s === 408 || s === 429 || s >= 500 || s === 401 || s === 403 || s === 404 || s === 407) {
      const ra = Number(res.headers.get('retry-after'));
      return { kind: 'retry', error: `${target.display}: ${s} ${text}`, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) };
    }
    return { kind: 'reject', status: s, message: text };
  }

  async function run(): Promise<void> {
    while (!hardStop.signal.aborted) {
      try {
        if ((await step()) === 'done') return;
      } catch (err) {
        // The journal could not be read or the cursor not written (disk full, permissions):
        // keep trying, slowly, rather than stop shipping for good.
        lastError = `audit shipper: ${(err as Error).message}`;
        log?.error({ err }, 'audit shipper: journal or cursor I/O failed; retrying');
        if (stopping) return;
        await sleep(backoff.next(), false);
      }
    }
  }

  /** One batch: read, push (retrying), move the cursor. */
  async function step(): Promise<'done' | 'more'> {
    const from = cursor!;
    const batch = await journal.readFrom(from, limit, maxBatchBytes);
    counters.skippedLines += batch.skipped;
    if (batch.events.length === 0) {
      if (batch.next.file !== from.file || batch.next.offset !== from.offset) {
        const next: SavedCursor = { ...from, ...batch.next };
        await saveCursor(next);
        cursor = next;
      }
      settleFlushes();
      if (stopping) return 'done';
      state = 'idle';
      await sleep(intervalMs, true);
      return 'more';
    }
    oldestUnshippedAt = batch.events[0]!.time;
    const { ts, lastMs, lastSeq } = timestamps(batch.events, from);
    const { data, gzipped } = await body(batch.events, batch.lines, ts);
    let outcome: PushResult;
    for (;;) {
      state = backoff.attempts > 0 ? 'retrying' : 'shipping';
      outcome = await pushOnce(data, gzipped);
      if (outcome.kind !== 'retry') break;
      if (hardStop.signal.aborted) return 'done';
      counters.retries++;
      const delay = Math.min(30_000, Math.max(backoff.next(), outcome.retryAfterMs ?? 0));
      // One warning per kind of failure, not one per attempt.
      if (lastError !== outcome.error) log?.warn({ error: outcome.error, retryInMs: delay, events: batch.events.length }, 'audit shipper: Loki push failed; retrying');
      lastError = outcome.error;
      await sleep(delay, false);
      if (hardStop.signal.aborted) return 'done';
    }
    if (outcome.kind === 'reject') {
      if (outcome.status === 413 && batch.events.length > 1) {
        limit = Math.max(1, Math.floor(batch.events.length / 2));
        log?.warn({ events: batch.events.length }, 'audit shipper: Loki says the batch is too large; halving it');
        return 'more';
      }
      counters.rejectedBatches++;
      counters.rejectedEvents += batch.events.length;
      lastError = `${target.display}: ${outcome.status} ${outcome.message}`;
      const info: LokiRejection = {
        status: outcome.status,
        message: outcome.message,
        events: batch.events.length,
        firstId: batch.events[0]!.id,
        lastId: batch.events.at(-1)!.id,
      };
      log?.error({ ...info }, 'audit shipper: Loki refused a batch; skipped (the events stay in the journal)');
      opts.onReject?.(info);
    } else {
      counters.shipped += batch.events.length;
      lastSuccessAt = new Date().toISOString();
      lastError = undefined;
    }
    backoff.reset();
    oldestUnshippedAt = undefined;
    const full = batch.events.length >= limit;
    limit = batchSize;
    const next: SavedCursor = { v: 1, ...batch.next, lastMs, lastSeq };
    // Only after Loki's answer, and atomically: see the module comment.
    await saveCursor(next);
    cursor = next;
    if (next.file !== from.file) await journal.prune();
    settleFlushes();
    if (!full && !stopping && flushWaiters.size === 0) {
      state = 'idle';
      await sleep(intervalMs, true);
    }
    return 'more';
  }

  const shipper: LokiShipper = {
    async start() {
      if (state !== 'new') return;
      await mkdir(dirname(opts.cursorFile), { recursive: true, mode: 0o700 });
      cursor = await loadCursor();
      offCommit = journal.onCommit(checkBacklog);
      checkBacklog();
      state = 'idle';
      loop = run().catch((err: unknown) => {
        // Reading the journal or writing the cursor failed: a disk problem the hub should see.
        lastError = `audit shipper stopped: ${(err as Error).message}`;
        log?.error({ err }, 'audit shipper: stopped by an error');
      });
    },

    flush({ timeoutMs: t = 30_000 } = {}) {
      const goal = journal.end();
      if (cursor && !before(cursor, goal)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const w = { target: goal, resolve: (ok: boolean) => (clearTimeout(timer), resolve(ok)) };
        const timer = setTimeout(() => {
          flushWaiters.delete(w);
          resolve(false);
        }, t);
        flushWaiters.add(w);
        wake?.();
      });
    },

    async stop({ deadlineMs = 5000 } = {}) {
      if (state === 'stopped') return;
      if (!loop) {
        state = 'stopped';
        return;
      }
      stopping = true;
      wake?.();
      const timer = setTimeout(() => hardStop.abort(), deadlineMs);
      try {
        await loop;
      } finally {
        clearTimeout(timer);
        hardStop.abort();
        state = 'stopped';
        releaseHold();
        offCommit?.();
        for (const w of flushWaiters) w.resolve(false);
        flushWaiters.clear();
      }
    },

    stats: () => ({
      state,
      ...counters,
      ...(lastError !== undefined ? { lastError } : {}),
      ...(lastSuccessAt !== undefined ? { lastSuccessAt } : {}),
      cursor: cursor ? { file: cursor.file, offset: cursor.offset } : journal.first(),
      backlogBytes: backlog(),
      ...(oldestUnshippedAt !== undefined ? { oldestUnshippedAt } : {}),
      backlogWarnBytes,
    }),

    async backlog(maxBytes = 16 * 1024 * 1024) {
      const at = journal.end();
      let pos: JournalCursor = cursor ? { file: cursor.file, offset: cursor.offset } : journal.first();
      // The same journal end, cursor and cap: the same answer, for a few seconds.
      const key = `${at.file}.${at.offset}.${pos.file}.${pos.offset}.${maxBytes}`;
      if (backlogCache && backlogCache.until > Date.now() && backlogCache.key === key) return backlogCache.value;
      let events = 0;
      let oldest: string | undefined;
      let budget = maxBytes;
      let capped = false;
      while (before(pos, at)) {
        if (budget <= 0) {
          capped = true;
          break;
        }
        const batch = await journal.readFrom(pos, 10_000, Math.min(budget, 4 * 1024 * 1024));
        if (batch.events.length === 0 && !before(pos, batch.next)) break;
        oldest ??= batch.events[0]?.time;
        events += batch.events.length;
        budget -= batch.lines.reduce((n, l) => n + l.length + 1, 0);
        pos = batch.next;
      }
      const value = { events, capped, ...(oldest ? { oldest } : {}) };
      backlogCache = { key, until: Date.now() + 5_000, value };
      return value;
    },

    [Symbol.asyncDispose]: () => shipper.stop(),
  };
  let backlogCache: { key: string; until: number; value: { events: number; capped: boolean; oldest?: string } } | undefined;
  return shipper;
}

function before(a: JournalCursor, b: JournalCursor): boolean {
  return a.file < b.file || (a.file === b.file && a.offset < b.offset);
}

interface LokiTarget {
  /** Base URL without credentials or trailing slash. */
  base: string;
  /** For logs and errors: no credentials, no query. */
  display: string;
  headers: Record<string, string>;
}

/** fetch refuses URLs with credentials: move `user:pass@` into a Basic header. */
function lokiTarget(url: string, tenant: string | undefined, headers: Record<string, string> | undefined): LokiTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HomelabError('CONFIG_INVALID', 'the Loki URL is not a URL');
  }
  const h: Record<string, string> = { ...headers };
  if (u.username || u.password) {
    h.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  if (tenant) h['x-scope-orgid'] = tenant;
  u.search = '';
  u.hash = '';
  const base = u.toString().replace(/\/+$/, '');
  return { base, display: safeUrl(base), headers: h };
}

export interface LokiQueryOptions {
  url: string;
  /** A LogQL log query, e.g. from {@link auditLogQL}. */
  logql: string;
  /** Default: an hour before `end`. */
  start?: Date | string;
  /** Default: now. */
  end?: Date | string;
  /** Default 100 (Loki's default cap is 5000). */
  limit?: number;
  /** Default `backward`: newest first. */
  direction?: 'forward' | 'backward';
  tenant?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Audit events from Loki (`GET /loki/api/v1/query_range`), newest first by default; lines that
 * are not audit events are dropped. For `get_audit_log` when Loki is configured.
 * Fails with `LOKI_QUERY_FAILED` (message: status and Loki's text, no credentials).
 *
 * @example
 * await queryLoki({ url, logql: auditLogQL({ tool: 'pve_restart_guest' }), start: since, limit: 50 });
 */
export async function queryLoki(opts: LokiQueryOptions): Promise<AuditEvent[]> {
  const target = lokiTarget(opts.url, opts.tenant, opts.headers);
  const end = opts.end === undefined ? Date.now() : new Date(opts.end).getTime();
  const start = opts.start === undefined ? end - 3600_000 : new Date(opts.start).getTime();
  const direction = opts.direction ?? 'backward';
  const params = new URLSearchParams({
    query: opts.logql,
    start: `${BigInt(start) * 1_000_000n}`,
    end: `${BigInt(end) * 1_000_000n}`,
    limit: String(opts.limit ?? 100),
    direction,
  });
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 10_000)];
  if (opts.signal) signals.push(opts.signal);
  let res: Response;
  try {
    res = await fetch(`${target.base}/loki/api/v1/query_range?${params}`, { headers: target.headers, signal: AbortSignal.any(signals) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new HomelabError('LOKI_QUERY_FAILED', `Loki at ${target.display} is unreachable: ${e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message)}`, { cause: err });
  }
  if (res.status !== 200) {
    const text = (await res.text().catch(() => '')).slice(0, 300).trim();
    throw new HomelabError('LOKI_QUERY_FAILED', `Loki answered ${res.status}: ${text}`);
  }
  const body = (await res.json()) as { status?: string; data?: { resultType?: string; result?: Array<{ values?: Array<[string, string]> }> } };
  if (body.status !== 'success' || body.data?.resultType !== 'streams' || !Array.isArray(body.data.result)) {
    throw new HomelabError('LOKI_QUERY_FAILED', 'Loki answered something that is not a log stream result');
  }
  const all: Array<{ ts: bigint; ev: AuditEvent }> = [];
  for (const s of body.data.result) {
    for (const [ts, line] of s.values ?? []) {
      const ev = parseAuditLine(line);
      if (ev) all.push({ ts: BigInt(ts), ev });
    }
  }
  // Loki sorts within a stream; streams (one per kind) are merged here.
  all.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0) * (direction === 'backward' ? -1 : 1));
  return all.map((x) => x.ev);
}

export interface AuditLogFilter {
  tool?: string;
  session?: string;
  user?: string;
  kind?: AuditEvent['kind'];
  /** The configured labels, to select this hub's stream. */
  labels?: Record<string, string>;
}

/**
 * A LogQL query for audit events: the `job="mcp-audit"` selector (plus labels and `kind`) and
 * one line filter per field, on the exact JSON text the journal writes (`"tool":"x"`), which
 * every Loki version evaluates cheaply.
 *
 * @example auditLogQL({ tool: 'get_status' }) // {job="mcp-audit"} |= `"tool":"get_status"`
 */
export function auditLogQL(filter: AuditLogFilter = {}): string {
  const labels: Record<string, string> = { job: 'mcp-audit', ...filter.labels };
  if (filter.kind) labels.kind = filter.kind;
  const selector = `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
  const parts = [selector];
  for (const key of ['tool', 'session', 'user'] as const) {
    const v = filter[key];
    if (v === undefined) continue;
    const needle = `${JSON.stringify(key)}:${JSON.stringify(v)}`;
    // A raw (backtick) string needs no escaping unless it contains a backtick.
    parts.push(`|= ${needle.includes('`') ? JSON.stringify(needle) : `\`${needle}\``}`);
  }
  return parts.join(' ');
}
