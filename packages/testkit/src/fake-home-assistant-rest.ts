/**
 * PLACEHOLDER (NAME=ha): the REST half of the fake Home Assistant is owned by the REST tools'
 * engineer (NAME=har), whose file replaces this one at merge. It holds the shared contract only:
 * the state both halves work on, and a `handleHaRest` that knows no path yet.
 */

export interface FakeHaEntity { entityId: string; state: string; attributes: Record<string, unknown>; area?: string; lastChanged?: string }
export interface FakeHaState {
  entities: FakeHaEntity[];               // mutable: the MCP side's HassTurnOn flips state here
  logbook: Array<{ when: string; name: string; message?: string; entityId?: string; state?: string }>;
  errorLog: string;
}
/** Answers HA's REST API (/api/, /api/states..., /api/history/period..., /api/logbook..., /api/error_log,
 *  /api/template) for `state`; undefined when the path is not one of them (the caller then fails the
 *  test as unknown). Auth is checked by the caller, not here. */
export function handleHaRest(method: string, url: URL, body: string, state: FakeHaState): { status: number; headers?: Record<string, string>; body: string } | undefined {
  void method;
  void url;
  void body;
  void state;
  return undefined;
}
