/**
 * Where the test-only clients and runtimes live: Claude Code, the MCP Inspector, mcp-remote,
 * the conformance suite, Node 18 and 22. They are ~600 MB that running the hub never needs, so
 * they sit outside the workspace in `packages/testkit/clients` (its own package.json and
 * lockfile), and `pnpm test` installs them there first (`pnpm test:clients`). A test that runs
 * one of them alone, without `pnpm test`, needs `pnpm test:clients` once.
 *
 * @example const node22 = join(TEST_CLIENTS_MODULES, 'node22', 'bin', 'node');
 */
import { fileURLToPath } from 'node:url';

/** `packages/testkit/clients/node_modules`, absolute. */
export const TEST_CLIENTS_MODULES = fileURLToPath(new URL('../clients/node_modules', import.meta.url));
