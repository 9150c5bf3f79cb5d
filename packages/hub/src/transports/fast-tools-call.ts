/**
 * A plain 2026-07-28 `tools/call` served without the SDK's per-request server.
 *
 * Why: a tool call is the hub's hot path, and on it the SDK builds a server and a transport per
 * request, runs zod over the request, the envelope and the result, and answers through a web
 * `Response`: about a third of the hub's CPU per call in bench/hub's profile. Measured in the
 * same run (compare.mjs, one edge): get_status at concurrency 1 went from 3.6 to 2.3 ms of hub
 * CPU per call and 5.3 to 4.2 ms at p50; list_nodes from 1.2 to 0.6 ms of CPU.
 *
 * What keeps it honest:
 * - Only a request the SDK would serve as a plain JSON exchange takes this path: a well-formed
 *   JSON-RPC `tools/call` (Content-Type application/json) whose `_meta` holds nothing but the protocol version (2026-07-28),
 *   the client's capabilities and info, whose `MCP-Protocol-Version`, `Mcp-Method` and
 *   `Mcp-Name` headers agree with the body, and whose envelope the SDK's own classifier accepts
 *   (asked once per distinct envelope, then remembered). A progress token, an `input_required`
 *   retry, trace context, a log level, a mismatch or anything unusual goes to the SDK, which
 *   validates, rejects or streams as before.
 *   A call whose `Mcp-Param-*` headers do not carry its arguments (param-headers.ts) never
 *   gets here either: http.ts gives it to the SDK path, where it is refused.
 * - The call itself is `callHubTool`, the same function the SDK path runs: visibility, the
 *   write gate, metrics and the audit event (journaled before the answer) are one code path.
 *   Unknown tools and human-mode writes (elicitation, `input_required`) go to the SDK.
 * - The answer is what the SDK's pipeline makes of the result: its validation (schema key
 *   order, unknown content-block fields dropped; skipped only for a result already in that
 *   form, as every result of the hub's own tools and our edges is), then the 2026-07-28 encode
 *   contract (`resultType` stamped, `serverInfo` in `_meta`), serialised as the SDK's
 *   `Response.json` does. `fast-tools-call.test.ts` compares both byte for byte.
 */
import {
  classifyInboundRequest,
  CLIENT_CAPABILITIES_META_KEY,
  isJsonContentType,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
  specTypeSchemas,
  type CallToolResult,
} from '@modelcontextprotocol/server';
import { boundedClientInfo } from '../server/client-info.ts';

const MODERN = '2026-07-28';
// Nothing else: a call with any other key (a chaining hub's actingFor, which lowers the role)
// goes to the SDK path, which applies it.
const ENVELOPE_KEYS = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY]);
/** Distinct envelopes remembered; clients send the same one on every request. */
const ENVELOPE_CACHE_MAX = 256;
/** Longer envelopes (JSON) are classified each time. */
const ENVELOPE_KEY_MAX = 4096;
/**
 * The SDK's CallToolResult schema. It is typed as a Standard Schema, but is the zod schema the
 * SDK's own validation runs: `safeParse` gives the same data and the same error text.
 */
const CALL_TOOL_RESULT = specTypeSchemas.CallToolResult as unknown as { safeParse(v: unknown): { success: true; data: unknown } | { success: false; error: unknown } };
/** A result with one of these is not a plain tool result: the SDK does not add `content` to it. */
const CONTENTLESS_FAMILY_KEYS = ['task', 'inputRequests', 'requestState'];

export interface PlainToolsCall {
  id: string | number;
  name: string;
  args: Record<string, unknown> | undefined;
  client?: { name?: string; version?: string };
  /** The client declared it can ask its user (elicitation). */
  canElicit: boolean;
  /** What the client declared (an upstream's `input_required` goes back to it). */
  capabilities: Record<string, unknown>;
}

type Headers = { get(name: string): string | null };

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Header value without the optional whitespace HTTP allows around it (RFC 9110 OWS). */
const headerValue = (h: Headers, name: string) => h.get(name)?.replace(/^[ \t]+|[ \t]+$/g, '');
const onlyKeys = (o: Record<string, unknown>, allowed: ReadonlySet<string>) => Object.keys(o).every((k) => allowed.has(k));

const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const PARAM_KEYS = new Set(['name', 'arguments', '_meta']);

/**
 * Remembers, per distinct envelope, whether the SDK's classifier accepts it on a `tools/call`.
 * @example const accepted = createEnvelopeCheck(); accepted(meta) // true for a valid envelope
 */
export function createEnvelopeCheck(classify: (req: Parameters<typeof classifyInboundRequest>[0]) => { kind: string } = classifyInboundRequest): (meta: Record<string, unknown>) => boolean {
  const verdicts = new Map<string, boolean>();
  return (meta) => {
    const key = JSON.stringify(meta);
    let ok = verdicts.get(key);
    if (ok === undefined) {
      const route = classify({
        httpMethod: 'POST',
        body: { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'x', _meta: meta } },
        protocolVersionHeader: MODERN,
        mcpMethodHeader: 'tools/call',
        mcpNameHeader: 'x',
      });
      ok = route.kind === 'modern';
      // Only a usual-sized envelope is remembered: the key is the client's capabilities and
      // info as sent, and 256 of a megabyte each (any token, a viewer's too) would stay in memory.
      if (key.length <= ENVELOPE_KEY_MAX) {
        if (verdicts.size >= ENVELOPE_CACHE_MAX) verdicts.clear();
        verdicts.set(key, ok);
      }
    }
    return ok;
  };
}

