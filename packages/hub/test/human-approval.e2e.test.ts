/**
 * Human-mode writes through the bundled hub when asking the person cannot work: a client that
 * declares elicitation but answers "Method not found", a client without the standalone GET
 * stream, a client that cannot ask at all. Each gets a tool error that says why and which
 * setting to change, the journal and /metrics record it, and nothing runs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startHubProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const HUMAN = 'human-approval-token-0123456789ab';
const ADMIN = 'human-approval-admin-0123456789ab';
const dir = mkdtempSync(join(tmpdir(), 'human-approval-'));
let marker = 0;
const touch = () => {
  const file = join(dir, `ran-${++marker}`);
  return { file, args: { node: 'local', cmd: `touch ${file}` } };
};
let hub: HubProcess;

beforeAll(async () => {
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'hugo', role: 'admin', token: HUMAN },
          { user: 'ada', role: 'admin', token: ADMIN },
        ],
      },
      approval: { mode: 'session', users: { hugo: 'human' } },
    },
  });
});
afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The journaled tool_call events of run_command whose command touched `file`. */
const journaled = (file: string) => readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && e.tool === 'run_command' && JSON.stringify(e.args ?? {}).includes(file));

async function metric(tool: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const m = text.match(new RegExp(`homelab_hub_tool_calls_total\\{tool="${tool}",outcome="${outcome}"\\} (\\d+)`));
  return m ? Number(m[1]) : 0;
}

describe('human mode, 2025 session', () => {
  it('asks on the stream of the tool call: a client without a GET stream is asked, and a yes runs the write', async () => {
    const asked: string[] = [];
    await using client = await connectClient(hub.url, HUMAN, 'legacy', {
      getStream: false,
      onElicit: (message) => (asked.push(message), { action: 'accept', content: { approve: true } }),
    });
    const t = touch();
    const r = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(r.isError, resultText(r)).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(`touch ${t.file}`);
    expect(existsSync(t.file)).toBe(true);
  });

  it('a client that declares elicitation but answers "Method not found" gets a tool error that says what to configure, journaled and counted', async () => {
    const deniedBefore = await metric('run_command', 'denied');
    await using client = await connectClient(hub.url, HUMAN, 'legacy', { declareElicitation: true });
    const t = touch();
    // A tool result, not a protocol error (callTool would throw on one).
    const r = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(r.isError).toBe(true);
    const text = resultText(r);
    expect(text).toContain('Method not found');
    expect(text).toContain('approval.users: { hugo: confirm }');
    expect(r.structuredContent).toMatchObject({ status: 'denied', preview: { tool: 'run_command', where: ['local'] } });
    expect(existsSync(t.file)).toBe(false);

    const events = journaled(t.file);
    expect(events.map((e) => `${e.decision}/${e.outcome}`)).toEqual(['denied/denied']);
    expect(events[0]!.error).toMatch(/Method not found/);
    expect(await metric('run_command', 'denied')).toBe(deniedBefore + 1);
    const log = (await client.callTool({ name: 'get_audit_log', arguments: { tool: 'run_command', limit: 1 } })) as any;
    expect(log.structuredContent.events[0]).toMatchObject({ user: 'hugo', decision: 'denied', outcome: 'denied' });
    expect(log.structuredContent.events[0].error).toMatch(/Method not found/);
  });
});

/**
 * A 2025-06-18 session spoken by hand, which never opens the GET stream. Returns a tools/call whose SSE stream the test reads message by
 * message, and a way to answer the server's requests.
 */
async function rawSession() {
  const headers = { authorization: `Bearer ${HUMAN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(hub.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { elicitation: {} }, clientInfo: { name: 'raw', version: '1' } } }),
  });
  const sid = init.headers.get('mcp-session-id')!;
  await init.text();
  const session = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  await (await fetch(hub.url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  return {
    /** Sends tools/call; yields each JSON-RPC message of its SSE stream. */
    async *call(args: Record<string, unknown>): AsyncGenerator<any> {
      const res = await fetch(hub.url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'run_command', arguments: args } }) });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const data = buf.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
          buf = buf.slice(end + 2);
          if (data) yield JSON.parse(data);
        }
      }
    },
    async answer(message: Record<string, unknown>) {
      const res = await fetch(hub.url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', ...message }) });
      expect(res.status).toBe(202);
    },
    close: () => fetch(hub.url, { method: 'DELETE', headers: session }),
  };
}

describe('human mode, a raw 2025-06-18 client without a GET stream', () => {
  it('gets the question on the stream of its tools/call, and a yes runs the write', async () => {
    const raw = await rawSession();
    const t = touch();
    const seen: any[] = [];
    for await (const msg of raw.call(t.args)) {
      seen.push(msg);
      if (msg.method === 'elicitation/create') await raw.answer({ id: msg.id, result: { action: 'accept', content: { approve: true } } });
      if (msg.id === 2) break;
    }
    await raw.close();
    expect(seen.map((m) => m.method ?? `result ${m.id}`)).toEqual(['elicitation/create', 'result 2']);
    expect(seen[0].params.message).toContain(`touch ${t.file}`);
    expect(seen[1].result.isError, JSON.stringify(seen[1])).toBeFalsy();
    expect(existsSync(t.file)).toBe(true);
  });

  it('answering the question with "Method not found" gets a tool error on the same stream', async () => {
    const raw = await rawSession();
    const t = touch();
    const seen: any[] = [];
    for await (const msg of raw.call(t.args)) {
      seen.push(msg);
      if (msg.method === 'elicitation/create') await raw.answer({ id: msg.id, error: { code: -32601, message: 'Method not found' } });
      if (msg.id === 2) break;
    }
    await raw.close();
    const result = seen.at(-1);
    expect(result.error, JSON.stringify(result)).toBeUndefined();
    expect(result.result.isError).toBe(true);
    expect(result.result.content[0].text).toContain('approval.users: { hugo: confirm }');
    expect(existsSync(t.file)).toBe(false);
  });
});

describe.each<Era>(['legacy', 'modern'])('human mode, %s era, a client that cannot ask its user', (era) => {
  it('gets a tool error that names the setting to change, journaled', async () => {
    await using client = await connectClient(hub.url, HUMAN, era);
    const t = touch();
    const r = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('cannot ask its user');
    expect(resultText(r)).toContain('approval.users: { hugo: confirm }');
    expect(existsSync(t.file)).toBe(false);
    expect(journaled(t.file).map((e) => `${e.decision}/${e.outcome}`)).toEqual(['denied/denied']);
  });
});

describe('human mode, 2026-07-28 request', () => {
  it('still asks through an input_required result: a yes runs the write once', async () => {
    const asked: string[] = [];
    await using client = await connectClient(hub.url, HUMAN, 'modern', { onElicit: (message) => (asked.push(message), { action: 'accept', content: { approve: true } }) });
    const t = touch();
    const r = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(r.isError, resultText(r)).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(existsSync(t.file)).toBe(true);
    expect(journaled(t.file).map((e) => `${e.decision}/${e.outcome}`)).toEqual(['pending/pending', 'allowed/succeeded']);
  });
});
