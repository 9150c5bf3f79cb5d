/** Types of `conformance-table.mjs`, for the conformance test that imports it. */

/** One scenario's outcome in one run: `fail` when any check failed (warnings do not fail). */
export interface ScenarioResult {
  status: 'pass' | 'fail';
  failed: Array<{ id: string; message: string }>;
}

/** What the conformance test writes to `.conformance/results.json`. */
export interface ConformanceResults {
  suite: string;
  /** Per requirement set: its scenarios in run order, and the ones it does not score (with why). */
  requirements: Record<string, { scenarios: string[]; notScored: Record<string, string> }>;
  /** target (fixture, hub, edge) -> requirement set -> scenario -> result */
  runs: Record<string, Record<string, Record<string, ScenarioResult>>>;
  /** target -> requirement set -> seconds the suite run took */
  seconds: Record<string, Record<string, number>>;
  /** target -> `scenario` or `set:scenario` -> why it fails there (the test's known exceptions) */
  reasons: Record<string, Record<string, string>>;
}

export const RESULTS_FILE: string;
export const BEGIN: string;
export const END: string;
export const TARGETS: string[];
export function notApplicable(scenario: string, target: string): string | undefined;
export function renderTable(results: ConformanceResults): string;
export function readmeTable(text?: string): string | undefined;