/**
 * The call, when `body` and `headers` make a plain 2026-07-28 `tools/call` (see the module
 * comment); undefined for anything the SDK should see.
 */
export function plainToolsCall(body: unknown, headers: Headers, envelopeAccepted: (meta: Record<string, unknown>) => boolean): PlainToolsCall | undefined {
  if (!isPlainObject(body) || body.method !== 'tools/call' || body.jsonrpc !== '2.0' || !onlyKeys(body, MESSAGE_KEYS)) return undefined;
  const id = body.id;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)))) return undefined;
  const params = body.params;
  if (!isPlainObject(params) || !onlyKeys(params, PARAM_KEYS)) return undefined;
  const { name, arguments: args, _meta: meta } = params;
  if (typeof name !== 'string' || name === '' || !(args === undefined || isPlainObject(args))) return undefined;
  if (!isPlainObject(meta) || !onlyKeys(meta, ENVELOPE_KEYS) || meta[PROTOCOL_VERSION_META_KEY] !== MODERN) return undefined;
  // Mcp-Name may carry a `=?base64?...?=` sentinel for names a header cannot hold: the SDK decodes those.
  // The SDK answers 415 to any other Content-Type (its own test, the same function).
  if (!isJsonContentType(headers.get('content-type'))) return undefined;
  if (headerValue(headers, 'mcp-protocol-version') !== MODERN || headerValue(headers, 'mcp-method') !== 'tools/call' || headerValue(headers, 'mcp-name') !== name) return undefined;
  if (!envelopeAccepted(meta)) return undefined;
  const caps = meta[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown>;
  const client = boundedClientInfo(meta[CLIENT_INFO_META_KEY]);
  return { id, name, args: args as Record<string, unknown> | undefined, ...(client ? { client } : {}), canElicit: caps.elicitation !== undefined, capabilities: caps };
}

const RESULT_KEYS = ['_meta', 'content', 'structuredContent', 'isError'];

/**
 * Whether `result` is already what the SDK's result validation would make of it: its keys in
 * the schema's order (`_meta`, `content`, `structuredContent`, `isError`, nothing else), and
 * every content block a plain `{ type: "text", text }`. That is every result of the hub's own
 * tools and of our edges; anything else is passed through the SDK's own schema.
 */
function isCanonical(result: Record<string, unknown>): boolean {
  let at = 0;
  for (const k of Object.keys(result)) {
    const i = RESULT_KEYS.indexOf(k, at);
    if (i < 0) return false;
    at = i + 1;
  }
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result._meta !== undefined && !isPlainObject(result._meta)) return false;
  const content = result.content;
  if (!Array.isArray(content)) return false;
  for (const b of content) {
    if (!isPlainObject(b) || b.type !== 'text' || typeof b.text !== 'string') return false;
    const keys = Object.keys(b);
    if (keys.length !== 2 || keys[0] !== 'type') return false;
  }
  return true;
}

/**
 * The JSON-RPC answer to a `tools/call` as the SDK writes it on 2026-07-28: the result as its
 * validation returns it (the schema's key order, unknown block fields dropped, `content: []`
 * for a result without content), `resultType: "complete"` stamped when it has none, the
 * server's identity added to a `_meta` that does not carry one, then `{ result, jsonrpc, id }`.
 * A result the schema refuses is the SDK's `Invalid tools/call result` error.
 */
export function encodeToolsCallAnswer(id: string | number, result: CallToolResult, serverInfo: { name: string; version: string }): string {
  let out: Record<string, unknown> = result;
  // An upstream's input_required relayed to the client is not a CallToolResult: the SDK sends
  // it as it is (its schema would add `content`).
  if (!isCanonical(out) && out.resultType !== 'input_required') {
    // The SDK's own rule for a result without content, then its schema.
    const normalized = out.content === undefined && !CONTENTLESS_FAMILY_KEYS.some((k) => k in out) ? { ...out, content: [] } : out;
    const parsed = CALL_TOOL_RESULT.safeParse(normalized);
    if (!parsed.success) return JSON.stringify({ jsonrpc: '2.0', id, error: { code: ProtocolErrorCode.InvalidParams, message: `Invalid tools/call result: ${String(parsed.error)}` } });
    out = parsed.data as Record<string, unknown>;
  }
  if (out.resultType === undefined) out = { ...out, resultType: 'complete' };
  const meta = out._meta;
  if (meta === undefined) out = { ...out, _meta: { [SERVER_INFO_META_KEY]: serverInfo } };
  else if (isPlainObject(meta) && meta[SERVER_INFO_META_KEY] === undefined) out = { ...out, _meta: { ...meta, [SERVER_INFO_META_KEY]: serverInfo } };
  return JSON.stringify({ result: out, jsonrpc: '2.0', id });
}
