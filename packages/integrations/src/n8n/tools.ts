/**
 * The n8n tools: workflows with the state of their last execution, and executions with the
 * failed ones first and why they failed. Reads only: the API key needs no write scope.
 */
import * as z from 'zod';
import { defineTool, errorResult, textResult, type IntegrationTool } from '../integration.ts';
import { FAILED_STATUSES, type N8nClient, type N8nExecution, type N8nWorkflow } from './client.ts';

/** Workflows shown at most (the answer says how many more there are). */
export const MAX_WORKFLOWS = 100;
/** Workflows read at most to answer. */
const READ_WORKFLOWS = 1000;
/** Failed executions whose error message is fetched (one request each). */
export const ERROR_DETAILS = 5;
const DAY = 86_400_000;

/** `3 h ago`, `12 min ago`, `2 d ago`. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return 'at an unknown time';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

function took(e: N8nExecution): string {
  if (!e.startedAt || !e.stoppedAt) return '';
  const ms = Date.parse(e.stoppedAt) - Date.parse(e.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? `, took ${ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`}` : '';
}

const isFailed = (e: N8nExecution): boolean => FAILED_STATUSES.has(e.status);
const newestFirst = (a: N8nExecution, b: N8nExecution): number => Date.parse(b.startedAt ?? '') - Date.parse(a.startedAt ?? '') || Number(b.id) - Number(a.id);

/** Every workflow (up to 1000). */
export async function allWorkflows(n8n: N8nClient, signal: AbortSignal | undefined, active?: boolean): Promise<{ items: N8nWorkflow[]; more: boolean }> {
  return n8n.list<N8nWorkflow>('/workflows', { excludePinnedData: 'true', active: active === undefined ? undefined : String(active) }, { max: READ_WORKFLOWS, signal });
}

