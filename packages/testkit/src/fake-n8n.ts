/**
 * A fake n8n public API for tests, since n8n cannot run here: a real HTTP server on 127.0.0.1
 * answering `/api/v1` as shared/reference/service-apis.md §8c documents it.
 *
 * - `X-N8N-API-KEY: <key>`: a missing header is 401 `'X-N8N-API-KEY' header required`, a
 *   wrong key 401 `unauthorized`.
 * - Lists are `{"data":[...],"nextCursor":"..."|null}` with `limit` (default 100, at most 250;
 *   more is a 400 `request/query/limit must be <= 250`) and an opaque `cursor`.
 * - `GET /workflows[?active=true|false&name=&excludePinnedData=true]`, `/workflows/{id}`,
 *   `GET /executions[?workflowId=&status=&includeData=]` (newest first), `/executions/{id}
 *   [?includeData=true]` (a failed one carries `data.resultData.error`). Workflow ids are
 *   strings (as real instances use), execution ids numbers. A missing one is 404 `Not Found`.
 *
 * The data is realistic: 12 workflows (9 active), about 70 executions over three days, 2 of them
 * failed (`error`, `crashed`) in the last 24 h and one older failure. Anything it does not know
 * is a 501 recorded in `unknown()`: a test asserts it stays empty.
 *
 * @example
 * await using n8n = await startFakeN8n({ apiKey: 'n8n_api_key' });
 * // url: n8n.url; n8n.failedSince(Date.now() - 86_400_000)
 */
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface FakeN8nWorkflow {
  id: string;
  name: string;
  active: boolean;
  tags: string[];
}

export interface FakeN8nExecution {
  id: number;
  workflowId: string;
  status: 'canceled' | 'crashed' | 'error' | 'new' | 'running' | 'success' | 'unknown' | 'waiting';
  mode: string;
  startedAt: string;
  stoppedAt: string | null;
  /** A failed execution's error, as n8n keeps it in `data.resultData.error`. */
  error?: { message: string; node: string };
}

export interface FakeN8nRequest {
  method: string;
  path: string;
  status: number;
}

export interface FakeN8nOptions {
  apiKey: string;
  /** Listen here (a test that starts n8n after the hub). Default: a free port. */
  port?: number;
  /** Every answer this much later. */
  delayMs?: number;
}

