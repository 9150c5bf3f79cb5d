// The journal's paged read for the UI's Audit page (Journal.page): newest first with opaque
// positions, filters checked against a plain in-memory filter, paging across rotated files,
// positions that are not the journal's, and 100,000 events: correct, and a rare filter parses
// only the lines that contain its value.
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeJournal } from '@homelab-mcp/testkit';
import { createAuditEvent, newAuditId, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { comparePositions, createJournal, formatPosition, parsePosition, serialize, type Journal, type JournalPageFilter } from './journal.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-page-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function journalIn(dir: string, opts: Partial<Parameters<typeof createJournal>[0]> = {}): Promise<Journal> {
  const j = await createJournal({ dir, ...opts });
  cleanup.push(() => j.close());
  return j;
}

const USERS = ['alice', 'bob', 'carol'];
const TOOLS = ['get_status', 'run_command', 'list_guests', 'pve_restart'];
const T0 = Date.parse('2026-12-01T00:00:00.000Z');

/** A varied event `i`, one second after event `i - 1`. */
function ev(i: number): AuditEvent {
  return createAuditEvent({
    kind: i % 11 === 0 ? 'approval' : i % 7 === 0 ? 'http_request' : 'tool_call',
    time: new Date(T0 + i * 1000),
    user: USERS[i % 3]!,
    session: `s${i % 4}`,
    tool: TOOLS[i % 4]!,
    nodes: i % 2 ? ['pve1'] : ['pve2', 'nas'],
    args: { i, note: i % 5 === 0 ? 'alice said "run_command" <b>' : 'x' },
    decision: i % 6 === 0 ? 'denied' : 'allowed',
    outcome: i % 6 === 0 ? 'denied' : i % 4 === 1 ? 'failed' : 'succeeded',
    durationMs: i,
  });
}

/** Every page of `filter`, following `older`. */
async function allPages(j: Journal, filter: JournalPageFilter, limit: number): Promise<Array<{ pos: string; event: AuditEvent }>> {
  const out: Array<{ pos: string; event: AuditEvent }> = [];
  let before: string | undefined;
  for (let n = 0; n < 1000; n++) {
    const p = await j.page(filter, { limit, ...(before ? { before } : {}) });
    expect(p.events.length).toBeLessThanOrEqual(limit);
    out.push(...p.events);
    if (!p.older) return out;
    // `older` is only given when an older event exists: a next page is never empty.
    expect(p.events).toHaveLength(limit);
    before = p.older;
  }
  throw new Error('paging did not end');
}

function expected(events: AuditEvent[], f: JournalPageFilter): AuditEvent[] {
  const since = f.since === undefined ? -Infinity : new Date(f.since).getTime();
  const until = f.until === undefined ? Infinity : new Date(f.until).getTime();
  const user = f.viewerUser ?? f.user;
  return events
    .filter(
      (e) =>
        (user === undefined || e.user === user) &&
        (f.session === undefined || e.session === f.session) &&
        (f.tool === undefined || e.tool === f.tool) &&
        (f.node === undefined || (e.nodes ?? []).includes(f.node)) &&
        (f.kind === undefined || e.kind === f.kind) &&
        (f.decision === undefined || e.decision === f.decision) &&
        (f.outcome === undefined || e.outcome === f.outcome) &&
        Date.parse(e.time) >= since &&
        Date.parse(e.time) < until,
    )
    .reverse();
}

