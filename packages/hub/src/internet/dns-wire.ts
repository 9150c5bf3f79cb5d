/**
 * A small DNS client (RFC 1035) for dns_lookup: one question to one server, over UDP, and again
 * over TCP when the answer was truncated. node:dns gives TTLs only for A and AAAA and hides the
 * response code; asking ourselves gives every record's TTL and tells NXDOMAIN from REFUSED.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';

export const RECORD_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;
export type RecordType = keyof typeof RECORD_TYPES;
const TYPE_NAMES = new Map<number, string>(Object.entries(RECORD_TYPES).map(([k, v]) => [v, k]));
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** The record's data as dig shows it: `10 mail.example.test.`, `"v=spf1 -all"`. */
  value: string;
}

export interface DnsAnswer {
  rcode: string;
  /** The server answered for the zone itself (the AA bit). */
  authoritative: boolean;
  answers: DnsRecord[];
  /** Records in the authority section (the SOA of an NXDOMAIN, whose minimum is the negative TTL). */
  authority: DnsRecord[];
}

/** A server address: `10.0.0.53`, `10.0.0.53:5353`, `[::1]:53` or `::1`. Undefined when it is none. */
export function parseServer(s: string): { host: string; port: number } | undefined {
  const br = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s);
  const m = br ?? v4;
  let host: string;
  let port = 53;
  if (m) {
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  } else if (isIP(s) === 6) host = s;
  else return undefined;
  if (!isIP(host) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** The name a PTR question asks for an address: `4.3.2.1.in-addr.arpa`, nibbles under ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.')}.ip6.arpa`;
}

function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (!label) continue;
    const b = Buffer.from(label, 'ascii');
    if (b.length > 63) throw new Error(`the label "${label.slice(0, 20)}…" is longer than 63 characters`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** The query's bytes: recursion desired, one question of class IN. */
export function encodeQuery(id: number, name: string, type: RecordType): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(RECORD_TYPES[type], 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** A name at `off` (compression pointers followed, at most 64 jumps so a loop cannot hang us). */
function readName(buf: Buffer, off: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  for (let jumps = 0; jumps < 64; jumps++) {
    const len = buf.readUInt8(off);
    if (len === 0) return { name: labels.length ? `${labels.join('.')}.` : '.', end: end < 0 ? off + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = off + 2;
      off = buf.readUInt16BE(off) & 0x3fff;
      continue;
    }
    if (off + 1 + len > buf.length) throw new Error('a name runs past the end of the answer');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  throw new Error('a name with too many compression pointers');
}

function rdataText(buf: Buffer, type: number, off: number, len: number): string {
  switch (type) {
    case 1:
      return [...buf.subarray(off, off + 4)].join('.');
    case 28: {
      const g: string[] = [];
      for (let i = 0; i < 16; i += 2) g.push(buf.readUInt16BE(off + i).toString(16));
      // The shortest form (RFC 5952), as dig prints it: the WHATWG URL parser writes exactly that.
      return new URL(`http://[${g.join(':')}]/`).hostname.slice(1, -1);
    }
    case 2:
    case 5:
    case 12:
      return readName(buf, off).name;
    case 15:
      return `${buf.readUInt16BE(off)} ${readName(buf, off + 2).name}`;
    case 16: {
      const strings: string[] = [];
      for (let p = off; p < off + len; ) {
        const l = buf.readUInt8(p);
        strings.push(JSON.stringify(buf.toString('utf8', p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return strings.join(' ');
    }
    case 33:
      return `${buf.readUInt16BE(off)} ${buf.readUInt16BE(off + 2)} ${buf.readUInt16BE(off + 4)} ${readName(buf, off + 6).name}`;
    case 6: {
      const m = readName(buf, off);
      const r = readName(buf, m.end);
      const n = [0, 4, 8, 12, 16].map((i) => buf.readUInt32BE(r.end + i));
      return `${m.name} ${r.name} ${n.join(' ')}`;
    }
    default:
      return `\\# ${len} ${buf.toString('hex', off, off + len)}`;
  }
}

/** Parses a response to the query with `id`. */
export function decodeResponse(buf: Buffer, id: number): DnsAnswer & { truncated: boolean } {
  if (buf.length < 12) throw new Error('an answer shorter than a DNS header');
  if (buf.readUInt16BE(0) !== id) throw new Error('an answer to another question');
  const flags = buf.readUInt16BE(2);
  const [qd, an, ns] = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8)];
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(buf, off).end + 4;
  const section = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const { name, end } = readName(buf, off);
      const type = buf.readUInt16BE(end);
      const ttl = buf.readUInt32BE(end + 4);
      const len = buf.readUInt16BE(end + 8);
      const data = end + 10;
      if (data + len > buf.length) throw new Error('a record runs past the end of the answer');
      out.push({ name, type: TYPE_NAMES.get(type) ?? `TYPE${type}`, ttl, value: rdataText(buf, type, data, len) });
      off = data + len;
    }
    return out;
  };
  const answers = section(an);
  const authority = section(ns);
  return { rcode: RCODES[flags & 0xf] ?? `RCODE${flags & 0xf}`, authoritative: (flags & 0x0400) !== 0, truncated: (flags & 0x0200) !== 0, answers, authority };
}

function udp(server: { host: string; port: number }, query: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, b?: Buffer) => {
      signal.removeEventListener('abort', onAbort);
      sock.close();
      if (err) reject(err);
      else resolve(b!);
    };
    const onAbort = () => done(new Error(signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'no answer in time' : 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e) => done(e));
    // Only the server asked may answer (a spoofed answer from elsewhere is ignored).
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port === server.port && msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(undefined, msg);
    });
    sock.connect(server.port, server.host, () => sock.send(query));
  });
}

function tcp(server: { host: string; port: number }, query: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let got = Buffer.alloc(0);
    const done = (err: Error | undefined, b?: Buffer) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(b!);
    };
    const onAbort = () => done(new Error('no answer in time'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e) => done(e));
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length > 70_000) return done(new Error('an answer over 64 KiB'));
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(undefined, got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    sock.connect(server.port, server.host, () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
  });
}

/**
 * Asks `server` for `name`'s `type` records.
 *
 * @example await queryDns({ host: '127.0.0.1', port: 5353 }, 'nas.home.test', 'A', AbortSignal.timeout(5000))
 */
export async function queryDns(server: { host: string; port: number }, name: string, type: RecordType, signal: AbortSignal): Promise<DnsAnswer> {
  const id = randomInt(0, 65536);
  const query = encodeQuery(id, name, type);
  let r = decodeResponse(await udp(server, query, signal), id);
  if (r.truncated) r = decodeResponse(await tcp(server, query, signal), id);
  const { truncated: _t, ...answer } = r;
  return answer;
}
