/**
 * The one internal error type. `code` is a stable string a caller can switch on;
 * `message` is safe to show to a client (no secrets, no stack, no credentials).
 *
 * @example
 * throw new HomelabError('PATH_OUTSIDE_ROOTS', `${path} is outside the allowed roots`);
 */
export class HomelabError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HomelabError';
    this.code = code;
  }
}

/** True when `err` is a {@link HomelabError}, optionally with the given code. */
export function isHomelabError(err: unknown, code?: string): err is HomelabError {
  return err instanceof HomelabError && (code === undefined || err.code === code);
}
