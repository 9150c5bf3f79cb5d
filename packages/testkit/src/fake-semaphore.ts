/**
 * A fake Semaphore UI API for tests (shared/reference/service-apis.md §7), since Semaphore
 * cannot run here: a real HTTP server on 127.0.0.1.
 *
 * - `Authorization: Bearer <token>` (the server lowercases the header and strips `bearer `);
 *   anything else is 401 with an empty body.
 * - `GET /api/ping` (text `pong`), `GET /api/projects`, `GET /api/project/{p}/templates` (each
 *   with its `last_task`), `POST /api/project/{p}/tasks` (201, a Task in `waiting`; it runs for
 *   `taskMs` and ends `success`, or `error` for a template whose playbook is `fail.yml`),
 *   `GET /api/project/{p}/tasks/{t}` and `/output`.
 * - Validation errors are 400 `{"error":"..."}`; a missing project, template or task is 404 with
 *   an empty body. Anything else is a 404 recorded in `unknown()`: a test asserts it stays empty.
 *
 * @example
 * await using sem = await startFakeSemaphore({ token: 't' });
 */
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface FakeSemaphoreTask {
  id: number;
  template_id: number;
  project_id: number;
  status: string;
  dry_run: boolean;
  diff: boolean;
  limit: string;
  created: string;
  start: string | null;
  end: string | null;
  output: string[];
  endsAt: number;
  fails: boolean;
}

export interface FakeSemaphoreRequest {
  method: string;
  path: string;
  status: number;
  body?: string;
  unknown?: boolean;
}

