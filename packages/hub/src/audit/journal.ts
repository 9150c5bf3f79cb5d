/**
 * The audit journal: append-only JSON lines in `DIR/audit/audit-<seq>.jsonl`, the one place an
 * audit event must reach before the client gets its answer.
 *
 * - A call that runs is journaled in two lines: its start record ({@link Journal.begin}),
 *   synced while the call runs, and its event with the outcome, appended (lazily) once it
 *   ended. The answer waits for the start only, so the synced write overlaps the node's work
 *   instead of following it. A start without its event at the next open (the hub stopped in
 *   between) becomes the call's event with outcome `unknown`. Readers see events only.
 *
 * - Durability: `append()` resolves only after the line is on disk: the file is opened O_DSYNC,
 *   so a write returns when its data is synced, as with write + fdatasync. With
 *   `fsync: 'batch'` (the default) appends that arrive while a write is running are written
 *   together by the next synced write (a group commit): one disk flush serves many
 *   callers, and every resolved append is still on disk. `'always'` writes each
 *   event on its own (simpler to reason about, slower under concurrency).
 * - Crash safety: a kill can leave a torn last line. Readers ignore a last line without its
 *   newline, and a journal opened on a torn file starts a new file rather than appending to
 *   the torn line (which would glue the next event to it). Files are never rewritten.
 * - Rotation: a new file when the current one would pass `maxFileBytes`; the oldest files are
 *   deleted beyond `maxFiles`, except those a retention hold (the Loki shipper's cursor) still
 *   needs: an outage delays shipping, it never deletes what was not shipped.
 * - One writer: a single hub process owns the directory (nothing locks it).
 *
 * @example
 * const journal = await createJournal({ dir: './data' });
 * await journal.append(createAuditEvent({ kind: 'tool_call', user: 'alice', tool: 'get_status' }));
 * await journal.read({ limit: 20, tool: 'get_status' }); // newest first
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { parseAuditLine, type AuditEvent } from '@homelab-mcp/core/audit-event';

/** A position in the journal: byte `offset` in file `audit-<file>.jsonl`. */
export interface JournalCursor {
  file: number;
  offset: number;
}

export interface JournalOptions {
  /** The data directory; the journal lives in `<dir>/audit`. */
  dir: string;
  /** Default 16 MiB. */
  maxFileBytes?: number;
  /** Files kept, the current one included; default 20. Held files are kept beyond it. */
  maxFiles?: number;
  /** Default `batch` (group commit). */
  fsync?: 'always' | 'batch';
  log?: AuditLogger;
  /**
   * Deletes nothing (at open, nor at the rotations of the first appends) until `prune()` is
   * first called: for a caller whose retention holds (the Loki shipper's cursor) exist only
   * after the open. Without it, a hub restarted after a long Loki outage would delete the
   * unshipped files beyond `maxFiles` before the shipper could hold them.
   */
  deferPrune?: boolean;
  /** How much of the journal's end the open reads for calls started without their event; default 32 MiB (tests set it smaller). */
  recoveryScanBytes?: number;
}

/** What the audit code logs through; a pino `Logger` fits. */
export interface AuditLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface JournalQuery {
  /** Only events at or after this time. */
  since?: Date | string;
  /** Only events before this time. */
  until?: Date | string;
  /** Default 100, at most 10 000. */
  limit?: number;
  tool?: string;
  session?: string;
  user?: string;
  kind?: AuditEvent['kind'];
}

/**
 * What {@link Journal.page} keeps: every field optional, all must match. Strings match exactly;
 * `node` matches when the event's `nodes` include it; `since` is inclusive, `until` exclusive.
 */
export interface JournalPageFilter {
  user?: string;
  session?: string;
  tool?: string;
  node?: string;
  kind?: AuditEvent['kind'];
  decision?: NonNullable<AuditEvent['decision']>;
  outcome?: NonNullable<AuditEvent['outcome']>;
  since?: string | Date;
  until?: string | Date;
  /** Set for an operator or viewer: only this user's events, whatever `user` says. */
  viewerUser?: string;
}

/** One page of {@link Journal.page}, newest first (the UI's `AuditPage`). */
export interface JournalPage {
  events: Array<{ pos: string; event: AuditEvent }>;
  /** The `before` of the next, older page; absent when no older event matches. */
  older?: string;
  /** What the page cost: bytes read and lines handed to JSON.parse (the rest were skipped by a substring test). */
  scan: { bytes: number; parsed: number };
}

export interface JournalBatch {
  /** Events in journal order. */
  events: AuditEvent[];
  /** The stored line of each event (same index), without its newline. */
  lines: string[];
  /** Where each event's line starts (same index): its position, as {@link formatPosition} writes it. */
  positions: JournalCursor[];
  /** Where the next read starts: just after the last line returned or skipped. */
  next: JournalCursor;
  /** Lines passed over because they were not events (a torn write left inside an old file). */
  skipped: number;
}

export interface JournalStats {
  dir: string;
  files: number;
  bytes: number;
  /** Events appended since open. */
  appended: number;
  /** Synced writes since open (appended / commits = mean group size). */
  commits: number;
  /** Call start records written since open ({@link Journal.begin}; not events, not in `appended`). */
  begun?: number;
  /** Calls found started without their event when the journal was opened, journaled as `unknown`. */
  recovered?: number;
  /** Files kept beyond `maxFiles` because a retention hold still needs them. */
  held: number;
}

