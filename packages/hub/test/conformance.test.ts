/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, on Node 22: the
 * `node22` package) in both requirement sets, `--requirements 2025-11-25` and `2026-07-28`
 * (each runs exactly the scenarios its revision requires, plus the ones it runs unscored,
 * in one process), against:
 *
 * - fixture: our reference server (`startConformanceServer`, testkit), which implements every
 *   tool, resource and prompt the scenarios call;
 * - hub: the bundled hub with that server as its one native upstream, `prefix: false`, so the
 *   scenarios find their names. The hub always requires a bearer token and the suite cannot
 *   send one, so the suite talks to a forwarder on 127.0.0.1:0 that adds `Authorization` and
 *   passes everything else through unchanged (Host and Origin included, so the DNS-rebinding
 *   scenario still reaches the hub's own check). It reaches the reference server on
 *   2026-07-28, as it negotiates;
 * - hub-2025: the same with the upstream pinned to 2025-11-25 (`protocol`), as most MCP servers
 *   deployed today speak, so a session carries the server's requests to the client;
 * - edge: the bundled edge on loopback without a token, as it runs for one local client.
 *
 * It asserts that the fixture passes, that each hub is transparent (every scenario that passes
 * against the fixture directly passes through it, but for the exceptions listed below with
 * their reasons), that every edge failure is a scenario that does not apply to an edge,
 * and that README.md's table is the one this run measured. The results go to
 * .conformance/results.json; `pnpm conformance:table` prints the table from them.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformanceServer, startEdgeProcess, startHubProcess, TEST_CLIENTS_MODULES, type ConformanceServer, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';
import { notApplicable, readmeTable, renderTable, RESULTS_FILE, type ConformanceResults, type ScenarioResult } from '../../../scripts/conformance-table.mjs';

const node22 = join(TEST_CLIENTS_MODULES, 'node22', 'bin', 'node');
const suiteDir = join(TEST_CLIENTS_MODULES, '@modelcontextprotocol', 'conformance');
const REQUIREMENTS = ['2025-11-25', '2026-07-28'] as const;
/** One whole requirement set against one server; a run takes 2 to 10 s here. */
const RUN_TIMEOUT_MS = 60_000;

/**
 * Scenarios that pass against the fixture directly and still fail through a hub, each with
 * why: `hub` reaches the fixture on 2026-07-28 (negotiated), `hub-2025` on 2025-11-25 (pinned
 * with `protocol`). Keys are `scenario` (both requirement sets) or `set:scenario`. An entry
 * that passes through its hub fails the test too, so these lists only ever shrink.
 */
const HUB_EXCEPTIONS: Record<HubTarget, Record<string, string>> = {
  hub: {},
  'hub-2025': {
    'input-required-result-basic-elicitation':
      "a 2025 upstream's elicitation/create is a request with no key; the hub relays it to the 2026 client under a key of its own (q0), while the suite expects the key the reference server uses on 2026-07-28 (user_name)",
  },
};

/** Scenarios the fixture does not implement: the optional tasks extension (SEP-2663). */
const FIXTURE_GAPS = /^tasks-/;

const ADMIN = 'conformance-admin-token-0123456789';
type HubTarget = 'hub' | 'hub-2025';
/** The era each hub speaks with the reference server (`undefined`: negotiated, so 2026-07-28). */
const HUB_UPSTREAM_PROTOCOL: Record<HubTarget, '2025-11-25' | undefined> = { hub: undefined, 'hub-2025': '2025-11-25' };

/** Forwards every request to the hub with the bearer token added; nothing else changes. */
async function startTokenForwarder(target: URL, token: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
}

interface SuiteRun {
  order: string[];
  notScored: Record<string, string>;
  scenarios: Record<string, ScenarioResult>;
  seconds: number;
}

/** Runs one requirement set against `url` and reads every scenario's checks. */
async function runSuite(url: string, requirements: string, dir: string): Promise<SuiteRun> {
  const started = performance.now();
  const stdout = await new Promise<string>((resolve) => {
    // The suite exits non-zero when a scenario fails; the checks tell which.
    execFile(node22, [join(suiteDir, 'dist', 'index.js'), 'server', '--url', url, '--requirements', requirements, '--timeout', '15000', '-o', dir], { timeout: RUN_TIMEOUT_MS, maxBuffer: 16 << 20 }, (_err, out, err) =>
      resolve(`${out}\n${err}`),
    );
  });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const order = [...stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]!);
  const notScored: Record<string, string> = {};
  const tail = stdout.slice(stdout.indexOf('Not scored for'));
  for (const m of tail.matchAll(/^\s+[✓✗] (\S+) \(([^)]+)\)$/gm)) notScored[m[1]!] = m[2]!;
  const scenarios: Record<string, ScenarioResult> = {};
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const scenario = name.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    const checks = JSON.parse(readFileSync(join(dir, name, 'checks.json'), 'utf8')) as Array<{ id: string; status: string; errorMessage?: string }>;
    const failed = checks.filter((c) => c.status === 'FAILURE').map((c) => ({ id: c.id, message: c.errorMessage ?? '' }));
    scenarios[scenario] = { status: failed.length === 0 ? 'pass' : 'fail', failed };
  }
  // A scenario the run never finished (the run timed out) is a failure, not a gap in the table.
  for (const scenario of order) scenarios[scenario] ??= { status: 'fail', failed: [{ id: 'no-result', message: `no checks.json (suite output: ${stdout.slice(-300)})` }] };
  expect(order.length, `the suite ran no scenario against ${url}:\n${stdout}`).toBeGreaterThan(0);
  return { order, notScored, scenarios, seconds };
}

