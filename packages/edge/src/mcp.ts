/**
 * The edge's MCP surface, written by hand: tools only, stateless, JSON responses, both
 * protocol eras on one URL. The SDK needs Node >= 20 and costs ~2x the idle memory and
 * ~1 ms per call (reference/edge-footprint.md); the edge must run on Pi OS's Node 18 and
 * idle in a few MB, so it speaks the small part of the protocol it needs itself. The hub
 * keeps the SDK. Interoperability is proven by tests with the SDK v2 client in both eras
 * and by the official conformance suite.
 *
 * Eras:
 * - 2026-07-28 (modern): every request carries `_meta["io.modelcontextprotocol/protocolVersion"]`
 *   and `clientCapabilities` (refused as the SDK's classifier, and so the hub, refuses them:
 *   mcp-envelope.test.ts compares the two); `server/discover` replaces `initialize`;
 *   `Mcp-Method`/`Mcp-Name` headers must match the body; results carry `resultType`.
 * - 2025-11-25 / 2025-06-18 / 2025-03-26 / 2024-11-05 (legacy): `initialize` negotiates a
 *   version; no session is kept (every request stands alone, as in the SDK's stateless mode).
 */
import { getHeapStatistics } from 'node:v8';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import type { ToolContext, ToolDef, ToolOutput } from './capability.ts';
import { parsePolicy, POLICY_META, type CallPolicy } from './policy.ts';
import { ReplyBudget, type ReplyLease } from './reply-size.ts';
import { validate } from './schema.ts';

export const MODERN_VERSIONS = ['2026-07-28'] as const;
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
/**
 * How long a client may reuse `tools/list` and `server/discover` answers: both are fixed for the
 * life of the process. Private: they come from behind the edge's token.
 */
const CACHE_HINT = { ttlMs: 60_000, cacheScope: 'private' } as const;

/** JSON-RPC and MCP error codes the edge emits. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  HeaderMismatch: -32020,
  UnsupportedProtocolVersion: -32022,
} as const;

export interface ServerInfo {
  name: string;
  version: string;
  title?: string;
}

/** A tool as served: its definition plus, when its capability could not start, why. */
export interface ServedTool {
  def: ToolDef;
  unavailable?: string;
}

export interface McpHandlerOptions {
  serverInfo: ServerInfo;
  instructions?: string;
  tools: ServedTool[];
  /** Builds the per-call context (signal, env, the hub's policy, the call's reply lease). */
  context(signal: AbortSignal, policy: CallPolicy | undefined, lease: ReplyLease): ToolContext;
  /**
   * Cost units (see `reply-size.ts`) the answers in flight may hold at once; default: an
   * eighth of the heap limit (4.4 MB under the deployed `--max-old-space-size=32`).
   */
  replyBudget?: number;
  /** Called after each tool call, for the log. */
  onToolCall?(info: { name: string; ok: boolean; durationMs: number; era: 'modern' | 'legacy' }): void;
}

/** What to send back: an HTTP status and a JSON body, or nothing (202). */
export interface McpReply {
  status: number;
  body?: unknown;
}

type JsonRpcId = string | number | null;
interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

function errorReply(status: number, id: JsonRpcId, code: number, message: string, data?: unknown): McpReply {
  return { status, body: { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } } };
}

/**
 * A header that disagrees with the body (or a required one that is absent), worded and shaped
 * as the SDK's classifier answers it (the hub's): -32020 with the header's value, or
 * `(missing)`, and the disagreement in `data.mismatch`, which clients and the conformance
 * suite read.
 */
function mismatchReply(id: JsonRpcId, header: string, body: string): McpReply {
  return errorReply(400, id, ErrorCode.HeaderMismatch, `Bad Request: the request headers and body disagree: ${body}`, { mismatch: { header, body } });
}

/** The body field `Mcp-Name` mirrors, per method (the SDK's MCP_NAME_HEADER_SOURCE, SEP-2243). */
const NAME_HEADER_SOURCE: Readonly<Record<string, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/**
 * An `Mcp-Name` value as the client meant it: a non-ASCII name travels as `=?base64?...?=`
 * (UTF-8). Undefined for a sentinel whose payload is not canonical Base64 or not UTF-8.
 */
