/**
 * n8n: workflows and their executions, failed ones first (`integrations.n8n` in hub.yaml). An
 * API key (Settings > n8n API); the tools only read, so on n8n versions with API key scopes give
 * it `workflow:read` and `execution:read` and nothing else.
 *
 * @example hub.yaml
 * integrations:
 *   n8n:
 *     url: http://n8n.lan:5678                    # a /api/v1 suffix is accepted
 *     apiKey: ${N8N_API_KEY}
 */
import * as z from 'zod';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createN8nClient, type N8nClient } from './client.ts';
import { ago, allWorkflows, failedSince, n8nTools } from './tools.ts';

export { createN8nClient, N8nError, FAILED_STATUSES, MAX_N8N_BYTES, N8N_PAGE, type N8nClient, type N8nExecution, type N8nExecutionStatus, type N8nWorkflow } from './client.ts';
export { n8nTools, MAX_WORKFLOWS, ERROR_DETAILS } from './tools.ts';

export const N8nConfigSchema = z
  .strictObject({
    /** n8n's base URL: `http://n8n.lan:5678` (a `/api/v1` suffix is accepted). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://n8n.lan:5678' }),
    /** The API key (Settings > n8n API); use ${VAR} or ${file:...}. */
    apiKey: z.string().min(1, 'the n8n API key'),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
  })
  .superRefine(checkOneTlsTrust);
export type N8nConfig = z.output<typeof N8nConfigSchema>;

export interface N8nInstance extends IntegrationInstance {
  client: N8nClient;
}

const DAY = 86_400_000;

/** Whether a topology service is this n8n: named n8n, or its URL at n8n's host and port (a Docker host runs many services). */
function isN8nService(service: DiagnosedService, n8nUrl: URL): boolean {
  if (/(^|[^a-z0-9])n8n([^a-z0-9]|$)/i.test(service.name)) return true;
  if (!service.url) return false;
  try {
    return new URL(service.url).host.toLowerCase() === n8nUrl.host.toLowerCase();
  } catch {
    return false;
  }
}

export const n8nIntegration = defineIntegration({
  name: 'n8n',
  configSchema: N8nConfigSchema,
  setup(config, ctx): N8nInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.n8n');
    const client = createN8nClient({ url: config.url, apiKey: config.apiKey, http, timeoutMs: config.timeoutMs, apiKeyKey: 'integrations.n8n.apiKey' });
    const label = `n8n at ${client.host}`;
    const link = createServiceLink({ label, credentialKey: 'integrations.n8n.apiKey', check: async (signal) => void (await client.get('/workflows', { limit: 1 }, signal)), log: ctx.log });
    const tools = n8nTools(client);

    /** The failed executions of the last 24 h, by workflow name. */
    const failures = async (signal: AbortSignal) => {
      const [failed, wfs] = await Promise.all([failedSince(client, Date.now() - DAY, signal), allWorkflows(client, signal)]);
      const names = new Map(wfs.items.map((w) => [w.id, w.name]));
      return { failed, wfs, names };
    };

    return {
      name: 'n8n',
      title: 'n8n',
      client,
      // A tool whose key was rejected tells the link, so service_health says so too.
      tools: tools.map((t) => ({
        ...t,
        async call(args, c) {
          const r = await t.call(args, c);
          if (r.isError && /rejected the API key/.test(r.content[0]?.text ?? '')) link.failed({ status: 401 });
          return r;
        },
      })),
      /** "12 workflows (9 active); 2 failed executions in the last 24 h"; a failure is a problem, one per workflow. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const { failed, wfs, names } = await failures(signal);
          const lastPerWorkflow = new Map<string, (typeof failed)[number]>();
          for (const e of failed) if (!lastPerWorkflow.has(String(e.workflowId))) lastPerWorkflow.set(String(e.workflowId), e);
          const problems = [...lastPerWorkflow.values()].slice(0, 3).map((e) => `n8n workflow '${names.get(String(e.workflowId)) ?? e.workflowId}' ${e.status === 'crashed' ? 'crashed' : 'failed'} ${ago(e.startedAt)}`);
          if (lastPerWorkflow.size > 3) problems.push(`${lastPerWorkflow.size - 3} more n8n workflows failed (n8n_executions)`);
          const n = wfs.items.length;
          return {
            ok: !failed.length,
            detail: `${n}${wfs.more ? '+' : ''} workflow${n === 1 ? '' : 's'} (${wfs.items.filter((w) => w.active).length} active); ${failed.length} failed execution${failed.length === 1 ? '' : 's'} in the last 24 h`,
            ...(problems.length ? { problems } : {}),
          };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service named n8n, or on n8n's host: does the API answer, and what failed in the last 24 h. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        if (!isN8nService(service, new URL(config.url))) return [];
        try {
          await link.ready(signal);
          const { failed, names } = await failures(signal);
          if (!failed.length) return [{ check: 'n8n', status: 'ok', detail: `n8n API answers; no failed executions in 24 h` }];
          const which = [...new Set(failed.map((e) => names.get(String(e.workflowId)) ?? String(e.workflowId)))];
          return [
            {
              check: 'n8n',
              status: 'problem',
              detail: `n8n API answers; ${failed.length} failed execution${failed.length === 1 ? '' : 's'} in 24 h (${which.slice(0, 5).map((w) => `'${w}'`).join(', ')}${which.length > 5 ? ', ...' : ''})`,
              suggestion: 'n8n_executions shows each failure with the node and message it failed on.',
            },
          ];
        } catch (err) {
          return [{ check: 'n8n', status: 'problem', detail: link.failed(err) }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
