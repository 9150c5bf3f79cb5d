/**
 * bench/hub/audit-page (run with `node bench/hub/audit-page.mjs`): the Audit page over a journal
 * of 100,000 events, in-process (the hub's journal, audit feed and page, as the hub runs them;
 * no HTTP, no login: the server's share of a page). Rows:
 *
 * - each page made N times after 3 warm-ups: p50/p99 of `auditPage.render`, with the bytes the
 *   journal read and the lines it parsed for it;
 * - live: an event appended (synced) until its row arrives on an open stream, N times.
 *
 * Targets: the unfiltered pages (newest, older, an operator's own) at most 50 ms at p99; every
 * filtered page at most 50 ms at p50.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAuditEvent, newAuditId, type AuditEvent } from '../../packages/core/src/audit-event.ts';
import { createJournal } from '../../packages/hub/src/audit/journal.ts';
import { createAuditFeed } from '../../packages/hub/src/ui/audit-feed.ts';
import type { UiData, UiViewer } from '../../packages/hub/src/ui/contract.ts';
import { auditPage, auditStream } from '../../packages/hub/src/ui/pages/audit.ts';
import { writeJournal } from '../../packages/testkit/src/journal.ts';

const EVENTS = 100_000;
const TARGET_MS = 50;
const admin: UiViewer = { user: 'root', role: 'admin', key: 'k1' };
const operator: UiViewer = { user: 'alice', role: 'operator', key: 'k2' };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

interface Row {
  id: string;
  label: string;
  filtered: boolean;
  n: number;
  p50: number;
  p99: number;
  rows?: number;
  readMiB?: number;
  parsed?: number;
}

export async function main({ argv }: { argv: string[] }): Promise<number> {
  const quick = argv.includes('--quick');
  const jsonAt = argv.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
  const reps = quick ? 10 : 50;
  const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-audit-journal-'));
  try {
    // Calls of a few users over ~3 hours, as a busy hub would record them: 40 MiB in 3 files.
    const t0 = Date.now() - EVENTS * 100 - 60_000;
    const users = ['alice', 'bob', 'carol', 'dave'];
    const events = Array.from({ length: EVENTS }, (_, i): AuditEvent => ({
      v: 1,
      id: newAuditId(t0 + i * 100),
      time: new Date(t0 + i * 100).toISOString(),
      kind: 'tool_call',
      user: users[i % 4]!,
      role: i % 4 === 0 ? 'operator' : 'admin',
      session: `sess-${i % 60}-7f3a9c1e5b2d4a6f`,
      client: { name: 'claude-code', version: '2.1.0' },
      tool: i % 10_000 === 4321 ? 'pve_restart' : ['get_status', 'run_command', 'list_guests', 'service_health'][i % 4]!,
      nodes: [`node${i % 20}`],
      args: { vmid: 100 + (i % 50), command: 'systemctl status nginx', comment: 'a typical call with a few arguments of ordinary size' },
      class: i % 4 === 1 ? 'write' : 'read',
      decision: i % 50 === 0 ? 'denied' : 'allowed',
      outcome: i % 50 === 0 ? 'denied' : i % 100 === 1 ? 'failed' : 'succeeded',
      durationMs: i % 900,
    }));
    const { files, bytes } = writeJournal(dir, events);
    progress(`journal: ${EVENTS} events, ${files} files, ${(bytes / 2 ** 20).toFixed(1)} MiB; ${reps} renders per row`);
    await using journal = await createJournal({ dir });
    const feed = createAuditFeed(journal);
    const data = { audit: feed.audit, follow: feed.follow } as unknown as UiData;
    const render = async (viewer: UiViewer, query: string) =>
      (await auditPage.render({ data, viewer, query: new URLSearchParams(query), signal: new AbortController().signal, now: Date.now() })).toString();

    const newest = await render(admin, '');
    const older = /href="\/ui\/audit\?([^"]+)" id="audit-older"/.exec(newest)![1]!.replace(/&amp;/g, '&');
    const mid = (k: number) => new Date(t0 + k * 100).toISOString().slice(0, 19);
    const cases: Array<{ id: string; label: string; viewer: UiViewer; query: string; filtered: boolean }> = [
      { id: 'newest', label: 'admin, the newest 50', viewer: admin, query: '', filtered: false },
      { id: 'older', label: 'admin, Older (the next 50)', viewer: admin, query: older, filtered: false },
      { id: 'operator', label: 'operator, their newest 50 (1 event in 4 is theirs)', viewer: operator, query: '', filtered: false },
      { id: 'rare-tool', label: 'tool=pve_restart (10 of 100,000: the whole journal read)', viewer: admin, query: 'tool=pve_restart', filtered: true },
      { id: 'node-outcome', label: 'node=node1&outcome=failed (1 in 100)', viewer: admin, query: 'node=node1&outcome=failed', filtered: true },
      { id: 'time-window', label: 'since/until: 10 s in the middle (half the journal is newer)', viewer: admin, query: `since=${mid(50_000)}&until=${mid(50_100)}`, filtered: true },
    ];
    const rows: Row[] = [];
    for (const c of cases) {
      for (let i = 0; i < 3; i++) await render(c.viewer, c.query);
      const samples: number[] = [];
      let markup = '';
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        markup = await render(c.viewer, c.query);
        samples.push(performance.now() - t);
      }
      const q = new URLSearchParams(c.query);
      const filter = Object.fromEntries([...q].filter(([k]) => k !== 'before'));
      if (filter.since) filter.since = `${filter.since}Z`;
      if (filter.until) filter.until = `${filter.until}Z`;
      const scan = (await journal.page({ ...filter, ...(c.viewer.role === 'admin' ? {} : { viewerUser: c.viewer.user }) }, { limit: 50, ...(q.get('before') ? { before: q.get('before')! } : {}) })).scan;
      const r: Row = { id: c.id, label: c.label, filtered: c.filtered, n: reps, p50: pct(samples, 50), p99: pct(samples, 99), rows: markup.split('class="audit-row').length - 1, readMiB: scan.bytes / 2 ** 20, parsed: scan.parsed };
      rows.push(r);
      progress(`${c.id}: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
    }

    // Live: from an append resolving (the event on disk) to its row on an open stream.
    const stream = auditStream(data, admin, new URLSearchParams(), new AbortController().signal).getReader();
    const dec = new TextDecoder();
    let buf = '';
    const nextRows = async () => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i !== -1) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith('event: rows')) return;
          continue;
        }
        const { value, done } = await stream.read();
        if (done) throw new Error('the stream ended');
        buf += dec.decode(value, { stream: true });
      }
    };
    const live: number[] = [];
    for (let i = 0; i < reps + 3; i++) {
      const seen = nextRows();
      await journal.append(createAuditEvent({ kind: 'tool_call', user: 'alice', tool: 'get_status', args: { i } }));
      const t = performance.now();
      await seen;
      if (i >= 3) live.push(performance.now() - t);
    }
    await stream.cancel();
    rows.push({ id: 'live', label: 'live: append synced → its row on an open stream', filtered: false, n: reps, p50: pct(live, 50), p99: pct(live, 99) });

    const f = (v: number | undefined, d = 1) => (v === undefined ? '' : v.toFixed(d));
    const lines = [
      `Audit page over ${EVENTS.toLocaleString('en')} events (${(bytes / 2 ** 20).toFixed(1)} MiB in ${files} files), in-process, warm page cache, ${reps} runs per row:`,
      '',
      '| row | what | p50 (ms) | p99 (ms) | rows | journal read (MiB) | lines parsed |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.id} | ${r.label} | ${f(r.p50)} | ${f(r.p99)} | ${r.rows ?? ''} | ${f(r.readMiB, 2)} | ${r.parsed ?? ''} |`),
      '',
    ];
    const plain = rows.filter((r) => r.id !== 'live' && !r.filtered);
    const filtered = rows.filter((r) => r.filtered);
    const targets = [
      { id: 'unfiltered-p99', pass: plain.every((r) => r.p99 <= TARGET_MS), text: `unfiltered pages at most ${TARGET_MS} ms at p99`, value: plain.map((r) => `${r.id} ${f(r.p99)}`).join(', ') },
      { id: 'filtered-p50', pass: filtered.every((r) => r.p50 <= TARGET_MS), text: `filtered pages at most ${TARGET_MS} ms at p50`, value: filtered.map((r) => `${r.id} ${f(r.p50)}`).join(', ') },
    ];
    for (const t of targets) lines.push(`${t.pass ? '✔' : '✘'} ${t.text}: ${t.value} ms`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ meta: { events: EVENTS, files, bytes, reps }, rows, targets }, null, 2));
    return 0;
  } catch (err) {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    return 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
