// The Audit page and its live stream, rendered in-process over a real journal (no browser):
// hostile strings in events stay text, the filter form and its semantics, what an operator may
// see, paging with `before=`, and the SSE stream (catch-up, filters, visibility, a client that
// does not read, abort, ping).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuditEvent, newAuditId, type AuditEvent, type AuditEventInput } from '@homelab-mcp/core/audit-event';
import { writeJournal } from '@homelab-mcp/testkit';
import { createJournal, type Journal } from '../../audit/journal.ts';
import { createAuditFeed, type AuditFeed } from '../audit-feed.ts';
import type { UiData, UiViewer } from '../contract.ts';
import { auditPage, auditStream, parseAuditQuery, renderAuditRow } from './audit.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const admin: UiViewer = { user: 'root', role: 'admin', key: 'k-root' };
const alice: UiViewer = { user: 'alice', role: 'operator', key: 'k-alice' };

async function setup(maxQueued?: number, fill?: (dataDir: string) => void): Promise<{ j: Journal; feed: AuditFeed; data: UiData }> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-page-'));
  fill?.(dir);
  const j = await createJournal({ dir });
  cleanup.push(async () => {
    await j.close();
    await rm(dir, { recursive: true, force: true });
  });
  const feed = createAuditFeed(j, maxQueued === undefined ? {} : { maxQueued });
  // The page and the stream use only these two.
  const data = { audit: feed.audit, follow: feed.follow } as unknown as UiData;
  return { j, feed, data };
}

async function render(data: UiData, viewer: UiViewer, query = ''): Promise<string> {
  const out = await auditPage.render({ data, viewer, query: new URLSearchParams(query), signal: new AbortController().signal, now: Date.now() });
  return out.toString();
}

const call = (o: Partial<AuditEventInput>): AuditEvent => createAuditEvent({ kind: 'tool_call', user: 'alice', session: 'sess-alice-1234567890', tool: 'get_status', decision: 'allowed', outcome: 'succeeded', durationMs: 12, ...o });

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z-]+(?:="[^"<>]*")?)*)\s*>/g;
const ATTR = /\s+([a-zA-Z-]+)(?:="([^"<>]*)")?/g;
const TAGS = new Set(['div', 'h1', 'form', 'label', 'input', 'select', 'option', 'button', 'a', 'p', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'time', 'details', 'summary', 'dl', 'dt', 'dd', 'pre', 'nav']);
const ATTRS = new Set(['class', 'id', 'method', 'action', 'name', 'value', 'autocomplete', 'type', 'step', 'selected', 'href', 'rel', 'title', 'datetime', 'data-stream', 'data-id', 'data-pos', 'data-user', 'data-tool', 'data-decision', 'data-outcome', 'data-kind']);

/**
 * The markup's tags, checked as a strict tokenizer would: every `<` and `>` belongs to a
 * well-formed tag with quoted attributes, and only tags and attributes the page itself writes
 * appear. Hostile data that broke out of text or an attribute would fail one of these.
 */
function tags(markup: string): Array<{ name: string; attrs: Record<string, string> }> {
  const out: Array<{ name: string; attrs: Record<string, string> }> = [];
  const rest = markup.replace(TAG, (_m, close: string, name: string, attrs: string) => {
    const a: Record<string, string> = {};
    for (const [, k, v] of attrs.matchAll(ATTR)) a[k!] = decode(v ?? '');
    if (!close) out.push({ name: name.toLowerCase(), attrs: a });
    return '';
  });
  expect(rest, 'a < or > outside any tag').not.toMatch(/[<>]/);
  for (const t of out) {
    expect(TAGS, `tag <${t.name}>`).toContain(t.name);
    for (const k of Object.keys(t.attrs)) expect(ATTRS, `attribute ${k} on <${t.name}>`).toContain(k);
  }
  return out;
}

const rowsOf = (markup: string) => tags(markup).filter((t) => t.name === 'tr' && t.attrs.class?.split(' ').includes('audit-row'));

