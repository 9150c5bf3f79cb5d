/**
 * Where http_fetch may connect: the server-side request forgery guard. A destination is judged
 * on the addresses its name resolves to (not on the name: `localhost`, `x.nip.io` or a rebinding
 * name can point anywhere), and the connection then goes to exactly those addresses, never
 * through a second lookup. Refused unless `internet.allowHosts` lists the host: loopback,
 * unspecified, link-local (cloud metadata at 169.254.169.254 included), private and CGNAT, ULA,
 * multicast, broadcast and reserved ranges, IPv4 embedded in IPv6 (`::ffff:127.0.0.1`, NAT64)
 * when the IPv4 is; and the hub's own listeners, always.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
type Bytes = number[];

/** An `internet.allowHosts` entry, parsed. */
export type AllowEntry =
  | { kind: 'cidr'; bytes: Bytes; prefix: number; port?: number; text: string }
  | { kind: 'name'; name: string; wildcard: boolean; port?: number; text: string };

/** A resolved address that may be connected to. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Why a destination is refused; `message` names the host, the address and the setting. */
export class DestinationRefused extends Error {
  override name = 'DestinationRefused';
}

/** Parses `a.b.c.d` or an IPv6 literal (no brackets, zone dropped) to bytes; undefined if neither. */
export function addressBytes(address: string): Bytes | undefined {
  const a = address.replace(/%.*$/, '');
  const fam = isIP(a);
  if (fam === 4) return a.split('.').map(Number);
  if (fam !== 6) return undefined;
  let s = a.toLowerCase();
  let tail: Bytes = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const groups = (x: string) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

const inRange = (b: Bytes, net: Bytes, prefix: number) => {
  if (b.length !== net.length) return false;
  for (let i = 0; i < prefix; i++) {
    const bit = 7 - (i % 8);
    if (((b[i >> 3]! >> bit) & 1) !== ((net[i >> 3]! >> bit) & 1)) return false;
  }
  return true;
};

const FORBIDDEN: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'the unspecified "this host" range (0.0.0.0 reaches the hub\'s own machine)'],
  ['10.0.0.0', 8, 'private (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'shared CGNAT space (100.64.0.0/10, Tailscale addresses among them)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (169.254.0.0/16, where cloud metadata services answer)'],
  ['172.16.0.0', 12, 'private (172.16.0.0/12)'],
  ['192.0.0.0', 24, 'reserved (192.0.0.0/24)'],
  ['192.168.0.0', 16, 'private (192.168.0.0/16)'],
  ['198.18.0.0', 15, 'reserved for benchmarks (198.18.0.0/15)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast (240.0.0.0/4)'],
  ['::', 128, 'unspecified (::, which reaches the hub\'s own machine)'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'an IPv4-compatible IPv6 address (deprecated)'],
  ['64:ff9b:1::', 48, 'local-use NAT64 (64:ff9b:1::/48)'],
  ['fc00::', 7, 'unique local (ULA, fc00::/7)'],
  ['fe80::', 10, 'link-local (fe80::/10)'],
  ['fec0::', 10, 'site-local (fec0::/10)'],
  ['ff00::', 8, 'multicast'],
];
const FORBIDDEN_BYTES = FORBIDDEN.map(([a, p, why]) => ({ bytes: addressBytes(a)!, prefix: p, why }));

/** The IPv4 inside an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address. */
function embeddedV4(b: Bytes): Bytes | undefined {
  if (b.length !== 16) return undefined;
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = inRange(b, addressBytes('64:ff9b::')!, 96);
  return mapped || nat64 ? b.slice(12) : undefined;
}

/**
 * Why `address` may not be a destination, or undefined when it is a public one.
 *
 * @example forbiddenReason('::ffff:127.0.0.1') // 'loopback (as IPv4-mapped IPv6)'
 * @example forbiddenReason('93.184.215.14') // undefined
 */
