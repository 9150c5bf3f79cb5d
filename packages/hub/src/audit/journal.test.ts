// The audit journal on real files in a temp directory: durability (group commit resolves only
// after fdatasync), crash safety (a torn last line, a SIGKILLed writer), rotation with a
// retention hold, newest-first reads and the shipper's cursor reads.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { appendFile, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuditEvent, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { BEGIN_PREFIX, createJournal, LAZY_COMMIT_MS, UNKNOWN_OUTCOME_ERROR, type Journal, type JournalCursor } from './journal.ts';
import { parseAuditLine } from '@homelab-mcp/core/audit-event';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-journal-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function journalIn(dir: string, opts: Partial<Parameters<typeof createJournal>[0]> = {}): Promise<Journal> {
  const j = await createJournal({ dir, ...opts });
  cleanup.push(() => j.close());
  return j;
}

function ev(i: number, extra: Partial<Parameters<typeof createAuditEvent>[0]> = {}): AuditEvent {
  return createAuditEvent({ kind: 'tool_call', user: i % 2 ? 'alice' : 'bob', session: `s${i % 3}`, tool: i % 5 ? 'get_status' : 'run_command', args: { i }, outcome: 'succeeded', ...extra });
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'audit'))).filter((f) => f.endsWith('.jsonl')).sort();
}

/** Every event from `cursor` on, through readFrom in pages of `page`. */
async function readAll(j: Journal, cursor: JournalCursor, page = 7): Promise<{ events: AuditEvent[]; next: JournalCursor }> {
  const events: AuditEvent[] = [];
  for (;;) {
    const b = await j.readFrom(cursor, page);
    events.push(...b.events);
    if (b.next.file === cursor.file && b.next.offset === cursor.offset) return { events, next: cursor };
    cursor = b.next;
  }
}

describe('append and read', () => {
  it('appends JSON lines in order and reads them back newest first, filtered', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    const all = Array.from({ length: 30 }, (_, i) => ev(i));
    for (const e of all) await j.append(e);

    expect(await files(dir)).toEqual(['audit-00000001.jsonl']);
    const text = await readFile(join(dir, 'audit', 'audit-00000001.jsonl'), 'utf8');
    expect(text.split('\n').slice(0, -1).map((l) => JSON.parse(l).id)).toEqual(all.map((e) => e.id));

    const newest = await j.read({ limit: 5 });
    expect(newest.map((e) => e.id)).toEqual(all.slice(-5).reverse().map((e) => e.id));
    expect((await j.read({ tool: 'run_command' })).map((e) => e.args)).toEqual([{ i: 25 }, { i: 20 }, { i: 15 }, { i: 10 }, { i: 5 }, { i: 0 }]);
    expect((await j.read({ user: 'alice', session: 's1' })).every((e) => e.user === 'alice' && e.session === 's1')).toBe(true);
    expect(await j.read({ since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await j.read({ kind: 'approval' })).toEqual([]);
    expect(j.stats()).toMatchObject({ files: 1, appended: 30 });
  });

  it('keeps reading across reopen: same file, appends continue after the existing lines', async () => {
    const dir = await tempDir();
    const j1 = await createJournal({ dir });
    await j1.append(ev(1));
    await j1.close();
    await expect(j1.append(ev(2))).rejects.toMatchObject({ code: 'AUDIT_CLOSED' });
    const j2 = await journalIn(dir);
    await j2.append(ev(3));
    expect(await files(dir)).toEqual(['audit-00000001.jsonl']);
    expect((await j2.read()).map((e) => e.args)).toEqual([{ i: 3 }, { i: 1 }]);
  });

  it('ignores a torn last line, and a reopened journal does not glue new lines to it', async () => {
    const dir = await tempDir();
    const j1 = await createJournal({ dir });
    for (let i = 0; i < 3; i++) await j1.append(ev(i));
    await j1.close();
    const path = join(dir, 'audit', 'audit-00000001.jsonl');
    // What a crash in the middle of a write leaves.
    await appendFile(path, '{"v":1,"id":"01TORN","time":"2026-01-01T00:00:00.000Z","kind":"tool_call","user":"ev');

    const j2 = await journalIn(dir);
    expect((await j2.read()).map((e) => e.args)).toEqual([{ i: 2 }, { i: 1 }, { i: 0 }]);
    await j2.append(ev(3));
    expect(await files(dir)).toEqual(['audit-00000001.jsonl', 'audit-00000002.jsonl']);
    expect((await j2.read()).map((e) => e.args)).toEqual([{ i: 3 }, { i: 2 }, { i: 1 }, { i: 0 }]);
    // The shipper's reads pass over the torn line, counted, and go on into the next file.
    const b = await j2.readFrom(j2.first(), 100);
    expect(b.events.map((e) => e.args)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    expect(b.skipped).toBe(1);
    expect(b.next).toEqual(j2.end());
  });

  it('redacted args are what reaches the disk', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    await j.append(
      createAuditEvent({
        kind: 'tool_call',
        user: 'alice',
        tool: 'run_command',
        args: { password: 'hunter2', headers: { Authorization: 'Bearer abc.def-123456' }, cmd: 'curl -u admin:s3cr3t http://x' },
      }),
    );
    const text = await readFile(join(dir, 'audit', 'audit-00000001.jsonl'), 'utf8');
    for (const secret of ['hunter2', 'abc.def-123456', 's3cr3t']) expect(text).not.toContain(secret);
    expect(text).toContain('curl -u admin:[REDACTED] http://x');
  });

  it('writes a lone surrogate as the text \\udXXX: every line is well-formed UTF-8 JSON', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    await j.append(createAuditEvent({ kind: 'tool_call', user: 'alice', tool: 'x\udfff', args: { cmd: 'a\ud800b', ['k\udc00']: 'ok', pair: '\ud83d\ude00' } }));
    const text = await readFile(join(dir, 'audit', 'audit-00000001.jsonl'), 'utf8');
    // No `\udXXX` JSON escape is left (strict readers reject a lone one); a real pair stays.
    expect(text).not.toMatch(/(?<!\\)\\ud[89a-f]/);
    const ev = JSON.parse(text);
    expect(ev).toMatchObject({ tool: 'x\\udfff', args: { cmd: 'a\\ud800b', 'k\\udc00': 'ok', pair: '\ud83d\ude00' } });
  });
});

