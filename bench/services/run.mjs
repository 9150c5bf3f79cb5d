#!/usr/bin/env node
// bench/services: service_health with every homelab-service integration at once against fakes
// that answer after a fixed delay, versus each integration alone, in one run. The measuring code
// is TypeScript (it uses the testkit's fakes): this launcher bundles it with esbuild and runs it.
//
//   node bench/services/run.mjs [--quick] [--json FILE]
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = mkdtempSync(path.join(tmpdir(), 'bench-services-'));
try {
  const file = path.join(out, 'main.mjs');
  await build({
    entryPoints: [path.join(here, 'main.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  const { main } = await import(pathToFileURL(file).href);
  process.exitCode = await main({ repo: path.resolve(here, '../..'), argv: process.argv.slice(2) });
} finally {
  rmSync(out, { recursive: true, force: true });
}
