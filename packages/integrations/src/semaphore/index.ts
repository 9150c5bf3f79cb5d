/**
 * Semaphore UI: its projects and templates, running a template (a write, previewed with the
 * template and its playbook), and how tasks went (`integrations.semaphore` in hub.yaml). An API
 * token of a user who may run the templates (Semaphore has no read-only tokens; a user with the
 * "Task Runner" role in the projects is enough).
 *
 * @example hub.yaml
 * integrations:
 *   semaphore:
 *     url: http://semaphore.lan:3000
 *     token: ${SEMAPHORE_TOKEN}
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';
import * as z from 'zod';
import { capText, defineIntegration, defineTool, errorResult, textResult, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance, type IntegrationTool } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';

/** Output lines shown of a task. */
export const OUTPUT_TAIL_LINES = 40;
const MAX_BYTES = 4 * 1024 * 1024;

export const SemaphoreConfigSchema = z
  .strictObject({
    /** The Semaphore web address, e.g. http://semaphore.lan:3000 (an /api suffix is accepted). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://semaphore.lan:3000' }),
    /** An API token (User > API tokens); use ${VAR} or ${file:...}. */
    token: z.string().min(8, 'a Semaphore API token'),
    ...serviceTlsShape,
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .superRefine(checkOneTlsTrust);
export type SemaphoreConfig = z.output<typeof SemaphoreConfigSchema>;

interface Project {
  id: number;
  name: string;
}
interface Task {
  id: number;
  template_id: number;
  project_id: number;
  status: string;
  dry_run?: boolean;
  limit?: string;
  created?: string;
  start?: string | null;
  end?: string | null;
  tpl_alias?: string;
  tpl_playbook?: string;
}
interface Template {
  id: number;
  project_id: number;
  name: string;
  playbook: string;
  description?: string | null;
  last_task?: Task | null;
}

/** A Semaphore API error; `status` 401 when the token was refused. */
export class SemaphoreError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'SemaphoreError';
    this.status = status;
  }
}

export interface SemaphoreClient {
  host: string;
  projects(signal?: AbortSignal): Promise<Project[]>;
  templates(project: number, signal?: AbortSignal): Promise<Template[]>;
  run(project: number, body: Record<string, unknown>, signal?: AbortSignal): Promise<Task>;
  task(project: number, id: number, signal?: AbortSignal): Promise<Task>;
  output(project: number, id: number, signal?: AbortSignal): Promise<string[]>;
}

export function createSemaphoreClient(opts: { url: string; token: string; http: HttpClient; timeoutMs: number }): SemaphoreClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}/api`;
  async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, what = 'it'): Promise<T> {
    const res: HttpResponse = await opts.http.request({ method, url: `${root}${path}`, headers: { authorization: `Bearer ${opts.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}), timeoutMs: opts.timeoutMs, maxBytes: MAX_BYTES, ...(signal ? { signal } : {}) });
    if (res.status === 200 || res.status === 201) return res.json<T>();
    if (res.status === 401) throw new SemaphoreError(401, `Semaphore at ${host} rejected the API token (integrations.semaphore.token)`);
    if (res.status === 404) throw new SemaphoreError(404, `Semaphore at ${host} has no ${what}`);
    let why = `HTTP ${res.status}`;
    try {
      const e = res.json<{ error?: unknown }>().error;
      if (typeof e === 'string') why = e.slice(0, 300);
    } catch {
      // empty body
    }
    throw new SemaphoreError(res.status, `Semaphore at ${host}: ${why}`);
  }
  return {
    host,
    projects: (signal) => call('GET', '/projects', undefined, signal),
    templates: (project, signal) => call('GET', `/project/${project}/templates?sort=name&order=asc`, undefined, signal, `project ${project}`),
    run: (project, body, signal) => call('POST', `/project/${project}/tasks`, body, signal, `template ${String(body.template_id)} in project ${project}`),
    task: (project, id, signal) => call('GET', `/project/${project}/tasks/${id}`, undefined, signal, `task ${id} in project ${project}`),
    output: async (project, id, signal) => (await call<Array<{ output?: string }>>('GET', `/project/${project}/tasks/${id}/output`, undefined, signal, `task ${id} in project ${project}`)).map((l) => String(l.output ?? '')),
  };
}

function ago(iso: string | null | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return 'at an unknown time';
  const m = Math.max(0, Math.round((now - t) / 60_000));
  return m < 60 ? `${m} min ago` : m < 2880 ? `${Math.round(m / 60)} h ago` : `${Math.round(m / 1440)} days ago`;
}
const FAILED = new Set(['error', 'stopped']);
const DONE = new Set(['error', 'stopped', 'success']);

