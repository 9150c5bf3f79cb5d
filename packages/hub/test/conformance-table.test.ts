/** The conformance table's rendering (scripts/conformance-table.mjs), on results made up here. */
import { describe, expect, it } from 'vitest';
import { BEGIN, END, readmeTable, renderTable, type ConformanceResults, type ScenarioResult } from '../../../scripts/conformance-table.mjs';

const pass: ScenarioResult = { status: 'pass', failed: [] };
const fail = (id: string, message: string): ScenarioResult => ({ status: 'fail', failed: [{ id, message }] });

function results(runs: ConformanceResults['runs'], reasons: ConformanceResults['reasons'] = {}): ConformanceResults {
  return {
    suite: 'x',
    requirements: {
      '2025-11-25': { scenarios: ['ping', 'resources-list'], notScored: {} },
      '2026-07-28': { scenarios: ['resources-list', 'caching', 'tasks-lifecycle'], notScored: { 'tasks-lifecycle': 'extension' } },
    },
    runs,
    seconds: {},
    reasons,
  };
}

describe('renderTable', () => {
  it('has one row per scenario, its requirement sets, and a cell per server', () => {
    const table = renderTable(
      results({
        fixture: { '2025-11-25': { ping: pass, 'resources-list': pass }, '2026-07-28': { 'resources-list': pass, caching: pass, 'tasks-lifecycle': fail('t', 'no tasks') } },
        hub: { '2025-11-25': { ping: pass, 'resources-list': pass }, '2026-07-28': { 'resources-list': fail('resources-list', 'empty'), caching: pass, 'tasks-lifecycle': fail('t', 'no tasks') } },
      }),
    ).split('\n');
    expect(table[0]).toBe('| scenario | requirement set(s) | fixture | hub | hub (2025 upstream) | edge | why (for fail / n/a) |');
    expect(table.slice(2)).toEqual([
      '| ping | 2025-11-25 | pass | pass | not run | not run |  |',
      // Different results per set are shown in the order of the sets; the failure says which set.
      '| resources-list | 2025-11-25, 2026-07-28 | pass | pass / fail | not run | not run | hub in 2026-07-28: empty |',
      '| caching | 2026-07-28 | pass | pass | not run | not run |  |',
      '| tasks-lifecycle | 2026-07-28 (not scored: extension) | n/a | n/a | not run | not run | fixture, hub: the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663): optional, implemented by none of these servers |',
    ]);
  });

  it("gives a known reason instead of the suite's message, and keeps ports and times out of it", () => {
    const run = { '2025-11-25': { ping: fail('ping', 'connect ECONNREFUSED http://127.0.0.1:41234/mcp at 2026-12-07T20:01:02.345Z | x') }, '2026-07-28': {} };
    const plain = renderTable(results({ fixture: run }));
    expect(plain).toContain('| ping | 2025-11-25 | fail | not run | not run | not run | fixture: connect ECONNREFUSED URL/mcp at TIME \\| x |');
    const known = renderTable(results({ hub: run }, { hub: { ping: 'the hub does not answer ping' } }));
    expect(known).toContain('| ping | 2025-11-25 | not run | fail | not run | not run | hub: the hub does not answer ping |');
  });

  it('marks a failure n/a only where a note says the scenario does not apply', () => {
    const run = { '2025-11-25': { 'resources-list': fail('resources-list', 'Method not found') }, '2026-07-28': { 'resources-list': fail('resources-list', 'Method not found') } };
    expect(renderTable(results({ edge: run }))).toContain('| resources-list | 2025-11-25, 2026-07-28 | not run | not run | not run | n/a | edge: the edge serves tools only (no prompts, resources or templates) |');
    expect(renderTable(results({ hub: run }))).toContain('| resources-list | 2025-11-25, 2026-07-28 | not run | fail | not run | not run | hub: Method not found |');
  });
});

describe('readmeTable', () => {
  it('reads what lies between the markers, and nothing without them', () => {
    expect(readmeTable(`# x\n${BEGIN}\n| a |\n${END}\nmore`)).toBe('| a |');
    expect(readmeTable('# x\n| a |\n')).toBeUndefined();
  });
});
