// Tests run the real edge bundle: build it first so a test never runs a stale one. When the
// build fails the old bundle is removed, so the tests that need it fail loudly while the
// unit tests still report.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

export default function setup(): void {
  try {
    execFileSync(process.execPath, ['packages/edge/build.mjs'], { stdio: 'inherit' });
  } catch {
    rmSync('packages/edge/dist/homelab-edge.mjs', { force: true });
    console.error('edge build failed: tests that run the bundle will fail');
  }
}
