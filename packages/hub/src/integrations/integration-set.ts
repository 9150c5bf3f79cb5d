/**
 * The built-in integrations the config enables (`integrations:` in hub.yaml), set up and kept
 * in line with the configuration: an unchanged one is kept across reloads, a changed one set up
 * again, a removed one closed. Their tools become hub tools (source = the integration's name);
 * their outbound requests go through the core HTTP helper and are reported for the audit trail.
 * `observability` holds the Prometheus and Loki clients for the hub's own tools
 * (service_health, run_diagnostic).
 */
import type * as z from 'zod';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { HomeAssistantRestConfigSchema, homeAssistantRestIntegration, integrations as builtins, LokiConfigSchema, type IntegrationInstance, type IntegrationsConfig, type LokiClient, type PrometheusClient } from '@homelab-mcp/integrations';
import type { CatalogTool } from '../catalog/types.ts';
import { guardAuditQuery } from './audit-stream-guard.ts';
import { haBase } from '../upstreams/home-assistant.ts';
import type { HubConfig } from '../config/schema.ts';
import type { HubLogger } from '../hub.ts';

export interface Observability {
  prometheus?: PrometheusClient;
  loki?: LokiClient;
}

export interface IntegrationSetOptions {
  log: HubLogger;
  /** Each outbound request of an integration, named by the integration (for `http_request` audit events). */
  onHttpRequest(request: HttpRequestReport & { upstream: string }): void;
  /** hub.yaml's folder, for relative paths in an integration's config. */
  baseDir?: string;
}

/**
 * What each integration runs with: `integrations.*` as configured, and for `loki`, when only
 * the audit trail names a Loki, that one (same URL, tenant and headers).
 */
export function effectiveIntegrationsConfig(config: HubConfig): IntegrationsConfig {
  const out: IntegrationsConfig = { ...config.integrations };
  const audit = config.audit.loki;
  if (!out.loki && audit) out.loki = LokiConfigSchema.parse({ url: audit.url, ...(audit.tenant ? { tenant: audit.tenant } : {}), ...(audit.headers ? { headers: audit.headers } : {}) });
  return out;
}

/**
 * The config of Home Assistant's REST views (ha_states, ha_history, ha_logbook, ha_error_log):
 * one instance per upstream (or mcpServers entry) of `type: home-assistant`, with its URL (without
 * a trailing `/api/mcp`, which the config accepts) and
 * token; undefined when there is none, so the tools exist exactly when one is configured.
 */
export function homeAssistantRestConfig(config: HubConfig): z.output<typeof HomeAssistantRestConfigSchema> | undefined {
  const instances = (['upstreams', 'mcpServers'] as const).flatMap((k) =>
    Object.entries(config[k] ?? {}).flatMap(([alias, u]) => ('type' in u && u.type === 'home-assistant' ? [{ alias, url: haBase(u.url), token: u.token, key: `${k}.${alias}` }] : [])),
  );
  return instances.length ? HomeAssistantRestConfigSchema.parse({ instances }) : undefined;
}

/** Config keys whose values are an integration's credentials. */
// `key` alone: OPNsense's API key (its pair's other half is `secret`; see keyOfPair).
const SECRET_CONFIG_KEY = /token|password|secret|api_?key|apikey|^key$/i;

/**
 * The credentials in an integration's config (and the forms a service could echo them in: the
 * Basic value of `token:token`, base64), so that whatever the service quotes back in an error
 * page (a proxy that echoes request headers) is cut out of answers, health lines and logs.
 */
export function configSecrets(cfg: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key: string, inHeaders: boolean, parent?: Record<string, unknown>): void => {
    if (typeof v === 'string') {
      // `key` alone is a credential only beside its `secret` (OPNsense): Home Assistant's
      // instances name their config location in `key` (upstreams.ha), which messages must show.
      const keyOfPair = key !== 'key' || typeof parent?.secret === 'string';
      if ((inHeaders || (SECRET_CONFIG_KEY.test(key) && !/id$/i.test(key) && keyOfPair)) && v.length >= 6) {
        out.add(v);
        const bare = v.replace(/^(Bearer|Basic|Token)\s+/i, '');
        if (bare.length >= 6) out.add(bare);
        out.add(Buffer.from(`${bare}:token`).toString('base64'));
      }
      return;
    }
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key, inHeaders, parent));
    if (v && typeof v === 'object') {
      // A name and a secret sent as Basic (OPNsense's key and secret; CUPS', Lyrion's and
      // others' user and password): the header's value is base64 of both, at any depth (instances).
      const o = v as Record<string, unknown>;
      const name = [o.key, o.user, o.username].find((x) => typeof x === 'string');
      const secret = [o.secret, o.password].find((x) => typeof x === 'string');
      if (typeof name === 'string' && typeof secret === 'string' && secret.length >= 6) out.add(Buffer.from(`${name}:${secret}`).toString('base64'));
      for (const [k, x] of Object.entries(o)) walk(x, k, inHeaders || k === 'headers', o);
    }
  };
  walk(cfg, '', false);
  return [...out].sort((a, b) => b.length - a.length);
}

