/**
 * Bounded reads of /proc and /sys files. Their stat size is 0, so `fs.readFile` cannot
 * size a buffer and would read whatever the kernel hands out; a mounts table on a
 * Kubernetes node or /proc/net/tcp on a busy proxy can be large, so every read stops at a cap.
 */
import { open, readdir } from 'node:fs/promises';

/** Default cap of one /proc or /sys read. */
export const MAX_PROC_FILE_BYTES = 1 << 20;
/** Cap of a one-value sysfs attribute (`temp`, `mtu`, `operstate`...). */
export const MAX_ATTR_BYTES = 4096;

/**
 * Reads at most `maxBytes` of a file as UTF-8; a longer file is cut (parsers drop a cut last line).
 * @example const text = await readBounded('/proc/meminfo');
 */
export async function readBounded(path: string, maxBytes = MAX_PROC_FILE_BYTES, signal?: AbortSignal): Promise<string> {
  signal?.throwIfAborted();
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(maxBytes, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < maxBytes) {
      signal?.throwIfAborted();
      const want = Math.min(buf.length, maxBytes - total);
      const { bytesRead } = await fh.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
      total += bytesRead;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Reads a one-value sysfs attribute, trimmed; undefined when it cannot be read. Many attributes
 * legitimately fail (`speed` of a down link is EINVAL, a sleeping sensor is ENODATA).
 */
export async function readAttr(path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    // Device-tree strings end in NUL; strip it with the whitespace.
    return (await readBounded(path, MAX_ATTR_BYTES, signal)).replace(/\0+$/, '').trim();
  } catch (err) {
    if (signal?.aborted) throw err;
    return undefined;
  }
}

/** Lists a directory's entry names, sorted so results do not depend on readdir order. */
export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort(naturalCompare);
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
