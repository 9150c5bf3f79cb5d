import { readBounded } from '@homelab-mcp/core/http';

/**
 * The `fetch` the SDK's HTTP transports use for native upstreams, with `limits.maxResultBytes`
 * enforced while the answer is read: a JSON body, or one event of an SSE stream, longer than
 * the cap is never held whole.
 *
 * Why: the SDK reads a JSON answer with `response.json()` and an SSE event into one string with
 * no limit, so three 100 MB results from a hostile or broken upstream took the hub to 1.6 GB.
 *
 * What the caller sees: a request (it has an id) whose answer is too large gets a JSON-RPC error
 * for that id naming the upstream and the limit, relayed to the client as the tool's error; the
 * rest of that answer is not read. An oversized event on a stream no request waits on (the 2025
 * GET stream, `subscriptions/listen`, the legacy SSE stream) errors that stream: the SDK drops it
 * and reconnects, as after any broken stream.
 *
 * @example
 * new StreamableHTTPClientTransport(url, { fetch: limitedFetch(fetch, { name: 'ha', maxResultBytes: 8 << 20 }) })
 */
export interface LimitedFetchOptions {
  /** The upstream's alias, for the error message. */
  name: string;
  maxResultBytes: number;
}

/** JSON-RPC code of the synthetic error (the server-defined range). */
export const RESULT_TOO_LARGE_CODE = -32001;

/**
 * Whether `err` is the hub's own "answer too large" error (made here, not sent by the upstream):
 * a failure of the call, which a tool call reports as an `isError` result, not as the
 * upstream's JSON-RPC error.
 */
export function isResultTooLarge(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === RESULT_TOO_LARGE_CODE && typeof e.message === 'string' && /^upstream \S+ answered with more than limits\.maxResultBytes /.test(e.message);
}

export function limitedFetch(inner: typeof fetch, o: LimitedFetchOptions): typeof fetch {
  const message = `upstream ${o.name} answered with more than limits.maxResultBytes (${o.maxResultBytes} bytes): the answer was dropped`;
  return async (input, init) => {
    const res = await inner(input, init);
    // Redirects are the SDK's to inspect (it refuses cross-origin ones); bodiless answers have nothing to cap.
    if (!res.body || (res.status >= 300 && res.status < 400) || [101, 204, 205, 304].includes(res.status)) return res;
    const id = () => requestId(init?.body);
    const init2 = { status: res.status, statusText: res.statusText, headers: res.headers };
    const type = res.headers.get('content-type') ?? '';
    if (/^text\/event-stream\b/i.test(type)) {
      return new Response(res.body.pipeThrough(eventCap(o.maxResultBytes, () => id(), message)), init2);
    }
    if (res.ok && (JSON_LINES.test(type) || (/^application\/json\b/i.test(type) && requestMethod(init?.body) === 'subscriptions/listen'))) {
      // A `subscriptions/listen` stream sent as JSON lines instead of SSE (some servers and
      // proxies do): the SDK reads only SSE (or one JSON document), so each JSON value becomes
      // one SSE event, as it arrives.
      const headers = new Headers(res.headers);
      headers.set('content-type', 'text/event-stream');
      headers.delete('content-length');
      return new Response(res.body.pipeThrough(jsonLinesToSse(o.maxResultBytes, message)), { ...init2, headers });
    }
    // A JSON (or any other) body: read here, up to the cap, then handed over whole.
    const bytes = await readBounded(res.body, o.maxResultBytes);
    if (bytes) return new Response(bytes, init2);
    const rid = id();
    if (rid === undefined || !res.ok) throw new Error(message);
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: rid, error: { code: RESULT_TOO_LARGE_CODE, message } }), { ...init2, headers });
  };
}

/** Media types of a stream of JSON values, one per line (NDJSON, JSON Lines). */
const JSON_LINES = /^application\/(?:x-)?(?:ndjson|jsonl|json-lines|jsonlines|json-seq)\b/i;

