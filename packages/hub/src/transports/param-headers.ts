/**
 * SEP-2243 `Mcp-Param-*` headers on a 2026-07-28 `tools/call`: a tool whose `inputSchema`
 * marks a parameter with `x-mcp-header: Name` gets that argument in an `Mcp-Param-Name` header
 * too (so a proxy or load balancer can route by it without reading the body), and the server
 * must refuse a request whose header is missing, not decodable or disagrees with the body.
 *
 * The SDK does this only for an `McpServer`'s own tools (`createMcpHandler` asks
 * `toolInputSchemaJson`); the hub serves its catalog with a plain `Server`, so an upstream's
 * `x-mcp-header` tool passed through it went unchecked. The SDK does not export its checker
 * (`scanXMcpHeaderDeclarations`, `validateMcpParamHeaders` in its core): this is a port of
 * both, answering with the same status, code, message and `data.mismatch`
 * (`param-headers.test.ts` compares it with a real SDK server, request for request).
 */
import type { Catalog } from '../catalog/catalog.ts';

/** One `x-mcp-header` parameter: where it sits in the arguments and its header's name. */
export interface ParamHeader {
  path: string[];
  headerName: string;
  type: string | undefined;
}

/** A refused request, as the SDK answers it: HTTP 400 and a -32020 (HeaderMismatch) error. */
export interface ParamHeaderRejection {
  status: 400;
  /** The SDK's name for the failed check (`param-header-missing`, `-mismatch`, `-invalid-encoding`). */
  cell: string;
  error: { code: -32020; message: string; data: { mismatch: { header: string; body: string } } };
}

const KEY = 'x-mcp-header';
const PREFIX = 'Mcp-Param-';
const RFC9110_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PERMITTED_TYPES = new Set(['string', 'integer', 'boolean']);
/** Where the spec forbids the annotation: only a chain of `properties` may lead to it. */
const NOT_REACHABLE = ['items', 'prefixItems', 'contains', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems', 'propertyNames', 'patternProperties', 'dependentSchemas', 'oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', '$defs', 'definitions'];
const OBJECT_VALUED = new Set(['patternProperties', 'dependentSchemas', '$defs', 'definitions']);
const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CANONICAL_DECIMAL = /^-?\d+(\.\d+)?$/;

const pathName = (path: string[]) => (path.length === 0 ? '<root>' : path.join('.'));

/**
 * The `x-mcp-header` parameters of a tool's input schema the SDK checks: none for a schema
 * without any, and none for one the spec makes invalid (the SDK warns about those and checks
 * nothing), except that a `number`-typed parameter, invalid too, is still checked, as the SDK
 * does.
 *
 * @example paramHeaders({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } })
 * // [{ path: ['region'], headerName: 'Region', type: 'string' }]
 */
export function paramHeaders(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const seenLower = new Set<string>();
  // Any fault but a number type makes the tool invalid: nothing is checked, as in the SDK.
  const visit = (node: unknown, path: string[], reachable: boolean): boolean => {
    if (node === null || typeof node !== 'object') return true;
    const schema = node as Record<string, unknown>;
    if (KEY in schema) {
      const raw = schema[KEY];
      if (!reachable || path.length === 0 || typeof raw !== 'string' || raw.length === 0 || !RFC9110_TOKEN.test(raw)) return false;
      const type = typeof schema.type === 'string' ? schema.type : undefined;
      if ((type === undefined || !PERMITTED_TYPES.has(type)) && type !== 'number') return false;
      if (seenLower.has(raw.toLowerCase())) return false;
      seenLower.add(raw.toLowerCase());
      found.push({ path, headerName: raw, type });
    }
    const properties = schema.properties;
    if (properties !== null && typeof properties === 'object') {
      for (const [key, child] of Object.entries(properties)) if (!visit(child, [...path, key], reachable)) return false;
    }
    for (const k of NOT_REACHABLE) {
      const sub = schema[k];
      if (sub === undefined) continue;
      const branches = Array.isArray(sub) ? sub : sub !== null && typeof sub === 'object' && OBJECT_VALUED.has(k) ? Object.values(sub) : [sub];
      for (const branch of branches) if (!visit(branch, [...path, `<${k}>`], false)) return false;
    }
    return true;
  };
  return visit(inputSchema, [], true) ? found : [];
}

/** A primitive argument as its header carries it; undefined for a value no header is sent for. */
function asHeaderText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return undefined;
    return String(value);
  }
  return undefined;
}

/** A header value as the client meant it (`=?base64?...?=` is UTF-8 in Base64); undefined when that sentinel is not decodable. */
function decodeHeader(value: string): string | undefined {
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const b64 = value.slice(9, value.length - 2);
  if (!BASE64_CANONICAL.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function rejection(cell: string, header: string, body: string): ParamHeaderRejection {
  return { status: 400, cell, error: { code: -32020, message: `Bad Request: the request headers and body disagree: ${body}`, data: { mismatch: { header, body } } } };
}

/**
 * The first `Mcp-Param-*` header that does not carry its argument, as the SDK refuses it; or
 * undefined. An argument that is absent or null needs no header (one sent is ignored);
 * integer and number parameters compare as numbers (`42.0` is `42`).
 *
 * @example checkParamHeaders(decls, { region: 'eu' }, new Headers({ 'mcp-param-region': 'us' }))?.error.code // -32020
 */
export function checkParamHeaders(declared: readonly ParamHeader[], args: unknown, headers: { get(name: string): string | null }): ParamHeaderRejection | undefined {
  for (const decl of declared) {
    const header = `${PREFIX}${decl.headerName}`;
    const bodyRaw = valueAt(args, decl.path);
    if (bodyRaw === undefined || bodyRaw === null) continue;
    const bodyText = asHeaderText(bodyRaw);
    if (bodyText === undefined) continue;
    const value = headers.get(header);
    if (value === null) return rejection('param-header-missing', header, `the body carries ${pathName(decl.path)}=${JSON.stringify(bodyRaw)} but the ${header} header is absent`);
    const decoded = decodeHeader(value);
    if (decoded === undefined) return rejection('param-header-invalid-encoding', header, `the ${header} header carries an invalid Base64 sentinel value`);
    const numeric = (decl.type === 'integer' || decl.type === 'number') && CANONICAL_DECIMAL.test(decoded) && typeof bodyRaw === 'number';
    if (!(numeric ? Number(decoded) === bodyRaw : decoded === bodyText)) {
      return rejection('param-header-mismatch', header, `the ${header} header decodes to ${JSON.stringify(decoded)} but the body carries ${pathName(decl.path)}=${JSON.stringify(bodyRaw)}`);
    }
  }
  return undefined;
}

/**
 * Per catalog, the tools that declare `x-mcp-header` parameters, found once per catalog build:
 * a call to any other tool costs one map lookup.
 *
 * @example const of = createParamHeaderIndex(); of(catalog).get('test_custom_headers')
 */
export function createParamHeaderIndex(): (catalog: Catalog) => ReadonlyMap<string, ParamHeader[]> {
  const byCatalog = new WeakMap<Catalog, Map<string, ParamHeader[]>>();
  return (catalog) => {
    let index = byCatalog.get(catalog);
    if (!index) {
      index = new Map();
      // Admins see every tool: the whole catalog.
      for (const t of catalog.tools('admin')) {
        const declared = paramHeaders(t.def.inputSchema);
        if (declared.length > 0) index.set(t.def.name, declared);
      }
      byCatalog.set(catalog, index);
    }
    return index;
  };
}
