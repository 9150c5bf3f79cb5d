import { describe, expect, it } from 'vitest';
import { limitedFetch, RESULT_TOO_LARGE_CODE } from './limited-fetch.ts';

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
});
