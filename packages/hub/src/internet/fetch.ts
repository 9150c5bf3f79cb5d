/**
 * `http_fetch`: one HTTP request from the hub, for docs, release notes, a status page, a webhook.
 * GET and HEAD are reads; every other method is a write (it can fire a webhook), held by the
 * approval gate with a preview of the request. The destination is checked after DNS resolution
 * and the socket connects to exactly the checked addresses (destination.ts), on every redirect
 * hop; redirects are followed here, never by the HTTP client. What comes back is rendered for a
 * model (fetch-render.ts) and bounded in time, headers and bytes; every hop, refused ones
 * included, is an `http_request` audit event.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { CatalogTool } from '../catalog/types.ts';
import type { Preview } from '../policy/gate.ts';
import { checkDestination, DestinationRefused, parseAllowHosts, type CheckedAddress } from './destination.ts';
import type { InternetDeps } from './deps.ts';
import { formatBytes, rendersAsHtml, renderBody, type BodyFormat } from './fetch-render.ts';

/** The methods http_fetch sends; GET and HEAD are reads. */
export const FETCH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof FETCH_METHODS)[number];

/** The largest request body, in bytes (a webhook's JSON, not an upload). */
export const MAX_REQUEST_BODY = 1024 * 1024;
/** Response headers larger than this end the request (Node's parser enforces it). */
export const MAX_RESPONSE_HEADER_BYTES = 32 * 1024;
const MAX_REQUEST_HEADERS = 50;
const MAX_HEADER_VALUE = 8192;
/** HTML is read up to this many times max_bytes: markup shrinks to a fraction as Markdown. */
const HTML_READ_FACTOR = 4;
const HARD_READ_LIMIT = 64 * 1024 * 1024;

// Headers the hub sets itself, or that belong to one connection (RFC 9110 §7.6.1): a caller
// that set them could smuggle a second request, reach another virtual host than the one
// checked, or pretend to be a proxy hop.
const REFUSED_HEADERS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect', 'http2-settings']);
// Dropped when a redirect leaves the origin the caller addressed (as browsers' fetch does).
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const KNOWN_ARGS = new Set(['url', 'method', 'headers', 'body', 'max_bytes']);

/** http_fetch's arguments, checked. */
export interface FetchArgs {
  url: URL;
  method: Method;
  headers: Record<string, string>;
  body?: string;
  maxBytes: number;
}

/** Whether a call with these arguments writes: any method but GET and HEAD. */
export function fetchClass(args: Record<string, unknown>): 'read' | 'write' {
  const m = args.method === undefined ? 'GET' : typeof args.method === 'string' ? args.method.toUpperCase() : '';
  return m === 'GET' || m === 'HEAD' ? 'read' : 'write';
}

/**
 * The arguments checked, or a message naming the bad one. `maxBytesCap` is
 * internet.fetch.maxBytes: the default and the most max_bytes may ask.
 *
 * @example parseFetchArgs({ url: 'ftp://x/' }, 262144) // 'url must be an http:// or https:// URL, not ftp:'
 */
