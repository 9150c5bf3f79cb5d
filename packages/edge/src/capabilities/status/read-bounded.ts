/**
 * Bounded, synchronous reads of /proc and /sys files.
 *
 * Synchronous on purpose: these files are generated from kernel memory when read and never wait
 * for a disk, so one read takes microseconds, while an `fs/promises` read costs a round trip
 * through libuv's thread pool (open, read, close: three hops per file, about 35 files per
 * `get_status`). Only `statfs` stays asynchronous (see `collect.ts`): on a dead NFS mount it
 * blocks forever. Do not use these helpers for files on real filesystems that may block.
 *
 * Their stat size is 0, so `fs.readFileSync` cannot size a buffer and would read whatever the
 * kernel hands out; a mounts table on a Kubernetes node or /proc/net/tcp on a busy proxy can be
 * large, so every read stops at a cap.
 */
import { closeSync, openSync, readSync, readdirSync } from 'node:fs';

/** Default cap of one /proc or /sys read. */
export const MAX_PROC_FILE_BYTES = 1 << 20;
/** Cap of a one-value sysfs attribute (`temp`, `mtu`, `operstate`...). */
export const MAX_ATTR_BYTES = 4096;

// One scratch buffer for every read: the reads are synchronous, so they can never interleave.
// Allocated on first use; most /proc and /sys files fit in one read of it.
const SCRATCH_BYTES = 16 * 1024;
let scratch: Buffer | undefined;

/**
 * Reads at most `maxBytes` of a file as UTF-8; a longer file is cut (parsers drop a cut last line).
 * Throws the `fs` error (ENOENT, EACCES, EINVAL...) when the file cannot be opened or read.
 * @example const text = readBounded('/proc/meminfo');
 */
export function readBounded(path: string, maxBytes = MAX_PROC_FILE_BYTES): string {
  const fd = openSync(path, 'r');
  try {
    return readAll(fd, maxBytes, false);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads all of `fd` (at most `maxBytes`): from its current offset, or, `fromStart`, with
 * positioned reads from offset 0, which a /proc file answers with its content as of now.
 */
function readAll(fd: number, maxBytes: number, fromStart: boolean): string {
  const buf = (scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES));
  let chunks: Buffer[] | undefined;
  let total = 0;
  const at = () => (fromStart ? total : null);
  while (total < maxBytes) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, maxBytes - total), at());
    if (n === 0) break;
    // The kept-open files are generated whole by one call into the kernel (single-record seq
    // files): a first read shorter than asked is all of it, no end-of-file read needed.
    if (fromStart && total === 0 && n < buf.length && n < maxBytes) return buf.toString('utf8', 0, n);
    total += n;
    // The common case, a file that fits in one read, decodes straight from the scratch buffer.
    if (chunks === undefined && n < buf.length && total < maxBytes) {
      const rest = readSync(fd, buf, n, 1, at());
      if (rest === 0) return buf.toString('utf8', 0, n);
      total += rest;
      chunks = [Buffer.from(buf.subarray(0, n + rest))];
      continue;
    }
    (chunks ??= []).push(Buffer.from(buf.subarray(0, n)));
  }
  return chunks === undefined ? '' : Buffer.concat(chunks).toString('utf8');
}

// Files of the real /proc read on every get_status, opened once: each read then costs one
// positioned read (and the end-of-file read), without an open and a close.
const keptOpen = new Map<string, number>();

/**
 * `readBounded` for a file of the real /proc read again and again (loadavg, meminfo, stat,
 * uptime): the file stays open and is read from offset 0 each time, which /proc answers with
 * its content as of that read. Only for /proc files the kernel writes with one `show` (a
 * single-record seq file: a read shorter than asked holds all of it), and only the real /proc:
 * a regular file replaced under the path would still be read through the old descriptor.
 * @example const text = readKeptOpen('/proc/loadavg');
 */
export function readKeptOpen(path: string, maxBytes = MAX_PROC_FILE_BYTES): string {
  let fd = keptOpen.get(path);
  if (fd === undefined) keptOpen.set(path, (fd = openSync(path, 'r')));
  try {
    return readAll(fd, maxBytes, true);
  } catch (err) {
    keptOpen.delete(path);
    closeSync(fd);
    throw err;
  }
}

/** Bytes asked per read of a TCP table: a few lines, so the kernel stops walking soon after them. */
const TCP_TABLE_CHUNK = 512;
/** States listed among the listening sockets: LISTEN, and SYN_RECV (under each listener before Linux 4.4). */
const LISTEN_SECTION_STATES = new Set(['0A', '03']);

/**
 * Reads /proc/net/tcp or tcp6 up to the end of its listening sockets, as complete lines.
 *
 * The kernel lists the listening sockets first, then walks every bucket of the established-
 * connections hash table for the rest (262,144 buckets on a 24 GB machine: about 0.85 ms per
 * read, twice for a whole file with its end-of-file read). The edge only reports listeners, so
 * this reads a few lines at a time and stops at the first line in another state: the kernel then
 * walks only as far as the first established or TIME_WAIT socket.
 * @example parseProcNetTcp(readTcpListenSection('/proc/net/tcp'), 'ipv4')
 */
export function readTcpListenSection(path: string, maxBytes = MAX_PROC_FILE_BYTES): string {
  const buf = (scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES));
  const fd = openSync(path, 'r');
  try {
    let text = '';
    let checked = 0;
    while (text.length < maxBytes) {
      const n = readSync(fd, buf, 0, Math.min(TCP_TABLE_CHUNK, maxBytes - text.length), null);
      if (n === 0) break;
      // The tables are ASCII: one character per byte.
      text += buf.toString('latin1', 0, n);
      for (let nl = text.indexOf('\n', checked); nl !== -1; nl = text.indexOf('\n', checked)) {
        const cols = text.slice(checked, nl).trim().split(/\s+/);
        checked = nl + 1;
        // The header's fourth column is `st`, not a state: only numbered lines are sockets.
        if (/^\d+:$/.test(cols[0] ?? '') && cols[3] !== undefined && !LISTEN_SECTION_STATES.has(cols[3])) return text.slice(0, checked);
      }
    }
    return text.slice(0, checked);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a one-value sysfs attribute, trimmed; undefined when it cannot be read. Many attributes
 * legitimately fail (`speed` of a down link is EINVAL, a sleeping sensor is ENODATA).
 */
export function readAttr(path: string): string | undefined {
  try {
    // Device-tree strings end in NUL; strip it with the whitespace.
    return readBounded(path, MAX_ATTR_BYTES).replace(/\0+$/, '').trim();
  } catch {
    return undefined;
  }
}

/** Lists a directory's entry names, sorted so results do not depend on readdir order. */
export function listDir(path: string): string[] {
  return readdirSync(path).sort(naturalCompare);
}

/**
 * Orders `hwmon10` after `hwmon2` and `temp10_input` after `temp2_input`. Hand-written because
 * `localeCompare`'s numeric option needs ICU, which some distribution builds of Node lack.
 */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const bothNumbers = /^\d/.test(x) && /^\d/.test(y);
    if (bothNumbers && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