export interface Journal extends AsyncDisposable {
  /** `<dir>/audit`. */
  readonly dir: string;
  /**
   * Resolves once the event's line is written and synced; rejects (`AUDIT_WRITE_FAILED`) if it
   * could not be. `lazy` (for events nobody waits on, such as the hub's outbound requests):
   * with `fsync: 'batch'` the event does not start a commit of its own; it joins the next one,
   * started by another append or at the latest after `LAZY_COMMIT_MS`. `retry` (for events whose
   * loss nobody would learn of, such as a call's outcome after its answer went out): a failed
   * write does not reject it; it is queued again (the next commit starts a new file), after
   * 0.1 s, then 0.2, 0.4, ... up to 10 s between tries, until it is written (the promise
   * resolves) or the journal closes (one last try, then it rejects). At most
   * `MAX_RETRYING` events wait so; beyond, a failed one rejects at once.
   */
  append(event: AuditEvent, options?: { lazy?: boolean; retry?: boolean }): Promise<void>;
  /**
   * A call's start record, written (synced, a commit of its own like a plain append) while the
   * call runs: `event` is the call as it starts (who, tool, args, nodes, decision; no outcome).
   * Resolves once the record is on disk. The call's event, with the same `id` and its outcome,
   * follows with `append` (lazy is fine: the start is durable). A start record is not an event:
   * `read`, `page`, `readFrom` (and so the Loki shipper and the UI) pass over it, and so does
   * {@link parseAuditLine} in older readers. A journal opened after a crash appends, for each
   * start near its end without its event, the call with outcome `unknown` (see
   * {@link UNKNOWN_OUTCOME_ERROR}): every call that ran has one event, with what is known of how
   * it ended.
   * @example
   * const ev = createAuditEvent({ kind: 'tool_call', user: 'ann', tool: 'run_command', args, decision: 'allowed' });
   * const durable = journal.begin(ev); // while the node runs the command
   * const answer = await runIt();
   * void journal.append({ ...ev, outcome: 'succeeded', durationMs: 12 }, { lazy: true });
   * await durable; // then answer the client
   */
  begin(event: AuditEvent): Promise<void>;
  /** Events newest first, filtered. A torn last line is ignored. */
  read(query?: JournalQuery): Promise<AuditEvent[]>;
  /**
   * A page of events newest first, each with its position; `before` is a previous page's
   * `older` (events strictly older than that one). A filter that matches few events stays cheap:
   * lines are tested for the JSON-escaped values before any is parsed. Rejects with
   * `INVALID_ARGUMENTS` when `before` is not a position of this journal.
   * @example
   * const p1 = await journal.page({ tool: 'run_command' }, { limit: 50 });
   * const p2 = p1.older ? await journal.page({ tool: 'run_command' }, { before: p1.older, limit: 50 }) : undefined;
   *
   * `signal` stops a long scan (a rare filter over the whole journal) when the page is no longer
   * wanted: it rejects with the signal's reason.
   */
  page(filter: JournalPageFilter, page: { before?: string; limit: number; signal?: AbortSignal }): Promise<JournalPage>;
  /**
   * Up to `maxEvents` complete, synced events from `cursor` on, in order, crossing files; for the
   * shipper. A cursor into a deleted file continues at the oldest file still there.
   */
  readFrom(cursor: JournalCursor, maxEvents: number, maxBytes?: number): Promise<JournalBatch>;
  /** The start of the oldest file. */
  first(): JournalCursor;
  /** Just past the last synced line. */
  end(): JournalCursor;
  /**
   * Synced bytes from `cursor` to the end: what a reader at `cursor` has still to read (the
   * Loki shipper's backlog). No I/O: from the sizes the journal keeps.
   * @example journal.bytesFrom(journal.first()) // every byte on disk
   */
  bytesFrom(cursor: JournalCursor): number;
  /**
   * Keeps every file numbered `>= lowest()` (undefined: no constraint) out of rotation; returns
   * the function that removes the hold.
   */
  addRetentionHold(lowest: () => number | undefined): () => void;
  /** Deletes the oldest files beyond `maxFiles` that no hold needs (also done on rotation, and at open unless `deferPrune`). */
  prune(): Promise<void>;
  /** Called after each commit (lines synced). Returns the unsubscribe function. */
  onCommit(listener: () => void): () => void;
  stats(): JournalStats;
  /** Waits for pending appends, then closes; later appends reject with `AUDIT_CLOSED`. */
  close(): Promise<void>;
}

const FILE_RE = /^audit-(\d+)\.jsonl$/;
/**
 * Append, create, and O_DSYNC: synchronized data integrity, the file's data plus the metadata
 * needed to read it back (its size), which is all an append needs; unlike O_SYNC (fsync) it
 * skips the mtime update.
 */
const APPEND_DSYNC = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_DSYNC;
const fileName = (seq: number) => `audit-${String(seq).padStart(8, '0')}.jsonl`;
/** A group is cut at this size; bigger ones would only delay the first caller of the group. */
const MAX_GROUP_BYTES = 1 << 20;
/** The longest a lazy append waits for another append to share its commit. */
export const LAZY_COMMIT_MS = 25;
/** At most this many `retry` appends wait for another try after failed writes (a full disk for long). */
export const MAX_RETRYING = 10_000;
/** An event line larger than this has its args/detail replaced by a marker. */
const MAX_LINE_BYTES = 64 * 1024;
const CHUNK = 64 * 1024;
const NL = 0x0a;
/**
 * How a call's start record begins: `{"v":1,"begin":"<id>","event":{...}}`. It has no `kind`, so
 * {@link parseAuditLine} refuses it, and readers that do not know it (older hubs, scripts that
 * keep what parses) pass it over as not an event.
 */
export const BEGIN_PREFIX = '{"v":1,"begin":';
const BEGIN_BYTES = Buffer.from(BEGIN_PREFIX);
/** How every event line written by {@link serialize} begins (createAuditEvent's key order). */
const EVENT_PREFIX = Buffer.from('{"v":1,"id":"');
/** The error of a call whose start was journaled and whose event was not (the hub stopped in between). */
export const UNKNOWN_OUTCOME_ERROR = 'the hub stopped (crash, kill or power loss) while this call ran, before its outcome was journaled: it may have run on its node(s); how it ended is not known';
/** At open, this much of the journal's end is read for starts without their event. */
const RECOVERY_SCAN_BYTES = 32 * 1024 * 1024;

/** A start record's line, for {@link Journal.begin}. */
export function serializeBegin(event: AuditEvent): string {
  return `${BEGIN_PREFIX}${JSON.stringify(event.id)},"event":${serialize(event)}}`;
}