const HOSTILE = {
  user: `a"b'c<x>&`,
  tool: '<script>alert(1)</script>',
  session: '"><img src=x onerror=alert(1)>',
  client: { name: "<svg onload='alert(1)'>", version: '1"2' },
  nodes: ['pve1', '</td><td>'],
  args: { cmd: '</pre><script>alert(2)</script>', password: 'hunter2', nested: { "k'ey": '"quoted"' } },
  error: 'failed: <b>bold</b>\r\nsecond line',
  detail: { url: 'https://x/?a=1&b=<2>' },
};

describe('renderAuditRow', () => {
  it('keeps hostile strings as text and in attributes as their exact values', () => {
    const e = call({ ...HOSTILE, outcome: 'failed' });
    const markup = renderAuditRow(e, '1.0').toString();
    const all = tags(markup);
    expect(all.map((t) => t.name)).not.toContain('script');
    const [row] = rowsOf(markup);
    expect(row!.attrs).toMatchObject({ 'data-id': e.id, 'data-pos': '1.0', 'data-user': HOSTILE.user, 'data-tool': HOSTILE.tool, 'data-decision': 'allowed', 'data-outcome': 'failed' });
    // The whole session in the title; the cell shows its start.
    expect(all.find((t) => t.attrs.title !== undefined)?.attrs.title).toBe(HOSTILE.session);
    expect(markup).toContain('>&quot;&gt;&lt;img s…</span>');
    // Arguments redacted (by the event), pretty-printed, escaped.
    expect(markup).not.toContain('hunter2');
    const args = /<pre class="args">([\s\S]*?)<\/pre>/.exec(markup)![1]!;
    expect(JSON.parse(decode(args))).toEqual({ cmd: '</pre><script>alert(2)</script>', password: '[REDACTED]', nested: { "k'ey": '"quoted"' } });
    expect(decode(/<pre class="error">([\s\S]*?)<\/pre>/.exec(markup)![1]!)).toBe(HOSTILE.error);
    expect(decode(/<pre class="detail">([\s\S]*?)<\/pre>/.exec(markup)![1]!)).toContain('https://x/?a=1&b=<2>');
    expect(markup).toContain('<td class="duration">12 ms</td>');
    expect(markup).toContain('<td class="nodes hide-narrow">pve1, &lt;/td&gt;&lt;td&gt;</td>');
  });

  it('shows where the call came from (the audit event\'s source), escaped', () => {
    expect(renderAuditRow(call({ source: '203.0.113.5' }), '1.0').toString()).toContain('<dt>From</dt><dd class="mono source">203.0.113.5</dd>');
    expect(renderAuditRow(call({ source: '<b>x</b>' }), '1.0').toString()).toContain('<dd class="mono source">&lt;b&gt;x&lt;/b&gt;</dd>');
    expect(renderAuditRow(call({}), '1.0').toString()).not.toContain('<dt>From</dt>');
  });

  it('sums up an outbound request in the tool cell', () => {
    const e = createAuditEvent({ kind: 'http_request', user: 'hub', detail: { method: 'GET', url: 'https://api.example/<x>?a=1&b=2', status: 200 }, durationMs: 30 });
    expect(renderAuditRow(e, '1.0').toString()).toContain('<td class="tool"><span class="muted">http_request GET https://api.example/&lt;x&gt;?a=1&amp;b=2</span></td>');
  });

  it('renders what a hand-edited or newer line may hold without throwing', () => {
    const odd = { v: 1, id: 'x', time: 'not a time', kind: 'weird<kind>', user: 'u', decision: 'maybe"', outcome: 7, nodes: 'pve1', client: 'c' } as unknown as AuditEvent;
    const markup = renderAuditRow(odd, '1.5').toString();
    tags(markup);
    expect(rowsOf(markup)[0]!.attrs.class).toBe('audit-row audit-other');
    expect(markup).toContain('<span class="badge ">maybe&quot;</span>');
  });
});

