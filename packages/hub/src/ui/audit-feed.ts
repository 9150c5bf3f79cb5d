/**
 * The Audit page's data: pages of the journal, and the live feed of new events for its SSE
 * stream. One reader follows the journal for every listener (one read per commit, however many
 * browsers watch), starting at the end when the first listener comes and stopping when the last
 * one goes.
 *
 * A listener may return a promise (an SSE stream waiting for its client to read): events for it
 * queue meanwhile, at most `maxQueued`; beyond that its queue is dropped, it is unsubscribed and
 * told so (`onDropped`), and the page reloads instead of the hub holding events for a client
 * that does not read.
 *
 * @example
 * const feed = createAuditFeed(journal);
 * const stop = feed.follow((events) => events.forEach(({ pos, event }) => send(pos, event)), () => sendReload());
 */
import { formatPosition, type AuditLogger, type Journal, type JournalCursor } from '../audit/journal.ts';
import type { AuditPage, UiData } from './contract.ts';

/** Called with new events in journal order; a returned promise holds the next call until it settles. */
export type AuditFeedListener = (events: AuditPage['events']) => void | Promise<void>;

/** Bounds of {@link createAuditFeed}. */
export interface AuditFeedOptions {
  /** Events that may wait for a listener still busy with earlier ones; default 1000. */
  maxQueued?: number;
  /** Events per journal read; default 500. */
  batch?: number;
  log?: AuditLogger;
}

/** The UI's `audit` and `follow` (see {@link UiData}), plus how many follow now. */
export interface AuditFeed {
  audit: UiData['audit'];
  /**
   * `listener` gets every event committed from now on. `onDropped`: it fell more than
   * `maxQueued` events behind and was unsubscribed. Returns the unsubscribe function.
   */
  follow(listener: AuditFeedListener, onDropped?: () => void): () => void;
  /** Listeners following now. */
  listeners(): number;
}

interface Sub {
  listener: AuditFeedListener;
  onDropped: (() => void) | undefined;
  queue: AuditPage['events'][];
  queued: number;
  busy: boolean;
}

/**
 * The UI's `audit` and `follow` over a journal.
 *
 * @example
 * const feed = createAuditFeed(journal, { log });
 * await feed.audit({ tool: 'run_command' }, { limit: 50 });
 */
export function createAuditFeed(journal: Pick<Journal, 'page' | 'readFrom' | 'end' | 'onCommit'>, options: AuditFeedOptions = {}): AuditFeed {
  const maxQueued = Math.max(1, options.maxQueued ?? 1000);
  const batch = Math.max(1, options.batch ?? 500);
  const log = options.log;
  const subs = new Set<Sub>();
  let cursor: JournalCursor = journal.end();
  let unhook: (() => void) | undefined;
  /** Bumped when the last listener leaves: a read still running then is thrown away. */
  let generation = 0;
  let reading = false;
  let again = false;

  function onCommit(): void {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    void pump(generation);
  }

  async function pump(gen: number): Promise<void> {
    try {
      do {
        again = false;
        for (;;) {
          const end = journal.end();
          if (cursor.file === end.file && cursor.offset >= end.offset) break;
          const b = await journal.readFrom(cursor, batch);
          if (gen !== generation) return;
          if (b.next.file === cursor.file && b.next.offset === cursor.offset) break;
          cursor = b.next;
          if (b.events.length > 0) publish(b.events.map((event, i) => ({ pos: formatPosition(b.positions[i]!), event })));
        }
      } while (again);
    } catch (err) {
      // The next commit tries again from the same cursor.
      log?.warn({ err }, 'audit feed: cannot read the journal');
    } finally {
      if (gen === generation) reading = false;
    }
  }

  function publish(events: AuditPage['events']): void {
    for (const sub of [...subs]) {
      if (!sub.busy) {
        run(sub, events);
        continue;
      }
      sub.queue.push(events);
      sub.queued += events.length;
      if (sub.queued > maxQueued) {
        remove(sub);
        sub.queue = [];
        sub.queued = 0;
        try {
          sub.onDropped?.();
        } catch (err) {
          log?.warn({ err }, 'audit feed: a listener failed');
        }
      }
    }
  }

  function run(sub: Sub, events: AuditPage['events']): void {
    let r: void | Promise<void>;
    try {
      r = sub.listener(events);
    } catch (err) {
      log?.warn({ err }, 'audit feed: a listener failed');
      return;
    }
    if (!r || typeof r.then !== 'function') return;
    sub.busy = true;
    const next = () => {
      sub.busy = false;
      if (!subs.has(sub) || sub.queue.length === 0) return;
      const waiting = sub.queue.flat();
      sub.queue = [];
      sub.queued = 0;
      run(sub, waiting);
    };
    r.then(next, (err: unknown) => {
      log?.warn({ err }, 'audit feed: a listener failed');
      next();
    });
  }

  function remove(sub: Sub): void {
    if (!subs.delete(sub) || subs.size > 0) return;
    // Nobody watches: stop reading (a browser tab left open is the common listener).
    unhook?.();
    unhook = undefined;
    generation++;
    reading = false;
  }

  return {
    audit: (filter, page) => journal.page(filter, page),
    follow(listener, onDropped) {
      if (subs.size === 0) {
        cursor = journal.end();
        unhook = journal.onCommit(onCommit);
      }
      const sub: Sub = { listener, onDropped, queue: [], queued: 0, busy: false };
      subs.add(sub);
      return () => {
        remove(sub);
        sub.queue = [];
      };
    },
    listeners: () => subs.size,
  };
}
