import { createRequire } from 'node:module';
import { readFileSync, statSync } from 'node:fs';

// node:crypto costs ~1 MB of private memory when loaded; the edge idles in a few MB and
// only needs it once a request arrives, so it is loaded on first use.
const requireBuiltin = createRequire(import.meta.url);
let crypto: typeof import('node:crypto') | undefined;
const lazyCrypto = () => (crypto ??= requireBuiltin('node:crypto') as typeof import('node:crypto'));

/**
 * Compares a presented secret with the expected one in constant time.
 * Both sides are hashed first so that neither the length nor a common prefix leaks
 * through timing (timingSafeEqual itself throws on unequal lengths).
 *
 * @example
 * if (!safeEqual(presented, token)) return unauthorized();
 */
export function safeEqual(presented: string, expected: string): boolean {
  const { createHash, timingSafeEqual } = lazyCrypto();
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

/** SHA-256 of a string's UTF-8 bytes, as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  return lazyCrypto().createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `n` random bytes as hex, from the OS's CSPRNG. */
export function randomHex(n: number): string {
  return lazyCrypto().randomBytes(n).toString('hex');
}

/**
 * Extracts the token of an `Authorization: Bearer <token>` header, or undefined.
 * The scheme is case-insensitive (RFC 7235).
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/** A secret read from a file, and what the hub should say about the file's mode. */
export interface SecretFile {
  value: string;
  /** Set when the file is readable by its group: allowed (a shared group), but worth a warning. */
  warning?: string;
}

/**
 * Reads a secret (a token, a header value) from `path`, without its trailing newline (files
 * written by `echo` or an editor end with one). The file must be readable only by the hub's
 * user: one readable by every user is refused, one readable by its group is read with a
 * warning. Throws an Error whose message names the file and what to do, never its content.
 *
 * @example
 * const { value, warning } = readSecretFile('/etc/homelab-hub/secrets/pi-kitchen.token');
 */
export function readSecretFile(path: string): SecretFile {
  let mode: number;
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOTFILE' });
    mode = st.mode & 0o777;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? "permission denied (it must be readable by the hub's user)" : code === 'ENOTFILE' ? 'not a regular file' : String(code ?? err);
    throw new Error(`cannot read secret file ${path}: ${why}`, { cause: err });
  }
  const octal = mode.toString(8).padStart(4, '0');
  if (mode & 0o004) throw new Error(`secret file ${path} is readable by every user (mode ${octal}); refused: chmod 600 ${path}`);
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new Error(`secret file ${path} is empty`);
  return mode & 0o040 ? { value, warning: `secret file ${path} is readable by its group (mode ${octal}); chmod 600 ${path} unless the group is the hub's alone` } : { value };
}