describe('parseAuditQuery', () => {
  it('reads every filter, datetime-local as UTC', () => {
    const q = parseAuditQuery(new URLSearchParams('user=bob&session=s1&tool=run_command&node=pve1&kind=tool_call&decision=denied&outcome=failed&since=2026-12-07T10:00&until=2026-12-07T11:30:15&before=1.0&limit=20'), admin);
    expect(q).toEqual({
      filter: { user: 'bob', session: 's1', tool: 'run_command', node: 'pve1', kind: 'tool_call', decision: 'denied', outcome: 'failed', since: '2026-12-07T10:00:00.000Z', until: '2026-12-07T11:30:15.000Z' },
      before: '1.0',
      limit: 20,
      errors: [],
    });
    expect(parseAuditQuery(new URLSearchParams('since=2026-12-07T10:00:00%2B01:00&tool=%20'), admin).filter).toEqual({ since: '2026-12-07T09:00:00.000Z' });
  });

  it('forces an operator to their own events, whatever the URL says', () => {
    expect(parseAuditQuery(new URLSearchParams('user=bob'), alice).filter).toEqual({ user: 'alice' });
    expect(parseAuditQuery(new URLSearchParams(''), alice).filter).toEqual({ user: 'alice' });
  });

  it('names each field it did not understand and does not apply it', () => {
    const q = parseAuditQuery(new URLSearchParams(`kind=bogus&decision=yes&outcome=ok&since=yesterday&until=2026-13-45T99:99&limit=100000&session=${'x'.repeat(300)}&tool=ok_tool`), admin);
    expect(q.filter).toEqual({ tool: 'ok_tool' });
    expect(q.errors).toEqual([
      'session: longer than 256 characters',
      'kind: expected one of tool_call, approval, http_request, oauth',
      'decision: expected one of allowed, pending, denied',
      'outcome: expected one of succeeded, partial, failed, cancelled, pending, denied, unknown',
      'since: expected a date and time such as 2026-12-07T16:30 (UTC)',
      'until: expected a date and time such as 2026-12-07T16:30 (UTC)',
      'limit: expected a whole number from 1 to 500',
    ]);
  });
});

