/**
 * The Audit page and its live stream through the bundled hub, over plain HTTP (the browser test
 * drives Chromium): a journal of 100,000 events paged and filtered, a tool call made through MCP
 * arriving on the open stream, and an operator who sees only their own events on the page and
 * on the stream, whatever the URL asks for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newAuditId } from '@homelab-mcp/core/audit-event';
import { connectClient, startHubProcess, writeJournal } from '@homelab-mcp/testkit';

const ADMIN = 'ui-audit-admin-0123456789abcdef';
const OPERATOR = 'ui-audit-operator-0123456789abcdef';
const N = 100_000;

const form = (token: string) => ({ method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' as const });

/** `data-x="..."` of every audit row, decoded. */
function rows(markup: string): Array<Record<string, string>> {
  const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return [...markup.matchAll(/<tr class="audit-row[^"]*"([^>]*)>/g)].map((m) => Object.fromEntries([...m[1]!.matchAll(/ data-([a-z]+)="([^"]*)"/g)].map((a) => [a[1]!, decode(a[2]!)])));
}

const attr = (markup: string, re: RegExp) => re.exec(markup)?.[1]?.replace(/&amp;/g, '&');

/** Server-sent events of a fetch response, message by message (comments as `{ comment }`). */
function sse(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  return {
    async next(): Promise<{ event?: string; data?: string; comment?: string } | undefined> {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m: { event?: string; data?: string; comment?: string } = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) m.comment = line.slice(1).trim();
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) m.data = m.data === undefined ? line.slice(6) : `${m.data}\n${line.slice(6)}`;
          }
          return m;
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buf += dec.decode(value, { stream: true });
      }
    },
    async rows(): Promise<Array<Record<string, string>>> {
      for (;;) {
        const m = await this.next();
        if (!m) throw new Error('the stream ended');
        if (m.event === 'rows') return rows(m.data!);
        if (m.event) throw new Error(`unexpected event ${m.event}: ${m.data}`);
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe('Audit page over HTTP', () => {
  it('pages and filters 100,000 events, streams a new call live, and shows an operator only their own', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ui-audit-e2e-'));
    try {
      const t0 = Date.now() - N * 100 - 60_000;
      const events = Array.from({ length: N }, (_, i) => ({
        v: 1,
        id: newAuditId(t0 + i * 100),
        time: new Date(t0 + i * 100).toISOString(),
        kind: 'tool_call',
        user: i % 2 ? 'ann' : 'otto',
        session: `sess-${i % 30}`,
        tool: i % 10_000 === 7 ? 'pve_restart' : 'get_status',
        nodes: [`node${i % 10}`],
        args: { i },
        decision: 'allowed',
        outcome: 'succeeded',
        durationMs: 5,
      }));
      writeJournal(join(dir, 'data'), events);
      await using hub = await startHubProcess({
        cwd: dir,
        config: {
          auth: {
            tokens: [
              { user: 'ann', role: 'admin', token: ADMIN },
              { user: 'otto', role: 'operator', token: OPERATOR },
            ],
          },
          local: { enabled: false },
        },
      });
      const ui = `${hub.base}/ui`;
      const login = async (token: string) => (await fetch(`${ui}/login`, form(token))).headers.get('set-cookie')!.split(';')[0]!;
      const ann = await login(ADMIN);
      const otto = await login(OPERATOR);
      const get = async (cookie: string, path: string) => {
        const res = await fetch(`${ui}/${path}`, { headers: { cookie }, redirect: 'manual' });
        expect(res.status, path).toBe(200);
        return res.text();
      };

      // The newest 50 of 100,000, then the next 50 by the Older link.
      const first = await get(ann, 'audit');
      expect(first).toContain('<main id="page-audit"');
      expect(rows(first).map((r) => r.id)).toEqual(events.slice(-50).reverse().map((e) => e.id));
      const older = attr(first, /href="\/ui\/([^"]+)" id="audit-older"/)!;
      expect(rows(await get(ann, older)).map((r) => r.id)).toEqual(events.slice(-100, -50).reverse().map((e) => e.id));
      // A rare tool: 10 rows, from all over the journal.
      expect(rows(await get(ann, 'audit?tool=pve_restart')).map((r) => r.id)).toEqual(events.filter((e) => e.tool === 'pve_restart').reverse().map((e) => e.id));
      // A position that is not this journal's: said on the page, not a failure.
      expect(await get(ann, 'audit?before=9.0')).toContain('is not in this journal');

      // The stream: logged-in only, SSE, live after catching up.
      const streamPath = attr(first, /data-stream="\/ui\/([^"]+)"/)!;
      expect((await fetch(`${ui}/${streamPath}`)).status).toBe(401);
      const annStream = await fetch(`${ui}/${streamPath}`, { headers: { cookie: ann } });
      expect(annStream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const annLive = sse(annStream);
      expect(await annLive.next()).toEqual({ comment: 'live' });
      // Otto's page asks for ann's events in its URL: it gets his own.
      const ottoPage = await get(otto, 'audit?user=ann');
      expect(new Set(rows(ottoPage).map((r) => r.user))).toEqual(new Set(['otto']));
      expect(ottoPage).not.toContain('name="user"');
      // His page's stream, with a user=ann added by hand: still his own.
      const ottoStreamPath = `${attr(ottoPage, /data-stream="\/ui\/([^"]+)"/)!}&user=ann`;
      const ottoStream = sse(await fetch(`${ui}/${ottoStreamPath}`, { headers: { cookie: otto } }));
      expect(await ottoStream.next()).toEqual({ comment: 'live' });

      // A call by ann, then one by otto, through MCP.
      await using annClient = await connectClient(hub.url, ADMIN, 'modern');
      await annClient.callTool({ name: 'list_nodes', arguments: {} });
      await using ottoClient = await connectClient(hub.url, OPERATOR, 'modern');
      await ottoClient.callTool({ name: 'list_nodes', arguments: {} });

      const seen: Array<Record<string, string>> = [];
      while (!seen.some((r) => r.user === 'otto')) seen.push(...(await annLive.rows()).reverse());
      expect(seen.filter((r) => r.tool === 'list_nodes').map((r) => r.user)).toEqual(['ann', 'otto']);
      // Otto's stream: his call only, never ann's.
      const ottoRows = await ottoStream.rows();
      expect(ottoRows.map((r) => [r.user, r.tool])).toEqual([['otto', 'list_nodes']]);
      // The page agrees: the newest rows are the two calls.
      expect(rows(await get(ann, 'audit?tool=list_nodes')).map((r) => r.user)).toEqual(['otto', 'ann']);
      await annLive.cancel();
      await ottoStream.cancel();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
