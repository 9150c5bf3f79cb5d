/**
 * Where the test-only clients and runtimes live: Claude Code, the MCP Inspector, mcp-remote,
 * the conformance suite, Node 18 and 22. They are ~600 MB that running the hub never needs, so
 * they sit outside the workspace in `packages/testkit/clients` (its own package.json and
 * lockfile), and `pnpm test` installs them there first (`pnpm test:clients`). A test that runs
 * one of them alone, without `pnpm test`, needs `pnpm test:clients` once.
 *
 * @example const node22 = join(TEST_CLIENTS_MODULES, 'node22', 'bin', 'node');
 */
import { realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `packages/testkit/clients/node_modules`, absolute. */
export const TEST_CLIENTS_MODULES = fileURLToPath(new URL('../clients/node_modules', import.meta.url));

/**
 * Claude Code's native binary. `@anthropic-ai/claude-code` is a stub plus a native binary in a
 * per-platform optional package; its postinstall hard-links that binary to `bin/claude.exe`,
 * which pnpm runs only when allowed (`pnpm.onlyBuiltDependencies` of packages/testkit/clients).
 * Running the platform binary directly keeps tests independent of the postinstall.
 */
export function claudeCodeBinary(): string {
  const wrapper = realpathSync(join(TEST_CLIENTS_MODULES, '@anthropic-ai', 'claude-code'));
  try {
    const manifest = createRequire(join(wrapper, 'package.json')).resolve(`@anthropic-ai/claude-code-${process.platform}-${process.arch}/package.json`);
    return join(dirname(manifest), 'claude');
  } catch {
    const linked = join(wrapper, 'bin', 'claude.exe');
    // The unlinked stub is a 500-byte shell script that prints "native binary not installed".
    if (statSync(linked).size > 4096) return linked;
    throw new Error(`no Claude Code native binary for ${process.platform}-${process.arch} under ${wrapper}`);
  }
}
