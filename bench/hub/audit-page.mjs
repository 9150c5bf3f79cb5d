#!/usr/bin/env node
// The Audit page of the admin UI over a journal of 100,000 events: how long the hub takes to
// make each page (newest, older, an operator's, filtered) and how soon a new event reaches an
// open live stream. The measuring code is TypeScript (it runs the hub's own journal, feed and
// page in-process): this launcher bundles it with esbuild and runs it.
//
//   node bench/hub/audit-page.mjs [--quick] [--json FILE]
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = mkdtempSync(path.join(tmpdir(), 'bench-audit-page-'));
try {
  const file = path.join(out, 'main.mjs');
  await build({
    entryPoints: [path.join(here, 'audit-page.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  const { main } = await import(pathToFileURL(file).href);
  process.exitCode = await main({ argv: process.argv.slice(2) });
} finally {
  rmSync(out, { recursive: true, force: true });
}
