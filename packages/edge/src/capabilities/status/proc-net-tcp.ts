/**
 * Listening TCP sockets from /proc/net/tcp and /proc/net/tcp6, without `ss` or `netstat`
 * (neither is guaranteed on a minimal image, and running them costs a process per call).
 */

/** One listening socket. */
export interface ListeningSocket {
  family: 'ipv4' | 'ipv6';
  /** Local address as people write it: `0.0.0.0`, `127.0.0.1`, `::`, `::ffff:192.168.1.10`. */
  address: string;
  port: number;
}

/** The kernel's TCP_LISTEN state in the `st` column. */
const TCP_LISTEN = '0A';

/**
 * The LISTEN sockets of a /proc/net/tcp (family 'ipv4') or tcp6 ('ipv6') table. The kernel prints
 * each 32-bit word of an address as a host-order integer, so on a little-endian CPU (x86, ARM)
 * the bytes of every word come out reversed; `endianness` is that of the machine that wrote it.
 * @example parseProcNetTcp(text, 'ipv4') // [{ family: 'ipv4', address: '0.0.0.0', port: 22 }]
 */
export function parseProcNetTcp(text: string, family: 'ipv4' | 'ipv6', endianness: 'LE' | 'BE' = 'LE'): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  const hexLen = family === 'ipv4' ? 8 : 32;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // cols: sl, local_address, rem_address, st, ...; the header and a line cut by the read cap fail these checks.
    if (cols.length < 4 || !/^\d+:$/.test(cols[0]!) || cols[3] !== TCP_LISTEN) continue;
    const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(cols[1]!);
    if (!m || m[1]!.length !== hexLen) continue;
    const bytes = decodeAddressBytes(m[1]!, endianness);
    out.push({ family, address: family === 'ipv4' ? bytes.join('.') : formatIpv6(bytes), port: parseInt(m[2]!, 16) });
  }
  return out;
}

/** Unique sockets sorted by port, then family (IPv4 first), then address. */
export function sortListening(sockets: ListeningSocket[]): ListeningSocket[] {
  const seen = new Map<string, ListeningSocket>();
  // SO_REUSEPORT servers (nginx workers, ...) show one line per socket for the same address.
  for (const s of sockets) seen.set(`${s.family} ${s.address} ${s.port}`, s);
  return [...seen.values()].sort(
    (a, b) => a.port - b.port || a.family.localeCompare(b.family) || a.address.localeCompare(b.address),
  );
}

function decodeAddressBytes(hex: string, endianness: 'LE' | 'BE'): number[] {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word: number[] = [];
    for (let i = 0; i < 8; i += 2) word.push(parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(endianness === 'LE' ? word.reverse() : word));
  }
  return bytes;
}

/**
 * RFC 5952 text of a 16-byte IPv6 address: lowercase, longest zero run as `::`, IPv4-mapped
 * addresses with a dotted tail.
 * @example formatIpv6([0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]) // '::1'
 */
export function formatIpv6(bytes: number[]): string {
  if (bytes.length !== 16) throw new Error(`an IPv6 address has 16 bytes, got ${bytes.length}`);
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run of two or more zero groups; the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