export interface FakeSemaphore {
  url: string;
  host: string;
  tasks: FakeSemaphoreTask[];
  requests(): FakeSemaphoreRequest[];
  unknown(): FakeSemaphoreRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const TEMPLATES = [
  { id: 1, project_id: 1, name: 'Update servers', playbook: 'update.yml' },
  { id: 2, project_id: 1, name: 'backup', playbook: 'fail.yml' },
  { id: 3, project_id: 2, name: 'Deploy website', playbook: 'site.yml' },
];

export async function startFakeSemaphore(opts: { token: string; taskMs?: number; port?: number; /** Every answer this much later. */ delayMs?: number }): Promise<FakeSemaphore> {
  const log: FakeSemaphoreRequest[] = [];
  const tasks: FakeSemaphoreTask[] = [];
  const taskMs = opts.taskMs ?? 150;
  const now = () => new Date().toISOString();
  // One failed run of "backup" two hours ago, as a lab that needs attention has.
  tasks.push({ id: 7, template_id: 2, project_id: 1, status: 'error', dry_run: false, diff: false, limit: '', created: new Date(Date.now() - 7_200_000).toISOString(), start: new Date(Date.now() - 7_200_000).toISOString(), end: new Date(Date.now() - 7_100_000).toISOString(), output: ['PLAY [all] ****', 'TASK [borg create] ****', 'fatal: [nas]: FAILED! => {"msg": "repository locked"}'], endsAt: 0, fails: true });

  const view = (t: FakeSemaphoreTask) => {
    if (t.status !== 'error' && t.status !== 'success' && Date.now() >= t.endsAt) {
      t.status = t.fails ? 'error' : 'success';
      t.end = now();
      t.output.push(t.fails ? 'fatal: [all]: FAILED! => {"msg": "it failed"}' : 'PLAY RECAP ****', t.fails ? 'PLAY RECAP **** failed=1' : 'ok=3 changed=1 failed=0');
    } else if (t.status === 'waiting') {
      t.status = 'running';
      t.start = now();
    }
    return { id: t.id, template_id: t.template_id, project_id: t.project_id, status: t.status, debug: false, dry_run: t.dry_run, diff: t.diff, playbook: '', environment: '', limit: t.limit, secret: '', arguments: null, git_branch: null, user_id: 1, integration_id: null, schedule_id: null, created: t.created, start: t.start, end: t.end, message: '', commit_hash: null, commit_message: '', build_task_id: null, version: null, inventory_id: null };
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return status;
  };
  const empty = (res: ServerResponse, status: number) => {
    res.writeHead(status).end();
    return status;
  };

  function route(method: string, p: string, body: string, res: ServerResponse): number | undefined {
    if (method === 'GET' && p === '/api/projects') return json(res, 200, [1, 2].map((id) => ({ id, name: id === 1 ? 'Homelab' : 'Web', created: '2024-01-01T00:00:00Z', alert: false, alert_chat: null, max_parallel_tasks: 0, type: '' })));
    let m = /^\/api\/project\/(\d+)\/templates$/.exec(p);
    if (method === 'GET' && m) {
      const pid = Number(m[1]);
      if (pid !== 1 && pid !== 2) return empty(res, 404);
      return json(
        res,
        200,
        TEMPLATES.filter((t) => t.project_id === pid).map((t) => {
          const last = [...tasks].reverse().find((x) => x.template_id === t.id);
          return { ...t, inventory_id: 1, repository_id: 1, environment_id: 1, view_id: null, arguments: null, allow_override_args_in_task: false, description: null, vaults: [], type: '', start_version: null, build_template_id: null, autorun: false, git_branch: null, survey_vars: [], suppress_success_alerts: false, app: 'ansible', tasks: tasks.filter((x) => x.template_id === t.id).length, last_task: last ? { ...view(last), tpl_playbook: t.playbook, tpl_alias: t.name } : null };
        }),
      );
    }
    m = /^\/api\/project\/(\d+)\/tasks$/.exec(p);
    if (method === 'POST' && m) {
      const pid = Number(m[1]);
      let b: Record<string, unknown>;
      try {
        b = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: 'invalid JSON' });
      }
      const tpl = TEMPLATES.find((t) => t.id === b.template_id && t.project_id === pid);
      if (!tpl) return empty(res, 404);
      for (const k of Object.keys(b)) if (!['template_id', 'debug', 'dry_run', 'diff', 'playbook', 'environment', 'limit', 'git_branch'].includes(k)) return json(res, 400, { error: `unknown field ${k}` });
      const t: FakeSemaphoreTask = { id: 100 + tasks.length, template_id: tpl.id, project_id: pid, status: 'waiting', dry_run: b.dry_run === true, diff: b.diff === true, limit: typeof b.limit === 'string' ? b.limit : '', created: now(), start: null, end: null, output: [`PLAY [${tpl.playbook}] ****`], endsAt: Date.now() + taskMs, fails: tpl.playbook === 'fail.yml' };
      tasks.push(t);
      return json(res, 201, view(t));
    }
    m = /^\/api\/project\/(\d+)\/tasks\/(\d+)(\/output)?$/.exec(p);
    if (method === 'GET' && m) {
      const t = tasks.find((x) => x.id === Number(m![2]) && x.project_id === Number(m![1]));
      if (!t) return empty(res, 404);
      const v = view(t);
      if (!m[3]) return json(res, 200, v);
      return json(res, 200, t.output.map((output, i) => ({ task_id: t.id, task: '', time: new Date(Date.parse(t.created) + i * 1000).toISOString(), output })));
    }
    return undefined;
  }

  const server: Server = createServer(delayed((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString();
      const entry: FakeSemaphoreRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0, ...(body ? { body } : {}) };
      log.push(entry);
      if (url.pathname === '/api/ping' && req.method === 'GET') {
        entry.status = 200;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
        return;
      }
      const auth = (req.headers.authorization ?? '').toLowerCase().replace(/^bearer /, '');
      if (auth !== opts.token.toLowerCase()) {
        entry.status = empty(res, 401);
        return;
      }
      const status = route(req.method ?? '', url.pathname, body, res);
      if (status === undefined) {
        entry.status = empty(res, 404);
        entry.unknown = true;
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, tasks, requests: () => log, unknown: () => log.filter((r) => r.unknown), stop, [Symbol.asyncDispose]: stop };
}
