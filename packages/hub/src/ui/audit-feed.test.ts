// The audit feed on a real journal in a temp directory: two listeners share one reader, events
// come in journal order with the positions the Audit page uses, a slow listener is dropped (and
// told) instead of queueing without bound, and nobody listening means nobody reading.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuditEvent, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { createJournal, type Journal } from '../audit/journal.ts';
import { createAuditFeed } from './audit-feed.ts';
import type { AuditPage } from './contract.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function journal(opts: { maxFileBytes?: number } = {}): Promise<Journal> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-feed-'));
  const j = await createJournal({ dir, ...opts });
  cleanup.push(async () => {
    await j.close();
    await rm(dir, { recursive: true, force: true });
  });
  return j;
}

const ev = (i: number): AuditEvent => createAuditEvent({ kind: 'tool_call', user: 'alice', tool: 'get_status', args: { i } });

/** A listener that records what it gets, with a promise for "has N events". */
function collector() {
  const got: AuditPage['events'] = [];
  const batches: AuditPage['events'][] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  return {
    got,
    batches,
    listener(events: AuditPage['events']) {
      batches.push(events);
      got.push(...events);
      if (waiter && got.length >= waiter.n) waiter.resolve();
    },
    has(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve) => (waiter = { n, resolve }));
    },
  };
}

const args = (events: AuditPage['events']) => events.map((e) => (e.event.args as { i: number }).i);

describe('createAuditFeed', () => {
  it('gives two listeners every new event in order, from one shared read, with the page positions', async () => {
    const j = await journal({ maxFileBytes: 2048 });
    await j.append(ev(-1)); // before anyone follows: not sent
    const read = vi.spyOn(j, 'readFrom');
    const feed = createAuditFeed(j);
    const a = collector();
    const b = collector();
    const stopA = feed.follow(a.listener);
    feed.follow(b.listener);
    expect(feed.listeners()).toBe(2);

    // Across file rotations (2 KiB files).
    for (let i = 0; i < 30; i++) await j.append(ev(i));
    await Promise.all([a.has(30), b.has(30)]);
    expect(args(a.got)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(j.stats().files).toBeGreaterThan(2);
    // One reader: both got the very same objects, read once.
    expect(b.got).toHaveLength(30);
    for (let k = 0; k < 30; k++) expect(b.got[k]).toBe(a.got[k]);
    const reads = read.mock.calls.length;
    expect(reads).toBeLessThanOrEqual(30 + 3);

    // The positions are those of the journal's pages.
    const page = await feed.audit({}, { limit: 30 });
    expect(a.got.map((e) => e.pos).reverse()).toEqual(page.events.map((e) => e.pos));

    // Concurrent appends (group commits) arrive too, in journal order.
    await Promise.all(Array.from({ length: 20 }, (_, i) => j.append(ev(100 + i))));
    await b.has(50);
    expect(args(b.got.slice(30))).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));

    stopA();
    await j.append(ev(200));
    await b.has(51);
    expect(a.got).toHaveLength(50);
  });

  it('drops a listener that does not keep up and tells it, while the others get everything', async () => {
    const j = await journal();
    const feed = createAuditFeed(j, { maxQueued: 10 });
    const fast = collector();
    const slowGot: AuditPage['events'][] = [];
    const dropped = vi.fn();
    feed.follow(fast.listener);
    // Busy forever after its first call: a client that stopped reading.
    feed.follow((events) => {
      slowGot.push(events);
      return new Promise<void>(() => {});
    }, dropped);

    // Events until the feed gives up on the slow one (how many depends on how the reader
    // batches commits: only what comes after its first call queues).
    let n = 0;
    while (feed.listeners() > 1) {
      expect(n, 'the feed never dropped the slow listener').toBeLessThan(1000);
      await j.append(ev(n++));
      await fast.has(n);
    }
    for (let i = 0; i < 5; i++) await j.append(ev(n++));
    await fast.has(n);
    expect(args(fast.got)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(n).toBeGreaterThan(10);
    expect(dropped).toHaveBeenCalledTimes(1);
    // It got its first batch, then nothing: the queue behind it was dropped, not kept.
    expect(slowGot).toHaveLength(1);
    expect(feed.listeners()).toBe(1);
  });

  it('a listener that is slow but keeps up gets the events that waited, in one call, in order', async () => {
    const j = await journal();
    const feed = createAuditFeed(j, { maxQueued: 100 });
    const got: AuditPage['events'][] = [];
    let release!: () => void;
    const dropped = vi.fn();
    const all = collector();
    feed.follow(all.listener);
    feed.follow((events) => {
      got.push(events);
      if (got.length === 1) return new Promise<void>((r) => (release = r));
    }, dropped);

    await j.append(ev(0));
    await all.has(1);
    for (let i = 1; i < 6; i++) await j.append(ev(i));
    await all.has(6);
    expect(got).toHaveLength(1);
    release();
    await vi.waitFor(() => expect(got).toHaveLength(2));
    expect(got.map(args)).toEqual([[0], [1, 2, 3, 4, 5]]);
    expect(dropped).not.toHaveBeenCalled();
  });

  it('reads nothing while nobody follows, and starts at the end when someone does again', async () => {
    const j = await journal();
    const feed = createAuditFeed(j);
    const read = vi.spyOn(j, 'readFrom');
    for (let i = 0; i < 5; i++) await j.append(ev(i));
    expect(read).not.toHaveBeenCalled();

    const a = collector();
    const stop = feed.follow(a.listener);
    await j.append(ev(5));
    await a.has(1);
    stop();
    const reads = read.mock.calls.length;
    for (let i = 6; i < 10; i++) await j.append(ev(i));
    expect(read.mock.calls.length).toBe(reads);

    const b = collector();
    feed.follow(b.listener);
    await j.append(ev(10));
    await b.has(1);
    expect(args(b.got)).toEqual([10]);
    expect(args(a.got)).toEqual([5]);
  });

  it('a listener that throws does not stop the others', async () => {
    const j = await journal();
    const warn = vi.fn();
    const feed = createAuditFeed(j, { log: { info: vi.fn(), warn, error: vi.fn() } });
    feed.follow(() => {
      throw new Error('boom');
    });
    const a = collector();
    feed.follow(a.listener);
    await j.append(ev(1));
    await j.append(ev(2));
    await a.has(2);
    expect(args(a.got)).toEqual([1, 2]);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), 'audit feed: a listener failed');
  });
});
