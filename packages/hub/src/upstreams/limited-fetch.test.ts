import { describe, expect, it, vi } from 'vitest';
import { jsonLinesToSse, limitedFetch, RESULT_TOO_LARGE_CODE } from './limited-fetch.ts';

const answer = (body: string, type: string, status = 200) => (async () => new Response(body, { status, headers: { 'content-type': type } })) as unknown as typeof fetch;
const request = { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'x' } }) };

describe('limitedFetch', () => {
  it('passes answers within the cap unchanged', async () => {
    const f = limitedFetch(answer('{"jsonrpc":"2.0","id":7,"result":{}}', 'application/json'), { name: 'ha', maxResultBytes: 100 });
    expect(await (await f('http://x/mcp', request)).json()).toEqual({ jsonrpc: '2.0', id: 7, result: {} });
  });

  it('replaces a JSON answer over the cap by an error for the request, naming the upstream and the limit', async () => {
    const f = limitedFetch(answer(JSON.stringify({ jsonrpc: '2.0', id: 7, result: { text: 'x'.repeat(500) } }), 'application/json'), { name: 'ha', maxResultBytes: 100 });
    const body = await (await f('http://x/mcp', request)).json();
    expect(body).toEqual({ jsonrpc: '2.0', id: 7, error: { code: RESULT_TOO_LARGE_CODE, message: 'upstream ha answered with more than limits.maxResultBytes (100 bytes): the answer was dropped' } });
  });

  it('ends an SSE event over the cap with an error event for the request; smaller events pass', async () => {
    const sse = `event: message\ndata: {"a":1}\n\nevent: message\ndata: ${'y'.repeat(500)}\n\n`;
    const f = limitedFetch(answer(sse, 'text/event-stream'), { name: 'ha', maxResultBytes: 100 });
    const text = await (await f('http://x/mcp', request)).text();
    expect(text.startsWith('event: message\ndata: {"a":1}\n\n')).toBe(true);
    expect(text).toContain(`data: {"jsonrpc":"2.0","id":7,"error":{"code":${RESULT_TOO_LARGE_CODE}`);
    expect(text).not.toContain('y'.repeat(101));
  });

  it('errors a stream no request waits on (a GET stream) at an oversized event', async () => {
    const f = limitedFetch(answer(`data: ${'z'.repeat(500)}\n\n`, 'text/event-stream'), { name: 'ha', maxResultBytes: 100 });
    await expect((await f('http://x/mcp', { method: 'GET' })).text()).rejects.toThrow('limits.maxResultBytes');
  });

  it('turns a subscriptions/listen answer in JSON lines into SSE events, one per JSON value, pretty-printed ones too', async () => {
    const lines = '{"jsonrpc":"2.0","method":"a"}\n\n{\n  "jsonrpc": "2.0",\n  "method": "b"\n}\n{"jsonrpc":"2.0","method":"c"}';
    const listen = { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: {} }) };
    for (const type of ['application/x-ndjson', 'application/jsonl', 'application/json']) {
      const res = await limitedFetch(answer(lines, type), { name: 'ha', maxResultBytes: 1000 })('http://x/mcp', listen);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(await res.text()).toBe(['a', 'b', 'c'].map((m) => `event: message\ndata: {"jsonrpc":"2.0","method":"${m}"}\n\n`).join(''));
    }
    // A plain JSON answer to any other request stays what it is.
    const other = await limitedFetch(answer('{"jsonrpc":"2.0","id":7,"result":{}}', 'application/json'), { name: 'ha', maxResultBytes: 1000 })('http://x/mcp', request);
    expect(other.headers.get('content-type')).toBe('application/json');
  });

  it('errors a JSON-lines stream whose value grows past the cap', async () => {
    const body = new Response(`{"a":"${'x'.repeat(500)}`).body!.pipeThrough(jsonLinesToSse(100, 'too large'));
    await expect(new Response(body).text()).rejects.toThrow('too large');
  });

  it('reads a value spread over many lines in one pass (a hostile upstream cannot make each line re-parse all before it)', async () => {
    // 10,000 lines of one unfinished array, then its end: every line parsed again with all
    // before it took the hub's event loop for seconds per 100 KB (quadratic).
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const text = `{"jsonrpc":"2.0","method":"a","params":{"n":[\n${'1,\n'.repeat(10_000)}1]}}\n{"jsonrpc":"2.0","method":"b"}\n`;
      const body = new Response(text).body!.pipeThrough(jsonLinesToSse(1 << 20, 'too large'));
      const out = await new Response(body).text();
      expect(out.match(/event: message/g)).toHaveLength(2);
      expect(parse.mock.calls.length).toBeLessThanOrEqual(4);
    } finally {
      parse.mockRestore();
    }
  });

  it('skips a line that is no JSON value and goes on with the next', async () => {
    const body = new Response('not json\n]\n{"jsonrpc":"2.0","method":"a"}\n').body!.pipeThrough(jsonLinesToSse(1000, 'too large'));
    expect(await new Response(body).text()).toBe('event: message\ndata: {"jsonrpc":"2.0","method":"a"}\n\n');
  });
});