/** Whether a stored line (bytes or text) is a start record. */
function isBegin(line: Buffer | string): boolean {
  return typeof line === 'string' ? line.startsWith(BEGIN_PREFIX) : line.length >= BEGIN_BYTES.length && line.compare(BEGIN_BYTES, 0, BEGIN_BYTES.length, 0, BEGIN_BYTES.length) === 0;
}

interface Pending {
  line: string;
  bytes: number;
  /** 1 for an event, 0 for a start record. */
  events: 0 | 1;
  /** Queued again after a failed write (see `append`'s `retry`); how many tries failed so far. */
  retry?: { failed: number };
  /** It may wait for another line's commit (at most LAZY_COMMIT_MS). */
  lazy: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Opens (or creates) the journal under `<dir>/audit`.
 *
 * @example
 * await using journal = await createJournal({ dir: dataDir, fsync: 'batch' });
 */
export async function createJournal(opts: JournalOptions): Promise<Journal> {
  const dir = join(opts.dir, 'audit');
  const maxFileBytes = Math.max(1024, opts.maxFileBytes ?? 16 * 1024 * 1024);
  const maxFiles = Math.max(2, opts.maxFiles ?? 20);
  const mode = opts.fsync ?? 'batch';
  const log = opts.log;
  const recoveryScanBytes = Math.max(1, opts.recoveryScanBytes ?? RECOVERY_SCAN_BYTES);

  // The audit trail names users and what they did: owner-only.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  /** seq → size in bytes, for every file on disk (the current one: its written size). */
  const sizes = new Map<number, number>();
  for (const name of await readdir(dir)) {
    const m = FILE_RE.exec(name);
    if (m) sizes.set(Number(m[1]), (await stat(join(dir, name))).size);
  }
  let seqs = [...sizes.keys()].sort((a, b) => a - b);
  let current = seqs.at(-1) ?? 1;
  let fh: FileHandle;
  if (seqs.length > 0 && (sizes.get(current) ?? 0) > 0 && (await lastByte(join(dir, fileName(current)), sizes.get(current)!)) !== NL) {
    // Torn by a crash: its last line stays torn (and ignored); new events go to a new file.
    log?.warn({ file: fileName(current) }, 'audit journal: last file ends in a torn line; starting a new file');
    current++;
  }
  fh = await openForAppend(current);
  if (!sizes.has(current)) {
    sizes.set(current, 0);
    seqs = [...sizes.keys()].sort((a, b) => a - b);
  }
  let size = sizes.get(current)!;
  let durable = size;

  const queue: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let lazyTimer: NodeJS.Timeout | undefined;
  /** The lazy timer fired (or the journal closes): commit the lazy lines too. */
  let forced = false;
  let closed = false;
  /** After a failed write the file may end in a partial line: the next commit starts a new file. */
  let needNewFile = false;
  let appended = 0;
  let commits = 0;
  let begun = 0;
  let recovered = 0;
  /** `retry` appends whose write failed, waiting for their next try (timer). */
  const retrying = new Map<Pending, NodeJS.Timeout>();
  const holds = new Set<() => number | undefined>();
  /** False until the first external prune() with `deferPrune`: no file is deleted before. */
  let prunable = opts.deferPrune !== true;
  const listeners = new Set<() => void>();

  async function openForAppend(seq: number): Promise<FileHandle> {
    // O_DSYNC: a write returns once its data (and the size needed to read it back) is on disk,
    // as if fdatasync followed. One trip through libuv's thread pool per commit instead of two
    // (write, then fdatasync), which is what a call waits for at concurrency 1.
    const handle = await open(join(dir, fileName(seq)), APPEND_DSYNC, 0o600);
    // The new directory entry must survive a crash too, or a synced file could vanish.
    await syncDir(dir);
    return handle;
  }

  async function rotate(): Promise<void> {
    const old = fh;
    const next = current + 1;
    const handle = await openForAppend(next);
    sizes.set(current, size);
    current = next;
    fh = handle;
    size = 0;
    durable = 0;
    sizes.set(current, 0);
    seqs.push(current);
    needNewFile = false;
    await old.close().catch(() => {});
    if (prunable) await prune();
  }

  function floor(): number {
    let low = Infinity;
    for (const h of holds) {
      const v = h();
      if (v !== undefined && v < low) low = v;
    }
    return low;
  }

  async function prune(): Promise<void> {
    const low = floor();
    while (seqs.length > maxFiles) {
      const oldest = seqs[0]!;
      if (oldest >= low || oldest === current) {
        // Not shipped yet (Loki down for long): keeping it is the point, but the disk fills.
        log?.warn({ files: seqs.length, maxFiles, bytes: journal.stats().bytes }, 'audit journal: keeping files beyond maxFiles until they are shipped');
        break;
      }
      try {
        await unlink(join(dir, fileName(oldest)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          log?.error({ file: fileName(oldest), err }, 'audit journal: cannot delete an old file');
          break;
        }
      }
      seqs.shift();
      sizes.delete(oldest);
    }
  }

  async function commit(data: Buffer): Promise<void> {
    if (needNewFile || (size > 0 && size + data.length > maxFileBytes)) await rotate();
    try {
      // O_APPEND: each write lands at the end; loop in case the kernel takes only part of it.
      // O_DSYNC (see openForAppend): when a write returns, what it wrote is durable.
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
      size += data.length;
    } catch (err) {
      needNewFile = true;
      throw err;
    }
    durable = size;
    commits++;
    for (const l of listeners) l();
  }

  /** Whether only lazy lines are waiting (batch mode): they wait for a commit of another or the timer. */
  const onlyLazy = () => mode === 'batch' && !closed && queue.every((p) => p.lazy);

  async function drain(): Promise<void> {
    const force = forced;
    forced = false;
    while (queue.length > 0) {
      // Lazy lines queued while a commit was under way wait for the next line someone waits on
      // (or the timer) instead of a synced write of their own: at concurrency 1 a call through
      // an edge had two synced writes (its start record, then its outcome and outbound
      // request), now one, its outcome joining the next call's start record.
      if (!force && onlyLazy()) break;
      let group: Pending[];
      if (mode === 'always') {
        group = queue.splice(0, 1);
      } else {
        let bytes = 0;
        let n = 0;
        while (n < queue.length && (n === 0 || bytes + queue[n]!.bytes <= MAX_GROUP_BYTES)) bytes += queue[n++]!.bytes;
        group = queue.splice(0, n);
      }
      try {
        await commit(Buffer.from(group.length === 1 ? group[0]!.line : group.map((p) => p.line).join(''), 'utf8'));
        for (const p of group) {
          appended += p.events;
          begun += 1 - p.events;
          p.resolve();
        }
      } catch (cause) {
        const err = new HomelabError('AUDIT_WRITE_FAILED', 'the audit journal could not write the event', { cause });
        log?.error({ err: cause, events: group.length }, 'audit journal: write failed');
        for (const p of group) {
          if (p.retry && !closed && retrying.size < MAX_RETRYING) {
            // Nobody awaits it to learn of the failure: try again (a new file), later.
            const delay = Math.min(10_000, 100 * 2 ** p.retry.failed++);
            retrying.set(
              p,
              setTimeout(() => {
                retrying.delete(p);
                queue.push(p);
                kick();
              }, delay).unref(),
            );
          } else p.reject(err);
        }
      }
      // Let the callers just resolved run (they often append again at once) before cutting the
      // next group; otherwise groups alternate big/small (measured: 4 instead of ~8 events per
      // fdatasync with 8 writers). Costs one turn of the event loop per commit.
      if (mode === 'batch') await new Promise((r) => setImmediate(r));
    }
  }

  function kick(force = false): void {
    clearTimeout(lazyTimer);
    lazyTimer = undefined;
    if (force) forced = true;
    if (flushing) return;
    flushing = drain().finally(() => {
      flushing = undefined;
      if (queue.length === 0) return;
      // An append that raced the end of the loop, a forced commit asked meanwhile, or lazy
      // lines left for the timer.
      if (forced || !onlyLazy()) kick();
      else lazyTimer ??= setTimeout(() => kick(true), LAZY_COMMIT_MS).unref();
    });
  }

  /** Queues a line for the next commit; `events`: what it adds to `appended` (0 for a start record). */
  function enqueue(line: string, lazy: boolean, events: 0 | 1, retry = false): Promise<void> {
    if (closed) return Promise.reject(new HomelabError('AUDIT_CLOSED', 'the audit journal is closed'));
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { line, bytes: Buffer.byteLength(line), events, lazy, resolve, reject };
      if (retry) p.retry = { failed: 0 };
      queue.push(p);
      // A lazy event waits for the next commit: a tool call through an edge then costs one
      // fdatasync for its two events (the call and its outbound request), not two in a row.
      if (lazy && mode === 'batch') {
        if (!flushing) lazyTimer ??= setTimeout(() => kick(true), LAZY_COMMIT_MS).unref();
      } else kick();
    });
  }

