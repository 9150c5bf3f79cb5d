import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createEdgeRpc } from './edge-rpc.ts';
import { createSseParser } from './sse-parser.ts';

const collect = (maxEventBytes = 1 << 20) => {
  const events: string[] = [];
  let oversize = 0;
  const parser = createSseParser({ maxEventBytes, onEvent: (d) => void events.push(d), onOversize: () => void oversize++ });
  return { parser, events, oversize: () => oversize };
};

describe('createSseParser', () => {
  it('looks at each character once, however the event is chunked', () => {
    // 4 MB of one event in 1 KB chunks: the old reader searched the whole unread buffer per
    // chunk, ~4,000 passes over up to 4 MB (8 billion characters); this one scans 4 MB once.
    const { parser, events } = collect(8 << 20);
    const body = 'x'.repeat(4 << 20);
    const text = `event: message\ndata: ${body}\n\n`;
    for (let i = 0; i < text.length; i += 1024) parser.push(Buffer.from(text.slice(i, i + 1024)));
    expect(events).toEqual([body]);
    expect(parser.scanned).toBeLessThanOrEqual(text.length);
  });

  it('stops at the first event larger than the cap, before holding it', () => {
    const { parser, events, oversize } = collect(1000);
    parser.push('data: small\n\n');
    parser.push(`data: ${'y'.repeat(600)}`);
    parser.push('y'.repeat(600));
    expect(oversize()).toBe(1);
    parser.push('\n\ndata: later\n\n');
    parser.end();
    expect(events).toEqual(['small']);
  });

  it('counts the cap per event, not per stream', () => {
    const { parser, events, oversize } = collect(100);
    for (let i = 0; i < 50; i++) parser.push(`data: ${'z'.repeat(60)}\n\n`);
    expect(oversize()).toBe(0);
    expect(events).toHaveLength(50);
  });

  it('handles CRLF split across chunks, multi-line data, comments and a final event without its blank line', () => {
    const { parser, events } = collect();
    for (const part of ['data: a\r', '\ndata: b\r\n', '\r\n: comment\n', 'event: x\ndata:c\n\ndata: d', '']) parser.push(part);
    parser.end();
    expect(events).toEqual(['a\nb', 'c', 'd']);
  });

  it('keeps multi-byte characters split between chunks whole', () => {
    const { parser, events } = collect();
    const bytes = Buffer.from('data: é€\n\n');
    parser.push(bytes.subarray(0, 7));
    parser.push(bytes.subarray(7));
    expect(events).toEqual(['é€']);
  });
});

describe('edge-rpc with an oversized SSE event', () => {
  it('fails the call with an error naming limits.maxResultBytes and drops the connection', async () => {
    let closedEarly!: (v: boolean) => void;
    const closed = new Promise<boolean>((r) => (closedEarly = r));
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.on('close', () => closedEarly(!res.writableFinished));
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"');
      const chunk = 'q'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 32 << 20 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end('"}]}}\n\n');
      };
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const rpc = createEdgeRpc({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, headers: {}, clientInfo: { name: 't', version: '1' }, hooks: { onListChanged: () => undefined }, maxResultBytes: 256 * 1024 });
    try {
      await expect(rpc.callTool('read_file', {}, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow('limits.maxResultBytes (262144 bytes)');
      expect(await closed).toBe(true);
    } finally {
      rpc.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
