// The Loki shipper against the fake Loki (a real HTTP server on 127.0.0.1) and a real journal
// in a temp directory: outages, restarts, retries, refused batches, and reading back.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeLoki, type FakeLoki } from '@homelab-mcp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditEvent, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { createJournal, type Journal } from './journal.ts';
import { auditLogQL, createLokiShipper, queryLoki, type LokiRejection, type LokiShipper, type LokiShipperOptions } from './loki-shipper.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Env {
  dir: string;
  journal: Journal;
  loki: FakeLoki;
  cursorFile: string;
  shipper(opts?: Partial<LokiShipperOptions>): Promise<LokiShipper>;
}

async function env(opts: { journal?: Partial<Parameters<typeof createJournal>[0]>; loki?: Parameters<typeof startFakeLoki>[0] } = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-shipper-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const journal = await createJournal({ dir, ...opts.journal });
  cleanup.push(() => journal.close());
  const loki = await startFakeLoki(opts.loki);
  cleanup.push(() => loki.stop());
  const cursorFile = join(dir, 'audit', 'loki-cursor.json');
  return {
    dir,
    journal,
    loki,
    cursorFile,
    async shipper(o = {}) {
      const s = createLokiShipper({ journal, url: loki.url, cursorFile, intervalMs: 20, backoff: { initialMs: 20, maxMs: 200 }, timeoutMs: 2000, ...o });
      cleanup.push(() => s.stop({ deadlineMs: 500 }));
      await s.start();
      return s;
    },
  };
}

let n = 0;
function ev(extra: Partial<Parameters<typeof createAuditEvent>[0]> = {}): AuditEvent {
  const i = n++;
  return createAuditEvent({ kind: i % 10 === 0 ? 'approval' : 'tool_call', user: 'alice', session: 's1', tool: 'get_status', args: { i }, outcome: 'succeeded', ...extra });
}

/** Appends `count` events with 8 concurrent writers; returns them in journal order. */
async function appendMany(journal: Journal, count: number, extra: Partial<Parameters<typeof createAuditEvent>[0]> = {}): Promise<AuditEvent[]> {
  const order: AuditEvent[] = [];
  let left = count;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left > 0) {
        left--;
        const e = ev(extra);
        // append() queues synchronously, so push order is journal order.
        const p = journal.append(e);
        order.push(e);
        await p;
      }
    }),
  );
  return order;
}

