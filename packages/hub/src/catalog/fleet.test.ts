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