describe('auditPage', () => {
  it('passes its signal to the journal: a scan past the page deadline stops, and the page says how to narrow it', async () => {
    const { j, data } = await setup();
    await j.append(call({}));
    const late = new AbortController();
    late.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    const out = (await auditPage.render({ data, viewer: admin, query: new URLSearchParams('tool=no_such_tool'), signal: late.signal, now: Date.now() })).toString();
    expect(out).toContain('The search was stopped: it read the journal for too long. Narrow it with a time range (since, until) or a tool, and filter again.');
    expect(out).not.toContain('data-stream');
    expect(out).not.toContain('class="audit-row');
  });

  it('shows the newest first with a form, pages with Older keeping the filters, and marks the first page live', async () => {
    const { j, data } = await setup();
    const t0 = Date.parse('2026-12-07T10:00:00Z');
    const all: AuditEvent[] = [];
    for (let i = 0; i < 130; i++) {
      const e = call({ time: new Date(t0 + i * 1000), user: i % 2 ? 'alice' : 'bob', tool: i % 3 ? 'get_status' : 'run_command', nodes: [`n${i % 4}`], args: { i } });
      all.push(e);
      await j.append(e);
    }
    const markup = await render(data, admin);
    expect(markup.startsWith('<h1>Audit</h1>')).toBe(true);
    const rows = rowsOf(markup);
    expect(rows.map((r) => r.attrs['data-id'])).toEqual(all.slice(-50).reverse().map((e) => e.id));
    const t = tags(markup);
    expect(t.filter((x) => x.name === 'input' || x.name === 'select').map((x) => `${x.attrs.name}:${x.attrs.type ?? x.name}`)).toEqual([
      'user:input',
      'session:input',
      'tool:input',
      'node:input',
      'decision:select',
      'outcome:select',
      'kind:select',
      'since:datetime-local',
      'until:datetime-local',
    ]);
    const tbody = t.find((x) => x.attrs.id === 'audit-rows')!;
    expect(tbody.attrs['data-stream']).toBe(`/ui/audit/stream?after=${encodeURIComponent(rows[0]!.attrs['data-pos']!)}`);
    expect(t.find((x) => x.attrs.id === 'audit-table')?.name).toBe('table');

    // Filtered: run_command on n0, by bob, since 10:00:30: the same as filtering the events.
    const query = 'user=bob&tool=run_command&node=n0&since=2026-12-07T10:00:30&limit=7';
    const want = all.filter((e) => e.user === 'bob' && e.tool === 'run_command' && e.nodes!.includes('n0') && Date.parse(e.time) >= t0 + 30_000).reverse();
    expect(want.length).toBeGreaterThan(7);
    const seen: string[] = [];
    let next: string | undefined = query;
    let pages = 0;
    while (next !== undefined) {
      const m = await render(data, admin, next);
      const r = rowsOf(m);
      seen.push(...r.map((x) => x.attrs['data-id']!));
      const tt = tags(m);
      const older = tt.find((x) => x.attrs.id === 'audit-older')?.attrs.href;
      const body = tt.find((x) => x.attrs.id === 'audit-rows')!;
      if (pages === 0) {
        expect(body.attrs['data-stream']).toBe(`/ui/audit/stream?user=bob&tool=run_command&node=n0&since=2026-12-07T10%3A00%3A30.000Z&after=${encodeURIComponent(r[0]!.attrs['data-pos']!)}`);
        // The form shows the filter back.
        expect(tt.find((x) => x.attrs.name === 'since')?.attrs.value).toBe('2026-12-07T10:00:30');
        expect(tt.find((x) => x.name === 'option' && x.attrs.selected !== undefined)).toBeUndefined();
      } else {
        // An older page is not live, and links back to the newest.
        expect(body.attrs['data-stream']).toBeUndefined();
        expect(tt.find((x) => x.attrs.id === 'audit-newest')?.attrs.href).toBe('/ui/audit?user=bob&tool=run_command&node=n0&since=2026-12-07T10%3A00%3A30.000Z');
      }
      if (older) {
        const u = new URL(older, 'http://hub');
        expect(u.pathname).toBe('/ui/audit');
        expect(Object.fromEntries(u.searchParams)).toMatchObject({ user: 'bob', tool: 'run_command', node: 'n0', limit: '7', before: r.at(-1)!.attrs['data-pos'] });
        next = u.searchParams.toString();
      } else next = undefined;
      pages++;
    }
    expect(seen).toEqual(want.map((e) => e.id));
    expect(pages).toBe(Math.ceil(want.length / 7));

    // A select keeps its choice.
    const sel = tags(await render(data, admin, 'outcome=failed&kind=approval'));
    expect(sel.filter((x) => x.name === 'option' && x.attrs.selected !== undefined).map((x) => x.attrs.value)).toEqual(['failed', 'approval']);
  });

  it('an operator gets no user field and only their own events, even asking for another user', async () => {
    const { j, data } = await setup();
    for (let i = 0; i < 10; i++) await j.append(call({ user: i % 2 ? 'alice' : 'bob', args: { i } }));
    for (const q of ['', 'user=bob']) {
      const markup = await render(data, alice, q);
      const rows = rowsOf(markup);
      expect(rows.map((r) => r.attrs['data-user'])).toEqual(Array(5).fill('alice'));
      const t = tags(markup);
      expect(t.find((x) => x.attrs.name === 'user')).toBeUndefined();
      expect(t.find((x) => x.attrs.id === 'audit-rows')!.attrs['data-stream']).toMatch(/^\/ui\/audit\/stream\?after=[\d.]+$/);
      expect(markup).toContain('Your own events (alice) only.');
    }
  });

  it('says what is wrong with a filter or a stale `before`, without failing the page', async () => {
    const { j, data } = await setup();
    await j.append(call({}));
    const bad = await render(data, admin, 'before=<script>1.0&decision=<b>');
    tags(bad);
    expect(bad).toContain('<p class="error audit-error">decision: expected one of allowed, pending, denied</p>');
    expect(bad).toContain('<p class="error audit-error">audit position &quot;&lt;script&gt;1.0&quot; is not one: expected &lt;file&gt;.&lt;offset&gt;, as a page&#39;s &quot;older&quot; gives</p>');
    expect(rowsOf(bad)).toEqual([]);
    expect(bad).not.toContain('data-stream');
    // Without a journal reachable past its end.
    const foreign = await render(data, admin, 'before=99.0');
    expect(foreign).toContain('is not in this journal');
  });

  it('says so when there is nothing', async () => {
    const { data } = await setup();
    expect(await render(data, admin)).toContain('<p class="empty" id="audit-empty">No audit events yet.</p>');
    expect(await render(data, admin, 'tool=x')).toContain('No events match these filters yet.');
  });
});

