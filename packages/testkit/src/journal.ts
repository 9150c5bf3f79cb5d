/**
 * Reads a hub's audit journal (`DATA/audit/*.jsonl`) as the events it holds, oldest file
 * first, for tests that check what was recorded. A torn last line (a hub killed mid-write) is
 * skipped, as the hub's own reader does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function readJournal(dataDir: string): Array<Record<string, any>> {
  const dir = join(dataDir, 'audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, any>];
          } catch {
            return [];
          }
        }),
    );
}