describe('durability', () => {
  /**
   * Holds every journal write until released, and counts them. The journal's file is opened
   * O_DSYNC, so a write that returned is a synced one (`synced`); `flags` are the open flags
   * of the descriptor each write went to, from /proc/self/fdinfo.
   */
  async function gateSync() {
    // FileHandle is not exported; its prototype is reachable from any handle.
    const probePath = join(await tempDir(), 'probe');
    const probe = await open(probePath, 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void>; write(...a: unknown[]): Promise<unknown> };
    await probe.close();
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const realWrite = proto.write;
    const counts = { writes: 0, synced: 0, datasyncs: 0 };
    const flags: number[] = [];
    vi.spyOn(proto, 'datasync').mockImplementation(async function () {
      counts.datasyncs++;
    });
    vi.spyOn(proto, 'write').mockImplementation(async function (this: { fd: number }, ...a: unknown[]) {
      counts.writes++;
      const m = /^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${this.fd}`, 'utf8'));
      flags.push(m ? parseInt(m[1]!, 8) : -1);
      await gate;
      const r = await realWrite.apply(this, a);
      counts.synced++;
      return r;
    });
    return {
      counts,
      flags,
      open() {
        release();
      },
      close() {
        gate = new Promise<void>((r) => (release = r));
      },
    };
  }

  const tick = () => new Promise((r) => setTimeout(r, 20));

  it("'batch': appends that arrive during a sync are one group commit, and none resolves before its fdatasync", async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { fsync: 'batch' });
    const gate = await gateSync();
    const resolved: number[] = [];
    const first = j.append(ev(0)).then(() => resolved.push(0));
    await tick();
    // The first line's (synced) write is under way, held: not acknowledged.
    expect(gate.counts).toMatchObject({ writes: 1, synced: 0 });
    const rest = Array.from({ length: 7 }, (_, i) => j.append(ev(i + 1)).then(() => resolved.push(i + 1)));
    await tick();
    expect(resolved).toEqual([]);
    // Nothing unsynced is offered to the shipper either.
    expect(j.end()).toEqual({ file: 1, offset: 0 });
    expect((await j.readFrom(j.first(), 100)).events).toEqual([]);

    gate.open();
    await Promise.all([first, ...rest]);
    // Two rounds: the first event alone, then the seven that queued behind its sync.
    expect(gate.counts).toMatchObject({ writes: 2, synced: 2 });
    expect(resolved).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(j.stats()).toMatchObject({ appended: 8, commits: 2 });
    expect((await j.readFrom(j.first(), 100)).events).toHaveLength(8);
  });

  it("'batch': a lazy append joins the next commit, or commits by itself after LAZY_COMMIT_MS", async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { fsync: 'batch' });
    const gate = await gateSync();
    gate.open();
    const resolved: number[] = [];
    const lazy = j.append(ev(0), { lazy: true }).then(() => resolved.push(0));
    await Promise.resolve();
    expect(gate.counts).toMatchObject({ writes: 0 });
    // The next plain append commits both at once.
    await j.append(ev(1)).then(() => resolved.push(1));
    await lazy;
    expect(gate.counts).toMatchObject({ writes: 1, synced: 1 });
    expect(resolved.sort()).toEqual([0, 1]);
    // Alone (once the last commit is done), it is on disk after LAZY_COMMIT_MS.
    await tick();
    const t0 = performance.now();
    await j.append(ev(2), { lazy: true });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(LAZY_COMMIT_MS - 5);
    expect(gate.counts).toMatchObject({ writes: 2, synced: 2 });
    // close() does not wait for the timer, and loses nothing.
    const last = j.append(ev(3), { lazy: true });
    await j.close();
    await last;
    expect((await readFile(join(dir, 'audit', 'audit-00000001.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(4);
  });

  it("'batch': a lazy append made while a commit is under way waits for the next commit, not a write of its own", async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { fsync: 'batch' });
    const gate = await gateSync();
    // A call's start record is being written (held) when its outcome is appended lazily.
    const start = j.append(ev(0));
    await tick();
    let lazyDone = false;
    const lazy = j.append(ev(1), { lazy: true }).then(() => (lazyDone = true));
    gate.open();
    await start;
    // A few turns of the event loop, well within LAZY_COMMIT_MS.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    // Before: the drain loop wrote it at once, a second synced write per call.
    expect(gate.counts).toMatchObject({ writes: 1 });
    expect(lazyDone).toBe(false);
    // The next start record carries it.
    await j.append(ev(2));
    await lazy;
    expect(gate.counts).toMatchObject({ writes: 2, synced: 2 });
    // Left alone it still commits by itself (the timer), and close() loses nothing.
    const alone = j.append(ev(3), { lazy: true });
    const heldStart = j.append(ev(4));
    const lateLazy = j.append(ev(5), { lazy: true });
    await heldStart;
    await alone;
    await lateLazy;
    expect(j.stats()).toMatchObject({ appended: 6 });
    const last = j.append(ev(6), { lazy: true });
    await j.close();
    await last;
    expect((await readFile(join(dir, 'audit', 'audit-00000001.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(7);
  });

  it("'always': one synced write per event", async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { fsync: 'always' });
    const gate = await gateSync();
    gate.open();
    await Promise.all(Array.from({ length: 8 }, (_, i) => j.append(ev(i))));
    expect(gate.counts).toMatchObject({ writes: 8, synced: 8 });
    expect((await j.read({ limit: 100 })).map((e) => (e.args as { i: number }).i)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('every write goes to a descriptor opened O_DSYNC|O_APPEND, so a returned write is on disk (no separate fdatasync)', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 1024 });
    const gate = await gateSync();
    gate.open();
    // Enough to rotate: the new file's descriptor must be opened the same way.
    for (let i = 0; i < 12; i++) await j.append(ev(i));
    expect((await files(dir)).length).toBeGreaterThan(1);
    expect(gate.flags.length).toBe(12);
    for (const f of gate.flags) {
      expect(f & constants.O_DSYNC).toBe(constants.O_DSYNC);
      expect(f & constants.O_APPEND).toBe(constants.O_APPEND);
    }
    expect(gate.counts.datasyncs).toBe(0);
  });

  it('a failed write rejects its appends, and the next append goes to a fresh file', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    await j.append(ev(0));
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write(): Promise<unknown> };
    await probe.close();
    vi.spyOn(proto, 'write').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(j.append(ev(1))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await j.append(ev(2));
    expect(await files(dir)).toEqual(['audit-00000001.jsonl', 'audit-00000002.jsonl']);
  });

  it('a writer killed with SIGKILL mid-traffic: every acknowledged event is in the journal after restart', async () => {
    const dir = await tempDir();
    // The child appends with 8 concurrent writers and prints each id once append() resolved.
    const script = join(dir, 'writer.mjs');
    const here = fileURLToPath(new URL('.', import.meta.url));
    await build({
      stdin: {
        contents: `
          import { createJournal } from './journal.ts';
          import { createAuditEvent } from '@homelab-mcp/core/audit-event';
          // maxFiles: rotation must not prune what the test reads back (3,000 events fill ~25 files).
          const j = await createJournal({ dir: process.argv[2], fsync: 'batch', maxFileBytes: 64 * 1024, maxFiles: 1000 });
          const writer = async (w) => {
            for (let i = 0; ; i++) {
              const e = createAuditEvent({ kind: 'tool_call', user: 'w' + w, tool: 'get_status', args: { i, pad: 'x'.repeat(200) } });
              await j.append(e);
              process.stdout.write(e.id + '\\n');
            }
          };
          for (let w = 0; w < 8; w++) writer(w);
        `,
        resolveDir: here,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
      // pino is CommonJS and require()s Node built-ins.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    const acked: string[] = [];
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the writer exited early (${code})`)));
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        acked.push(...parts);
        if (acked.length >= 3000) resolve();
      });
    });
    child.kill('SIGKILL');
    await exited;

    const j = await journalIn(dir, { maxFileBytes: 64 * 1024, maxFiles: 1000 });
    const { events } = await readAll(j, j.first(), 500);
    const ids = new Set(events.map((e) => e.id));
    expect(acked.filter((id) => !ids.has(id))).toEqual([]);
    expect(ids.size).toBe(events.length); // none twice
    expect((await files(dir)).length).toBeGreaterThan(1); // rotated under load
  });

  it('sustained throughput with 8 concurrent writers (printed, not asserted)', async () => {
    for (const fsync of ['batch', 'always'] as const) {
      const dir = await tempDir();
      const j = await journalIn(dir, { fsync });
      const until = performance.now() + 1000;
      let n = 0;
      const writer = async () => {
        while (performance.now() < until) {
          await j.append(ev(n++));
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 8 }, writer));
      const s = (performance.now() - t0) / 1000;
      const { appended, commits } = j.stats();
      console.log(`journal fsync=${fsync}: ${Math.round(appended / s)} events/s with 8 writers (${(appended / commits).toFixed(1)} events per synced write)`);
      expect(appended).toBe(n);
    }
  });
});