describe('Journal.page', () => {
  it('pages newest first through rotated files, every filter the same as a plain filter', async () => {
    const dir = await tempDir();
    // Small files: 120 events spread over many of them, so pages cross file boundaries.
    const j = await journalIn(dir, { maxFileBytes: 4096, maxFiles: 1000 });
    const all = Array.from({ length: 120 }, (_, i) => ev(i));
    for (const e of all) await j.append(e);
    expect(j.stats().files).toBeGreaterThan(5);

    const filters: JournalPageFilter[] = [
      {},
      { user: 'alice' },
      { session: 's2' },
      { tool: 'run_command' },
      { node: 'nas' },
      { node: 'pve1', outcome: 'failed' },
      { kind: 'approval' },
      { decision: 'denied' },
      { outcome: 'denied', user: 'bob' },
      { since: new Date(T0 + 30_000).toISOString(), until: new Date(T0 + 75_000).toISOString() },
      { since: new Date(T0 + 100_000), tool: 'get_status' },
      // Forced to the viewer, whatever `user` asks for.
      { user: 'bob', viewerUser: 'carol' },
      { tool: 'no_such_tool' },
      // A value that only appears inside args ("x") must not match the tool.
      { tool: 'x' },
      { user: 'run_command' },
    ];
    for (const f of filters) {
      for (const limit of [1, 7, 50]) {
        const got = await allPages(j, f, limit);
        expect(got.map((x) => x.event.id), JSON.stringify({ f, limit })).toEqual(expected(all, f).map((e) => e.id));
        // Positions are distinct and strictly decreasing.
        for (let k = 1; k < got.length; k++) expect(comparePositions(got[k - 1]!.pos, got[k]!.pos)).toBeGreaterThan(0);
      }
    }
  });

  it('gives positions the live feed gives (readFrom) for the same events', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 2048 });
    for (let i = 0; i < 20; i++) await j.append(ev(i));
    const page = await j.page({}, { limit: 100 });
    const batch = await j.readFrom(j.first(), 100);
    expect(batch.positions.map(formatPosition)).toEqual(page.events.map((e) => e.pos).reverse());
    expect(batch.events.map((e) => e.id)).toEqual(page.events.map((e) => e.event.id).reverse());
  });

  it('rejects a malformed or foreign `before` with a clear error, and reads no arbitrary offset', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    for (let i = 0; i < 5; i++) await j.append(ev(i));
    const first = await j.page({}, { limit: 2 });
    const mid = parsePosition(first.older!)!;

    for (const bad of ['', 'abc', '1', '1.', '.5', '1.-5', '1.5x', '../1.0', '1e3.0', '1.99999999999999999']) {
      await expect(j.page({}, { before: bad, limit: 10 }), bad).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining('is not one: expected <file>.<offset>') });
    }
    // Another journal's (or a reset data directory's) position: beyond the end, a later file.
    await expect(j.page({}, { before: `1.${j.end().offset + 1}`, limit: 10 })).rejects.toThrow(/is not in this journal/);
    await expect(j.page({}, { before: '7.0', limit: 10 })).rejects.toThrow(/is not in this journal/);
    // Inside a line: it would show the line's head as an event of its own.
    await expect(j.page({}, { before: formatPosition({ file: 1, offset: mid.offset - 3 }), limit: 10 })).rejects.toThrow(/is not the start of an event/);
    // A long hostile value is cut in the message.
    await expect(j.page({}, { before: `<script>${'x'.repeat(500)}`, limit: 10 })).rejects.toThrow(/^audit position "<script>x{32}…" is not one/);
    await expect(j.page({ since: 'yesterday' }, { limit: 10 })).rejects.toThrow(/audit filter since: "yesterday" is not a time/);

    // The start of the journal is a valid `before`: nothing is older.
    expect((await j.page({}, { before: '1.0', limit: 10 })).events).toEqual([]);
    // The end too: everything.
    expect((await j.page({}, { before: formatPosition(j.end()), limit: 10 })).events).toHaveLength(5);
  });

  it('a `before` into a file rotated away is an empty page, not an error', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 1024, maxFiles: 2 });
    await j.append(ev(0));
    const old = (await j.page({}, { limit: 1 })).events[0]!.pos;
    for (let i = 1; i < 40; i++) await j.append(ev(i));
    expect(parsePosition(old)!.file).toBeLessThan(j.first().file);
    expect(await j.page({}, { before: old, limit: 10 })).toMatchObject({ events: [] });
  });

  it('ignores a torn last line (a crash mid-write)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'audit', 'audit-00000001.jsonl');
    const j1 = await createJournal({ dir });
    for (let i = 0; i < 3; i++) await j1.append(ev(i));
    await j1.close();
    await appendFile(path, '{"v":1,"id":"01TORN","time":"2026-12-01T00:00:00.000Z","kind":"tool_call","user":"alice","tool":"get_st');
    const j = await journalIn(dir);
    expect((await j.page({ tool: 'get_status' }, { limit: 10 })).events.map((e) => e.event.args)).toEqual([{ i: 0, note: 'alice said "run_command" <b>' }]);
    expect((await j.page({}, { limit: 10 })).events).toHaveLength(3);
  });

  it('reads lines longer than a read, and a torn tail longer than one', async () => {
    const dir = await tempDir();
    const path = join(dir, 'audit', 'audit-00000001.jsonl');
    const j1 = await createJournal({ dir });
    const all: AuditEvent[] = [];
    for (let i = 0; i < 40; i++) {
      // Every 7th event carries ~50 KB of arguments, so lines cross the 64 KiB reads.
      const e = createAuditEvent({ kind: 'tool_call', user: USERS[i % 3]!, tool: TOOLS[i % 4]!, args: { i, blob: i % 7 === 3 ? 'y'.repeat(50_000 + i) : 'n' } });
      all.push(e);
      await j1.append(e);
    }
    await j1.close();
    await appendFile(path, `{"v":1,"id":"01TORN","kind":"tool_call","user":"alice","tool":"get_status","args":"${'z'.repeat(150_000)}`);
    const j = await journalIn(dir);
    for (const f of [{}, { user: 'bob' }, { tool: 'run_command', user: 'carol' }] as JournalPageFilter[]) {
      for (const limit of [1, 3, 50]) {
        expect((await allPages(j, f, limit)).map((x) => x.event.id), JSON.stringify({ f, limit })).toEqual(expected(all, f).map((e) => e.id));
      }
    }
  });
});