export function parseFetchArgs(args: Record<string, unknown>, maxBytesCap: number): FetchArgs | string {
  const unknown = Object.keys(args).find((k) => !KNOWN_ARGS.has(k));
  if (unknown !== undefined) return `${unknown}: is not a known argument of http_fetch (known: ${[...KNOWN_ARGS].join(', ')})`;
  if (typeof args.url !== 'string' || args.url.length === 0 || args.url.length > 8192) return 'url must be an http:// or https:// URL of at most 8192 characters';
  let url: URL;
  try {
    url = new URL(args.url);
  } catch {
    return `url: "${args.url.slice(0, 200)}" is not a URL (expected e.g. https://example.com/page)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `url must be an http:// or https:// URL, not ${url.protocol}`;
  const method = args.method === undefined ? 'GET' : typeof args.method === 'string' ? args.method.toUpperCase() : undefined;
  if (!method || !(FETCH_METHODS as readonly string[]).includes(method)) return `method must be one of ${FETCH_METHODS.join(', ')}, got ${JSON.stringify(args.method)}`;
  const headers: Record<string, string> = {};
  if (args.headers !== undefined) {
    if (!args.headers || typeof args.headers !== 'object' || Array.isArray(args.headers)) return 'headers must be an object of header names to string values, e.g. { "Accept": "application/json" }';
    const entries = Object.entries(args.headers as Record<string, unknown>);
    if (entries.length > MAX_REQUEST_HEADERS) return `headers: at most ${MAX_REQUEST_HEADERS} headers, got ${entries.length}`;
    for (const [name, value] of entries) {
      if (!TOKEN.test(name)) return `headers: "${name.slice(0, 100)}" is not a valid header name`;
      const lower = name.toLowerCase();
      if (REFUSED_HEADERS.has(lower)) return `headers: ${name} cannot be set (the hub sets it, or it belongs to one connection)`;
      if (typeof value !== 'string') return `headers: the value of ${name} must be a string`;
      if (value.length > MAX_HEADER_VALUE || /[\r\n\0]/.test(value)) return `headers: the value of ${name} must be one line of at most ${MAX_HEADER_VALUE} characters`;
      if (Object.keys(headers).some((k) => k.toLowerCase() === lower)) return `headers: ${name} is given twice`;
      headers[name] = value;
    }
  }
  let body: string | undefined;
  if (args.body !== undefined) {
    if (typeof args.body !== 'string') return 'body must be a string (JSON as text, with a Content-Type header)';
    if (method === 'GET' || method === 'HEAD') return `body: a ${method} request has no body; use POST, PUT or PATCH`;
    if (Buffer.byteLength(args.body) > MAX_REQUEST_BODY) return `body: at most ${formatBytes(MAX_REQUEST_BODY)}, got ${formatBytes(Buffer.byteLength(args.body))}`;
    body = args.body;
  }
  let maxBytes = maxBytesCap;
  if (args.max_bytes !== undefined) {
    const m = args.max_bytes;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > maxBytesCap) return `max_bytes must be an integer from 1 to ${maxBytesCap} (internet.fetch.maxBytes), got ${JSON.stringify(m)}`;
    maxBytes = m;
  }
  return { url, method: method as Method, headers, ...(body !== undefined ? { body } : {}), maxBytes };
}

/** A URL as answers show it: without user and password. */
const shown = (u: URL) => {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  return c.href;
};

/** The preview a write shows: method, URL, every header with its value, the body's size. */
export function fetchPreview(args: Record<string, unknown>, maxBytesCap: number): Preview {
  const a = parseFetchArgs(args, maxBytesCap);
  if (typeof a === 'string') return { tool: 'http_fetch', where: ['internet'], action: `http_fetch with arguments it will refuse (${a})`, arguments: args };
  const headers = Object.entries(a.headers).map(([k, v]) => `${k}: ${v}`);
  const body = a.body === undefined ? 'no body' : `a body of ${formatBytes(Buffer.byteLength(a.body))}`;
  return {
    tool: 'http_fetch',
    where: [a.url.host],
    action: `${a.method} ${a.url.href} from the hub, ${headers.length ? `with headers ${headers.join('; ')}` : 'with no headers of its own'}, and ${body}`,
    arguments: args,
  };
}