describe('a call journaled as it starts (begin), its outcome after', () => {
  const start = (i: number) => createAuditEvent({ kind: 'tool_call', user: 'alice', session: 's1', tool: 'run_command', nodes: ['pi'], args: { cmd: `echo ${i}`, password: 'hunter2' }, class: 'write', decision: 'allowed' });

  it('the start record is on disk when begin resolves; readers show the call once, with its outcome', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    const s = start(1);
    await j.begin(s);
    const text = await readFile(join(dir, 'audit', (await files(dir))[0]!), 'utf8');
    expect(text.startsWith(BEGIN_PREFIX)).toBe(true);
    expect(text).not.toContain('hunter2');
    // Not an event, to every reader (older ones included: parseAuditLine refuses it).
    expect(parseAuditLine(text.trimEnd())).toBeUndefined();
    expect(await j.read()).toEqual([]);
    expect((await j.page({}, { limit: 10 })).events).toEqual([]);
    await j.append({ ...s, outcome: 'succeeded', durationMs: 3 }, { lazy: true });
    const events = await j.read();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: s.id, outcome: 'succeeded', decision: 'allowed', args: { password: '[REDACTED]' } });
    expect((await j.page({ tool: 'run_command' }, { limit: 10 })).events.map((e) => e.event.id)).toEqual([s.id]);
    const batch = await j.readFrom(j.first(), 100);
    expect(batch.events.map((e) => e.id)).toEqual([s.id]);
    expect(batch.skipped).toBe(0);
    expect(j.stats()).toMatchObject({ appended: 1, begun: 1 });
  });

  it('a call started and not finished when the writer stopped is journaled as unknown at the next open, once', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir });
    const done = start(1);
    const open1 = start(2);
    await j.begin(done);
    await j.begin(open1);
    await j.append({ ...done, outcome: 'succeeded', durationMs: 1 });
    await j.close(); // as a crash would leave it: open1's outcome never written
    const again = await journalIn(dir);
    expect(again.stats().recovered).toBe(1);
    const events = await again.read();
    expect(events.map((e) => [e.id, e.outcome])).toEqual([
      [open1.id, 'unknown'],
      [done.id, 'succeeded'],
    ]);
    expect(events[0]).toMatchObject({ tool: 'run_command', user: 'alice', nodes: ['pi'], decision: 'allowed', error: UNKNOWN_OUTCOME_ERROR, argsSha256: open1.argsSha256 });
    await again.close();
    const third = await journalIn(dir);
    expect(third.stats().recovered).toBe(0);
    expect((await third.read()).filter((e) => e.id === open1.id)).toHaveLength(1);
  });

  it('finds the event of a start in the previous file, and ignores a torn start record', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir, maxFileBytes: 2048 });
    const s = start(1);
    await j.begin(s);
    for (let i = 0; i < 20; i++) await j.append(ev(i));
    await j.append({ ...s, outcome: 'failed', error: 'boom', durationMs: 1 });
    await j.close();
    expect((await files(dir)).length).toBeGreaterThan(1);
    const last = (await files(dir)).at(-1)!;
    await appendFile(join(dir, 'audit', last), `${BEGIN_PREFIX}"01TORN`);
    const again = await journalIn(dir);
    expect(again.stats().recovered).toBe(0);
    expect((await again.read({ limit: 1000 })).filter((e) => e.id === s.id).map((e) => e.outcome)).toEqual(['failed']);
  });

  it('an outcome whose write failed is written again (retry): the call does not stay a start record no reader shows', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    const s = start(1);
    await j.begin(s);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write(): Promise<unknown> };
    await probe.close();
    // A transient failure (a full disk, then space again): the caller already answered and
    // nobody awaits this append; without a retry the call would be missing from every reader
    // while this hub runs, and for good once its start leaves the recovery window.
    vi.spyOn(proto, 'write').mockRejectedValueOnce(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    await j.append({ ...s, outcome: 'succeeded', durationMs: 1 }, { lazy: true, retry: true });
    expect((await j.read()).map((e) => [e.id, e.outcome])).toEqual([[s.id, 'succeeded']]);
    await j.close();
    // Once, and not recovered as unknown either.
    const again = await journalIn(dir);
    expect(again.stats().recovered).toBe(0);
    expect((await again.read()).map((e) => e.id)).toEqual([s.id]);
  });

  it('a retried outcome still pending when the journal closes gets one last try, then rejects', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir });
    const s = start(1);
    await j.begin(s);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write(): Promise<unknown> };
    await probe.close();
    vi.spyOn(proto, 'write').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    const outcome = j.append({ ...s, outcome: 'succeeded', durationMs: 1 }, { lazy: true, retry: true });
    outcome.catch(() => {});
    await new Promise((r) => setTimeout(r, 60));
    await j.close();
    await expect(outcome).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    vi.restoreAllMocks();
    // Its start is on disk: the next open journals the call as unknown.
    const again = await journalIn(dir);
    expect(again.stats().recovered).toBe(1);
  });

  it('a recovery that cannot write (a full disk at start) still opens the journal; the next open recovers, once', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir });
    const s = start(1);
    await j.begin(s);
    await j.close();
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write(): Promise<unknown> };
    await probe.close();
    vi.spyOn(proto, 'write').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    const errors: string[] = [];
    const log = { info: () => {}, warn: () => {}, error: (_o: Record<string, unknown>, m: string) => void errors.push(m) };
    // As before start records: a hub on a full disk starts (and its calls fail to journal), it does not refuse to start.
    const full = await journalIn(dir, { log });
    expect(full.stats().recovered).toBe(0);
    expect(errors.some((m) => m.includes('unknown'))).toBe(true);
    await full.close();
    vi.restoreAllMocks();
    const again = await journalIn(dir);
    expect(again.stats().recovered).toBe(1);
    await again.close();
    const third = await journalIn(dir);
    expect(third.stats().recovered).toBe(0);
    expect((await third.read()).filter((e) => e.id === s.id).map((e) => e.outcome)).toEqual(['unknown']);
  });

  it('recovery reads a start record that begins exactly where its window begins', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir });
    for (let i = 0; i < 5; i++) await j.append(ev(i));
    const s = start(1);
    await j.begin(s);
    await j.close();
    const text = await readFile(join(dir, 'audit', (await files(dir))[0]!));
    const at = text.indexOf(BEGIN_PREFIX);
    expect(text[at - 1]).toBe(0x0a);
    const again = await journalIn(dir, { recoveryScanBytes: text.length - at });
    expect(again.stats().recovered).toBe(1);
    expect((await again.read()).find((e) => e.id === s.id)?.outcome).toBe('unknown');
  });
});

