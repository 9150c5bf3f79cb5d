/**
 * The client's name and version as the hub keeps them. The client chooses them and the hub
 * uses the name as a 2026-07-28 session key (approvals) and writes both to the journal on
 * every event: an unbounded name would grow the journal and the approval map by its size per
 * call. Longer values are cut, with a marker saying so.
 */
export const MAX_CLIENT_FIELD = 128;

const MARKER = '…[cut]';

function cap(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  return v.length <= MAX_CLIENT_FIELD ? v : `${v.slice(0, MAX_CLIENT_FIELD - MARKER.length)}${MARKER}`;
}

/** `{ name, version }` with each string at most {@link MAX_CLIENT_FIELD} characters; other fields dropped. */
export function boundedClientInfo(info: unknown): { name?: string; version?: string } | undefined {
  if (!info || typeof info !== 'object') return undefined;
  const { name, version } = info as { name?: unknown; version?: unknown };
  const n = cap(name);
  const v = cap(version);
  return { ...(n !== undefined ? { name: n } : {}), ...(v !== undefined ? { version: v } : {}) };
}
