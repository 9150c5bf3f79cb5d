/**
 * What output costs in an answer, so that caps bound the edge's memory and not only the bytes
 * read: JSON escapes a control character as `\u0001` (6 bytes), and an answer carries the text
 * twice (structured content and text content). One MiB of control characters was 12-24 MB of
 * answer and aborted an edge running with its deployed 32 MB heap.
 */

/** The JSON-escaped length of a character code, twice for one that forces a two-byte string in V8. */
export function replyCost(c: number): number {
  if (c < 0x20) return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  if (c === 0x22 || c === 0x5c) return 2;
  return c > 0xff ? 2 : 1;
}

/**
 * How many leading bytes of UTF-8 `buf` to keep so that their text costs at most `max` in a
 * reply (bytes of multi-byte characters count 2 each, an upper bound), never splitting a character,
 * and at least one character.
 */
export function keptBytes(buf: Uint8Array, max: number): number {
  let cost = 0;
  let i = 0;
  for (; i < buf.length; i++) {
    const b = buf[i]!;
    cost += b < 0x80 ? replyCost(b) : 2;
    if (cost > max) break;
  }
  if (i === buf.length) return i;
  // Back to the start of the character the cut fell in (continuation bytes are 10xxxxxx).
  while (i > 0 && (buf[i]! & 0xc0) === 0x80) i--;
  // Always at least one character, so that a caller reading on from here makes progress.
  if (i === 0) for (i = 1; i < buf.length && (buf[i]! & 0xc0) === 0x80; ) i++;
  return i;
}

/** What the first `n` bytes of UTF-8 `buf` cost in a reply, counted as `keptBytes` counts them. */
export function bytesCost(buf: Uint8Array, n = buf.length): number {
  let cost = 0;
  for (let i = 0; i < n; i++) {
    const b = buf[i]!;
    cost += b < 0x80 ? replyCost(b) : 2;
  }
  return cost;
}

/**
 * One call's share of the edge's reply budget: what it claimed is held until its answer has
 * been handed to the socket (or the hub's channel), then released at once.
 */
export interface ReplyLease {
  /**
   * Waits until `cost` more fits in the budget, and holds it. A call that already holds a
   * share is granted more at once (so two calls never wait on each other), and a claim alone
   * in the budget always passes, however large: a single big answer is bounded by the caps.
   */
  claim(cost: number): Promise<void>;
  /** Gives back everything claimed; safe to call twice. */
  release(): void;
}

/**
 * The answers in flight hold their output as strings until they are sent: 32 commands of
 * 1 MiB output finishing together were 64 MiB of strings and aborted an edge with a 32 MB
 * heap. Each call claims what its output costs in the answer before it turns bytes into text;
 * past `total`, calls wait (first come, first served) for earlier answers to be sent.
 *
 * @example
 * const budget = new ReplyBudget(4 << 20);
 * const lease = budget.lease();
 * await lease.claim(bytesCost(stdout));
 * // ... build and send the answer ...
 * lease.release();
 */
export class ReplyBudget {
  private used = 0;
  private readonly waiting: Array<{ cost: number; grant: () => void }> = [];

  constructor(readonly total: number) {}

  /** Cost units held by answers not yet sent. */
  get held(): number {
    return this.used;
  }

  /** Calls waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  lease(): ReplyLease {
    let mine = 0;
    let released = false;
    return {
      claim: (cost) => {
        if (released || cost <= 0) return Promise.resolve();
        const take = () => {
          mine += cost;
          this.used += cost;
        };
        if (mine > 0 || (this.waiting.length === 0 && (this.used === 0 || this.used + cost <= this.total))) {
          take();
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          this.waiting.push({
            cost,
            grant: () => {
              if (!released) take();
              resolve();
            },
          });
        });
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= mine;
        mine = 0;
        this.admit();
      },
    };
  }

  private admit(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (this.used !== 0 && this.used + next.cost > this.total) return;
      this.waiting.shift();
      next.grant();
    }
  }
}
