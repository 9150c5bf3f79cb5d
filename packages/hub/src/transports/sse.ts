/**
 * The legacy HTTP+SSE transport (protocol 2024-11-05) for old clients: `GET /sse` opens an
 * event stream whose first event names the URL to POST messages to; each POST to
 * `/messages?sessionId=...` is answered 202 and its response travels down the stream.
 * The SDK v2 has no server side for it any more, so this is the small Transport the SDK's
 * server instance connects to.
 */
import { randomUUID } from 'node:crypto';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';

const encoder = new TextEncoder();

export class SseServerTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private controller?: ReadableStreamDefaultController<Uint8Array>;
  private closed = false;
  private keepAlive?: NodeJS.Timeout;
  /** The response to return for the GET: the event stream. */
  readonly response: Response;

  constructor(messagesPath: string, keepAliveMs = 15_000) {
    const endpoint = `${messagesPath}?sessionId=${this.sessionId}`;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        controller.enqueue(encoder.encode(`event: endpoint\ndata: ${endpoint}\n\n`));
      },
      cancel: () => {
        void this.close();
      },
    });
    this.response = new Response(stream, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' },
    });
    // Comment frames keep proxies (Cloudflare, nginx) from closing an idle stream.
    this.keepAlive = setInterval(() => this.write(': keepalive\n\n'), keepAliveMs);
    this.keepAlive.unref();
  }

  async start(): Promise<void> {}

  private write(text: string): boolean {
    if (this.closed || !this.controller) return false;
    try {
      this.controller.enqueue(encoder.encode(text));
      return true;
    } catch {
      void this.close();
      return false;
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)) throw new Error('SSE stream is closed');
  }

  /** A message POSTed by the client. */
  receive(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    try {
      this.controller?.close();
    } catch {
      // already closed by the client
    }
    this.onclose?.();
  }
}