describe('rotation and retention', () => {
  it('rotates by size, deletes the oldest beyond maxFiles, reads across files', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 2048, maxFiles: 3 });
    const all: AuditEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const e = ev(i);
      all.push(e);
      await j.append(e);
    }
    const names = await files(dir);
    expect(names).toHaveLength(3);
    expect(names.at(-1)).toMatch(/^audit-000000\d\d\.jsonl$/);
    for (const n of names) expect((await readFile(join(dir, 'audit', n))).length).toBeLessThanOrEqual(2048);
    const newest = await j.read({ limit: 1000 });
    // Newest first, contiguous, ending at the last event: what was deleted is the oldest.
    expect(newest[0]!.id).toBe(all.at(-1)!.id);
    const ids = all.map((e) => e.id);
    const from = ids.indexOf(newest.at(-1)!.id);
    expect(newest.map((e) => e.id)).toEqual(ids.slice(from).reverse());
    expect(j.first().file).toBe(Number(names[0]!.slice(6, 14)));
  });

  it('never deletes a file a retention hold still needs; prunes once the hold moves on', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 1024, maxFiles: 2 });
    let shipped: number | undefined = 1;
    j.addRetentionHold(() => shipped);
    for (let i = 0; i < 40; i++) await j.append(ev(i));
    const names = await files(dir);
    expect(names.length).toBeGreaterThan(4);
    expect(names[0]).toBe('audit-00000001.jsonl');
    expect(j.stats().held).toBe(names.length - 2);
    // Every event is still there for the shipper.
    expect((await readAll(j, j.first())).events).toHaveLength(40);

    shipped = j.end().file;
    await j.prune();
    expect(await files(dir)).toHaveLength(2);
    expect(j.stats().held).toBe(0);
  });
});

