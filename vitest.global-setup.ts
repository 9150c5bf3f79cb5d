// Tests run the real bundles: build them first so a test never runs a stale one. When a
// build fails its old bundle is removed, so the tests that need it fail loudly while the
// other tests still report.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const bundles = [
  ['packages/edge/build.mjs', 'packages/edge/dist/homelab-edge.mjs'],
  ['packages/hub/build.mjs', 'packages/hub/dist/homelab-hub.mjs'],
] as const;

export default function setup(): void {
  for (const [script, output] of bundles) {
    try {
      execFileSync(process.execPath, [script], { stdio: 'inherit' });
    } catch {
      rmSync(output, { force: true });
      console.error(`${script} failed: tests that run ${output} will fail`);
    }
  }
}