export function forbiddenReason(address: string): string | undefined {
  const b = addressBytes(address);
  return b ? reasonOf(b) : 'not an IP address';
}

function reasonOf(b: Bytes): string | undefined {
  const v4 = embeddedV4(b);
  if (v4) {
    const inner = reasonOf(v4);
    return inner ? `${inner}, as IPv4 inside IPv6` : undefined;
  }
  return FORBIDDEN_BYTES.find((f) => inRange(b, f.bytes, f.prefix))?.why;
}

const NAME = /^(?:\*\.)?(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * One `internet.allowHosts` entry, or a message saying what was expected. An entry is a host
 * name (`nas.lan`, or `*.lan` for every name under lan), an address (`10.0.0.5`, `fd00::5`) or a
 * CIDR range (`192.168.1.0/24`), optionally with a port so that only that service is allowed:
 * `nas.lan:8443`, `127.0.0.1:8080`, `192.168.1.0/24:80`, `[fd00::5]:443`, `[fd00::/8]:443`.
 *
 * @example parseAllowHost('192.168.1.0/24') // { kind: 'cidr', prefix: 24, ... }
 */
export function parseAllowHost(entry: string): AllowEntry | string {
  const expected = `"${entry}" is not a host name, address or CIDR range with an optional :port (e.g. 192.168.1.0/24, 10.0.0.5:8080, nas.lan, *.lan, [fd00::/8]:443)`;
  let host = entry.trim().toLowerCase();
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if ((host.match(/:/g) ?? []).length === 1) {
    const i = host.lastIndexOf(':');
    if (!/^\d+$/.test(host.slice(i + 1))) return expected;
    port = Number(host.slice(i + 1));
    host = host.slice(0, i);
  }
  if (port !== undefined && !(port >= 1 && port <= 65_535)) return `${expected}: port ${port} is not from 1 to 65535`;
  const withPort = port === undefined ? {} : { port };
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(host);
  const addr = cidr ? cidr[1]! : host;
  const bytes = addressBytes(addr);
  if (bytes) {
    const prefix = cidr ? Number(cidr[2]) : bytes.length * 8;
    if (prefix > bytes.length * 8) return `${expected}: /${prefix} is longer than the address`;
    // `::ffff:10.0.0.0/104` is the IPv4 range: destinations are compared as IPv4 too.
    const v4 = embeddedV4(bytes);
    if (v4 && prefix >= 96) return { kind: 'cidr', bytes: v4, prefix: prefix - 96, ...withPort, text: entry };
    return { kind: 'cidr', bytes, prefix, ...withPort, text: entry };
  }
  if (cidr || !NAME.test(host.replace(/\.$/, ''))) return expected;
  const wildcard = host.startsWith('*.');
  return { kind: 'name', name: host.replace(/^\*\./, '').replace(/\.$/, ''), wildcard, ...withPort, text: entry };
}

/** Parses every entry; throws naming the first bad one (the config schema checked them already). */
export function parseAllowHosts(entries: readonly string[]): AllowEntry[] {
  return entries.map((e, i) => {
    const p = parseAllowHost(e);
    if (typeof p === 'string') throw new Error(`internet.allowHosts[${i}]: ${p}`);
    return p;
  });
}

/** Whether an entry lets `host` (the URL's name or literal), resolved to `address`, on `port` through. */
export function allows(e: AllowEntry, host: string, address: string, port: number): boolean {
  if (e.port !== undefined && e.port !== port) return false;
  if (e.kind === 'name') return e.wildcard ? host.endsWith(`.${e.name}`) : host === e.name;
  const b = addressBytes(address);
  if (!b) return false;
  return inRange(embeddedV4(b) ?? b, e.bytes, e.prefix);
}

/** The addresses of this machine's interfaces, for "is this the hub itself?". */
function localAddresses(): Bytes[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((i) => (i ? [addressBytes(i.address)].filter((b): b is Bytes => !!b) : []));
}

const isLoopback = (b: Bytes) => (b.length === 4 ? b[0] === 127 : sameBytes(b, addressBytes('::1')!));
const sameBytes = (a: Bytes, b: Bytes) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Whether `address:port` is one of the hub's own listeners. A listener on the unspecified
 * address (or on a name) answers on every address of the machine, loopback included.
 */
export function isHubListener(address: string, port: number, listeners: ReadonlyArray<{ address: string; port: number }>): boolean {
  const raw = addressBytes(address);
  if (!raw) return false;
  const b = embeddedV4(raw) ?? raw;
  return listeners.some((l) => {
    if (l.port !== port) return false;
    const lb = addressBytes(l.address);
    const listener = lb && (embeddedV4(lb) ?? lb);
    if (listener && sameBytes(listener, b)) return true;
    // A listener on 0.0.0.0, :: or a name answers on every address of the machine; one on
    // loopback is taken, conservatively, as every loopback address on its port.
    const wide = !listener || listener.every((x) => x === 0) || isLoopback(listener);
    return wide && (isLoopback(b) || b.every((x) => x === 0) || localAddresses().some((x) => sameBytes(x, b)));
  });
}

/** What {@link checkDestination} needs besides the URL. */
export interface DestinationPolicy {
  allow: readonly AllowEntry[];
  hubListeners: ReadonlyArray<{ address: string; port: number }>;
  /** The resolver (tests inject one); default the system's, as every other program here uses. */
  resolve?: (host: string) => Promise<CheckedAddress[]>;
}

const systemResolve = async (host: string): Promise<CheckedAddress[]> =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * The addresses `url` may be connected to, after DNS resolution; throws {@link DestinationRefused}
 * saying why not. A name that resolves to several addresses is refused when any of them is
 * forbidden (the connection may go to any of them, and a mixed answer is the mark of a
 * rebinding trick), so every address returned is one the caller may connect to.
 *
 * @example await checkDestination(new URL('http://localhost:8080/'), { allow: [], hubListeners: [] }) // throws: localhost is 127.0.0.1: loopback
 */
export async function checkDestination(url: URL, policy: DestinationPolicy, signal?: AbortSignal): Promise<CheckedAddress[]> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DestinationRefused(`${url.protocol.replace(/:$/, '')}: URLs are not fetched (only http and https)`);
  // WHATWG URL parsing already turned 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1, and
  // brackets IPv6 literals; a name keeps a trailing dot, which resolves like the name without.
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const name = host.replace(/\.$/, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const literal = isIP(host) !== 0;
  let addresses: CheckedAddress[];
  if (literal) addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
  else {
    const lookup = (policy.resolve ?? systemResolve)(name);
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(signal.reason);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    try {
      addresses = await Promise.race([lookup, aborted]);
    } catch (err) {
      if (signal?.aborted) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new DestinationRefused(`${name} does not resolve${code ? ` (${code})` : ''}`);
    }
    if (addresses.length === 0) throw new DestinationRefused(`${name} does not resolve`);
  }
  const what = (a: CheckedAddress) => (literal ? host : `${name} resolves to ${addresses.map((x) => x.address).join(', ')}, and ${a.address}`);
  for (const a of addresses) {
    if (isHubListener(a.address, port, policy.hubListeners)) throw new DestinationRefused(`${what(a)} port ${port} is the hub itself: http_fetch never calls the hub`);
    const why = forbiddenReason(a.address);
    if (!why || policy.allow.some((e) => allows(e, name, a.address, port))) continue;
    const example = literal ? `${isIP(host) === 6 ? `[${host}]` : host}:${port}` : `${name}:${port}`;
    throw new DestinationRefused(`${what(a)} is ${why}: http_fetch reaches such addresses only when internet.allowHosts lists the host (e.g. "${example}")`);
  }
  return addresses;
}