interface Hop {
  method: string;
  url: string;
  status?: number;
  location?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Opens one request to exactly `addresses` (already checked) and waits for the response head (also used by oauth/client-document.ts). */
export function open(a: { url: URL; method: string; headers: Record<string, string>; body?: string }, addresses: CheckedAddress[], signal: AbortSignal): Promise<IncomingMessage> {
  // The socket's lookup answers with the checked addresses only: no second resolution whose
  // answer could differ (DNS rebinding). IP literals never reach it.
  const lookup = (_host: string, opts: { all?: boolean; family?: number } | number, cb: (...args: unknown[]) => void) => {
    const family = typeof opts === 'number' ? opts : opts.family;
    const list = addresses.filter((x) => !family || x.family === family);
    if (list.length === 0) return cb(Object.assign(new Error('no checked address of that family'), { code: 'ENOTFOUND' }));
    if (typeof opts === 'object' && opts.all) return cb(null, list.map((x): LookupAddress => ({ address: x.address, family: x.family })));
    cb(null, list[0]!.address, list[0]!.family);
  };
  const u = a.url;
  const options: RequestOptions = {
    protocol: u.protocol,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port || (u.protocol === 'https:' ? 443 : 80),
    path: `${u.pathname}${u.search}`,
    method: a.method,
    headers: {
      'user-agent': 'homelab-mcp http_fetch',
      accept: 'text/markdown, text/html;q=0.9, application/json;q=0.9, text/*;q=0.8, */*;q=0.5',
      'accept-encoding': 'gzip, deflate, br',
      ...a.headers,
      ...(a.body !== undefined ? { 'content-length': String(Buffer.byteLength(a.body)) } : {}),
    },
    // A fresh connection per hop: a pooled socket would be one checked for another request.
    agent: false,
    lookup: lookup as unknown as RequestOptions['lookup'],
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
    signal,
    ...(u.username || u.password ? { auth: `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(options, resolve);
    req.on('error', reject);
    req.end(a.body);
  });
}

/**
 * Reads at most `limit` bytes of the (decoded) body and then drops the connection, so that an
 * endless or huge answer costs `limit` of memory, not its size.
 */
export async function readCapped(res: IncomingMessage, limit: number): Promise<{ bytes: Buffer; cut: boolean; wire: number; undecodable?: string }> {
  const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  let wire = 0;
  let source: Readable = res;
  if (decoder) {
    res.on('data', (c: Buffer) => (wire += c.length));
    source = pipeline(res, decoder, () => undefined);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  let cut = false;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!decoder) wire += chunk.length;
      chunks.push(chunk);
      n += chunk.length;
      if (n > limit) {
        cut = true;
        break;
      }
    }
  } finally {
    res.destroy();
    decoder?.destroy();
  }
  const bytes = Buffer.concat(chunks).subarray(0, limit);
  const unknownEncoding = !decoder && encoding !== 'identity' ? encoding : undefined;
  return { bytes, cut, wire, ...(unknownEncoding ? { undecodable: unknownEncoding } : {}) };
}

const fail = (text: string, data: Record<string, unknown> = {}): CallToolResult => ({ content: [{ type: 'text', text }], structuredContent: { error: text, ...data }, isError: true });

/** Why a request failed, for a person: the timeout and the header cap named by their settings. */
function failure(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no complete answer within ${timeoutMs} ms (internet.fetch.timeoutMs)`;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'HPE_HEADER_OVERFLOW') return `the response headers are larger than ${formatBytes(MAX_RESPONSE_HEADER_BYTES)}`;
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'ECONNRESET') return 'the server closed the connection';
  return e?.message ? `${e.code ? `${e.code}: ` : ''}${e.message}` : String(err);
}

/** The response headers an answer shows: bounded in count and length. */
function shownHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers).slice(0, 40)) {
    if (v === undefined) continue;
    const s = Array.isArray(v) ? v.join(', ') : v;
    out[k] = s.length > 500 ? `${s.slice(0, 500)}…` : s;
  }
  return out;
}