describe('retention across a restart', () => {
  it('with deferPrune, the open deletes nothing (its recovery and rotations neither) until prune() is called, after the holds are in place', async () => {
    const dir = await tempDir();
    const j = await createJournal({ dir, maxFileBytes: 1024, maxFiles: 2 });
    // Loki was down: its cursor held every file.
    const release = j.addRetentionHold(() => 1);
    for (let i = 0; i < 30; i++) await j.append(ev(i));
    await j.begin(ev(99, { outcome: undefined, decision: 'allowed' }));
    release();
    await j.close();
    const kept = await files(dir);
    expect(kept.length).toBeGreaterThan(3);
    // The hub restarts: the shipper's hold does not exist yet when the journal opens.
    const again = await journalIn(dir, { maxFileBytes: 1024, maxFiles: 2, deferPrune: true });
    expect(again.stats().recovered).toBe(1);
    for (let i = 0; i < 10; i++) await again.append(ev(100 + i));
    expect((await files(dir)).slice(0, kept.length)).toEqual(kept);
    let shipped: number | undefined = 1;
    again.addRetentionHold(() => shipped);
    await again.prune();
    expect((await files(dir))[0]).toBe(kept[0]);
    shipped = undefined;
    await again.prune();
    expect(await files(dir)).toHaveLength(2);
  });
});

