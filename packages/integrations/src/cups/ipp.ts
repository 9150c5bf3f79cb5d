/**
 * A small IPP/1.1 (RFC 8010) encoder and decoder: enough for CUPS's printer and job operations
 * over plain HTTP POST (`Content-Type: application/ipp`). Ours because the npm `ipp` package is
 * unmaintained (engines node < 4). The decoder treats the server as untrusted: every length is
 * checked against the bytes left, and the number of groups, attributes, values and collection
 * depth are capped, so a hostile or broken answer costs bounded memory and ends in an
 * `IppError`, never an exception of the runtime.
 *
 * @example
 * const body = encodeIpp({ operation: IPP_OP.getJobs, requestId: 1, groups: [operationGroup('ipp://cups.lan:631/printers/PDF', 'homelab-mcp')] });
 * const answer = decodeIpp(bytes); // { statusCode: 0, groups: [{ tag: 'job', attributes: { 'job-id': [3], ... } }, ...] }
 */

/** Operation ids (RFC 8011 §5.4.15, CUPS Implementation of IPP). */
export const IPP_OP = {
  printJob: 0x0002,
  cancelJob: 0x0008,
  getJobAttributes: 0x0009,
  getJobs: 0x000a,
  getPrinterAttributes: 0x000b,
  holdJob: 0x000c,
  releaseJob: 0x000d,
  cupsGetPrinters: 0x4002,
} as const;

/** Delimiter tags that start an attribute group. */
export const GROUP_TAG = { operation: 0x01, job: 0x02, end: 0x03, printer: 0x04, unsupported: 0x05 } as const;
const GROUP_NAME: Record<number, IppGroup['tag']> = { 0x01: 'operation', 0x02: 'job', 0x04: 'printer', 0x05: 'unsupported' };

/** Value tags (RFC 8010 §3.5.2). */
export const VALUE_TAG = {
  unsupported: 0x10,
  unknown: 0x12,
  noValue: 0x13,
  integer: 0x21,
  boolean: 0x22,
  enum: 0x23,
  octetString: 0x30,
  dateTime: 0x31,
  resolution: 0x32,
  rangeOfInteger: 0x33,
  begCollection: 0x34,
  textWithLanguage: 0x35,
  nameWithLanguage: 0x36,
  endCollection: 0x37,
  text: 0x41,
  name: 0x42,
  keyword: 0x44,
  uri: 0x45,
  uriScheme: 0x46,
  charset: 0x47,
  naturalLanguage: 0x48,
  mimeMediaType: 0x49,
  memberAttrName: 0x4a,
} as const;

/** A decoded value: numbers for integer and enum, booleans, strings, or a collection. */
export type IppValue = number | boolean | string | null | { lower: number; upper: number } | { x: number; y: number; units: number } | IppCollection;
export interface IppCollection {
  [member: string]: IppValue[];
}

export interface IppGroup {
  tag: 'operation' | 'job' | 'printer' | 'unsupported' | 'other';
  attributes: Record<string, IppValue[]>;
}

export interface IppResponse {
  version: string;
  /** `0x0000` successful-ok; `< 0x0100` success of some kind. */
  statusCode: number;
  requestId: number;
  groups: IppGroup[];
}

/** One attribute to encode; `values` of one type (a 1setOf when several). */
export interface IppAttribute {
  tag: number;
  name: string;
  values: Array<string | number | boolean>;
}

export interface IppRequest {
  /** Default `2.0` (CUPS 2 speaks it; `1.1` for older servers). */
  version?: '1.1' | '2.0';
  operation: number;
  requestId: number;
  groups: Array<{ tag: number; attributes: IppAttribute[] }>;
  /** The document (Print-Job), after the end-of-attributes tag. */
  data?: Uint8Array;
}

/** What the decoder accepts at most. */
export interface IppLimits {
  groups: number;
  attributes: number;
  valuesPerAttribute: number;
  depth: number;
  /** Longest string value kept (longer ones are cut, with a mark). */
  stringChars: number;
}

/** Enough for a few thousand jobs or a few hundred printers with the attributes we ask. */
export const DEFAULT_IPP_LIMITS: IppLimits = { groups: 5000, attributes: 100_000, valuesPerAttribute: 2000, depth: 8, stringChars: 4096 };

/** An answer that is not IPP, or is past the limits: the message says what and where. */
export class IppError extends Error {
  override name = 'IppError';
}

const utf8 = new TextEncoder();

function u16(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}
function i32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

function encodeValue(tag: number, v: string | number | boolean): Uint8Array {
  if (tag === VALUE_TAG.integer || tag === VALUE_TAG.enum) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new IppError(`IPP: ${String(v)} is not a 32-bit integer`);
    return i32(v);
  }
  if (tag === VALUE_TAG.boolean) return Uint8Array.of(v ? 1 : 0);
  if (tag === VALUE_TAG.noValue) return new Uint8Array(0);
  const bytes = utf8.encode(String(v));
  if (bytes.length > 0x7fff) throw new IppError(`IPP: a value of ${bytes.length} bytes is longer than 32767`);
  return bytes;
}