let fixture: ConformanceServer | undefined;
const hubs: Partial<Record<HubTarget, { process: HubProcess; forwarder: Awaited<ReturnType<typeof startTokenForwarder>> }>> = {};
let edge: EdgeProcess | undefined;
const out = mkdtempSync(join(tmpdir(), 'conformance-'));
const suiteVersion = existsSync(suiteDir) ? (JSON.parse(readFileSync(join(suiteDir, 'package.json'), 'utf8')) as { version: string }).version : 'missing';
const results: ConformanceResults = { suite: suiteVersion, requirements: {}, runs: { fixture: {}, hub: {}, 'hub-2025': {}, edge: {} }, seconds: { fixture: {}, hub: {}, 'hub-2025': {}, edge: {} }, reasons: HUB_EXCEPTIONS };

/**
 * Both requirement sets against one server, at the same time: most of a run is the suite
 * waiting (for streams, for notifications that should not come), so two overlap well.
 */
async function measure(target: 'fixture' | HubTarget | 'edge', url: string): Promise<void> {
  const runs = await Promise.all(REQUIREMENTS.map((set) => runSuite(url, set, join(out, target, set))));
  REQUIREMENTS.forEach((set, i) => {
    const run = runs[i]!;
    results.runs[target]![set] = run.scenarios;
    results.seconds[target]![set] = run.seconds;
    results.requirements[set] ??= { scenarios: run.order, notScored: run.notScored };
  });
}

const describeFailure = (r: ScenarioResult) => r.failed.map((f) => `${f.id} (${f.message.slice(0, 200)})`).join('; ');

/** The scenarios that failed against `target`, but those `expected` says may. */
function failing(target: string, set: string, expected: (scenario: string) => boolean): string[] {
  return Object.entries(results.runs[target]![set]!)
    .filter(([s, r]) => r.status === 'fail' && !expected(s))
    .map(([s, r]) => `${s}: ${describeFailure(r)}`);
}

beforeAll(async () => {
  // `pnpm test` installs both first (`pnpm test:clients`): missing, the run fails rather than skips.
  for (const needed of [node22, suiteDir]) if (!existsSync(needed)) throw new Error(`${needed} is missing: run \`pnpm test:clients\``);
  fixture = await startConformanceServer();
  for (const target of ['hub', 'hub-2025'] as const) {
    const process = await startHubProcess({
      config: {
        // Raised on purpose: the suite runs its scenarios back to back with one token, hundreds
        // of requests within seconds (with the default 600 a minute, burst 60, 16 of the 33
        // scenarios of the 2025-11-25 set got 429). A person's client does not; the default
        // stays sized for those.
        auth: { tokens: [{ user: 'suite', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } },
        // Its tools carry no annotations, which the hub classes `write` and holds at the
        // approval gate (a pending preview instead of the result): that is the hub's policy,
        // not what the suite measures, so they are classed `read` here.
        upstreams: { ref: { url: fixture.url, prefix: false, classes: { '*': 'read' }, ...(HUB_UPSTREAM_PROTOCOL[target] ? { protocol: HUB_UPSTREAM_PROTOCOL[target] } : {}) } },
      },
    });
    hubs[target] = { process, forwarder: await startTokenForwarder(new URL(process.url), ADMIN) };
  }
  edge = await startEdgeProcess({ token: null });
});

afterAll(async () => {
  for (const h of Object.values(hubs)) {
    h.forwarder.server.closeAllConnections();
    await new Promise((resolve) => h.forwarder.server.close(resolve));
    await h.process.stop();
  }
  await edge?.stop();
  await fixture?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe('MCP conformance suite, both requirement sets (Node 22)', () => {
  it('the reference server passes every scenario but the optional tasks extension', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    await measure('fixture', fixture!.url);
    for (const set of REQUIREMENTS) expect(failing('fixture', set, (s) => FIXTURE_GAPS.test(s)), set).toEqual([]);
  });

  it('the edge fails only scenarios that do not apply to an edge', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    await measure('edge', edge!.url);
    for (const set of REQUIREMENTS) expect(failing('edge', set, (s) => notApplicable(s, 'edge') !== undefined), `${set}: failures not declared not applicable in scripts/conformance-table.mjs`).toEqual([]);
  });

  it.each(['hub', 'hub-2025'] as const)(
    '%s is transparent: what passes against the reference server passes through it',
    async (target) => {
      await measure(target, hubs[target]!.forwarder.url);
      const exceptions = HUB_EXCEPTIONS[target];
      const lost: string[] = [];
      const fixed: string[] = [];
      for (const set of REQUIREMENTS) {
        for (const [scenario, direct] of Object.entries(results.runs.fixture![set] ?? {})) {
          if (direct.status !== 'pass') continue;
          const through = results.runs[target]![set]![scenario]!;
          const excused = exceptions[`${set}:${scenario}`] ?? exceptions[scenario];
          if (through.status === 'fail' && !excused) lost.push(`${set} ${scenario}: ${describeFailure(through)}`);
          if (through.status === 'pass' && excused) fixed.push(`${set} ${scenario} passes through ${target} now: remove it from HUB_EXCEPTIONS['${target}']`);
        }
      }
      expect(lost, `scenarios that pass against the reference server but fail through ${target}`).toEqual([]);
      expect(fixed).toEqual([]);
    },
    2 * RUN_TIMEOUT_MS,
  );

  it("README.md's conformance table is the one this run measured", () => {
    mkdirSync(dirname(RESULTS_FILE), { recursive: true });
    writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
    expect(readmeTable(), 'README.md has no conformance table between its markers').toBeDefined();
    expect(readmeTable(), 'README.md\'s conformance table differs from this run: run `pnpm conformance:table --write` (the results are in .conformance/results.json)').toBe(renderTable(results));
  });
});