/** The http_fetch tool. */
export function fetchTools(deps: InternetDeps): CatalogTool[] {
  const cfg = () => deps.config().fetch;
  const def: Tool = {
    name: 'http_fetch',
    title: 'Fetch a URL',
    description:
      'One HTTP request from the hub: HTML comes back as Markdown, JSON pretty-printed, other text as it is, binary described (type, size, sha256). GET and HEAD are reads; POST, PUT, PATCH, DELETE and OPTIONS are writes that need approval (they can fire a webhook). Loopback, link-local (cloud metadata), private and ULA addresses and the hub itself are refused, on every redirect hop, unless internet.allowHosts lists the host.',
    inputSchema: {
      type: 'object',
      properties: {
        url: { type: 'string', description: 'An http:// or https:// URL.' },
        method: { type: 'string', enum: [...FETCH_METHODS], description: 'Default GET. Any method but GET and HEAD is a write.' },
        headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Request headers, e.g. { "Accept": "application/json" }. Host, Content-Length and hop-by-hop headers cannot be set.' },
        body: { type: 'string', description: `The request body (at most ${formatBytes(MAX_REQUEST_BODY)}), for POST, PUT, PATCH, DELETE; set Content-Type in headers.` },
        max_bytes: { type: 'integer', minimum: 1, description: 'Most bytes of text to return (default and most: internet.fetch.maxBytes, 256 KiB unless configured); the answer says where it was cut.' },
      },
      required: ['url'],
    },
    annotations: { title: 'Fetch a URL', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  };
  const tool: CatalogTool = {
    def,
    toolClass: 'read',
    source: 'internet',
    classFor: fetchClass,
    preview: (args) => fetchPreview(args, cfg().maxBytes),
    async call(args, ctx) {
      const c = cfg();
      const parsed = parseFetchArgs(args, c.maxBytes);
      if (typeof parsed === 'string') return fail(parsed);
      const { maxBytes } = parsed;
      const timeout = AbortSignal.timeout(c.timeoutMs);
      const signal = AbortSignal.any([ctx.signal, timeout]);
      let allow;
      try {
        allow = parseAllowHosts(deps.config().allowHosts);
      } catch (err) {
        return fail((err as Error).message);
      }
      const policy = { allow, hubListeners: deps.hubListeners() };
      const firstOrigin = parsed.url.origin;
      let req = { url: parsed.url, method: parsed.method as string, headers: { ...parsed.headers }, ...(parsed.body !== undefined ? { body: parsed.body } : {}) } as { url: URL; method: string; headers: Record<string, string>; body?: string };
      const hops: Hop[] = [];
      for (let hop = 0; ; hop++) {
        const started = performance.now();
        const audit = (r: { status?: number; error?: string; bytes?: number }) =>
          deps.onHttpRequest({ upstream: 'http_fetch', method: req.method, url: req.url.href, durationMs: performance.now() - started, ...r });
        let addresses: CheckedAddress[];
        try {
          addresses = await checkDestination(req.url, policy, signal);
        } catch (err) {
          if (!(err instanceof DestinationRefused)) {
            const why = failure(err, timeout.aborted, c.timeoutMs);
            audit({ error: why });
            return fail(`http_fetch ${shown(req.url)}: ${why}`, { hops });
          }
          audit({ error: `refused: ${err.message}` });
          const via = hops.length ? ` (reached by a redirect from ${hops[hops.length - 1]!.url})` : '';
          return fail(`http_fetch refused ${shown(req.url)}${via}: ${err.message}`, { refused: true, url: shown(req.url), hops });
        }
        let res: IncomingMessage;
        try {
          res = await open(req, addresses, signal);
        } catch (err) {
          const why = failure(err, timeout.aborted, c.timeoutMs);
          audit({ error: why });
          return fail(`http_fetch ${req.method} ${shown(req.url)}: ${why}`, { hops });
        }
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (REDIRECTS.has(status) && location) {
          res.destroy();
          audit({ status, bytes: 0 });
          hops.push({ method: req.method, url: shown(req.url), status, location });
          let next: URL;
          try {
            next = new URL(location, req.url);
          } catch {
            return fail(`http_fetch ${shown(req.url)} answered ${status} with a Location that is not a URL: ${JSON.stringify(location.slice(0, 200))}`, { hops });
          }
          if (next.protocol !== 'http:' && next.protocol !== 'https:') {
            deps.onHttpRequest({ upstream: 'http_fetch', method: req.method, url: next.href.slice(0, 2000), durationMs: 0, error: `refused: a redirect to ${next.protocol}` });
            return fail(`http_fetch refused a redirect from ${shown(req.url)} to a ${next.protocol} URL: only http and https are followed`, { refused: true, hops });
          }
          if (hop >= c.maxRedirects) return fail(`http_fetch stopped after ${c.maxRedirects} redirects (internet.fetch.maxRedirects); the last pointed to ${shown(next)}`, { hops });
          // 303, and 301/302 after a POST, turn into a GET without the body (as browsers do).
          const toGet = status === 303 ? req.method !== 'HEAD' : (status === 301 || status === 302) && req.method === 'POST';
          const method = toGet ? 'GET' : req.method;
          if (method !== 'GET' && method !== 'HEAD' && next.origin !== req.url.origin) {
            // The approval covered a write to one origin, not to wherever that server points.
            return fail(`http_fetch did not follow ${status} from ${shown(req.url)} to ${shown(next)}: it would send the ${method} again to another origin than the one approved; call http_fetch on that URL if it is meant`, { hops, status });
          }
          const headers = { ...req.headers };
          if (next.origin !== firstOrigin) for (const k of Object.keys(headers)) if (ORIGIN_BOUND_HEADERS.includes(k.toLowerCase())) delete headers[k];
          if (toGet) for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-type') delete headers[k];
          req = { url: next, method, headers, ...(toGet || req.body === undefined ? {} : { body: req.body }) };
          continue;
        }
        const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined;
        const declaredRaw = Number(res.headers['content-length']);
        const declared = Number.isFinite(declaredRaw) && declaredRaw >= 0 && !res.headers['content-encoding'] ? declaredRaw : undefined;
        let body = { bytes: Buffer.alloc(0), cut: false, wire: 0 } as Awaited<ReturnType<typeof readCapped>>;
        if (req.method !== 'HEAD') {
          const limit = Math.min(HARD_READ_LIMIT, rendersAsHtml(contentType) ? maxBytes * HTML_READ_FACTOR : maxBytes);
          try {
            body = await readCapped(res, limit);
          } catch (err) {
            const why = failure(err, timeout.aborted, c.timeoutMs);
            audit({ status, error: why });
            return fail(`http_fetch ${req.method} ${shown(req.url)}: ${status}, then reading the body failed: ${why}`, { hops, status });
          }
        } else res.destroy();
        audit({ status, bytes: body.wire });
        const rendered = body.undecodable
          ? renderBody({ bytes: body.bytes, contentType: `application/octet-stream; encoded=${body.undecodable}`, readCut: body.cut, maxBytes })
          : renderBody({ bytes: body.bytes, contentType, readCut: body.cut, ...(declared !== undefined ? { declared } : {}), maxBytes });
        const head = `${req.method} ${shown(req.url)} → ${status} ${res.statusMessage ?? ''}`.trimEnd();
        const meta = [
          contentType ?? 'no content type',
          ...(req.method === 'HEAD' ? [] : [`${formatBytes(body.bytes.length)} read${body.cut ? ' (cut)' : ''}`]),
          ...(rendered.format === 'markdown' ? ['shown as Markdown'] : rendered.format === 'json' ? ['JSON, pretty-printed'] : []),
        ];
        const redirects = hops.length ? `\nafter ${hops.length} redirect${hops.length > 1 ? 's' : ''}: ${hops.map((h) => `${h.url} (${h.status})`).join(' → ')}` : '';
        const title = rendered.title ? `\ntitle: ${rendered.title}` : '';
        const text = `${head} (${meta.join(', ')})${redirects}${title}${rendered.text ? `\n\n${rendered.text}` : ''}`;
        const format: BodyFormat = rendered.format;
        return {
          content: [{ type: 'text', text }],
          structuredContent: {
            url: shown(req.url),
            method: req.method,
            status,
            ...(res.statusMessage ? { statusText: res.statusMessage } : {}),
            ...(contentType ? { contentType } : {}),
            headers: shownHeaders(res),
            format,
            bytesRead: body.bytes.length,
            truncated: rendered.truncated,
            ...(rendered.title ? { title: rendered.title } : {}),
            ...(rendered.sha256 ? { sha256: rendered.sha256 } : {}),
            ...(hops.length ? { redirects: hops.map(({ url, status: s, method: m }) => ({ method: m, url, status: s })) } : {}),
          },
        };
      }
    },
  };
  return [tool];
}