/** The method of the JSON-RPC request in a fetch body (read only for a JSON-lines answer). */
function requestMethod(body: unknown): string | undefined {
  if (typeof body !== 'string' || !body.includes('"subscriptions/listen"')) return undefined;
  try {
    const m = JSON.parse(body) as { method?: unknown };
    return typeof m.method === 'string' ? m.method : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns a stream of JSON values separated by newlines into SSE `message` events. A value may
 * span lines (a pretty-printed one): lines are gathered until the brackets they open are closed,
 * then parsed once. Each character is looked at once: parsing everything gathered again at each
 * line let an upstream stall the hub's event loop for seconds per 100 KB (quadratic). A line that
 * ends a value that does not parse is skipped, with what was gathered. More than `max` bytes
 * without a complete value errors the stream.
 */
export function jsonLinesToSse(max: number, message: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  let gathered = '';
  // Where the gathered text stands: open brackets, inside a string, after a backslash there.
  let depth = 0;
  let inString = false;
  let escaped = false;
  const scan = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true; // \
        else if (c === 34) inString = false; // "
      } else if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++; // { [
      else if (c === 125 || c === 93) depth--; // } ]
    }
  };
  const emit = (line: string, controller: TransformStreamDefaultController<Uint8Array>) => {
    // RFC 7464 (json-seq) starts each value with a record separator.
    const text = line.replace(/^\u001e/, '').trim();
    if (!text && !gathered) return;
    gathered = gathered ? `${gathered}\n${text}` : text;
    scan(text);
    // A string cannot span lines: an open one is broken JSON, ended with its line.
    if (depth > 0 && !inString) {
      if (gathered.length > max) controller.error(new Error(message));
      return;
    }
    const complete = gathered;
    gathered = '';
    depth = 0;
    inString = false;
    escaped = false;
    let value: unknown;
    try {
      value = JSON.parse(complete);
    } catch {
      return;
    }
    controller.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(value)}\n\n`));
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      let from = 0;
      while ((nl = pending.indexOf('\n', from)) >= 0) {
        emit(pending.slice(from, nl), controller);
        from = nl + 1;
      }
      pending = pending.slice(from);
      if (pending.length + gathered.length > max) controller.error(new Error(message));
    },
    flush(controller) {
      pending += decoder.decode();
      if (pending) emit(pending, controller);
    },
  });
}

/** The id of the JSON-RPC request in a fetch body (parsed only once an answer is too large). */
function requestId(body: unknown): string | number | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const m = JSON.parse(body) as { id?: unknown; method?: unknown };
    return typeof m.id === 'string' || typeof m.id === 'number' ? m.id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Passes an SSE stream through while counting the bytes of the current event (one look at each
 * byte); past `max`, the answer is replaced by an error for the request `id()`, or the stream
 * is errored when no request waits on it.
 */
function eventCap(max: number, id: () => string | number | undefined, message: string): TransformStream<Uint8Array, Uint8Array> {
  let eventBytes = 0;
  let lineBytes = 0;
  let afterCr = false;
  return new TransformStream({
    transform(chunk, controller) {
      let i = 0;
      for (; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === 10 && afterCr) {
          afterCr = false;
          continue;
        }
        afterCr = b === 13;
        if (b === 10 || b === 13) {
          if (lineBytes === 0) eventBytes = 0;
          lineBytes = 0;
        } else {
          lineBytes++;
          if (++eventBytes > max) break;
        }
      }
      if (i === chunk.length) {
        controller.enqueue(chunk);
        return;
      }
      // The events before this one in the chunk, and the start of this one, pass on.
      if (i > 0) controller.enqueue(chunk.subarray(0, i));
      const rid = id();
      if (rid === undefined) {
        controller.error(new Error(message));
        return;
      }
      // The part of the event already passed on is ended as an event of another type, which
      // the SDK skips (it parses only `message` events), then the error takes its place.
      const error = JSON.stringify({ jsonrpc: '2.0', id: rid, error: { code: RESULT_TOO_LARGE_CODE, message } });
      controller.enqueue(new TextEncoder().encode(`\nevent: homelab-dropped\n\nevent: message\ndata: ${error}\n\n`));
      controller.terminate();
    },
  });
}