describe('auditPage over 100,000 events', () => {
  it('renders the newest page, a filtered page and an older page', async () => {
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const events = Array.from({ length: 100_000 }, (_, i): AuditEvent => ({
      v: 1,
      id: newAuditId(t0 + i * 100),
      time: new Date(t0 + i * 100).toISOString(),
      kind: 'tool_call',
      user: i % 2 ? 'alice' : 'bob',
      session: `sess-${i % 40}-0123456789abcdef`,
      client: { name: 'claude-code', version: '2.1.0' },
      tool: i % 5000 === 17 ? 'pve_restart' : 'get_status',
      nodes: [`node${i % 20}`],
      args: { vmid: i, comment: 'a typical call with a few arguments of ordinary size' },
      class: 'read',
      decision: 'allowed',
      outcome: 'succeeded',
      durationMs: i % 900,
    }));
    const { data } = await setup(undefined, (dir) => writeJournal(dir, events));
    const timings: Array<{ page: string; ms: number; rows: number }> = [];
    const timed = async (name: string, viewer: UiViewer, query: string) => {
      const t = performance.now();
      const m = await render(data, viewer, query);
      timings.push({ page: name, ms: Math.round((performance.now() - t) * 10) / 10, rows: rowsOf(m).length });
      return m;
    };
    const newest = await timed('admin, newest 50', admin, '');
    expect(rowsOf(newest).map((r) => r.attrs['data-id'])).toEqual(events.slice(-50).reverse().map((e) => e.id));
    const older = tags(newest).find((x) => x.attrs.id === 'audit-older')!.attrs.href!;
    const second = await timed('admin, Older', admin, new URL(older, 'http://hub').searchParams.toString());
    expect(rowsOf(second).map((r) => r.attrs['data-id'])).toEqual(events.slice(-100, -50).reverse().map((e) => e.id));
    const rare = await timed('admin, tool=pve_restart (20 of 100,000)', admin, 'tool=pve_restart');
    expect(rowsOf(rare).map((r) => r.attrs['data-id'])).toEqual(events.filter((e) => e.tool === 'pve_restart').reverse().map((e) => e.id));
    const own = await timed('operator alice, newest 50', alice, '');
    expect(rowsOf(own).map((r) => r.attrs['data-user'])).toEqual(Array(50).fill('alice'));
    console.log('Audit page render over 100,000 events (this machine, warm page cache):');
    console.table(timings);
  }, 60_000);
});