/** Shortest piece of a credential cut out where a text holds only part of it. */
const MIN_PIECE = 10;
/** Credentials this long (generated tokens and keys, not words) are cut out in part too. */
const MIN_PIECED = 20;

/**
 * `t` without the pieces of `sec` that an integration's own cut left (a service's text kept to
 * 300 characters ends inside the token it echoed): each run of at least {@link MIN_PIECE}
 * characters that starts like `sec` or ends like it.
 */
function cutPieces(t: string, sec: string): string {
  const ranges: Array<[number, number]> = [];
  const head = sec.slice(0, MIN_PIECE);
  for (let i = t.indexOf(head); i >= 0; i = t.indexOf(head, i + 1)) {
    let m = MIN_PIECE;
    while (i + m < t.length && m < sec.length && t[i + m] === sec[m]) m++;
    ranges.push([i, i + m]);
  }
  const tail = sec.slice(-MIN_PIECE);
  for (let j = t.indexOf(tail); j >= 0; j = t.indexOf(tail, j + 1)) {
    const end = j + MIN_PIECE;
    let m = MIN_PIECE;
    while (end - m > 0 && m < sec.length && t[end - m - 1] === sec[sec.length - m - 1]) m++;
    ranges.push([end - m, end]);
  }
  if (!ranges.length) return t;
  ranges.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [from, to] of ranges) {
    if (to <= at) continue;
    out += `${t.slice(at, Math.max(at, from))}${from >= at ? '[redacted]' : ''}`;
    at = to;
  }
  return out + t.slice(at);
}

/** `s` with each of `secrets` replaced (and the pieces of long ones a cut left); other values deep, object keys included. */
export function scrubSecrets<T>(v: T, secrets: readonly string[]): T {
  if (!secrets.length) return v;
  const pieced = secrets.filter((sec) => sec.length >= MIN_PIECED && !/^(Bearer|Basic|Token)\s/i.test(sec));
  const scrub = (x: unknown): unknown => {
    if (typeof x === 'string') return pieced.reduce((t, sec) => cutPieces(t, sec), secrets.reduce((t, sec) => (t.includes(sec) ? t.split(sec).join('[redacted]') : t), x));
    if (Array.isArray(x)) return x.map(scrub);
    // Keys too: a service's value can be one (ha_states counts states by their text).
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [scrub(k), scrub(y)]));
    return x;
  };
  return scrub(v) as T;
}

/** Longest an integration may take to look up what a write would act on, for its preview. */
const PREVIEW_TIMEOUT_MS = 15_000;

/** An integration's tools as catalog tools; what they answer is scrubbed of its credentials. */
export function integrationCatalogTools(instance: IntegrationInstance, secrets: readonly string[] = []): CatalogTool[] {
  return instance.tools.map((t) => ({
    def: t.def as Tool,
    toolClass: t.toolClass,
    source: instance.name,
    call: async (args, ctx) => {
      // What a write records for the audit event (what it changed, to undo it) is scrubbed of the credentials too.
      const auditDetail = ctx.auditDetail;
      return scrubSecrets((await t.call(args, { signal: ctx.signal, ...(auditDetail ? { auditDetail: (d: Record<string, unknown>) => auditDetail(scrubSecrets(d, secrets)) } : {}) })) as CallToolResult, secrets);
    },
    ...(t.preview
      ? {
          preview: async (args: Record<string, unknown>) => {
            const p = await t.preview!(args, { signal: AbortSignal.timeout(PREVIEW_TIMEOUT_MS) });
            return { tool: t.def.name, where: scrubSecrets(p.where ?? [instance.name], secrets), action: scrubSecrets(p.action, secrets), arguments: args };
          },
        }
      : {}),
  }));
}