/** The bytes of an IPP/2.0 request. */
export function encodeIpp(req: IppRequest): Uint8Array {
  const [major, minor] = (req.version ?? '2.0').split('.').map(Number) as [number, number];
  const parts: Uint8Array[] = [Uint8Array.of(major, minor), u16(req.operation), i32(req.requestId)];
  for (const g of req.groups) {
    parts.push(Uint8Array.of(g.tag));
    for (const a of g.attributes) {
      if (!a.values.length) throw new IppError(`IPP: attribute ${a.name} has no value`);
      a.values.forEach((v, i) => {
        // Additional values of a 1setOf carry an empty name.
        const name = utf8.encode(i === 0 ? a.name : '');
        const value = encodeValue(a.tag, v);
        parts.push(Uint8Array.of(a.tag), u16(name.length), name, u16(value.length), value);
      });
    }
  }
  parts.push(Uint8Array.of(GROUP_TAG.end));
  if (req.data) parts.push(req.data);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The operation group every request starts with (RFC 8011 §4.1.4): charset, language, the
 * target (a printer-uri, or an attribute such as job-uri) and who asks.
 */
export function operationGroup(target: string | IppAttribute, user: string, more: IppAttribute[] = []): { tag: number; attributes: IppAttribute[] } {
  return {
    tag: GROUP_TAG.operation,
    attributes: [
      { tag: VALUE_TAG.charset, name: 'attributes-charset', values: ['utf-8'] },
      { tag: VALUE_TAG.naturalLanguage, name: 'attributes-natural-language', values: ['en'] },
      typeof target === 'string' ? { tag: VALUE_TAG.uri, name: 'printer-uri', values: [target] } : target,
      { tag: VALUE_TAG.name, name: 'requesting-user-name', values: [user] },
      ...more,
    ],
  };
}

const utf8d = new TextDecoder('utf-8', { fatal: false });

/** Decodes an IPP response; throws `IppError` on anything malformed or past `limits`. */
export function decodeIpp(bytes: Uint8Array, limits: IppLimits = DEFAULT_IPP_LIMITS): IppResponse {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new IppError(`IPP: the answer ends inside ${what} (at byte ${at} of ${bytes.length})`);
  };
  need(8, 'the header');
  const version = `${bytes[0]}.${bytes[1]}`;
  if (bytes[0]! < 1 || bytes[0]! > 2) throw new IppError(`IPP: version ${version} is not IPP (is this a CUPS server?)`);
  const statusCode = view.getUint16(2);
  const requestId = view.getInt32(4);
  at = 8;
  const groups: IppGroup[] = [];
  let attributeCount = 0;
  let group: IppGroup | undefined;
  // The attribute that additional values (empty name) belong to, and the collection stack.
  let last: IppValue[] | undefined;
  const stack: Array<{ coll: IppCollection; values: IppValue[]; member?: IppValue[] }> = [];

  const str = (start: number, len: number): string => {
    const s = utf8d.decode(bytes.subarray(start, start + len));
    return s.length > limits.stringChars ? `${s.slice(0, limits.stringChars)}…` : s;
  };
  const push = (target: IppValue[], v: IppValue) => {
    if (target.length >= limits.valuesPerAttribute) throw new IppError(`IPP: an attribute has more than ${limits.valuesPerAttribute} values`);
    target.push(v);
  };

  for (;;) {
    need(1, 'a tag');
    const tag = bytes[at]!;
    at += 1;
    if (tag === GROUP_TAG.end) {
      if (stack.length) throw new IppError('IPP: a collection is not closed before the end');
      break;
    }
    if (tag < 0x10) {
      if (stack.length) throw new IppError('IPP: a group starts inside a collection');
      if (groups.length >= limits.groups) throw new IppError(`IPP: more than ${limits.groups} attribute groups`);
      group = { tag: GROUP_NAME[tag] ?? 'other', attributes: Object.create(null) as Record<string, IppValue[]> };
      groups.push(group);
      last = undefined;
      continue;
    }
    if (tag === 0x7f) throw new IppError('IPP: extended value tags are not supported');
    if (!group) throw new IppError('IPP: an attribute comes before any group');
    need(2, 'a name length');
    const nameLen = view.getUint16(at);
    at += 2;
    need(nameLen, 'a name');
    const name = str(at, nameLen);
    at += nameLen;
    need(2, 'a value length');
    const valueLen = view.getUint16(at);
    at += 2;
    need(valueLen, `the value of ${name || 'an attribute'}`);
    const vs = at;
    at += valueLen;

    let value: IppValue;
    switch (tag) {
      case VALUE_TAG.integer:
      case VALUE_TAG.enum:
        if (valueLen !== 4) throw new IppError(`IPP: ${name || 'an integer'} has ${valueLen} bytes, not 4`);
        value = view.getInt32(vs);
        break;
      case VALUE_TAG.boolean:
        if (valueLen !== 1) throw new IppError(`IPP: ${name || 'a boolean'} has ${valueLen} bytes, not 1`);
        value = bytes[vs] !== 0;
        break;
      case VALUE_TAG.rangeOfInteger:
        if (valueLen !== 8) throw new IppError(`IPP: ${name || 'a range'} has ${valueLen} bytes, not 8`);
        value = { lower: view.getInt32(vs), upper: view.getInt32(vs + 4) };
        break;
      case VALUE_TAG.resolution:
        if (valueLen !== 9) throw new IppError(`IPP: ${name || 'a resolution'} has ${valueLen} bytes, not 9`);
        value = { x: view.getInt32(vs), y: view.getInt32(vs + 4), units: bytes[vs + 8]! };
        break;
      case VALUE_TAG.dateTime: {
        if (valueLen !== 11) throw new IppError(`IPP: ${name || 'a date'} has ${valueLen} bytes, not 11`);
        const b = bytes.subarray(vs, vs + 11);
        const utcMs = Date.UTC(view.getUint16(vs), b[2]! - 1, b[3]!, b[4]!, b[5]!, b[6]!, b[7]! * 100);
        const offsetMin = (b[8] === 0x2d ? 1 : -1) * (b[9]! * 60 + b[10]!);
        const t = new Date(utcMs + offsetMin * 60_000);
        value = Number.isNaN(t.getTime()) ? null : t.toISOString();
        break;
      }
      case VALUE_TAG.textWithLanguage:
      case VALUE_TAG.nameWithLanguage: {
        // language length, language, text length, text
        if (valueLen < 4) throw new IppError(`IPP: ${name} is too short for a value with a language`);
        const langLen = view.getUint16(vs);
        if (2 + langLen + 2 > valueLen) throw new IppError(`IPP: ${name}: the language does not fit its value`);
        const textLen = view.getUint16(vs + 2 + langLen);
        if (2 + langLen + 2 + textLen !== valueLen) throw new IppError(`IPP: ${name}: the text does not fit its value`);
        value = str(vs + 4 + langLen, textLen);
        break;
      }
      case VALUE_TAG.unsupported:
      case VALUE_TAG.unknown:
      case VALUE_TAG.noValue:
        value = null;
        break;
      case VALUE_TAG.begCollection:
        value = Object.create(null) as IppCollection;
        break;
      case VALUE_TAG.endCollection:
      case VALUE_TAG.memberAttrName:
        value = str(vs, valueLen);
        break;
      default:
        // text, name, keyword, uri, charset, language, mime type, octetString and any other
        // string-like tag: kept as text.
        value = str(vs, valueLen);
    }

    if (tag === VALUE_TAG.endCollection) {
      if (!stack.length) throw new IppError('IPP: a collection ends that never began');
      stack.pop();
      continue;
    }
    if (stack.length) {
      const top = stack[stack.length - 1]!;
      if (tag === VALUE_TAG.memberAttrName) {
        if (++attributeCount > limits.attributes) throw new IppError(`IPP: more than ${limits.attributes} attributes`);
        top.member = top.coll[value as string] = [];
        continue;
      }
      if (!top.member) throw new IppError('IPP: a collection member has no name');
      push(top.member, value);
      if (tag === VALUE_TAG.begCollection) {
        if (stack.length >= limits.depth) throw new IppError(`IPP: collections nested deeper than ${limits.depth}`);
        stack.push({ coll: value as IppCollection, values: top.member });
      }
      continue;
    }
    if (nameLen === 0) {
      if (!last) throw new IppError('IPP: an additional value without an attribute');
      push(last, value);
    } else {
      if (++attributeCount > limits.attributes) throw new IppError(`IPP: more than ${limits.attributes} attributes`);
      last = group.attributes[name] = [value];
    }
    if (tag === VALUE_TAG.begCollection) stack.push({ coll: value as IppCollection, values: last });
  }
  return { version, statusCode, requestId, groups };
}