function decodeNameHeader(value: string): string | undefined {
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const b64 = value.slice(9, -2);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

/** The `Mcp-Name` check of a 2026-07-28 request (the SDK's validateStandardRequestHeaders). */
function nameHeaderMismatch(req: JsonRpcRequest, nameHeader: string | undefined): McpReply | undefined {
  const field = Object.hasOwn(NAME_HEADER_SOURCE, req.method) ? NAME_HEADER_SOURCE[req.method]! : undefined;
  if (field === undefined) return undefined;
  const raw = req.params?.[field];
  const bodyValue = typeof raw === 'string' ? raw : undefined;
  const id = req.id ?? null;
  if (nameHeader === undefined) {
    return bodyValue === undefined ? undefined : mismatchReply(id, '(missing)', `the body carries params.${field}="${bodyValue}" but the required Mcp-Name header is absent`);
  }
  const shown = nameHeader.replace(/^[ \t]+|[ \t]+$/g, '');
  const decoded = decodeNameHeader(shown);
  if (decoded === undefined) return mismatchReply(id, shown, 'the Mcp-Name header carries an invalid Base64 sentinel value');
  if (bodyValue !== undefined && decoded !== bodyValue) return mismatchReply(id, shown, `the body carries params.${field}="${bodyValue}" but the Mcp-Name header names "${decoded}"`);
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The first problem of a 2026-07-28 request envelope (`params._meta`), as the SDK's classifier
 * names it (`{ key, problem }`), or undefined when it is valid: the version and the client's
 * capabilities are required, clientInfo is optional but must name the client when present.
 *
 * @example envelopeProblem({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28' })
 * // { key: 'io.modelcontextprotocol/clientCapabilities', problem: 'missing' }
 */
export function envelopeProblem(meta: Record<string, unknown>): { key: string; problem: string } | undefined {
  for (const key of [META_VERSION, META_CLIENT_CAPABILITIES]) if (!(key in meta)) return { key, problem: 'missing' };
  if (typeof meta[META_VERSION] !== 'string') return { key: META_VERSION, problem: 'expected a protocol version string' };
  if (!isObject(meta[META_CLIENT_CAPABILITIES])) return { key: META_CLIENT_CAPABILITIES, problem: 'expected an object' };
  const info = meta[META_CLIENT_INFO];
  if (info !== undefined && !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')) {
    return { key: META_CLIENT_INFO, problem: 'expected an object with string name and version' };
  }
  return undefined;
}

/**
 * Builds the request dispatcher. `handle(body, header)` takes the parsed JSON body and a
 * header getter (lower-case names) and returns the reply.
 *
 * @example
 * const mcp = createMcpHandler({ serverInfo, tools, context: (signal) => ({ env, signal }) });
 * const reply = await mcp.handle(JSON.parse(body), (h) => req.headers[h]);
 */
export function createMcpHandler(opts: McpHandlerOptions) {
  const budget = new ReplyBudget(opts.replyBudget ?? Math.floor(getHeapStatistics().heap_size_limit / 8));
  const byName = new Map(opts.tools.map((t) => [t.def.name, t]));
  // The list never changes for the life of the process: build it once.
  const toolList = opts.tools.map(({ def }) => ({
    name: def.name,
    ...(def.title ? { title: def.title } : {}),
    description: def.description,
    inputSchema: def.inputSchema,
    annotations: def.annotations,
  }));
  const capabilities = { tools: { listChanged: false } };

  /**
   * Runs a tool and shapes its MCP result. Exposed so an in-process caller (the hub's
   * `local` node) uses exactly the validation and error mapping HTTP clients get. `meta` is
   * the request's `_meta`: a hub policy in it (`dev.homelab-mcp/policy`) is enforced by the
   * file tools and `get_env`, and acknowledged in the result's `_meta`, so the hub can tell an
   * edge that enforced it from one too old to know it.
   *
   * @example
   * await mcp.callTool('read_file', { path: '/etc/shadow' }, signal, 'modern', { 'dev.homelab-mcp/policy': { denyPaths: ['/etc/shadow'] } })
   * // isError: "/etc/shadow: denied by the hub's file policy for this role", _meta: { 'dev.homelab-mcp/policy': { applied: true } }
   */
  async function callTool(
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    era: 'modern' | 'legacy' = 'legacy',
    meta?: Record<string, unknown>,
    lease?: ReplyLease,
  ): Promise<CallResult> {
    // Without a lease from the caller, the share is given back when the result is returned.
    if (!lease) {
      const own = budget.lease();
      try {
        return await callTool(name, args, signal, era, meta, own);
      } finally {
        own.release();
      }
    }
    const tool = byName.get(name);
    if (!tool) throw new HomelabError('UNKNOWN_TOOL', `Tool ${name} not found`);
    const started = performance.now();
    const carriesPolicy = isObject(meta) && meta[POLICY_META] !== undefined;
    let out: ToolOutput;
    try {
      // A malformed policy refuses the call: running it without the policy the hub meant
      // would serve what the hub wanted withheld.
      const policy = parsePolicy(isObject(meta) ? meta : undefined);
      if (tool.unavailable) throw new HomelabError('CAPABILITY_UNAVAILABLE', tool.unavailable);
      const problems = validate(tool.def.inputSchema, args);
      if (problems.length) throw new HomelabError('INVALID_ARGUMENTS', `Invalid arguments for ${name}: ${problems.join('; ')}`);
      out = await tool.def.handler(args, opts.context(signal, policy, lease));
    } catch (err) {
      // Failures while running a tool are results the model can read, not protocol errors.
      const message = isHomelabError(err) ? err.message : `${name} failed: ${err instanceof Error ? err.message : String(err)}`;
      const code = isHomelabError(err) ? err.code : 'TOOL_FAILED';
      out = { data: { error: { code, message } }, text: message, isError: true };
    }
    opts.onToolCall?.({ name, ok: !out.isError, durationMs: performance.now() - started, era });
    return {
      content: [{ type: 'text', text: out.text ?? JSON.stringify(out.data, null, 2) }],
      structuredContent: out.data,
      ...(out.isError ? { isError: true } : {}),
      ...(carriesPolicy ? { _meta: { [POLICY_META]: { applied: true } } } : {}),
    };
  }

  type CallResult = {
    content: Array<{ type: 'text'; text: string }>;
    structuredContent: Record<string, unknown>;
    isError?: true;
    _meta?: Record<string, unknown>;
  };

  async function dispatch(req: JsonRpcRequest, era: 'modern' | 'legacy', signal: AbortSignal, lease: ReplyLease | undefined): Promise<McpReply> {
    const id = req.id ?? null;
    const params = req.params ?? {};
    const ok = (result: Record<string, unknown>): McpReply => ({
      status: 200,
      body: {
        jsonrpc: '2.0',
        id,
        result:
          era === 'modern'
            ? { ...result, resultType: 'complete', _meta: { ...(isObject(result._meta) ? result._meta : {}), [META_SERVER_INFO]: opts.serverInfo } }
            : result,
      },
    });
    switch (req.method) {
      case 'initialize': {
        if (era === 'modern') break;
        const requested = params.protocolVersion;
        const protocolVersion = (LEGACY_VERSIONS as readonly unknown[]).includes(requested) ? (requested as string) : LEGACY_VERSIONS[0];
        return ok({
          protocolVersion,
          capabilities,
          serverInfo: opts.serverInfo,
          ...(opts.instructions ? { instructions: opts.instructions } : {}),
        });
      }
      case 'server/discover':
        return ok({
          supportedVersions: [...MODERN_VERSIONS],
          ...CACHE_HINT,
          capabilities,
          ...(opts.instructions ? { instructions: opts.instructions } : {}),
          ...(era === 'legacy' ? { serverInfo: opts.serverInfo } : {}),
        });
      case 'ping':
        // Removed in 2026-07-28; still part of the legacy protocol.
        if (era === 'legacy') return ok({});
        break;
      case 'tools/list':
        return ok(era === 'modern' ? { tools: toolList, ...CACHE_HINT } : { tools: toolList });
      case 'tools/call': {
        if (typeof params.name !== 'string') return errorReply(200, id, ErrorCode.InvalidParams, 'tools/call needs params.name (a string)');
        if (!byName.has(params.name)) return errorReply(200, id, ErrorCode.InvalidParams, `Tool ${params.name} not found`);
        if (params.arguments !== undefined && !isObject(params.arguments)) {
          return errorReply(200, id, ErrorCode.InvalidParams, 'tools/call params.arguments must be an object');
        }
        const meta = isObject(params._meta) ? params._meta : undefined;
        return ok(await callTool(params.name, (params.arguments ?? {}) as Record<string, unknown>, signal, era, meta, lease));
      }
    }
    return errorReply(era === 'modern' ? 404 : 200, id, ErrorCode.MethodNotFound, `Method not found: ${req.method}`);
  }

  return {
    /** The tools as `tools/list` shows them. */
    listTools: () => toolList,
    callTool,
    /**
     * A share of the reply budget for one request: pass it to `handle` or `callTool` and
     * release it once the answer has been handed on (a socket, a channel).
     */
    lease: (): ReplyLease => budget.lease(),
    /** The reply budget, for a status report and tests. */
    budget,
    /**
     * Handles one parsed POST body. `header(name)` returns a request header by its
     * lower-case name. `signal` aborts when the client disconnects. With a `lease`, a tool
     * call's answer stays counted in the reply budget until the caller releases it (after
     * sending); without one, until `handle` returns.
     */
    async handle(body: unknown, header: (name: string) => string | undefined, signal: AbortSignal, lease?: ReplyLease): Promise<McpReply> {
      if (Array.isArray(body)) {
        return errorReply(400, null, ErrorCode.InvalidRequest, 'JSON-RPC batches are not supported (removed in protocol 2025-06-18)');
      }
      if (!isObject(body) || body.jsonrpc !== '2.0' || typeof body.method !== 'string') {
        // A response from the client (to a request we never send) is accepted and ignored.
        if (isObject(body) && body.jsonrpc === '2.0' && ('result' in body || 'error' in body)) return { status: 202 };
        return errorReply(400, null, ErrorCode.InvalidRequest, 'Invalid Request: expected a JSON-RPC 2.0 request object with a string "method"');
      }
      const req = body as unknown as JsonRpcRequest;
      if (req.params !== undefined && !isObject(req.params)) {
        return errorReply(400, req.id ?? null, ErrorCode.InvalidRequest, 'Invalid Request: "params" must be an object');
      }
      const isNotification = req.id === undefined;
      const meta = isObject(req.params?._meta) ? req.params._meta : undefined;
      const headerVersion = header('mcp-protocol-version');
      const id = req.id ?? null;
      // Only what server/discover advertises: 2025 clients negotiate their version through
      // initialize, and a client told of versions discover does not list would be misled.
      const unsupported = (requested: string, message: string) =>
        errorReply(400, id, ErrorCode.UnsupportedProtocolVersion, message, { supported: [...MODERN_VERSIONS], requested });

      // The envelope claim (the version key in _meta) makes a request 2026-07-28, whatever the
      // headers say; checked in the SDK's order: envelope, then headers, then the version.
      if (meta !== undefined && META_VERSION in meta) {
        const problem = isNotification
          ? typeof meta[META_VERSION] === 'string' ? undefined : { key: META_VERSION, problem: 'expected a protocol version string' }
          : envelopeProblem(meta);
        if (problem) {
          return errorReply(400, id, ErrorCode.InvalidParams, `Invalid _meta envelope for protocol revision ${MODERN_VERSIONS[0]}: ${problem.key}: ${problem.problem}`, { envelope: problem });
        }
        const metaVersion = meta[META_VERSION] as string;
        const methodHeader = header('mcp-method');
        // The headers must agree with the body, so that intermediaries that route on headers
        // cannot be shown one request and have another executed. In the SDK's order: headers
        // that disagree, then the version, then required headers that are absent (a
        // notification needs none).
        if (headerVersion !== undefined && headerVersion !== metaVersion) {
          return mismatchReply(id, headerVersion, `${isNotification ? 'the notification envelope' : 'the body envelope'} names protocol version ${metaVersion} but the MCP-Protocol-Version header names ${headerVersion}`);
        }
        if (methodHeader !== undefined && methodHeader !== req.method) {
          return mismatchReply(id, methodHeader, `${isNotification ? 'the notification body' : 'the body'} names method ${req.method} but the Mcp-Method header names ${methodHeader}`);
        }
        if (!(MODERN_VERSIONS as readonly string[]).includes(metaVersion)) return unsupported(metaVersion, `Unsupported protocol version: ${metaVersion}`);
        if (isNotification) return { status: 202 };
        if (headerVersion === undefined) return mismatchReply(id, '(missing)', `the body envelope names protocol version ${metaVersion} but the required MCP-Protocol-Version header is absent`);
        if (methodHeader === undefined) return mismatchReply(id, '(missing)', `the body names method ${req.method} but the required Mcp-Method header is absent`);
        const badName = nameHeaderMismatch(req, header('mcp-name'));
        if (badName) return badName;
        return dispatch(req, 'modern', signal, lease);
      }

      if (headerVersion !== undefined && !(LEGACY_VERSIONS as readonly string[]).includes(headerVersion)) {
        // The SDK's test for the modern era (so the hub's): any version from 2026-07-28 on, by
        // string order, known or not.
        if (headerVersion >= MODERN_VERSIONS[0]) {
          // A 2026-era request without its envelope: invalid params, as the SDK answers
          // (the headers do not disagree with a body that names no version). A notification
          // needs no envelope, but its method header must still be its method.
          if (isNotification) {
            const methodHeader = header('mcp-method');
            if (methodHeader !== undefined && methodHeader !== req.method) return mismatchReply(id, methodHeader, `the notification body names method ${req.method} but the Mcp-Method header names ${methodHeader}`);
            return { status: 202 };
          }
          const missing = meta === undefined ? ['_meta'] : [META_VERSION, META_CLIENT_CAPABILITIES].filter((k) => !(k in meta));
          return errorReply(400, id, ErrorCode.InvalidParams, `Invalid params: the MCP-Protocol-Version header names protocol revision ${headerVersion}, but the request is missing the required per-request envelope key(s): ${missing.join(', ')}`, {
            envelope: { missing },
          });
        }
        return unsupported(headerVersion, `Bad Request: unsupported MCP-Protocol-Version ${headerVersion}; 2025 clients negotiate one of ${LEGACY_VERSIONS.join(', ')} through initialize`);
      }
      if (isNotification) return { status: 202 };
      return dispatch(req, 'legacy', signal, lease);
    },
  };
}

export type McpHandler = ReturnType<typeof createMcpHandler>;
