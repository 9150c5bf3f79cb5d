import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import { shortTime, type HubNode, type SourceState } from './nodes.ts';
import type { CallContext } from './types.ts';
import { callOutcome, commandFailure, fanOut, fleetTools, selectNodes } from './fleet.ts';
import { EDGE_TOOLS } from '../policy/classes.ts';

const ctx: CallContext = { caller: { user: 'alice', role: 'admin' }, session: 's', signal: new AbortController().signal };
const ran = (exitCode: number | null, extra: Record<string, unknown> = {}): CallToolResult => ({
  content: [{ type: 'text', text: `exit ${exitCode}` }],
  structuredContent: { exitCode, signal: null, timedOut: false, stdout: '', stderr: '', ...extra },
});
const up = (name: string, answer: CallToolResult): HubNode => ({
  name,
  roles: ['speaker'],
  source: { state: () => ({ status: 'up', since: new Date() }), tools: () => [EDGE_TOOLS.get('run_command')!], callTool: async () => answer },
});
const down = (name: string, state: SourceState): HubNode => ({
  name,
  roles: ['speaker'],
  source: {
    state: () => state,
    tools: () => [],
    callTool: async () => {
      throw new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} is unreachable since ${state.since.toISOString()}: ${state.lastError}`);
    },
  },
});
const since = new Date('2026-12-07T06:00:00Z');

describe('commandFailure', () => {
  it('is a non-zero exit, a deadline or a signal; other tools never fail this way', () => {
    expect(commandFailure('run_command', ran(0).structuredContent)).toBeUndefined();
    expect(commandFailure('run_command', ran(2).structuredContent)).toBe('exit 2');
    expect(commandFailure('run_command', ran(null, { timedOut: true, signal: 'SIGTERM' }).structuredContent)).toBe('timed out');
    expect(commandFailure('run_command', ran(null, { signal: 'SIGKILL' }).structuredContent)).toBe('killed by SIGKILL');
    expect(commandFailure('get_status', { exitCode: 1 })).toBeUndefined();
  });
});

describe('fanOut', () => {
  it('counts unreachable nodes and failing commands as failed, naming each', async () => {
    const nodes = [up('a', ran(0)), up('b', ran(1)), down('c', { status: 'down', since, lastError: 'connection refused' })];
    const r = await fanOut('run_command', selectNodes('all', nodes), {}, ctx, 1000);
    const summary = (r.structuredContent as { summary: string }).summary;
    expect(summary).toMatch(/^3 nodes: 1 ok, 2 failed \(b: exit 1; c: unreachable since \S+Z \(connection refused\)\)$/);
    expect(r.isError).toBeUndefined();
    expect(callOutcome(r)).toEqual({ outcome: 'partial', error: summary });
  });

  it('says the failure once when every node failed alike, and is an error', async () => {
    const r = await fanOut('run_command', selectNodes(['a', 'b'], [up('a', ran(1)), up('b', ran(1))]), {}, ctx, 1000);
    expect((r.structuredContent as { summary: string }).summary).toBe('2 nodes: 0 ok, 2 failed (exit 1)');
    expect(r.isError).toBe(true);
    expect(callOutcome(r).outcome).toBe('failed');
  });

  it('keeps one node’s own answer, marked as an error when its command failed', async () => {
    const r = await fanOut('run_command', selectNodes('a', [up('a', ran(3))]), {}, ctx, 1000);
    expect(r).toEqual({ ...ran(3), isError: true });
    expect(callOutcome(r)).toEqual({ outcome: 'failed', error: 'exit 3' });
    const ok = await fanOut('run_command', selectNodes('a', [up('a', ran(0))]), {}, ctx, 1000);
    expect(ok.isError).toBeUndefined();
    expect(callOutcome(ok)).toEqual({ outcome: 'succeeded' });
  });

  it('names a node that is down as unreachable, in the words of list_nodes', async () => {
    const r = await fanOut('get_status', selectNodes('c', [down('c', { status: 'down', since, lastError: 'unauthorized (HTTP 401)' })]), {}, ctx, 1000);
    expect(r.content).toEqual([{ type: 'text', text: `node c is unreachable since ${shortTime(since)} (unauthorized (HTTP 401))` }]);
    expect(r.isError).toBe(true);
  });
});

describe('a node that stopped since the hub last checked', () => {
  it('is named as list_nodes names it once the check the call triggered has settled', async () => {
    let state: SourceState = { status: 'up', since };
    const node: HubNode = {
      name: 'attic',
      roles: [],
      source: {
        state: () => state,
        tools: () => [EDGE_TOOLS.get('run_command')!],
        callTool: async () => {
          throw new HomelabError('UPSTREAM_UNAVAILABLE', 'node attic is unreachable since 2026-12-07T07:09:09.188Z: connection refused (during tools/call run_command)');
        },
        checkNow: async () => void (state = { status: 'down', since, lastError: 'connection refused' }),
      },
    };
    const r = await fanOut('run_command', selectNodes(['attic', 'a'], [node, up('a', ran(0))]), {}, ctx, 1000);
    expect((r.structuredContent as { summary: string }).summary).toBe(`2 nodes: 1 ok, 1 failed (attic: unreachable since ${shortTime(since)} (connection refused))`);
  });
});

describe('fleetTools', () => {
  it('offers the hub’s table for a node that never listed its tools, and previews who is unreachable', () => {
    const tools = fleetTools([down('c', { status: 'down', since, lastError: 'connection refused' }), up('a', ran(0))], 1000);
    expect(tools.map((t) => t.def.name).sort()).toEqual([...EDGE_TOOLS.keys()].sort());
    const run = tools.find((t) => t.def.name === 'run_command')!;
    expect(run.preview!({ node: 'all', cmd: 'mpc stop' })).toMatchObject({ where: ['c', 'a'], action: 'run `mpc stop` on c (unreachable now), a' });
    expect(fleetTools([], 1000)).toEqual([]);
  });
});

describe('package_upgrade preview', () => {
  const updates = (structuredContent: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text: 'updates' }], structuredContent });
  const asking = (name: string, answer: CallToolResult, calls: Array<[string, unknown]>): HubNode => ({
    name,
    roles: ['debian'],
    source: {
      state: () => ({ status: 'up', since: new Date() }),
      tools: () => [EDGE_TOOLS.get('package_updates')!, EDGE_TOOLS.get('package_upgrade')!],
      callTool: async (tool, args) => {
        calls.push([tool, args]);
        return answer;
      },
    },
  });

  it('asks each node, read-only, what the same packages would upgrade, and lists them with the command', async () => {
    const calls: Array<[string, unknown]> = [];
    const node = asking('pi', updates({ command: 'apt-get -y upgrade', upgrades: [{ name: 'bash', from: '5.2-1', to: '5.2-2', security: false }], installs: [], removals: [] }), calls);
    const tool = fleetTools([node], 1000).find((t) => t.def.name === 'package_upgrade')!;
    expect(tool.toolClass).toBe('write');
    const p = await tool.preview!({ node: 'pi', packages: ['bash'] });
    expect(calls).toEqual([['package_updates', { packages: ['bash'] }]]);
    expect(p.action).toBe('upgrade packages on pi\npi: run `apt-get -y upgrade`, upgrading 1 package:\n  bash 5.2-1 → 5.2-2');
  });

  it('shows a hostile answer escaped and capped, never as lines of its own', async () => {
    const many = Array.from({ length: 6000 }, (_, i) => ({ name: `p${i}`, from: '1', to: '2' }));
    const node = asking('evil', updates({ command: 'x\n  nothing to see', upgrades: [{ name: 'a\nupgrading 0 packages', from: 1, to: 'y'.repeat(10_000) }, 'junk', ...many], installs: 'no', removals: null }), []);
    const p = await fleetTools([node], 1000).find((t) => t.def.name === 'package_upgrade')!.preview!({ node: 'evil' });
    const lines = p.action.split('\n');
    expect(lines[1]).toBe('evil: run `x\\n  nothing to see`, upgrading 6001 packages:');
    expect(lines[2]).toBe(`  a\\nupgrading 0 packages 1 → ${'y'.repeat(200)}`);
    expect(lines).toHaveLength(2 + 5000 + 1);
    expect(lines.at(-1)).toBe('  … and 1001 more');
  });

  it('says when the node cut its list: the upgrade changes more than the preview lists (#18 review)', async () => {
    const node = asking('pi', updates({ manager: 'apt', command: 'apt-get -y upgrade', upgrades: [{ name: 'bash', from: '1', to: '2' }], installs: [], removals: [], truncated: true }), []);
    const p = await fleetTools([node], 1000).find((t) => t.def.name === 'package_upgrade')!.preview!({ node: 'pi' });
    expect(p.action).toContain('pi: run `apt-get -y upgrade`, upgrading at least 1 package (the node cut its list: the package manager printed more than the edge keeps; the upgrade changes more than listed):');
  });

  it('says what dnf check-update leaves out (new dependencies, obsoleting packages) (#18 review)', async () => {
    const node = asking('fed', updates({ manager: 'dnf', command: 'dnf -y upgrade', upgrades: [{ name: 'curl', from: null, to: '8' }], installs: [], removals: [] }), []);
    const p = await fleetTools([node], 1000).find((t) => t.def.name === 'package_upgrade')!.preview!({ node: 'fed' });
    expect(p.action).toContain('fed: run `dnf -y upgrade`, upgrading 1 package (dnf check-update does not list the new dependencies or obsoleting packages dnf may also install):');
  });
});
