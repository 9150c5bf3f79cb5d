/**
 * What the bench smoke tests (bench/edge/bench.test.ts, bench/hub/bench.test.ts) share: running
 * a bench script with `--quick --json` and reading its report.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * How long one quick bench run may take: the timeout of the `beforeAll` that runs it. Generous:
 * a quick hub run takes about 100 s alone and 170 s on a machine busy with other work, and this
 * bound is only there to stop a hung bench, not to judge its speed (the bench does that).
 */
export const TIMEOUT_MS = 600_000;

/** A finished bench run: its exit code and output. */
export interface BenchResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node RUN ARGS`; resolves its exit code and output. Past the deadline it sends the bench
 * SIGTERM (by PID), which lets it stop the servers it started before it exits.
 */
export function runBench(run: string, args: string[]): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const cp = spawn(process.execPath, [run, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    cp.stdout.on('data', (c: Buffer) => (stdout += c));
    cp.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => cp.kill('SIGTERM'), TIMEOUT_MS - 10_000);
    cp.on('error', reject);
    cp.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs `node RUN --quick --json FILE`, FILE in a temp dir named `tmpPrefix`XXXXXX that is removed
 * afterwards. Resolves the result and the JSON report, which is only read if the bench exited 0
 * (else `report` is undefined and every test that reads it fails).
 */
export async function runQuickBench<R>(run: string, tmpPrefix: string): Promise<{ result: BenchResult; report: R }> {
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  try {
    const jsonFile = join(dir, 'bench.json');
    const result = await runBench(run, ['--quick', '--json', jsonFile]);
    const report = result.code === 0 ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as R) : undefined;
    return { result, report: report as R };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The row with `id`; throws if there is none. */
export function findRow<Row extends { id: string }>(rows: Row[], id: string): Row {
  const r = rows.find((x) => x.id === id);
  if (!r) throw new Error(`row ${id} is missing`);
  return r;
}