describe('readFrom (the shipper cursor)', () => {
  it('pages through every event exactly once, across files, and resumes from a saved cursor', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 1500, maxFiles: 100 });
    const all: AuditEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const e = ev(i);
      all.push(e);
      await j.append(e);
    }
    const half = await j.readFrom(j.first(), 20);
    expect(half.events.map((e) => e.id)).toEqual(all.slice(0, 20).map((e) => e.id));
    expect(half.lines.map((l) => JSON.parse(l).id)).toEqual(all.slice(0, 20).map((e) => e.id));
    // "Restart": a new journal object, the saved cursor.
    await j.close();
    const j2 = await journalIn(dir, { maxFileBytes: 1500, maxFiles: 100 });
    const rest = await readAll(j2, half.next, 6);
    expect(rest.events.map((e) => e.id)).toEqual(all.slice(20).map((e) => e.id));
    expect(rest.next).toEqual(j2.end());
    // At the end: nothing, and the cursor stays.
    expect(await j2.readFrom(rest.next, 10)).toMatchObject({ events: [], next: rest.next });
    await j2.append(ev(50));
    expect((await j2.readFrom(rest.next, 10)).events.map((e) => e.args)).toEqual([{ i: 50 }]);
  });

  it('a cursor into a deleted file continues at the oldest file there', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 1024, maxFiles: 2 });
    for (let i = 0; i < 30; i++) await j.append(ev(i));
    const b = await j.readFrom({ file: 1, offset: 500 }, 1);
    expect(j.first().file).toBeGreaterThan(1);
    expect(b.events).toHaveLength(1);
    expect(b.next.file).toBe(j.first().file);
  });

  it('returns a line longer than one read, in the current file and in an old one', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir, { maxFileBytes: 100_000 });
    // Fields other than args/detail/error are not slimmed; a 150 KB tool name is absurd but possible.
    const big = { ...ev(0), tool: 't'.repeat(150_000) };
    await j.append(big);
    const b = await j.readFrom(j.first(), 1);
    expect(b.events.map((e) => e.id)).toEqual([big.id]);
    expect(b.next).toEqual(j.end());
    await j.append(ev(1)); // rotates: the big line's file is old now
    const all = await readAll(j, j.first(), 1);
    expect(all.events).toHaveLength(2);
  });

  it('does not return a line that is still being written', async () => {
    const dir = await tempDir();
    const j = await journalIn(dir);
    await j.append(ev(0));
    const end = j.end();
    // Another writer's partial line (not possible with one writer, but the bound is the point).
    await writeFile(join(dir, 'audit', 'audit-00000001.jsonl'), '{"v":1,"id":"partial', { flag: 'a' });
    const b = await j.readFrom(j.first(), 10);
    expect(b.events).toHaveLength(1);
    expect(b.next).toEqual(end);
  });
});

describe('bytesFrom', () => {
  it('counts the synced bytes from a cursor to the end, across rotated files', async () => {
    const j = await journalIn(await tempDir(), { maxFileBytes: 1024 });
    expect(j.bytesFrom(j.first())).toBe(0);
    for (let i = 0; i < 20; i++) await j.append(ev(i));
    expect(j.stats().files).toBeGreaterThan(1);
    expect(j.bytesFrom(j.first())).toBe(j.stats().bytes);
    expect(j.bytesFrom(j.end())).toBe(0);
    // Halfway: what readFrom still has to return.
    const half = await j.readFrom(j.first(), 10);
    const rest = await j.readFrom(half.next, 1000);
    expect(j.bytesFrom(half.next)).toBe(rest.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
  });
});
