/**
 * Reads a hub's audit journal (`DATA/audit/*.jsonl`) as the events it holds, oldest file
 * first, for tests that check what was recorded. A torn last line (a hub killed mid-write) is
 * skipped, as the hub's own reader does.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A call's start record (`{"v":1,"begin":"<id>","event":{...}}`) is not an event and is left
 * out. A call whose start is on disk and whose event (with its outcome) is not yet there, as
 * for a call just answered (the hub writes its event with the next commit, at most ~25 ms
 * later), is waited for: the files are read again every 10 ms, for at most `waitMs` (default
 * 10 s; 0 for a hub that is gone, whose unfinished calls only a new start of the journal
 * records). Blocks the thread while it waits: only for hubs in another process.
 */
export function readJournal(dataDir: string, opts: { waitMs?: number } = {}): Array<Record<string, any>> {
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  for (;;) {
    const { events, unfinished } = readOnce(dataDir);
    if (unfinished === 0 || Date.now() >= deadline) return events;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

function readOnce(dataDir: string): { events: Array<Record<string, any>>; unfinished: number } {
  const dir = join(dataDir, 'audit');
  const started = new Set<string>();
  const events = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            const o = JSON.parse(l) as Record<string, any>;
            if (typeof o.begin === 'string' && o.kind === undefined) {
              started.add(o.begin);
              return [];
            }
            return [o];
          } catch {
            return [];
          }
        }),
    );
  for (const e of events) started.delete(e.id);
  return { events, unfinished: started.size };
}

/**
 * Writes events as a hub's journal, `DATA/audit/audit-<seq>.jsonl` in files of at most
 * `maxFileBytes` (the hub's default, 16 MiB), one JSON line each as the hub writes them: a
 * journal of 100,000 events in a second, where appending them through a hub would spend minutes
 * in fsyncs. Write it before the hub (or `createJournal`) opens the directory.
 *
 * @example writeJournal(dataDir, Array.from({ length: 100_000 }, (_, i) => createAuditEvent({ kind: 'tool_call', user: 'alice', tool: 'get_status', args: { i } })))
 */
export function writeJournal(dataDir: string, events: Iterable<object>, maxFileBytes = 16 * 1024 * 1024): { files: number; bytes: number } {
  const dir = join(dataDir, 'audit');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let seq = 1;
  let lines: string[] = [];
  let size = 0;
  let bytes = 0;
  const flush = () => {
    writeFileSync(join(dir, `audit-${String(seq).padStart(8, '0')}.jsonl`), lines.join(''), { mode: 0o600 });
    seq++;
    lines = [];
    size = 0;
  };
  for (const e of events) {
    const line = `${JSON.stringify(e)}\n`;
    const n = Buffer.byteLength(line);
    if (size > 0 && size + n > maxFileBytes) flush();
    lines.push(line);
    size += n;
    bytes += n;
  }
  if (lines.length > 0 || seq === 1) flush();
  return { files: seq - 1, bytes };
}