/** Executions that failed (error or crashed) since `since` (ms), newest first, at most 250 of each state. */
export async function failedSince(n8n: N8nClient, since: number, signal: AbortSignal | undefined, workflowId?: string): Promise<N8nExecution[]> {
  const older = (e: N8nExecution) => Date.parse(e.startedAt ?? '') < since;
  const [errors, crashed] = await Promise.all(['error', 'crashed'].map((status) => n8n.list<N8nExecution>('/executions', { status, workflowId }, { max: 250, signal, until: older })));
  return [...errors!.items, ...crashed!.items].sort(newestFirst);
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

const execJson = (e: N8nExecution, names: Map<string, string>, error?: { message: string; node?: string }) => ({
  id: e.id,
  workflowId: String(e.workflowId),
  workflow: names.get(String(e.workflowId)) ?? null,
  status: e.status,
  mode: e.mode ?? null,
  startedAt: e.startedAt ?? null,
  stoppedAt: e.stoppedAt ?? null,
  ...(e.retryOf != null ? { retryOf: e.retryOf } : {}),
  ...(error ? { error: error.message, errorNode: error.node ?? null } : {}),
});

export function n8nTools(n8n: N8nClient): IntegrationTool[] {
  const workflows = defineTool({
    name: 'n8n_workflows',
    title: 'n8n workflows',
    description: 'Lists n8n workflows (active or not, tags) with the state of each one\'s last execution, workflows whose last run failed first.',
    args: z.strictObject({ active: z.boolean().describe('Only active (true) or inactive (false) workflows').optional() }),
    toolClass: 'read',
    async run({ active }, { signal }) {
      const { items, more } = await allWorkflows(n8n, signal, active);
      const wanted = new Set(items.map((w) => w.id));
      // One page of recent executions gives most workflows their last run; the rest are asked one by one.
      const recent = await n8n.list<N8nExecution>('/executions', {}, { max: 250, signal });
      const last = new Map<string, N8nExecution>();
      for (const e of recent.items.sort(newestFirst)) if (wanted.has(String(e.workflowId)) && !last.has(String(e.workflowId))) last.set(String(e.workflowId), e);
      const missing = items.filter((w) => !last.has(w.id)).slice(0, MAX_WORKFLOWS);
      await inBatches(missing, 8, async (w) => {
        const one = await n8n.list<N8nExecution>('/executions', { workflowId: w.id }, { max: 1, signal });
        if (one.items[0]) last.set(w.id, one.items[0]);
      });
      const rank = (w: N8nWorkflow) => (last.get(w.id) && isFailed(last.get(w.id)!) ? 0 : w.active ? 1 : 2);
      const sorted = [...items].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
      const shown = sorted.slice(0, MAX_WORKFLOWS);
      const lines = shown.map((w) => {
        const e = last.get(w.id);
        const tags = w.tags?.length ? ` [${w.tags.map((t) => t.name).join(', ')}]` : '';
        return `- ${w.name} (${w.id}, ${w.active ? 'active' : 'inactive'})${tags}: ${e ? `last run ${e.status} ${ago(e.startedAt)} (execution ${e.id})` : 'never ran'}`;
      });
      const total = items.length;
      const nActive = items.filter((w) => w.active).length;
      if (total > shown.length || more) lines.push(`(${more ? 'more than ' : ''}${total - shown.length} more not shown: filter by active)`);
      return textResult(`${total}${more ? '+' : ''} workflow${total === 1 ? '' : 's'} (${nActive} active)${lines.length ? `:\n${lines.join('\n')}` : ''}`, {
        total,
        active: nActive,
        ...(more ? { more: true } : {}),
        workflows: shown.map((w) => {
          const e = last.get(w.id);
          return { id: w.id, name: w.name, active: w.active, tags: (w.tags ?? []).map((t) => t.name), lastExecution: e ? { id: e.id, status: e.status, startedAt: e.startedAt ?? null, stoppedAt: e.stoppedAt ?? null } : null };
        }),
      });
    },
  });

  const executions = defineTool({
    name: 'n8n_executions',
    title: 'n8n executions',
    description: 'Recent n8n executions, failed ones first with the node and message they failed on; filter by status or workflow (id or name).',
    args: z.strictObject({
      status: z.enum(['canceled', 'crashed', 'error', 'new', 'running', 'success', 'unknown', 'waiting']).describe('Only executions in this state').optional(),
      workflow: z.string().min(1).max(200).describe('A workflow id or its exact name').optional(),
      limit: z.number().int().min(1).max(100).describe('At most this many executions (default 20)').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const limit = args.limit ?? 20;
      const { items: wfs } = await allWorkflows(n8n, signal);
      const names = new Map(wfs.map((w) => [w.id, w.name]));
      let workflowId: string | undefined;
      if (args.workflow !== undefined) {
        const w = wfs.find((x) => x.id === args.workflow) ?? wfs.find((x) => x.name.toLowerCase() === args.workflow!.toLowerCase());
        if (!w) return errorResult(`n8n_executions: argument "workflow": no workflow with id or name ${JSON.stringify(args.workflow)} in n8n at ${n8n.host} (n8n_workflows lists them)`);
        workflowId = w.id;
      }
      let list: N8nExecution[];
      let more: boolean;
      if (args.status) ({ items: list, more } = await n8n.list<N8nExecution>('/executions', { status: args.status, workflowId }, { max: limit, signal }));
      else {
        // Failed first: the recent ones and the last failures, which may be older than the recent page.
        const [recent, failed] = await Promise.all([n8n.list<N8nExecution>('/executions', { workflowId }, { max: limit, signal }), failedSince(n8n, Date.now() - 7 * DAY, signal, workflowId)]);
        const byId = new Map<string, N8nExecution>();
        for (const e of [...failed.slice(0, limit), ...recent.items]) byId.set(String(e.id), e);
        list = [...byId.values()];
        more = recent.more || list.length > limit;
      }
      const sorted = list.sort((a, b) => Number(isFailed(b)) - Number(isFailed(a)) || newestFirst(a, b)).slice(0, limit);
      const details = new Map<string, { message: string; node?: string }>();
      await Promise.all(
        sorted
          .filter(isFailed)
          .slice(0, ERROR_DETAILS)
          .map(async (e) => {
            try {
              const full = await n8n.get<N8nExecution>(`/executions/${encodeURIComponent(String(e.id))}`, { includeData: 'true' }, signal);
              const err = full.data?.resultData?.error;
              const node = err?.node?.name ?? full.data?.resultData?.lastNodeExecuted;
              if (err?.message) details.set(String(e.id), { message: err.message.slice(0, 300), ...(node ? { node } : {}) });
            } catch {
              // The list line stands without the message.
            }
          }),
      );
      const nFailed = sorted.filter(isFailed).length;
      const lines = sorted.map((e) => {
        const d = details.get(String(e.id));
        return `- ${e.id} ${names.get(String(e.workflowId)) ?? `workflow ${e.workflowId}`}: ${e.status} ${ago(e.startedAt)}${took(e)}${d ? `, in node "${d.node ?? '?'}": ${d.message}` : ''}`;
      });
      if (more) lines.push('(more executions not shown: filter by status or workflow, or raise limit)');
      const head = `${sorted.length} execution${sorted.length === 1 ? '' : 's'}${workflowId ? ` of ${names.get(workflowId)}` : ''}${args.status ? ` with status ${args.status}` : `, ${nFailed} failed`}`;
      return textResult(`${head}${lines.length ? `:\n${lines.join('\n')}` : ''}`, {
        total: sorted.length,
        failed: nFailed,
        ...(more ? { more: true } : {}),
        executions: sorted.map((e) => execJson(e, names, details.get(String(e.id)))),
      });
    },
  });

  return [workflows, executions];
}
