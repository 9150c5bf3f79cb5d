import { createRequire } from 'node:module';

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