/** What Loki holds, in Loki's order (by timestamp; a push lists its streams one after the other). */
function byTime(loki: FakeLoki) {
  return loki
    .received()
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (BigInt(a.e.ts) < BigInt(b.e.ts) ? -1 : BigInt(a.e.ts) > BigInt(b.e.ts) ? 1 : a.i - b.i))
    .map((x) => x.e);
}
const ids = (loki: FakeLoki) => byTime(loki).map((e) => (JSON.parse(e.line) as AuditEvent).id);

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('retention before the cursor is loaded', () => {
  it('a new shipper holds every journal file until start() has read its cursor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loki-hold-'));
    try {
      const journal = await createJournal({ dir, maxFileBytes: 1024, maxFiles: 2, deferPrune: true });
      const release = journal.addRetentionHold(() => 1);
      await appendMany(journal, 30);
      release();
      const before = journal.stats().files;
      expect(before).toBeGreaterThan(3);
      const shipper = createLokiShipper({ journal, url: 'http://127.0.0.1:9', cursorFile: join(dir, 'audit', 'loki-cursor.json'), intervalMs: 20, backoff: { initialMs: 20, maxMs: 200 }, timeoutMs: 200 });
      // Not started yet (its cursor file unread): nothing it has not shipped may go.
      await journal.prune();
      expect(journal.stats().files).toBe(before);
      await shipper.stop({ deadlineMs: 100 }).catch(() => undefined);
      await journal.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Loki shipper', () => {
  it('Loki down for 500 events, then back: all 500 arrive exactly once, in journal order', async () => {
    const e = await env();
    await e.loki.down();
    const shipper = await e.shipper({ batchSize: 100 });
    const sent = await appendMany(e.journal, 500);
    await until(() => shipper.stats().retries >= 3);
    expect(shipper.stats()).toMatchObject({ state: 'retrying', shipped: 0 });
    expect(shipper.stats().lastError).toMatch(/ECONNREFUSED/);
    expect(ids(e.loki)).toEqual([]);
    // How far behind, in events and since when (the admin UI's Health page); capped reads say so.
    expect(await shipper.backlog()).toEqual({ events: 500, capped: false, oldest: sent[0]!.time });
    const floor = await shipper.backlog(1024);
    expect(floor.capped).toBe(true);
    expect(floor.events).toBeLessThan(500);

    await e.loki.up();
    expect(await shipper.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(ids(e.loki)).toEqual(sent.map((x) => x.id));
    expect(shipper.stats()).toMatchObject({ shipped: 500, rejectedEvents: 0 });
    expect(await shipper.backlog()).toEqual({ events: 0, capped: false });

    // The wire format: job + kind labels only, ns timestamps as strings, the journal line as is.
    const rec = byTime(e.loki);
    expect(new Set(rec.map((r) => JSON.stringify(r.stream)))).toEqual(new Set(['{"job":"mcp-audit","kind":"tool_call"}', '{"job":"mcp-audit","kind":"approval"}']));
    const journalLines = (await e.journal.readFrom(e.journal.first(), 1000)).lines;
    expect(rec.map((r) => r.line)).toEqual(journalLines);
    for (const r of rec) expect(BigInt(r.ts) / 1_000_000n).toBe(BigInt(Date.parse((JSON.parse(r.line) as AuditEvent).time)));
    // Timestamps are unique (the line order above is by timestamp).
    const ts = rec.map((r) => BigInt(r.ts));
    expect(ts.every((t, i) => i === 0 || t > ts[i - 1]!)).toBe(true);
    // Bodies over 1 KiB go gzipped.
    expect(e.loki.requests().some((r) => r.path.endsWith('/push') && r.gzip)).toBe(true);
    expect(e.loki.unhandled()).toEqual([]);

    // Read back through Loki: newest first, filtered.
    const back = await queryLoki({ url: e.loki.url, logql: auditLogQL(), limit: 1000, start: new Date(Date.now() - 60_000) });
    expect(back.map((x) => x.id)).toEqual(sent.map((x) => x.id).reverse());
    const approvals = await queryLoki({ url: e.loki.url, logql: auditLogQL({ kind: 'approval', user: 'alice' }), limit: 1000 });
    expect(approvals.length).toBe(sent.filter((x) => x.kind === 'approval').length);
    expect(e.loki.unhandled()).toEqual([]);
  });

  it('the cursor survives a restart: no event twice, none missing', async () => {
    const e = await env();
    const first = await appendMany(e.journal, 200);
    const a = await e.shipper({ batchSize: 64 });
    expect(await a.flush()).toBe(true);
    await a.stop();
    expect(JSON.parse(await readFile(e.cursorFile, 'utf8'))).toMatchObject({ v: 1, ...e.journal.end() });

    const second = await appendMany(e.journal, 300);
    const b = await e.shipper({ batchSize: 64 });
    expect(await b.flush()).toBe(true);
    expect(ids(e.loki)).toEqual([...first, ...second].map((x) => x.id));
    expect(b.stats().shipped).toBe(300);
  });

  it('a crash between Loki’s 2xx and the cursor write re-sends one batch byte for byte, which Loki shows once', async () => {
    const e = await env();
    await appendMany(e.journal, 50);
    const a = await e.shipper();
    expect(await a.flush()).toBe(true);
    await a.stop();
    const saved = `${e.cursorFile}.saved`;
    await copyFile(e.cursorFile, saved);

    await appendMany(e.journal, 30);
    const b = await e.shipper();
    expect(await b.flush()).toBe(true);
    await b.stop();
    const firstPush = e.loki.received().slice(50);
    // The cursor write of that push "did not happen".
    await copyFile(saved, e.cursorFile);
    const c = await e.shipper();
    expect(await c.flush()).toBe(true);

    const rec = e.loki.received();
    expect(rec).toHaveLength(110);
    expect(rec.slice(80)).toEqual(firstPush);
    const back = await queryLoki({ url: e.loki.url, logql: auditLogQL(), limit: 1000 });
    expect(back).toHaveLength(80);
    expect(new Set(back.map((x) => x.id)).size).toBe(80);
  });

  it('retries 5xx with exponential backoff, then delivers', async () => {
    const e = await env();
    e.loki.setFailing(500);
    const shipper = await e.shipper({ backoff: { initialMs: 50, maxMs: 400, jitter: 0 } });
    const sent = await appendMany(e.journal, 10);
    await until(() => shipper.stats().retries >= 5);
    e.loki.setFailing(false);
    expect(await shipper.flush()).toBe(true);
    expect(ids(e.loki)).toEqual(sent.map((x) => x.id));

    const at = e.loki
      .requests()
      .filter((r) => r.path.endsWith('/push'))
      .map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // 50, 100, 200, 400, 400 ms at least (timers never fire early; load only adds).
    [50, 100, 200, 400, 400].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 2));
    expect(shipper.stats().lastError).toBeUndefined();
  });

  it('429 with Retry-After is retried too', async () => {
    const e = await env();
    e.loki.setFailing(429);
    const shipper = await e.shipper();
    await appendMany(e.journal, 3);
    await until(() => shipper.stats().retries >= 1);
    expect(shipper.stats().lastError).toMatch(/429 Ingestion rate limit exceeded/);
    e.loki.setFailing(false);
    expect(await shipper.flush()).toBe(true);
    expect(e.loki.received()).toHaveLength(3);
    // The fake says Retry-After: 1, which the shipper honoured over its 20 ms backoff.
    const at = e.loki.requests().filter((r) => r.path.endsWith('/push')).map((r) => r.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(998);
  });

  it('a batch Loki refuses (400: too old) is skipped, counted and reported; shipping goes on', async () => {
    const e = await env();
    const rejected: LokiRejection[] = [];
    const old = await appendMany(e.journal, 3, { time: new Date(Date.now() - 30 * 24 * 3600 * 1000) });
    const fresh = await appendMany(e.journal, 5);
    const shipper = await e.shipper({ batchSize: 3, onReject: (r) => rejected.push(r) });
    expect(await shipper.flush()).toBe(true);
    expect(ids(e.loki)).toEqual(fresh.map((x) => x.id));
    expect(shipper.stats()).toMatchObject({ rejectedBatches: 1, rejectedEvents: 3, shipped: 5 });
    expect(rejected).toEqual([{ status: 400, message: expect.stringMatching(/timestamp too old/), events: 3, firstId: old[0]!.id, lastId: old[2]!.id }]);
    // Not a loop: one push for the refused batch, two for the fresh ones.
    expect(e.loki.requests().filter((r) => r.path.endsWith('/push'))).toHaveLength(3);
    expect(e.loki.unhandled()).toEqual([]);
  });

  it('stop() gives up at its deadline while Loki is down; the next start ships everything', async () => {
    const e = await env();
    await e.loki.down();
    const a = await e.shipper();
    const sent = await appendMany(e.journal, 20);
    await until(() => a.stats().retries >= 1);
    // Loki stays down: only the deadline can end stop() (a hang fails the test's own timeout).
    await a.stop({ deadlineMs: 300 });
    expect(a.stats().state).toBe('stopped');
    expect(a.stats().shipped).toBe(0);

    await e.loki.up();
    const b = await e.shipper();
    expect(await b.flush()).toBe(true);
    expect(ids(e.loki)).toEqual(sent.map((x) => x.id));
  });

  it('stop() ships what is pending when Loki is up', async () => {
    const e = await env();
    const shipper = await e.shipper({ intervalMs: 60_000 });
    const sent = await appendMany(e.journal, 40);
    await shipper.stop({ deadlineMs: 5000 });
    expect(ids(e.loki)).toEqual(sent.map((x) => x.id));
  });

  it('keeps unshipped journal files out of rotation while Loki is down', async () => {
    const e = await env({ journal: { maxFileBytes: 2048, maxFiles: 2 } });
    await e.loki.down();
    const shipper = await e.shipper({ batchSize: 50 });
    const sent = await appendMany(e.journal, 100);
    expect(e.journal.stats().files).toBeGreaterThan(2);
    expect(e.journal.first().file).toBe(1);
    await e.loki.up();
    expect(await shipper.flush()).toBe(true);
    expect(ids(e.loki)).toEqual(sent.map((x) => x.id));
    // Once shipped, rotation may delete them again.
    await appendMany(e.journal, 30);
    expect(await shipper.flush()).toBe(true);
    expect(e.journal.stats().files).toBeLessThanOrEqual(3);
  });

  it('sends the tenant, configured labels and URL credentials as Basic auth; never user data as labels', async () => {
    const e = await env({ loki: { tenant: 'homelab' } });
    const u = new URL(e.loki.url);
    u.username = 'ship';
    u.password = 'p@ss';
    const shipper = await e.shipper({ url: u.toString(), tenant: 'homelab', labels: { hub: 'home' }, headers: { 'x-extra': '1' } });
    await appendMany(e.journal, 3, { session: 'sess-123', user: 'carol', nodes: ['pi'] });
    expect(await shipper.flush()).toBe(true);
    const push = e.loki.requests().find((r) => r.path.endsWith('/push'))!;
    expect(push.headers.authorization).toBe(`Basic ${Buffer.from('ship:p@ss').toString('base64')}`);
    expect(push.headers['x-extra']).toBe('1');
    expect(e.loki.received().map((r) => r.stream)).toEqual(Array(3).fill({ job: 'mcp-audit', hub: 'home', kind: 'tool_call' }));
    expect(e.loki.received().every((r) => r.tenant === 'homelab')).toBe(true);
    expect(() => createLokiShipper({ journal: e.journal, url: e.loki.url, cursorFile: e.cursorFile, labels: { 'bad-label': 'x' } })).toThrow(/label name/);

    const back = await queryLoki({ url: u.toString(), tenant: 'homelab', logql: auditLogQL({ session: 'sess-123', labels: { hub: 'home' } }) });
    expect(back).toHaveLength(3);
    await expect(queryLoki({ url: e.loki.url, logql: auditLogQL() })).rejects.toMatchObject({ code: 'LOKI_QUERY_FAILED', message: expect.stringMatching(/401/) });
    expect(e.loki.unhandled()).toEqual([]);
  });

  it('logs failures without credentials', async () => {
    const e = await env();
    const lines: string[] = [];
    const rec = (o: Record<string, unknown>, msg: string) => void lines.push(`${msg} ${JSON.stringify(o)}`);
    const u = new URL(e.loki.url);
    u.username = 'ship';
    u.password = 'hunter2';
    e.loki.setFailing(500);
    const shipper = await e.shipper({ url: u.toString(), log: { info: rec, warn: rec, error: rec } });
    await appendMany(e.journal, 2);
    await until(() => shipper.stats().retries >= 2);
    await e.loki.down();
    await until(() => /ECONNREFUSED/.test(shipper.stats().lastError ?? ''));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).not.toMatch(/hunter2|ship:/);
    expect(shipper.stats().lastError).not.toMatch(/hunter2/);
  });

  it('auditLogQL builds selector and line filters the fake (and Loki) accept', () => {
    expect(auditLogQL()).toBe('{job="mcp-audit"}');
    expect(auditLogQL({ tool: 'get_status', kind: 'tool_call', labels: { hub: 'home' } })).toBe('{job="mcp-audit", hub="home", kind="tool_call"} |= `"tool":"get_status"`');
    expect(auditLogQL({ user: 'we`ird' })).toBe('{job="mcp-audit"} |= "\\"user\\":\\"we`ird\\""');
  });
});