/** IPP status codes in words (RFC 8011 §B, CUPS), for error messages. */
export const IPP_STATUS: Record<number, string> = {
  0x0000: 'successful-ok',
  0x0001: 'successful-ok-ignored-or-substituted-attributes',
  0x0002: 'successful-ok-conflicting-attributes',
  0x0400: 'client-error-bad-request',
  0x0401: 'client-error-forbidden',
  0x0402: 'client-error-not-authenticated',
  0x0403: 'client-error-not-authorized',
  0x0404: 'client-error-not-possible',
  0x0405: 'client-error-timeout',
  0x0406: 'client-error-not-found',
  0x0407: 'client-error-gone',
  0x0408: 'client-error-request-entity-too-large',
  0x040a: 'client-error-document-format-not-supported',
  0x040b: 'client-error-attributes-or-values-not-supported',
  0x0500: 'server-error-internal-error',
  0x0501: 'server-error-operation-not-supported',
  0x0502: 'server-error-service-unavailable',
  0x0506: 'server-error-not-accepting-jobs',
  0x0507: 'server-error-busy',
};

/** The values of `name` in the first group of kind `tag`, or undefined. */
export function ippAttr(res: IppResponse, tag: IppGroup['tag'], name: string): IppValue[] | undefined {
  return res.groups.find((g) => g.tag === tag && name in g.attributes)?.attributes[name];
}
