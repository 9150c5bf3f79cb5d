/**
 * CUPS: the printers of a CUPS print server, their queues, printing a document and cancelling a
 * job, over IPP (HTTP on port 631) with our own small IPP codec (`integrations.cups` in
 * hub.yaml). Jobs are submitted as `user` (their owner in CUPS; default `homelab-mcp`). A
 * server whose policy asks for authentication gets Basic auth as `user` with `password`.
 *
 * @example hub.yaml
 * integrations:
 *   cups:
 *     url: http://print.lan:631           # or ipp://print.lan, ipps://print.lan
 *     folders: [/srv/scans]               # print_document's `file` only from here
 *     urlPrefixes: ["http://paperless.lan:8000/api/documents/"]   # its `url` only from here
 */
import * as z from 'zod';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { isHttpError } from '@homelab-mcp/core/http';
import { createCupsClient, cupsHttpUrl, CupsError, type CupsClient, type CupsPrinter } from './client.ts';
import { cupsTools } from './tools.ts';

export { createCupsClient, cupsHttpUrl, CupsError, MAX_IPP_BYTES, type CupsClient, type CupsJob, type CupsPrinter, type JobState } from './client.ts';
export { cupsTools, detectFormat, fileInFolders, urlAllowed, MAX_JOBS_SHOWN, type CupsToolOptions } from './tools.ts';
export { decodeIpp, encodeIpp, operationGroup, IppError, IPP_OP, GROUP_TAG, VALUE_TAG, IPP_STATUS, DEFAULT_IPP_LIMITS, type IppResponse, type IppGroup, type IppValue, type IppAttribute, type IppRequest, type IppLimits } from './ipp.ts';

export const CupsConfigSchema = z
  .strictObject({
    /** The CUPS server: `http://print.lan:631`, `https://print.lan:631`, `ipp://print.lan` or `ipps://print.lan`. */
    url: z.url({ protocol: /^(https?|ipps?)$/, error: 'the CUPS server, e.g. http://print.lan:631 or ipp://print.lan' }),
    /** Who the hub prints as (requesting-user-name, the jobs' owner). */
    user: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a user name of letters, digits, "_", ".", "@" and "-"').default('homelab-mcp'),
    /** With it, Basic auth as `user`; use ${VAR} or ${file:...}. */
    password: z.string().min(1).optional(),
    /** Most copies print_document may ask for. */
    maxCopies: z.number().int().min(1).max(100).default(10),
    /** Largest document print_document sends (text, PDF, file or fetched URL). */
    maxDocumentBytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(16 * 1024 * 1024),
    /** Absolute folders whose files print_document's `file` may print; none by default. */
    folders: z.array(z.string().regex(/^\//, 'an absolute path')).max(32).default([]),
    /** URL prefixes print_document's `url` may fetch from; none by default (URLs refused). */
    urlPrefixes: z.array(z.url({ protocol: /^https?$/, error: 'an http(s) URL prefix, e.g. http://paperless.lan:8000/api/documents/' })).max(32).default([]),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .superRefine(checkOneTlsTrust);
export type CupsConfig = z.output<typeof CupsConfigSchema>;

export interface CupsInstance extends IntegrationInstance {
  client: CupsClient;
}

/** What is wrong with a printer, in a sentence; undefined when nothing is. */
export function printerProblem(p: CupsPrinter): string | undefined {
  const errors = p.reasons.filter((r) => r.endsWith('-error') || r === 'paused' || r === 'offline-report');
  if (p.state === 'stopped') return `printer ${p.name} is stopped${errors.length ? ` (${errors.join(', ')})` : ''}${p.message ? `: ${p.message}` : ''}`;
  if (!p.acceptingJobs) return `printer ${p.name} is not accepting jobs${p.message ? `: ${p.message}` : ''}`;
  if (errors.length) return `printer ${p.name}: ${errors.join(', ')}${p.message ? ` (${p.message})` : ''}`;
  return undefined;
}

export const cupsIntegration = defineIntegration({
  name: 'cups',
  configSchema: CupsConfigSchema,
  setup(config, ctx): CupsInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.cups');
    // A tool's request that CUPS refuses for its credential tells the link, so service_health
    // says so too.
    let onLinkError: (err: unknown) => void = () => undefined;
    const client = createCupsClient({ url: config.url, user: config.user, password: config.password, http, timeoutMs: config.timeoutMs, onLinkError: (err) => onLinkError(err) });
    const link = createServiceLink({ label: `CUPS at ${client.host}`, credentialKey: 'integrations.cups.password', check: async (signal) => {
        try {
          await client.printers(signal, 1);
        } catch (err) {
          // The link words it (`CUPS at HOST is unreachable: connection refused`): only the cause.
          if (err instanceof CupsError && err.status === 503 && isHttpError(err.cause)) throw new Error(err.cause.detail);
          throw err;
        }
      },
      log: ctx.log });
    onLinkError = (err) => void link.failed(err);
    const tools = cupsTools(client, { maxCopies: config.maxCopies, maxDocumentBytes: config.maxDocumentBytes, folders: config.folders, urlPrefixes: config.urlPrefixes, http: ctx.http, timeoutMs: config.timeoutMs });
    const summary = async (signal: AbortSignal) => {
      const printers = await client.printers(signal);
      const problems = printers.map(printerProblem).filter((p): p is string => !!p);
      const queued = printers.reduce((n, p) => n + p.queuedJobs, 0);
      return { printers, problems, queued };
    };
    return {
      name: 'cups',
      title: 'CUPS',
      client,
      tools,
      /** "2 printers (1 processing); 3 queued jobs"; a stopped printer, or one that refuses jobs or reports an error, is a problem. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const s = await summary(signal);
          const busy = s.printers.filter((p) => p.state === 'processing').length;
          return {
            ok: !s.problems.length,
            detail: `${s.printers.length} printer${s.printers.length === 1 ? '' : 's'}${busy ? ` (${busy} processing)` : ''}; ${s.queued} queued job${s.queued === 1 ? '' : 's'}`,
            ...(s.problems.length ? { problems: s.problems.map((p) => `CUPS: ${p}`) } : {}),
          };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service named cups or print*, or on the CUPS server's host and port. */
      async diagnose(service: DiagnosedService, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? cupsHttpUrl(service.url).host : undefined;
        } catch {
          host = undefined;
        }
        if (!/^(cups|print(er|ers|ing)?)$/i.test(service.name) && host !== client.host) return [];
        try {
          const s = await summary(signal);
          return [
            s.problems.length
              ? { check: 'cups', status: 'problem', detail: `CUPS answers; ${s.problems.join('; ')}`, suggestion: 'list_printers shows each printer\'s state reasons; cancel_print_job clears a stuck job.' }
              : { check: 'cups', status: 'ok', detail: `CUPS answers IPP: ${s.printers.length} printer${s.printers.length === 1 ? '' : 's'}, ${s.queued} queued job${s.queued === 1 ? '' : 's'}` },
          ];
        } catch (err) {
          return [{ check: 'cups', status: 'problem', detail: link.failed(err), suggestion: 'Check that cupsd runs and listens on the network (Listen or Port in cupsd.conf) and allows the hub\'s address (<Location />).' }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