/** Every template of every project (or of one). */
async function allTemplates(c: SemaphoreClient, project: string | number | undefined, signal: AbortSignal): Promise<{ projects: Project[]; templates: Array<Template & { projectName: string }> }> {
  const projects = await c.projects(signal);
  const chosen = project === undefined ? projects : projects.filter((p) => p.id === Number(project) || p.name.toLowerCase() === String(project).toLowerCase());
  if (!chosen.length) throw new HomelabError('INVALID_ARGUMENTS', `project: no project ${JSON.stringify(project)} (there are ${projects.map((p) => `${p.id} ${p.name}`).join(', ')})`);
  const lists = await Promise.all(chosen.map(async (p) => (await c.templates(p.id, signal)).map((t) => ({ ...t, projectName: p.name }))));
  return { projects: chosen, templates: lists.flat() };
}

/** The one template `template` names (an id or a name), with a clear error when none or several do. */
async function findTemplate(c: SemaphoreClient, template: string | number, project: string | number | undefined, signal: AbortSignal) {
  const { templates } = await allTemplates(c, project, signal);
  const hits = templates.filter((t) => t.id === Number(template) || t.name.toLowerCase() === String(template).toLowerCase());
  if (!hits.length) throw new HomelabError('INVALID_ARGUMENTS', `template: no template ${JSON.stringify(template)} (there are ${templates.slice(0, 20).map((t) => `${t.id} "${t.name.slice(0, 60)}"`).join(', ') || 'none'}${templates.length > 20 ? `, and ${templates.length - 20} more` : ''}); semaphore_list_templates lists them`);
  if (hits.length > 1) throw new HomelabError('INVALID_ARGUMENTS', `template: ${JSON.stringify(template)} names ${hits.length} templates (${hits.map((t) => `${t.id} in ${t.projectName}`).join(', ')}); give its id or the project`);
  return hits[0]!;
}