  function fileSizeBound(seq: number): number {
    return seq === current ? durable : (sizes.get(seq) ?? 0);
  }

  function resolveCursor(c: JournalCursor): JournalCursor {
    if (seqs.includes(c.file)) return { file: c.file, offset: Math.max(0, Math.min(c.offset, fileSizeBound(c.file))) };
    const later = seqs.find((s) => s > c.file);
    // A cursor into a deleted file continues at the next file; one from another journal (a
    // number beyond the current file, e.g. the data directory was reset) starts over.
    if (later === undefined || c.file > current) return { file: seqs[0]!, offset: 0 };
    return { file: later, offset: 0 };
  }

  /**
   * The cursor a `before` names, `gone` when its file was rotated away (nothing older is left),
   * or an error: a position is only ever one this journal gave out, the start of a line.
   */
  async function checkPosition(text: string): Promise<JournalCursor | 'gone'> {
    const c = parsePosition(text);
    const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
    if (!c) throw new HomelabError('INVALID_ARGUMENTS', `audit position ${shown} is not one: expected <file>.<offset>, as a page's "older" gives`);
    if (c.file > current || (seqs.includes(c.file) && c.offset > fileSizeBound(c.file))) {
      throw new HomelabError('INVALID_ARGUMENTS', `audit position ${shown} is not in this journal (a link from before the data directory was reset, or from another hub?)`);
    }
    if (c.file < seqs[0]!) return 'gone';
    if (!seqs.includes(c.file)) throw new HomelabError('INVALID_ARGUMENTS', `audit position ${shown} is not in this journal (no file ${fileName(c.file)})`);
    if (c.offset > 0) {
      // Reading backward from the middle of a line would show its tail as a line of its own.
      const b = await readRange(join(dir, fileName(c.file)), c.offset - 1, 1).catch(() => undefined);
      if (b === undefined) return 'gone';
      if (b[0] !== NL) throw new HomelabError('INVALID_ARGUMENTS', `audit position ${shown} is not the start of an event`);
    }
    return c;
  }