export interface FakeN8n {
  url: string;
  host: string;
  workflows: FakeN8nWorkflow[];
  /** Newest first. */
  executions: FakeN8nExecution[];
  /** Executions with status error or crashed that started at or after `since` (ms). */
  failedSince(since: number): FakeN8nExecution[];
  requests(): FakeN8nRequest[];
  unknown(): FakeN8nRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const H = 3_600_000;

/** The fake's data, relative to `now`: 12 workflows, executions newest first. */
export function fakeN8nData(now: number): { workflows: FakeN8nWorkflow[]; executions: FakeN8nExecution[] } {
  const names: Array<[string, boolean, string[]]> = [
    ['Backup notify', true, ['ops']],
    ['Proxmox snapshot report', true, ['ops']],
    ['Uptime to ntfy', true, ['alerts']],
    ['RSS to Telegram', true, []],
    ['Paperless inbox', true, ['docs']],
    ['Home Assistant presence', true, ['home']],
    ['Certificate expiry check', true, ['ops', 'alerts']],
    ['Nightly DB dump', true, ['ops']],
    ['Grafana alert relay', true, ['alerts']],
    ['Old: Plex webhook', false, []],
    ['Draft: invoice OCR', false, ['docs']],
    ['Test workflow', false, []],
  ];
  const workflows = names.map(([name, active, tags], i) => ({ id: `${String.fromCharCode(65 + i)}tUt1wbLX592XDdX`, name, active, tags }));
  const executions: FakeN8nExecution[] = [];
  let id = 1000;
  // Every 1 h for three days, the active workflows take turns; the inactive ones never ran.
  for (let h = 72; h >= 1; h--) {
    const wf = workflows[h % 9]!;
    const started = now - h * H + 60_000;
    executions.push({ id: id++, workflowId: wf.id, status: 'success', mode: 'trigger', startedAt: new Date(started).toISOString(), stoppedAt: new Date(started + 2100).toISOString() });
  }
  const fail = (hoursAgo: number, wf: FakeN8nWorkflow, status: 'error' | 'crashed', message: string, node: string) => {
    const e = executions.find((x) => Date.parse(x.startedAt) === now - hoursAgo * H + 60_000)!;
    Object.assign(e, { workflowId: wf.id, status, error: { message, node } });
  };
  fail(3, workflows[0]!, 'error', 'connect ECONNREFUSED 192.168.1.20:8007', 'PBS status');
  fail(20, workflows[7]!, 'crashed', 'Out of memory', 'Postgres');
  fail(40, workflows[2]!, 'error', 'Request failed with status code 502', 'HTTP Request');
  // A run of the ntfy workflow still going.
  executions.push({ id: id++, workflowId: workflows[2]!.id, status: 'running', mode: 'trigger', startedAt: new Date(now - 30_000).toISOString(), stoppedAt: null });
  executions.reverse();
  return { workflows, executions };
}

export async function startFakeN8n(opts: FakeN8nOptions): Promise<FakeN8n> {
  const now = Date.now();
  const { workflows, executions } = fakeN8nData(now);
  const log: FakeN8nRequest[] = [];

  const send = (res: ServerResponse, status: number, body: unknown): number => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    return status;
  };
  const workflowJson = (w: FakeN8nWorkflow) => ({
    id: w.id,
    name: w.name,
    active: w.active,
    isArchived: false,
    createdAt: new Date(now - 90 * 24 * H).toISOString(),
    updatedAt: new Date(now - 5 * 24 * H).toISOString(),
    versionId: `${w.id}-v3`,
    triggerCount: w.active ? 1 : 0,
    nodes: [{ id: 'n1', name: 'Schedule Trigger', type: 'n8n-nodes-base.scheduleTrigger', typeVersion: 1.2, position: [0, 0], parameters: {} }],
    connections: {},
    settings: { executionOrder: 'v1' },
    staticData: null,
    pinData: null,
    meta: null,
    tags: w.tags.map((t, i) => ({ id: `tag${i}${t}`, name: t, createdAt: new Date(now - 90 * 24 * H).toISOString(), updatedAt: new Date(now - 90 * 24 * H).toISOString() })),
    shared: [],
  });
  const executionJson = (e: FakeN8nExecution, withData: boolean) => ({
    id: e.id,
    finished: e.status === 'success',
    mode: e.mode,
    retryOf: null,
    retrySuccessId: null,
    startedAt: e.startedAt,
    stoppedAt: e.stoppedAt,
    workflowId: e.workflowId,
    waitTill: null,
    customData: {},
    status: e.status,
    ...(withData ? { data: { startData: {}, resultData: { runData: {}, lastNodeExecuted: e.error?.node ?? 'Schedule Trigger', ...(e.error ? { error: { message: e.error.message, name: 'NodeApiError', node: { name: e.error.node } } } : {}) } } } : {}),
  });
  /** One page of a list; the cursor is the offset, base64 (n8n's is opaque too). */
  const page = <T>(res: ServerResponse, url: URL, items: T[], json: (t: T) => unknown): number => {
    const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 100;
    if (!Number.isInteger(limit) || limit < 1) return send(res, 400, { message: 'request/query/limit must be integer' });
    if (limit > 250) return send(res, 400, { message: 'request/query/limit must be <= 250' });
    const cursor = url.searchParams.get('cursor');
    const offset = cursor ? Number(Buffer.from(cursor, 'base64').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) return send(res, 400, { message: 'An invalid cursor was provided' });
    const slice = items.slice(offset, offset + limit);
    return send(res, 200, { data: slice.map(json), nextCursor: offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64') : null });
  };
  const KNOWN: Record<string, string[]> = {
    workflows: ['active', 'name', 'tags', 'projectId', 'excludePinnedData', 'limit', 'cursor'],
    executions: ['workflowId', 'status', 'includeData', 'projectId', 'limit', 'cursor'],
  };

  function route(method: string, url: URL, res: ServerResponse): number | undefined {
    if (method !== 'GET') return undefined;
    const path = url.pathname.slice('/api/v1'.length);
    const list = /^\/(workflows|executions)$/.exec(path)?.[1];
    if (list && [...url.searchParams.keys()].some((k) => !KNOWN[list]!.includes(k))) return undefined;
    if (path === '/workflows') {
      const active = url.searchParams.get('active');
      const name = url.searchParams.get('name');
      return page(res, url, workflows.filter((w) => (active === null || String(w.active) === active) && (name === null || w.name === name)), workflowJson);
    }
    const wf = /^\/workflows\/([^/]+)$/.exec(path);
    if (wf) {
      const w = workflows.find((x) => x.id === decodeURIComponent(wf[1]!));
      return w ? send(res, 200, workflowJson(w)) : send(res, 404, { message: 'Not Found' });
    }
    if (path === '/executions') {
      const workflowId = url.searchParams.get('workflowId');
      const status = url.searchParams.get('status');
      if (status !== null && !['canceled', 'crashed', 'error', 'new', 'running', 'success', 'unknown', 'waiting'].includes(status)) return send(res, 400, { message: 'request/query/status must be equal to one of the allowed values: canceled, crashed, error, new, running, success, unknown, waiting' });
      const withData = url.searchParams.get('includeData') === 'true';
      return page(res, url, executions.filter((e) => (workflowId === null || e.workflowId === workflowId) && (status === null || e.status === status)), (e) => executionJson(e, withData));
    }
    const ex = /^\/executions\/(\d+)$/.exec(path);
    if (ex) {
      const e = executions.find((x) => x.id === Number(ex[1]));
      return e ? send(res, 200, executionJson(e, url.searchParams.get('includeData') === 'true')) : send(res, 404, { message: 'Not Found' });
    }
    return undefined;
  }

  const server: Server = createServer(delayed((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const entry: FakeN8nRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
      log.push(entry);
      if (!url.pathname.startsWith('/api/v1/')) {
        entry.status = 501;
        res.writeHead(501).end();
        return;
      }
      const key = req.headers['x-n8n-api-key'];
      if (key === undefined) {
        entry.status = send(res, 401, { message: "'X-N8N-API-KEY' header required" });
        return;
      }
      if (key !== opts.apiKey) {
        entry.status = send(res, 401, { message: 'unauthorized' });
        return;
      }
      const status = route(req.method ?? '', url, res);
      if (status === undefined) {
        entry.status = 501;
        res.writeHead(501).end();
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    workflows,
    executions,
    failedSince: (since) => executions.filter((e) => (e.status === 'error' || e.status === 'crashed') && Date.parse(e.startedAt) >= since),
    requests: () => log,
    unknown: () => log.filter((r) => r.status === 501),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