export function semaphoreTools(c: SemaphoreClient): IntegrationTool[] {
  const projectArg = z.union([z.number().int().positive(), z.string().min(1).max(200)]).describe('A project id or name; default all').optional();
  const listProjects = defineTool({
    name: 'semaphore_list_projects',
    title: 'Semaphore projects',
    description: 'Lists the Semaphore projects.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      const ps = await c.projects(signal);
      return textResult(ps.map((p) => `- ${p.id} ${p.name}`).join('\n') || 'no projects', { projects: ps.map((p) => ({ id: p.id, name: p.name })) });
    },
  });
  const listTemplates = defineTool({
    name: 'semaphore_list_templates',
    title: 'Semaphore templates',
    description: 'Lists the task templates (playbooks) of every project or one, with how each one\'s last task went.',
    args: z.strictObject({ project: projectArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      const { templates } = await allTemplates(c, args.project, signal);
      const lines = templates.map((t) => `- ${t.id} "${t.name}" (${t.playbook}) in ${t.projectName}: ${t.last_task ? `last task ${t.last_task.id} ${t.last_task.status} ${ago(t.last_task.end ?? t.last_task.created)}` : 'never run'}`);
      return textResult(lines.join('\n') || 'no templates', { templates: templates.map((t) => ({ id: t.id, name: t.name, playbook: t.playbook, project: t.projectName, projectId: t.project_id, lastTask: t.last_task ? { id: t.last_task.id, status: t.last_task.status, end: t.last_task.end ?? null } : null })) });
    },
  });
  const status = defineTool({
    name: 'semaphore_task_status',
    title: 'Semaphore task',
    description: 'Status and the end of the output of a Semaphore task by id, or of the most recent failed task when no id is given.',
    args: z.strictObject({ task: z.number().int().positive().describe('The task id; default the most recent failed task').optional(), project: projectArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      let project: number;
      let id: number;
      if (args.task === undefined) {
        const { templates } = await allTemplates(c, args.project, signal);
        const failed = templates.filter((t) => t.last_task && FAILED.has(t.last_task.status)).sort((a, b) => Date.parse(b.last_task!.end ?? b.last_task!.created ?? '') - Date.parse(a.last_task!.end ?? a.last_task!.created ?? ''));
        if (!failed.length) return textResult('no template\'s last task failed', { failed: false });
        project = failed[0]!.project_id;
        id = failed[0]!.last_task!.id;
      } else {
        id = args.task;
        const projects = args.project === undefined ? await c.projects(signal) : (await allTemplates(c, args.project, signal)).projects;
        // A task id is per project: find the project that has it.
        const found = await Promise.all(projects.map((p) => c.task(p.id, id, signal).then(() => p.id, () => undefined)));
        const pid = found.find((x) => x !== undefined);
        if (pid === undefined) return errorResult(`task: no task ${id} in ${projects.map((p) => p.name).join(', ')}`);
        project = pid;
      }
      const [t, out] = await Promise.all([c.task(project, id, signal), c.output(project, id, signal)]);
      const tail = out.slice(-OUTPUT_TAIL_LINES);
      const { text: shown } = capText(tail.join('\n'), 8000);
      return textResult(`task ${t.id} (template ${t.template_id}, project ${project}): ${t.status}${t.dry_run ? ' (dry run)' : ''}${t.end ? `, ended ${ago(t.end)}` : t.start ? `, started ${ago(t.start)}` : ''}\noutput (last ${tail.length} of ${out.length} lines):\n${shown}`, { id: t.id, templateId: t.template_id, projectId: project, status: t.status, dryRun: !!t.dry_run, start: t.start ?? null, end: t.end ?? null, output: tail, outputLines: out.length });
    },
  });
  const runTask = defineTool({
    name: 'semaphore_run_task',
    title: 'Run a Semaphore template',
    description: 'Starts a task of a Semaphore template (by id or name): its playbook runs on its inventory; dry_run and diff as Ansible\'s --check and --diff, limit as --limit.',
    args: z.strictObject({
      template: z.union([z.number().int().positive(), z.string().min(1).max(200)]).describe('The template id or name'),
      project: projectArg,
      dry_run: z.boolean().describe('Ansible --check: change nothing').optional(),
      diff: z.boolean().describe('Ansible --diff').optional(),
      limit: z.string().max(500).regex(/^[A-Za-z0-9_.:*!&,\-\[\]]*$/, 'an Ansible host pattern such as web or "web,!db"').describe('Ansible --limit host pattern').optional(),
    }),
    toolClass: 'write',
    annotations: { idempotentHint: false },
    async preview(args, { signal }) {
      const opts = [args.dry_run ? 'dry run (--check)' : '', args.diff ? '--diff' : '', args.limit ? `--limit ${args.limit}` : ''].filter(Boolean).join(', ');
      try {
        const t = await findTemplate(c, args.template, args.project, signal);
        return { action: `Run Semaphore template ${t.id} "${t.name}" (playbook ${t.playbook}) in project ${t.projectName}${opts ? `, ${opts}` : ''}`, where: [`semaphore/${t.projectName}`] };
      } catch (err) {
        return { action: `Run Semaphore template ${JSON.stringify(args.template)}${opts ? `, ${opts}` : ''} (it could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
      }
    },
    async run(args, { signal }) {
      const t = await findTemplate(c, args.template, args.project, signal);
      const task = await c.run(t.project_id, { template_id: t.id, debug: false, dry_run: args.dry_run ?? false, diff: args.diff ?? false, playbook: '', environment: '{}', limit: args.limit ?? '', git_branch: '' }, signal);
      return textResult(`started task ${task.id} of "${t.name}" (${t.playbook}) in ${t.projectName}${args.dry_run ? ', dry run' : ''}: ${task.status}; semaphore_task_status(task: ${task.id}) follows it`, { id: task.id, templateId: t.id, template: t.name, playbook: t.playbook, project: t.projectName, status: task.status });
    },
  });
  return [listProjects, listTemplates, runTask, status];
}

export interface SemaphoreInstance extends IntegrationInstance {
  client: SemaphoreClient;
}

export const semaphoreIntegration = defineIntegration({
  name: 'semaphore',
  configSchema: SemaphoreConfigSchema,
  setup(config, ctx): SemaphoreInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.semaphore');
    const client = createSemaphoreClient({ url: config.url, token: config.token, http, timeoutMs: config.timeoutMs });
    const link = createServiceLink({ label: `Semaphore at ${client.host}`, credentialKey: 'integrations.semaphore.token', check: async (signal) => void (await client.projects(signal)), log: ctx.log });
    const summary = async (signal: AbortSignal) => {
      const { projects, templates } = await allTemplates(client, undefined, signal);
      const failed = templates.filter((t) => t.last_task && FAILED.has(t.last_task.status));
      const running = templates.filter((t) => t.last_task && !DONE.has(t.last_task.status));
      return { projects, templates, failed, running };
    };
    return {
      name: 'semaphore',
      title: 'Semaphore',
      client,
      tools: semaphoreTools(client),
      /** "2 projects, 3 templates; last task of 'backup' failed 2 h ago". */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const s = await summary(signal);
          const problems = s.failed.map((t) => `Semaphore: last task of '${t.name}' ${t.last_task!.status === 'stopped' ? 'was stopped' : 'failed'} ${ago(t.last_task!.end ?? t.last_task!.created)}`);
          return { ok: !problems.length, detail: `${s.projects.length} projects, ${s.templates.length} templates${s.running.length ? `, ${s.running.length} running` : ''}`, ...(problems.length ? { problems } : {}) };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service that is Semaphore (named so, or at its URL's host). */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? new URL(service.url).host : undefined;
        } catch {
          host = undefined;
        }
        if (service.name.toLowerCase() !== 'semaphore' && host !== client.host) return [];
        try {
          const s = await summary(signal);
          return [
            s.failed.length
              ? { check: 'semaphore', status: 'warning', detail: `Semaphore answers; the last task of ${s.failed.map((t) => `'${t.name}'`).join(', ')} failed`, suggestion: 'semaphore_task_status() shows the output of the last failed task.' }
              : { check: 'semaphore', status: 'ok', detail: `Semaphore answers its API: ${s.templates.length} templates, no last task failed` },
          ];
        } catch (err) {
          return [{ check: 'semaphore', status: 'problem', detail: link.failed(err), suggestion: 'Semaphore\'s API does not answer as it should: check the semaphore service and its database.' }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