  /**
   * Calls whose start record is near the end of the journal and whose event is not (the hub
   * stopped while they ran, or before their event's commit): journaled now with outcome
   * `unknown`, from what the start record says. The last {@link RECOVERY_SCAN_BYTES} are read
   * (in 1 MiB reads): a call running at a crash started at most that much journal ago, unless
   * it ran while the hub journaled 32 MiB of other events.
   */
  async function recover(): Promise<void> {
    const unfinished = new Map<string, AuditEvent>();
    let budget = recoveryScanBytes;
    const files: Array<{ seq: number; from: number; to: number }> = [];
    for (const seq of [...seqs].reverse()) {
      const to = sizes.get(seq) ?? 0;
      if (to === 0) continue;
      const from = Math.max(0, to - budget);
      files.unshift({ seq, from, to });
      budget -= to - from;
      if (budget <= 0) break;
    }
    /** id → where its start record is; only those left unmatched are read again and parsed. */
    const starts = new Map<string, { seq: number; offset: number; length: number }>();
    for (const { seq, from, to } of files) {
      try {
        await forEachLine(join(dir, fileName(seq)), from, to, (line, offset) => {
          if (isBegin(line)) {
            // `{"v":1,"begin":"<id>",...`: the id without parsing the line.
            const s = BEGIN_BYTES.length + 1;
            const e = line[s - 1] === 0x22 /* " */ ? line.indexOf(0x22, s) : -1;
            if (e !== -1 && e - s <= 64) starts.set(line.toString('latin1', s, e), { seq, offset, length: line.length });
          } else if (starts.size > 0) {
            let id: string | undefined;
            if (line.length > EVENT_PREFIX.length && line.compare(EVENT_PREFIX, 0, EVENT_PREFIX.length, 0, EVENT_PREFIX.length) === 0) {
              const end = line.indexOf(0x22 /* " */, EVENT_PREFIX.length);
              if (end !== -1) id = line.toString('latin1', EVENT_PREFIX.length, end);
            } else id = parseAuditLine(line.toString('utf8'))?.id;
            if (id !== undefined) starts.delete(id);
          }
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    for (const [id, at] of starts) {
      try {
        const rec = JSON.parse((await readRange(join(dir, fileName(at.seq)), at.offset, at.length)).toString('utf8')) as { begin?: unknown; event?: unknown };
        const ev = rec.event !== undefined ? parseAuditLine(JSON.stringify(rec.event)) : undefined;
        if (rec.begin === id && ev && ev.id === id) unfinished.set(id, ev);
      } catch {
        // Not a record this journal wrote whole: nothing to recover from it.
      }
    }
    if (unfinished.size === 0) return;
    log?.warn({ calls: unfinished.size }, 'audit journal: calls started before the hub stopped have no outcome in the journal; journaling them with outcome "unknown"');
    // A write that fails (a full disk at start) does not stop the open: the hub starts as it
    // would without start records, and the next open finds these starts unmatched again.
    const written = await Promise.allSettled([...unfinished.values()].map((ev) => journal.append({ ...ev, outcome: 'unknown', error: UNKNOWN_OUTCOME_ERROR })));
    recovered = written.filter((w) => w.status === 'fulfilled').length;
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) log?.error({ err: failed.reason, calls: written.length - recovered }, 'audit journal: could not journal calls with outcome "unknown" (their starts stay; the next open tries again)');
  }

  const journal: Journal = {
    dir,
    append(event, options) {
      return enqueue(`${serialize(event)}\n`, options?.lazy === true, 1, options?.retry === true);
    },

    begin(event) {
      return enqueue(`${serializeBegin(event)}\n`, false, 0);
    },

    async read(query = {}) {

      const limit = Math.min(Math.max(1, query.limit ?? 100), 10_000);
      const since = query.since === undefined ? undefined : new Date(query.since).getTime();
      const until = query.until === undefined ? undefined : new Date(query.until).getTime();
      const out: AuditEvent[] = [];
      for (const seq of [...seqs].reverse()) {
        const path = join(dir, fileName(seq));
        if (since !== undefined && seq !== current) {
          // A file last written before `since` holds no event from after it (an event's time is
          // set before it is appended), nor does any older file.
          const st = await stat(path).catch(() => undefined);
          if (st && st.mtimeMs < since - 1000) break;
        }
        try {
          for await (const line of linesBackward(path, fileSizeBound(seq))) {
            if (isBegin(line)) continue;
            const ev = parseAuditLine(line);
            if (!ev) continue;
            const t = Date.parse(ev.time);
            if (since !== undefined && t < since) continue;
            if (until !== undefined && t >= until) continue;
            if (query.tool !== undefined && ev.tool !== query.tool) continue;
            if (query.session !== undefined && ev.session !== query.session) continue;
            if (query.user !== undefined && ev.user !== query.user) continue;
            if (query.kind !== undefined && ev.kind !== query.kind) continue;
            out.push(ev);
            if (out.length >= limit) return out;
          }
        } catch (err) {
          // Deleted by rotation while we read: older files are gone too.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          throw err;
        }
      }
      return out;
    },

    async page(filter, { before, limit, signal }) {
      signal?.throwIfAborted();
      const want = Math.min(Math.max(1, Math.floor(limit) || 1), MAX_PAGE);
      const f = pageFilter(filter);
      const scan = { bytes: 0, parsed: 0 };
      const from = before === undefined ? undefined : await checkPosition(before);
      const events: JournalPage['events'] = [];
      if (from !== 'gone') {
        for (const seq of [...seqs].reverse()) {
          if (from && seq > from.file) continue;
          const path = join(dir, fileName(seq));
          if (f.since !== undefined && seq !== current) {
            // As in read(): a file last written before `since` holds nothing from after it.
            const st = await stat(path).catch(() => undefined);
            if (st && st.mtimeMs < f.since - 1000) break;
          }
          const end = from && seq === from.file ? from.offset : fileSizeBound(seq);
          try {
            for await (const lines of linesBefore(path, end, f.needles, scan, signal)) {
              for (const [offset, buf] of lines) {
                // The time without parsing the line: it is near the start of every line we write.
                if ((f.since !== undefined || f.until !== undefined) && outsideTime(buf, f) === true) continue;
                // A call's start record: its event (with the outcome) is the call's row.
                if (isBegin(buf)) continue;
                scan.parsed++;
                const ev = parseAuditLine(buf.toString('utf8'));
                if (!ev || !matches(ev, f)) continue;
                events.push({ pos: formatPosition({ file: seq, offset }), event: ev });
                // One more than asked tells whether an older page exists: `older` never links to nothing.
                if (events.length > want) {
                  events.pop();
                  return { events, older: events.at(-1)!.pos, scan };
                }
              }
            }
          } catch (err) {
            // Deleted by rotation while we read: older files are gone too.
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            throw err;
          }
        }
      }
      return { events, scan };
    },

    async readFrom(cursor, maxEvents, maxBytes = 4 * 1024 * 1024) {
      const want = Math.max(1, maxEvents);
      const events: AuditEvent[] = [];
      const lines: string[] = [];
      const positions: JournalCursor[] = [];
      let skipped = 0;
      let pos = resolveCursor(cursor);
      let budget = maxBytes;
      /** At least this many bytes on the next read: grows when one line is longer than a read. */
      let minRead = CHUNK;
      for (;;) {
        const bound = fileSizeBound(pos.file);
        if (pos.offset < bound) {
          const rest = bound - pos.offset;
          let chunk: Buffer;
          try {
            // Events are a few hundred bytes: read about what `want` needs, more on the next turn.
            const size = Math.min(rest, Math.max(minRead, Math.min(budget, (want - events.length) * 2048)));
            chunk = await readRange(join(dir, fileName(pos.file)), pos.offset, size);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            pos = resolveCursor(pos);
            continue;
          }
          let start = 0;
          for (let nl = chunk.indexOf(NL); nl !== -1 && events.length < want; nl = chunk.indexOf(NL, start)) {
            const line = chunk.toString('utf8', start, nl);
            const ev = parseAuditLine(line);
            if (ev) {
              events.push(ev);
              lines.push(line);
              positions.push({ file: pos.file, offset: pos.offset + start });
            } else if (line.length > 0 && !isBegin(line)) {
              skipped++;
            }
            start = nl + 1;
          }
          pos = { file: pos.file, offset: pos.offset + start };
          budget -= start;
          if (events.length >= want || (budget <= 0 && events.length > 0)) return { events, lines, positions, next: pos, skipped };
          if (start > 0) continue;
          // No newline in what was read.
          if (chunk.length < rest) {
            // One line longer than the read: read more at once (never stall on it).
            minRead = chunk.length * 2;
            continue;
          }
          // The rest of the file is one line without its newline: being written (current
          // file), or torn by a crash (an old file: nothing more in it).
          if (pos.file === current) return { events, lines, positions, next: pos, skipped };
          skipped++;
          pos = { file: pos.file, offset: bound };
        }
        if (pos.file === current) return { events, lines, positions, next: pos, skipped };
        const next = seqs.find((s) => s > pos.file);
        if (next === undefined) return { events, lines, positions, next: pos, skipped };
        pos = { file: next, offset: 0 };
      }
    },

    first: () => ({ file: seqs[0]!, offset: 0 }),
    end: () => ({ file: current, offset: durable }),
    bytesFrom(c) {
      let bytes = 0;
      for (const s of seqs) {
        if (s < c.file) continue;
        const sz = s === current ? durable : (sizes.get(s) ?? 0);
        bytes += s === c.file ? Math.max(0, sz - c.offset) : sz;
      }
      return bytes;
    },

    addRetentionHold(lowest) {
      holds.add(lowest);
      return () => void holds.delete(lowest);
    },
    prune() {
      prunable = true;
      return prune();
    },

    onCommit(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    stats() {
      let bytes = 0;
      for (const s of seqs) bytes += s === current ? size : (sizes.get(s) ?? 0);
      return { dir, files: seqs.length, bytes, appended, commits, begun, recovered, held: Math.max(0, seqs.length - maxFiles) };
    },

    async close() {
      if (closed) return flushing;
      closed = true;
      // Appends waiting to be retried: one last try now (a failure rejects them: closed).
      for (const [p, timer] of retrying) {
        clearTimeout(timer);
        queue.push(p);
      }
      retrying.clear();
      if (lazyTimer || queue.length > 0) kick(true);
      while (flushing) await flushing;
      await fh.close().catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return journal.close();
    },
  };
  if (prunable) await prune();
  await recover();
  return journal;

}

/**
 * Calls `fn` with each complete line (without its newline) and its offset, of bytes [from, to) of a file, in
 * order, reading 1 MiB at a time. A line cut by `from` (the scan started mid-file) and what
 * follows the last newline (torn) are left out; a line that starts exactly at `from` is kept
 * (the byte before it is read too, to tell). A line's buffer is valid only during the call.
 */
async function forEachLine(path: string, from: number, to: number, fn: (line: Buffer, offset: number) => void): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const READ = 1 << 20;
    // From the byte before `from`: the first segment, up to the first newline, is then the
    // rest of a line cut by `from`, or empty when a line starts exactly at `from`.
    let pos = Math.max(0, from - 1);
    let carry: Buffer | undefined;
    let skipFirst = from > 0;
    while (pos < to) {
      const n = Math.min(READ, to - pos);
      const buf = Buffer.allocUnsafe(n);
      const got = await readFully(fh, buf, n, pos);
      if (got === 0) return;
      /** The file offset of data[0]. */
      const base = pos - (carry?.length ?? 0);
      pos += got;
      const data = carry ? Buffer.concat([carry, buf.subarray(0, got)]) : buf.subarray(0, got);
      let start = 0;
      for (let nl = data.indexOf(NL); nl !== -1; nl = data.indexOf(NL, start)) {
        if (skipFirst) skipFirst = false;
        else if (nl > start) fn(data.subarray(start, nl), base + start);
        start = nl + 1;
      }
      carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    }
  } finally {
    await fh.close();
  }
}

/**
 * One JSON line; an event too large for a line keeps its identity and loses its payload.
 *
 * A lone surrogate (half of a UTF-16 pair, e.g. from `"\ud800"` in a client's arguments) has no
 * UTF-8 form: JSON.stringify writes it as the escape `\ud800`, which strict readers (jq, many
 * Loki clients) reject, so the line would be unreadable to them. It is stored as the six
 * characters `\ud800` instead (the JSON text `"\\ud800"`): every line is valid UTF-8 JSON.
 */
export function serialize(event: AuditEvent): string {
  let line = JSON.stringify(event);
  // Cheap test first: JSON.stringify escapes lone surrogates as lowercase `\ud8..`-`\udf..`.
  if (LONE_ESCAPE.test(line)) line = JSON.stringify(wellFormed(event));
  if (line.length > MAX_LINE_BYTES / 4 && Buffer.byteLength(line) > MAX_LINE_BYTES) {
    const slim: AuditEvent = { ...event };
    if (slim.args !== undefined) slim.args = { truncated: true };
    if (slim.detail !== undefined) slim.detail = { truncated: true };
    if (slim.error !== undefined) slim.error = slim.error.slice(0, 1024);
    line = JSON.stringify(wellFormed(slim));
  }
  return line;
}

const LONE_ESCAPE = /\\ud[89a-f][0-9a-f]{2}/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeLone(s: string): string {
  return s.replace(LONE_SURROGATE, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A copy with every lone surrogate, in strings and keys, written as the text `\udXXX`. */
function wellFormed<T>(v: T, depth = 0): T {
  if (typeof v === 'string') return escapeLone(v) as T;
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => wellFormed(x, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    Object.defineProperty(out, escapeLone(k), { value: wellFormed(x, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/** The most events one {@link Journal.page} returns. */
export const MAX_PAGE = 500;
/** Reads of a backward scan grow to this size: a rare filter reads the journal in big steps. */
const MAX_SCAN_CHUNK = 1 << 20;

/** `<file>.<offset>`: the opaque position string of a line (the UI's `pos`). */
export function formatPosition(c: JournalCursor): string {
  return `${c.file}.${c.offset}`;
}

/** The cursor of a {@link formatPosition} string, or undefined when it is not one. */
export function parsePosition(text: string): JournalCursor | undefined {
  const m = /^(\d{1,9})\.(\d{1,15})$/.exec(text);
  if (!m) return undefined;
  const c = { file: Number(m[1]), offset: Number(m[2]) };
  return Number.isSafeInteger(c.offset) ? c : undefined;
}

/**
 * Journal order of two positions: negative when `a` was written before `b`. An unparsable one
 * sorts first (oldest).
 * @example comparePositions('2.0', '1.900') > 0 // file 2 comes after file 1
 */
export function comparePositions(a: string, b: string): number {
  const x = parsePosition(a);
  const y = parsePosition(b);
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  return x.file - y.file || x.offset - y.offset;
}

interface CompiledFilter {
  user?: string;
  session?: string;
  tool?: string;
  node?: string;
  kind?: string;
  decision?: string;
  outcome?: string;
  since?: number;
  until?: number;
  /** since/until as canonical ISO bytes (the widest range when unset), when both are years 0–9999. */
  sinceIso?: Buffer;
  untilIso?: Buffer;
  /** JSON-escaped values every matching line contains, the most selective first. */
  needles: Buffer[];
}

function pageFilter(f: JournalPageFilter): CompiledFilter {
  const time = (v: string | Date | undefined, key: string) => {
    if (v === undefined) return undefined;
    const t = new Date(v).getTime();
    if (Number.isNaN(t)) throw new HomelabError('INVALID_ARGUMENTS', `audit filter ${key}: ${JSON.stringify(String(v))} is not a time (expected ISO 8601)`);
    return t;
  };
  const c: CompiledFilter = { needles: [] };
  const since = time(f.since, 'since');
  const until = time(f.until, 'until');
  if (since !== undefined) c.since = since;
  if (until !== undefined) c.until = until;
  const iso = (t: number) => (t >= 0 && t < MAX_ISO_MS ? Buffer.from(new Date(t).toISOString(), 'latin1') : undefined);
  if (since !== undefined || until !== undefined) {
    c.sinceIso = since === undefined ? Buffer.from('0000-00-00T00:00:00.000Z') : iso(since);
    c.untilIso = until === undefined ? Buffer.from('9999-99-99T99:99:99.999Z') : iso(until);
  }
  const user = f.viewerUser ?? f.user;
  // Most selective first: the first needle is the one searched for through the whole scan.
  for (const [key, v] of [['session', f.session], ['tool', f.tool], ['node', f.node], ['user', user], ['outcome', f.outcome], ['decision', f.decision], ['kind', f.kind]] as const) {
    if (v === undefined) continue;
    c[key] = v;
    // As serialize() writes it (JSON.stringify, no spaces); the exact test after parsing decides.
    c.needles.push(Buffer.from(JSON.stringify(v), 'utf8'));
  }
  return c;
}

/**
 * Whether an event passes a filter: the exact test, which {@link Journal.page} runs on every
 * line it parses and the UI's live stream on every new event.
 * @example auditEventMatches(ev, { tool: 'run_command', viewerUser: 'alice' })
 */
export function auditEventMatches(ev: AuditEvent, filter: JournalPageFilter): boolean {
  return matches(ev, pageFilter(filter));
}

function matches(ev: AuditEvent, f: CompiledFilter): boolean {
  if (f.user !== undefined && ev.user !== f.user) return false;
  if (f.session !== undefined && ev.session !== f.session) return false;
  if (f.tool !== undefined && ev.tool !== f.tool) return false;
  if (f.node !== undefined && !(Array.isArray(ev.nodes) && ev.nodes.includes(f.node))) return false;
  if (f.kind !== undefined && ev.kind !== f.kind) return false;
  if (f.decision !== undefined && ev.decision !== f.decision) return false;
  if (f.outcome !== undefined && ev.outcome !== f.outcome) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const t = Date.parse(ev.time);
    if (f.since !== undefined && !(t >= f.since)) return false;
    if (f.until !== undefined && !(t < f.until)) return false;
  }
  return true;
}

const TIME_KEY = Buffer.from('"time":"');
/** 10000-01-01: from there on toISOString() writes six-digit years, which do not sort as text. */
const MAX_ISO_MS = 253402300800000;
/** `2026-12-07T16:52:02.123Z`: the form `toISOString()` writes, which sorts as text in time order. */
const ISO_LEN = 24;

/**
 * Whether a stored line's `time` is outside [since, until), without parsing the line: compared
 * as bytes when it has the canonical ISO form, else parsed alone. Undefined when the line has
 * no `time` near its start (it is then parsed and tested in full).
 */
function outsideTime(line: Buffer, f: CompiledFilter): boolean | undefined {
  const k = line.indexOf(TIME_KEY);
  if (k === -1 || k > 200) return undefined;
  const s = k + TIME_KEY.length;
  if (line[s + ISO_LEN - 1] === 0x5a /* Z */ && line[s + ISO_LEN] === 0x22 /* " */ && f.sinceIso && f.untilIso) {
    return line.compare(f.sinceIso, 0, ISO_LEN, s, s + ISO_LEN) < 0 || line.compare(f.untilIso, 0, ISO_LEN, s, s + ISO_LEN) >= 0;
  }
  const e = line.indexOf(0x22 /* " */, s);
  if (e === -1 || e - s > 40) return undefined;
  const t = Date.parse(line.toString('latin1', s, e));
  if (Number.isNaN(t)) return undefined;
  return (f.since !== undefined && t < f.since) || (f.until !== undefined && t >= f.until);
}

/**
 * The complete lines of a file that end before byte `end`, last first, each with its offset,
 * one array per read (an await per line would cost more than the search). A line's buffer is
 * only valid until the next array is asked for: the read buffer is reused. With `needles`, only
 * lines containing all of them: the first is searched for through the whole read
 * (Buffer.indexOf, no decoding), so a line without it costs nothing. What follows the last
 * newline before `end` (a torn or unfinished line) is not returned.
 */
async function* linesBefore(path: string, end: number, needles: readonly Buffer[], scan: { bytes: number }, signal?: AbortSignal): AsyncGenerator<Array<[offset: number, line: Buffer]>> {
  if (end <= 0) return;
  const fh = await open(path, 'r');
  try {
    let pos = end;
    let size = CHUNK;
    /** The first, incomplete line of the previous read (without its newline). */
    let carry: Buffer | undefined;
    let atEnd = true;
    const [first, ...rest] = needles;
    /** Reused from read to read: the lines of a read are used before the next one. */
    let space = Buffer.allocUnsafe(0);
    while (pos > 0) {
      // Once per read (at most a few MiB), matches or not: the browser gone, the page's deadline passed.
      signal?.throwIfAborted();
      const n = Math.min(size, pos);
      // A first page needs one small read; a long scan gets bigger reads.
      size = Math.min(size * 2, MAX_SCAN_CHUNK);
      pos -= n;
      // Room for the carry after the read: no concat of the whole read.
      const want = n + (carry?.length ?? 0);
      if (space.length < want) space = Buffer.allocUnsafe(Math.max(want, Math.min(space.length * 2, MAX_SCAN_CHUNK * 2)));
      const data = space.subarray(0, want);
      const got = await readFully(fh, data, n, pos);
      // Files are never rewritten or cut; a short read means it was replaced under us.
      if (got < n) return;
      if (carry) carry.copy(data, n);
      scan.bytes += n;
      /** Index of the newline (or the implied one after a carry) ending the last complete line. */
      let stop = data.length;
      if (atEnd) {
        const last = data.lastIndexOf(NL);
        if (last === -1) {
          // Still inside the torn tail: keep looking for its start, discarding it.
          carry = undefined;
          continue;
        }
        stop = last;
        atEnd = false;
      }
      // Complete lines start after the read's first newline, or at 0 at the start of the file.
      const firstNl = pos === 0 ? -1 : data.indexOf(NL);
      if (pos > 0 && (firstNl === -1 || firstNl >= stop)) {
        carry = Buffer.from(data.subarray(0, stop));
        continue;
      }
      const lo = firstNl + 1;
      const out: Array<[number, Buffer]> = [];
      if (first === undefined) {
        while (stop > lo) {
          const i = data.lastIndexOf(NL, stop - 1);
          if (stop - i > 1) out.push([pos + i + 1, data.subarray(i + 1, stop)]);
          stop = i;
        }
      } else {
        for (let k = data.indexOf(first, lo); k !== -1 && k < stop; ) {
          const ls = k === 0 ? 0 : data.lastIndexOf(NL, k - 1) + 1;
          let le = data.indexOf(NL, k);
          if (le === -1 || le > stop) le = stop;
          const line = data.subarray(ls, le);
          if (rest.every((x) => line.indexOf(x) !== -1)) out.push([pos + ls, line]);
          k = data.indexOf(first, le + 1);
        }
        out.reverse();
      }
      // A copy: the read's buffer is large and the carry outlives it.
      carry = pos > 0 ? Buffer.from(data.subarray(0, lo - 1)) : undefined;
      if (out.length > 0) yield out;
    }
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function lastByte(path: string, size: number): Promise<number> {
  const b = await readRange(path, size - 1, 1);
  return b[0] ?? -1;
}

/** Reads `length` bytes at `position` into `buf` from 0, as many reads as it takes; fewer only at end of file. */
async function readFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

async function readRange(path: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    const got = await readFully(fh, buf, length, position);
    return got === length ? buf : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * The complete lines of the first `end` bytes of a file, last first. What follows the last
 * newline is a torn (or in-progress) line and is not returned.
 */
async function* linesBackward(path: string, end: number): AsyncGenerator<string> {
  if (end <= 0) return;
  const fh = await open(path, 'r');
  try {
    let pos = end;
    let carry: Buffer | undefined;
    let atEnd = true;
    while (pos > 0) {
      const n = Math.min(CHUNK, pos);
      pos -= n;
      const buf = Buffer.allocUnsafe(n);
      const got = await readFully(fh, buf, n, pos);
      const data: Buffer = carry ? Buffer.concat([buf.subarray(0, got), carry]) : buf.subarray(0, got);
      let stop = data.length;
      if (atEnd) {
        // Drop what follows the last newline: torn, or not yet complete.
        const last = data.lastIndexOf(NL);
        if (last === -1) {
          carry = undefined;
          if (pos === 0) return;
          // Still inside the torn tail: keep looking for its start, discarding it.
          continue;
        }
        stop = last;
        atEnd = false;
      }
      // (lastIndexOf with a negative offset counts from the end: guard stop = 0.)
      let i = stop > 0 ? data.lastIndexOf(NL, stop - 1) : -1;
      while (i !== -1) {
        if (stop - i > 1) yield data.toString('utf8', i + 1, stop);
        stop = i;
        i = stop > 0 ? data.lastIndexOf(NL, stop - 1) : -1;
      }
      carry = data.subarray(0, stop);
    }
    if (carry && carry.length > 0 && !atEnd) yield carry.toString('utf8');
  } finally {
    await fh.close();
  }
}