interface Sse {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** Reads server-sent events from a stream, as EventSource would split them. */
function sseReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = '';
  return {
    /** The next message or comment; undefined when the stream ended. */
    async next(): Promise<Sse | undefined> {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m: Sse = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) m.comment = line.slice(1).trim();
            else {
              const [k, v] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)];
              if (k === 'data') m.data = m.data === undefined ? v : `${m.data}\n${v}`;
              else if (k === 'event' || k === 'id') m[k] = v;
            }
          }
          return m;
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buf += dec.decode(value, { stream: true });
      }
    },
    /** The next message that is not a comment. */
    async message(): Promise<Sse | undefined> {
      for (;;) {
        const m = await this.next();
        if (m === undefined || m.event !== undefined) return m;
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe('auditStream', () => {
  it('sends what came since the page, then each new matching event, as rows newest first', async () => {
    const { j, feed, data } = await setup();
    await j.append(call({ tool: 'run_command', args: { i: 0 } }));
    const page = await render(data, admin, 'tool=run_command');
    const url = tags(page).find((x) => x.attrs.id === 'audit-rows')!.attrs['data-stream']!;
    // Committed after the page was made, before its browser opened the stream.
    await j.append(call({ tool: 'run_command', args: { i: 1 } }));
    await j.append(call({ tool: 'get_status', args: { i: 2 } }));

    const ac = new AbortController();
    const sse = sseReader(auditStream(data, admin, new URL(url, 'http://hub').searchParams, ac.signal));
    const first = await sse.message();
    expect(first?.event).toBe('rows');
    expect(rowsOf(first!.data!).map((r) => r.attrs['data-tool'])).toEqual(['run_command']);
    expect(first!.data).toContain('&quot;i&quot;: 1');
    expect(first!.id).toBe(rowsOf(first!.data!)[0]!.attrs['data-pos']);
    expect(await sse.next()).toEqual({ comment: 'live' });

    // Hostile strings travel as text; a multi-line row is split into data lines and joined back.
    await j.append(call({ tool: 'get_status', args: { i: 3 } }));
    await Promise.all([j.append(call({ tool: 'run_command', user: HOSTILE.user, error: HOSTILE.error, args: { i: 4 } })), j.append(call({ tool: 'run_command', args: { i: 5 } }))]);
    const rows: string[] = [];
    while (rows.length < 2) {
      const m = await sse.message();
      expect(m?.event).toBe('rows');
      tags(m!.data!);
      rows.push(...[...m!.data!.matchAll(/&quot;i&quot;: (\d)/g)].map((x) => x[1]!).reverse());
    }
    expect(rows).toEqual(['4', '5']);

    ac.abort();
    expect(await sse.next()).toBeUndefined();
    expect(feed.listeners()).toBe(0);
  });

  it('an empty page catches up from the start of the journal; a stream without `after` starts now', async () => {
    const { j, data } = await setup();
    await j.append(call({ tool: 'other', args: { i: 0 } }));
    const page = await render(data, admin, 'tool=run_command');
    expect(page).toContain('No events match these filters yet.');
    const url = tags(page).find((x) => x.attrs.id === 'audit-rows')!.attrs['data-stream']!;
    expect(url).toBe('/ui/audit/stream?tool=run_command&after=0.0');
    await j.append(call({ tool: 'run_command', args: { i: 1 } }));
    const sse = sseReader(auditStream(data, admin, new URL(url, 'http://hub').searchParams, new AbortController().signal));
    const m = await sse.message();
    expect(rowsOf(m!.data!).map((r) => r.attrs['data-tool'])).toEqual(['run_command']);
    await sse.cancel();

    const now = sseReader(auditStream(data, admin, new URLSearchParams('tool=run_command'), new AbortController().signal));
    expect(await now.next()).toEqual({ comment: 'live' });
    await j.append(call({ tool: 'run_command', args: { i: 2 } }));
    expect((await now.message())!.data).toContain('&quot;i&quot;: 2');
    await now.cancel();
  });

  it('sends an operator only their own events, whatever the URL asks', async () => {
    const { j, data } = await setup();
    const sse = sseReader(auditStream(data, alice, new URLSearchParams('user=bob'), new AbortController().signal));
    expect(await sse.next()).toEqual({ comment: 'live' });
    await j.append(call({ user: 'bob', args: { i: 1 } }));
    await j.append(call({ user: 'alice', args: { i: 2 } }));
    const m = await sse.message();
    expect(rowsOf(m!.data!).map((r) => r.attrs['data-user'])).toEqual(['alice']);
    expect(m!.data).toContain('&quot;i&quot;: 2');
    await sse.cancel();
  });

  it('tells a client that does not read to reload, and holds nothing more for it', async () => {
    const { j, feed, data } = await setup(5);
    const sse = sseReader(auditStream(data, admin, new URLSearchParams(), new AbortController().signal, { highWaterMark: 2 }));
    expect(await sse.next()).toEqual({ comment: 'live' });
    // From here on the client reads nothing. New events until the feed gives up on it (how
    // many depends on how the feed batches them: the first batches fill the stream's queue).
    for (let i = 0; feed.listeners() > 0; i++) {
      expect(i, 'the feed never dropped the stream').toBeLessThan(1000);
      await j.append(call({ args: { i } }));
      await new Promise((r) => setTimeout(r, 1));
    }
    const got: Sse[] = [];
    for (let m = await sse.message(); m; m = await sse.message()) got.push(m);
    expect(got.at(-1)).toEqual({ event: 'reload', data: 'the page fell behind' });
    // The few rows it had taken before it stopped reading, then nothing.
    expect(got.length).toBeLessThanOrEqual(4);
  });

  it('tells the page to reload when more came since it than the stream catches up with', async () => {
    const { j, data } = await setup();
    await j.append(call({ args: { i: -1 } }));
    const url = tags(await render(data, admin)).find((x) => x.attrs.id === 'audit-rows')!.attrs['data-stream']!;
    await Promise.all(Array.from({ length: 250 }, (_, i) => j.append(call({ args: { i } }))));
    const sse = sseReader(auditStream(data, admin, new URL(url, 'http://hub').searchParams, new AbortController().signal));
    expect(await sse.message()).toEqual({ event: 'reload', data: 'too many new events' });
    expect(await sse.next()).toBeUndefined();
  });

  it('tells a page from before the journal was reset to reload', async () => {
    const { j, data } = await setup();
    await j.append(call({}));
    // A page of another (older, longer) journal: its newest row is beyond this journal's end.
    const sse = sseReader(auditStream(data, admin, new URLSearchParams('after=1.999999'), new AbortController().signal));
    expect(await sse.message()).toEqual({ event: 'reload', data: 'the audit journal was reset' });
    expect(await sse.next()).toBeUndefined();
    const bad = sseReader(auditStream(data, admin, new URLSearchParams('after=x'), new AbortController().signal));
    expect(await bad.message()).toEqual({ event: 'reload', data: 'after: expected a position of the audit journal, as the page gives' });
  });

  it('ends at once with a reload for a filter it cannot apply', async () => {
    const { feed, data } = await setup();
    const sse = sseReader(auditStream(data, admin, new URLSearchParams('outcome=maybe'), new AbortController().signal));
    expect(await sse.message()).toEqual({ event: 'reload', data: 'outcome: expected one of succeeded, partial, failed, cancelled, pending, denied, unknown' });
    expect(await sse.next()).toBeUndefined();
    expect(feed.listeners()).toBe(0);
  });

  it('pings while idle', async () => {
    const { data } = await setup();
    const sse = sseReader(auditStream(data, admin, new URLSearchParams(), new AbortController().signal, { pingMs: 10 }));
    expect(await sse.next()).toEqual({ comment: 'live' });
    expect(await sse.next()).toEqual({ comment: 'ping' });
    await sse.cancel();
  });
});

describe('the result summary of a tool call', () => {
  it('says items and size, never content, and does not repeat itself as detail', async () => {
    const { splitResult, renderAuditRow } = await import('./audit.ts');
    expect(splitResult({ result: { items: 1, bytes: 2048 } })).toEqual({ summary: '1 item, 2 KiB' });
    expect(splitResult({ result: { items: 3, bytes: 10, structured: true, isError: true }, commit: 'abc' })).toEqual({ summary: '3 items, 10 bytes, structured content, an error result', rest: { commit: 'abc' } });
    expect(splitResult({ commit: 'abc' })).toEqual({ rest: { commit: 'abc' } });
    expect(splitResult(undefined)).toEqual({});
    const row = renderAuditRow({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAAAAA', time: '2026-12-07T10:00:00.000Z', kind: 'tool_call', user: 'ann', tool: 'get_status', decision: 'allowed', outcome: 'succeeded', durationMs: 3, detail: { result: { items: 2, bytes: 3 * 1024 * 1024 } } }, '1.0').toString();
    expect(row).toContain('<dt>Result</dt><dd class="result">2 items, 3.0 MiB</dd>');
    expect(row).not.toContain('<dt>Detail</dt>');
  });
});