describe('Journal.page with 100,000 events', () => {
  it('pages the newest correctly, and a rare filter parses only the lines that hold its value', async () => {
    const dir = await tempDir();
    const N = 100_000;
    const events: AuditEvent[] = [];
    for (let i = 0; i < N; i++) {
      const time = T0 + i * 100;
      events.push({
        v: 1,
        id: newAuditId(time),
        time: new Date(time).toISOString(),
        kind: 'tool_call',
        user: USERS[i % 3]!,
        role: 'admin',
        session: `sess-${i % 50}`,
        client: { name: 'claude-code', version: '2.1.0' },
        // One call in 10,000 is the rare tool.
        tool: i % 10_000 === 4321 ? 'pve_restart' : TOOLS[i % 3]!,
        nodes: [`node${i % 20}`],
        args: { vmid: i, command: 'uptime', comment: 'a typical call with a few arguments of ordinary size' },
        class: 'read',
        decision: 'allowed',
        outcome: i % 100 === 0 ? 'failed' : 'succeeded',
        durationMs: i % 900,
      });
    }
    // Straight to files of 16 MiB (the default), as the journal writes them: appending 100,000
    // events one by one through O_DSYNC would time the disk, not the reader.
    const files = writeJournal(dir, events);
    expect(events.every((e) => serialize(e) === JSON.stringify(e))).toBe(true);
    const j = await journalIn(dir);
    const total = j.stats().bytes;

    const timings: Array<{ case: string; ms: number; events: number; bytesRead: number; parsed: number }> = [];
    async function timed(name: string, filter: JournalPageFilter, before?: string) {
      const t = performance.now();
      const p = await j.page(filter, { limit: 50, ...(before ? { before } : {}) });
      timings.push({ case: name, ms: Math.round((performance.now() - t) * 10) / 10, events: p.events.length, bytesRead: p.scan.bytes, parsed: p.scan.parsed });
      return p;
    }

    const newest = await timed('50 newest', {});
    expect(newest.events.map((e) => e.event.id)).toEqual(events.slice(-50).reverse().map((e) => e.id));
    // The first page reads one small chunk, not the journal.
    expect(newest.scan.parsed).toBe(51);
    expect(newest.scan.bytes).toBeLessThanOrEqual(128 * 1024);

    const second = await timed('next 50 (before=older)', {}, newest.older);
    expect(second.events.map((e) => e.event.id)).toEqual(events.slice(-100, -50).reverse().map((e) => e.id));

    const rare = await timed('rare tool (10 of 100,000)', { tool: 'pve_restart' });
    expect(rare.events.map((e) => e.event.id)).toEqual(expected(events, { tool: 'pve_restart' }).map((e) => e.id));
    expect(rare.events).toHaveLength(10);
    expect(rare.older).toBeUndefined();
    // The whole journal was scanned, but only the lines holding "pve_restart" were parsed.
    expect(rare.scan.bytes).toBeGreaterThanOrEqual(total);
    expect(rare.scan.parsed).toBe(10);

    const failedOnNode = await timed('outcome failed on node0', { outcome: 'failed', node: 'node0' });
    expect(failedOnNode.events.map((e) => e.event.id)).toEqual(expected(events, { outcome: 'failed', node: 'node0' }).slice(0, 50).map((e) => e.id));
    // Lines are tested for both values ("node0" and "failed") before parsing: 50 and one to know there is more.
    expect(failedOnNode.scan.parsed).toBe(51);

    const mid = new Date(T0 + 50_000 * 100).toISOString();
    const window = await timed('a 10 s window in the middle', { since: mid, until: new Date(T0 + 50_100 * 100).toISOString() });
    expect(window.events.map((e) => e.event.id)).toEqual(events.slice(50_050, 50_100).reverse().map((e) => e.id));
    // The 49,900 newer lines are passed over on their time, unparsed.
    expect(window.scan.parsed).toBe(51);

    const viewer = await timed('viewer bob, 50 newest', { viewerUser: 'bob', user: 'alice' });
    expect(viewer.events.every((e) => e.event.user === 'bob')).toBe(true);
    expect(viewer.events.map((e) => e.event.id)).toEqual(expected(events, { user: 'bob' }).slice(0, 50).map((e) => e.id));

    console.log(`Journal.page, ${N} events in ${files.files} files (${(total / 2 ** 20).toFixed(1)} MiB), this machine, warm page cache:`);
    console.table(timings);
  }, 120_000);

  it('stops a long scan when its signal aborts (the browser gone, the page deadline passed)', async () => {
    const dir = await tempDir();
    const N = 20_000;
    writeJournal(dir, Array.from({ length: N }, (_, i) => ({ ...ev(i), id: newAuditId(T0 + i * 1000), args: { i, pad: 'p'.repeat(200) } })));
    const j = await journalIn(dir);
    // A filter nothing matches reads the whole journal: the read that follows an abort throws.
    const ac = new AbortController();
    let checks = 0;
    const check = ac.signal.throwIfAborted.bind(ac.signal);
    ac.signal.throwIfAborted = () => {
      if (++checks === 2) ac.abort(new Error('the browser went away'));
      check();
    };
    await expect(j.page({ tool: 'no_such_tool' }, { limit: 50, signal: ac.signal })).rejects.toThrow('the browser went away');
    expect(checks).toBe(2);
    // Without an abort the same scan runs to the start of the journal.
    const whole = await j.page({ tool: 'no_such_tool' }, { limit: 50, signal: new AbortController().signal });
    expect(whole.events).toEqual([]);
    expect(whole.scan.bytes).toBe(j.stats().bytes);
    await expect(j.page({}, { limit: 1, signal: AbortSignal.abort(new Error('gone before')) })).rejects.toThrow('gone before');
  });
});