/** The audit stream's `job` when query_logs queries the Loki the audit trail ships to (same URL and tenant). */
function auditLokiJob(config: HubConfig, loki: { url: string; tenant?: string } | undefined): string | undefined {
  const audit = config.audit.loki;
  if (!audit || !loki) return undefined;
  const same = new URL(loki.url).href.replace(/\/+$/, '') === new URL(audit.url).href.replace(/\/+$/, '') && (loki.tenant ?? '') === (audit.tenant ?? '');
  return same ? (audit.labels?.job ?? 'mcp-audit') : undefined;
}

/** query_logs that keeps non-admins out of the audit stream (see audit-stream-guard.ts). */
function auditGuarded(tool: CatalogTool, job: string): CatalogTool {
  return {
    ...tool,
    call: (args, ctx) => (ctx.caller.role === 'admin' || typeof args.logql !== 'string' ? tool.call(args, ctx) : tool.call({ ...args, logql: guardAuditQuery(args.logql, job) }, ctx)),
  };
}

export function createIntegrationSet(opts: IntegrationSetOptions) {
  const live = new Map<string, { key: string; instance: IntegrationInstance; secrets: string[] }>();
  const observability: Observability = {};
  let tools: CatalogTool[] = [];

  const childLog = (name: string, secrets: readonly string[]): HubLogger => ({
    info: (o, m) => opts.log.info(scrubSecrets({ integration: name, ...o }, secrets), scrubSecrets(m, secrets)),
    warn: (o, m) => opts.log.warn(scrubSecrets({ integration: name, ...o }, secrets), scrubSecrets(m, secrets)),
    error: (o, m) => opts.log.error(scrubSecrets({ integration: name, ...o }, secrets), scrubSecrets(m, secrets)),
  });

  function close(instance: IntegrationInstance): void {
    void Promise.resolve()
      .then(() => instance.close?.())
      .catch((err: unknown) => opts.log.warn({ integration: instance.name, err: String(err) }, 'integration: close failed'));
  }

  return {
    observability,
    tools: (): CatalogTool[] => tools,
    instances: (): IntegrationInstance[] => [...live.values()].map((l) => l.instance),
    /** Each integration with its credentials, to scrub what its health and diagnosis say. */
    secretsOf: (name: string): readonly string[] => live.get(name)?.secrets ?? [],
    /** Brings the set in line with `config`; a failed setup is logged and skipped. */
    apply(config: HubConfig): void {
      const wanted: Record<string, unknown> = { ...effectiveIntegrationsConfig(config), [homeAssistantRestIntegration.name]: homeAssistantRestConfig(config) };
      for (const integration of [...builtins, homeAssistantRestIntegration]) {
        const cfg = wanted[integration.name];
        const key = JSON.stringify(cfg ?? null);
        const current = live.get(integration.name);
        if (current && current.key === key) continue;
        if (current) {
          live.delete(integration.name);
          close(current.instance);
        }
        if (cfg === undefined) continue;
        try {
          const http = createHttpClient({ userAgent: 'homelab-hub', onRequest: (r) => opts.onHttpRequest({ upstream: integration.name, ...r }) });
          const secrets = configSecrets(cfg);
          const instance = (integration.setup as (c: unknown, ctx: unknown) => IntegrationInstance)(cfg, { http, log: childLog(integration.name, secrets), ...(opts.baseDir ? { baseDir: opts.baseDir } : {}) });
          live.set(integration.name, { key, instance, secrets });
          opts.log.info({ integration: integration.name, tools: instance.tools.map((t) => t.def.name) }, 'integration set up');
        } catch (err) {
          opts.log.error({ integration: integration.name, err: err instanceof Error ? err.message : String(err) }, 'integration: setup failed, skipped');
        }
      }
      const instance = (name: string) => live.get(name)?.instance as (IntegrationInstance & { client?: unknown }) | undefined;
      observability.prometheus = instance('prometheus')?.client as PrometheusClient | undefined;
      observability.loki = instance('loki')?.client as LokiClient | undefined;
      if (!observability.prometheus) delete observability.prometheus;
      if (!observability.loki) delete observability.loki;
      tools = [...live.values()].flatMap((l) => integrationCatalogTools(l.instance, l.secrets));
      const auditJob = auditLokiJob(config, wanted.loki as { url: string; tenant?: string } | undefined);
      if (auditJob !== undefined) tools = tools.map((t) => (t.source === 'loki' && t.def.name === 'query_logs' ? auditGuarded(t, auditJob) : t));
    },
    close(): void {
      for (const l of live.values()) close(l.instance);
      live.clear();
      tools = [];
      delete observability.prometheus;
      delete observability.loki;
    },
  };
}

export type IntegrationSet = ReturnType<typeof createIntegrationSet>;
