/**
 * Assembles a hub from its configuration: the nodes (the `local` node, a child process, and
 * remote edges), the native MCP upstreams, the catalog over them, and the HTTP app. The catalog is
 * rebuilt when any of them changes (state or lists), and clients are told with list_changed.
 * `reconfigure` applies a new configuration live: connections whose settings did not change
 * are kept, and no client session is dropped.
 */
import type { Catalog, LeftOut, NativeUpstream } from './catalog/catalog.ts';
import { HomelabError } from '@homelab-mcp/core';
import { buildCatalog } from './catalog/catalog.ts';
import { unresolvedSource, type HubNode } from './catalog/nodes.ts';
import type { UnresolvedNode } from './config/keep-entries.ts';
import type { Caller } from './catalog/types.ts';
import type { HubConfig, UpstreamConfig } from './config/schema.ts';
import { currentSource } from './transports/request-source.ts';
import { createEdgeDist } from './edge-dist/edge-dist.ts';
import { createMetrics } from './metrics.ts';
import { createLocalNode, type LocalNode } from './nodes/local-node.ts';
import { ancestorPids, descendantPids, hubOwnPaths, localPrivatePaths, withDenied, type FilePolicy } from './nodes/file-policy.ts';
import type { PolicyFor } from './catalog/fleet.ts';
import { createAuthenticator, type TokenEntry } from './policy/auth.ts';
import { annotationMismatches, mismatchText } from './policy/classes.ts';
import { createGate } from './policy/gate.ts';
import { createRateLimiter } from './policy/rate-limit.ts';
import { sessionTools } from './tools/session/session-tools.ts';
import { auditLogTool, type AuditLogSource } from './tools/session/audit-log.ts';
import { createJournal } from './audit/journal.ts';
import { auditLogQL, createLokiShipper, queryLoki } from './audit/loki-shipper.ts';
import { createAuditEvent, safeUrl } from '@homelab-mcp/core/audit-event';
import { dirname, join } from 'node:path';
import { createHubServer, type CallEvent, type CallObserver, type CallStart, type HubServerInfo } from './server/mcp-server.ts';
import { createResourceSubscriptions } from './server/resource-subscriptions.ts';
import { listNodesTool, networkResourcesTool } from './tools/network/list-nodes.ts';
import { updateEdgesTool } from './tools/network/update-edges.ts';
import { probeTools } from './tools/observability/probes.ts';
import { observabilityTools } from './tools/observability/index.ts';
import { checkPort, pingHost, probeHttp } from '@homelab-mcp/core/probes';
import { createHttpApp, type UpstreamHealth } from './transports/http.ts';
import { createOAuth } from './oauth/oauth.ts';
import { createTopology, type TopologySettings } from './topology/topology.ts';
import { topologyResources, topologyTools } from './tools/topology/topology-tools.ts';
import { fleetCareTools } from './tools/fleet/fleet-care.ts';
import { createUpstream, type Upstream, type UpstreamLogMessage, type UpstreamSpec } from './upstreams/upstream.ts';
import { HA_CLASS_PRESET, haBase, haHost, haPreview, watchHaExposure } from './upstreams/home-assistant.ts';
import { createIntegrationSet, scrubSecrets, type Observability } from './integrations/integration-set.ts';
import { createAnsibleService, type AnsibleService } from './ansible/service.ts';
import { internetTools, type InternetDeps } from './internet/index.ts';
import { createNotifier } from './internet/notify.ts';
import { createHttpClient } from '@homelab-mcp/core/http';
import { createUiApp } from './ui/app.ts';
import type { SessionActivity, UiData } from './ui/contract.ts';
import { integrationHealth } from './ui/ui-data.ts';
import { createSessionActivity } from './ui/session-activity.ts';
import { healthPage } from './ui/pages/health.ts';
import { sessionsPage } from './ui/pages/sessions.ts';
import { pendingPage } from './ui/pages/pending.ts';
import { toolsPage } from './ui/pages/tools.ts';
import { playbooksPage } from './ui/pages/playbooks.ts';
import { networkPage } from './ui/pages/network.ts';
import { auditPage, auditStreamResponse } from './ui/pages/audit.ts';
import { createAuditFeed } from './ui/audit-feed.ts';

declare const __HUB_VERSION__: string | undefined;
export const HUB_VERSION: string = typeof __HUB_VERSION__ === 'string' ? __HUB_VERSION__ : '0.0.0-dev';

/** pino's calling convention: fields first, then the message. */
export interface HubLogger {
  debug?(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface HubOptions {
  config: HubConfig;
  /** Where the journal (and the shipper's cursor) live: DATA/audit. */
  dataDir: string;
  /**
   * false only to measure what the audit trail costs (bench/hub): nothing is journaled. Set by
   * main.ts from HOMELAB_HUB_UNSAFE_NO_AUDIT=1, with a warning; never from the config file.
   */
  audit?: boolean;
  /** Tokens to accept; from the config, or the generated one of the embedded default. */
  tokens: TokenEntry[];
  log: HubLogger;
  /** How to run the `local` node's child process; main.ts builds it (nodes/local-node.ts). */
  localNode: LocalNodeSetup;
  /** The variables hub.yaml takes as `${VAR}` (its secrets): never passed to Ansible. */
  secretVars?: readonly string[];
}

export interface LocalNodeSetup {
  /** The hub's own bundle with its hidden `local-node` command. */
  command: { execPath: string; args: string[] };
  /** The child's whole, scrubbed environment. */
  env: Record<string, string>;
  /** hub.yaml, absolute: refused on `local` to every role. */
  configFile?: string;
}

function upstreamSpec(alias: string, u: UpstreamConfig): UpstreamSpec {
  if (u.type === 'stdio') return { kind: 'stdio', name: alias, command: u.command, args: u.args, ...(u.env ? { env: u.env } : {}), ...(u.cwd ? { cwd: u.cwd } : {}), ...(u.protocol ? { protocol: u.protocol } : {}) };
  if (u.type === 'sse') return { kind: 'sse', name: alias, url: u.url, ...(u.headers ? { headers: u.headers } : {}) };
  // <url>/api/mcp, or the legacy /mcp_server/sse of an older HA (upstreams/home-assistant.ts).
  if (u.type === 'home-assistant') return { kind: 'home-assistant', name: alias, url: haBase(u.url), token: u.token, ...(u.protocol ? { protocol: u.protocol } : {}) };
  return { kind: 'http', name: alias, url: u.url, ...(u.headers ? { headers: u.headers } : {}), ...(u.protocol ? { protocol: u.protocol } : {}) };
}

/** Shows a URL without credentials or query (where tokens sometimes hide). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function asNative(alias: string, u: Upstream, warning?: () => string | undefined): NativeUpstream {
  return {
    alias,
    // Home Assistant: the preview of a write names the entities it matches now.
    ...(u.spec.kind === 'home-assistant' ? { preview: (tool: string, shown: string, args: Record<string, unknown>) => haPreview(u, alias, haHost((u.spec as { url: string }).url), tool, shown, args) } : {}),
    state: () => {
      const w = warning?.();
      return w ? { ...u.state(), warning: w } : u.state();
    },
    tools: () => u.tools(),
    resources: () => u.resources(),
    resourceTemplates: () => u.resourceTemplates(),
    prompts: () => u.prompts(),
    callTool: (n, a, o) => u.callTool(n, a, o),
    readResource: (uri, o) => u.readResource(uri, o),
    getPrompt: (n, a, o) => u.getPrompt(n, a, o),
    complete: (p, o) => u.complete(p, o),
    features: () => u.features(),
    subscribeResource: (uri, o) => u.subscribeResource(uri, o),
    unsubscribeResource: (uri) => u.unsubscribeResource(uri),
    checkNow: () => u.checkNow(),
  };
}

/** A live connection and the settings it was made with, to tell whether a reload changes it. */
interface Conn {
  key: string;
  upstream: Upstream;
  unsubscribe: () => void;
  /** What a person should fix although it is up (Home Assistant exposing nothing to act on). */
  warning?: () => string | undefined;
}

export async function createHub(opts: HubOptions) {
  const { log } = opts;
  let config = opts.config;
  const clientInfo = { name: 'homelab-hub', version: HUB_VERSION };
  let nodes: HubNode[] = [];
  let natives: NativeUpstream[] = [];
  let local: { key: string; node: LocalNode; off: () => void } | undefined;
  let localSetup = opts.localNode;
  const conns = new Map<string, Conn>();
  // New nodes the last reload could not resolve, and since when each has been so (kept across
  // reloads, so "unreachable since" does not restart at every edit of hub.yaml).
  let unresolved: UnresolvedNode[] = [];
  const unresolvedSince = new Map<string, Date>();

  const info: HubServerInfo = {
    name: 'homelab-hub',
    version: HUB_VERSION,
    instructions:
      'homelab hub: one endpoint for the whole network. Fleet tools take a `node` argument (a node name, a list, "role:NAME" or "all") and run on several devices in parallel; ' +
      'list_nodes shows the devices and their state. Tools of other MCP servers are named <alias>__<tool> (or keep their own names when the hub config says so; network_resources tells which server each comes from).',
  };
  // The topology summary is appended to the instructions; each server instance (a 2026 request,
  // a 2025 session) reads `info` when it is created, so a new session sees the current summary.
  const baseInstructions = info.instructions;
  const topologySettings = (c: HubConfig, unresolvedNodes: readonly UnresolvedNode[] = []): TopologySettings => ({
    ...(c.topology.file ? { file: c.topology.file } : {}),
    refreshMinutes: c.topology.refreshMinutes,
    ...(c.topology.ansible ? { ansible: c.topology.ansible } : {}),
    ...(c.topology.docs ? { docs: c.topology.docs } : {}),
    drift: c.topology.drift,
    ...(c.local.enabled ? { hubService: { name: 'homelab-hub', hubNode: c.local.name } } : {}),
    // A node whose secret a reload could not resolve is still a hub node: topology.yaml may name it.
    edgeNames: [...(c.local.enabled ? [c.local.name] : []), ...c.nodes.map((n) => n.name), ...unresolvedNodes.map((n) => n.name)],
  });
  const topology = createTopology({ ...topologySettings(config), hubNodes: () => nodes, log, ...(opts.secretVars ? { secretVars: opts.secretVars } : {}) });
  const applyInstructions = () => {
    info.instructions = `${baseInstructions}\n\n${topology.summary()}`;
  };
  // The Ansible review queue, when `ansible:` is configured; rebuilt when its settings change.
  let ansible: { key: string; service: AnsibleService } | undefined;
  const gate = createGate({
    modeFor: (caller) => config.approval.users[caller.user] ?? config.approval.mode,
    idleMinutes: () => config.approval.idleMinutes,
    // Hard limits no approval lifts: a playbook runs only from main, after a dry run of the same.
    rules: [(call) => ansible?.service.rule(call)],
    onHumanAsk: (e) => notifier.approvalPending({ user: e.caller.user, tool: e.tool, action: e.action }),
  });
  // The journal is written before a client gets its answer: an answered call is never lost.
  // deferPrune: nothing is deleted before the Loki shipper's hold is in place (below).
  const journal = await createJournal({ dir: opts.dataDir, fsync: config.audit.fsync, maxFileBytes: config.audit.maxFileBytes, maxFiles: config.audit.maxFiles, log, deferPrune: true });
  const record = opts.audit === false ? async () => {} : (event: Parameters<typeof journal.append>[0]) => journal.append(event);
  /** For events no answer waits on: they share the next call's commit (journal `lazy`), and a failed write is tried again (`retry`: nobody else would learn of it). */
  const recordLazily = opts.audit === false ? async () => {} : (event: Parameters<typeof journal.append>[0]) => journal.append(event, { lazy: true, retry: true });
  const loki = config.audit.loki;
  const shipper = loki
    ? createLokiShipper({ journal, url: loki.url, labels: loki.labels, ...(loki.tenant ? { tenant: loki.tenant } : {}), ...(loki.headers ? { headers: loki.headers } : {}), backlogWarnBytes: loki.backlogWarnBytes, cursorFile: join(journal.dir, 'loki-cursor.json'), log })
    : undefined;
  shipper?.start();
  // The shipper holds every file until its cursor is read: pruning is safe from here on.
  await journal.prune();
  // Calls per user and session, for get_session_info and the UI's Sessions page (bounded).
  const sessionActivity = createSessionActivity();
  /** A call's audit event as createAuditEvent takes it (the call as it ended). */
  const callEventInput = (e: CallEvent) => ({
    kind: 'tool_call' as const,
    user: e.caller.user,
    role: e.caller.role,
    session: e.session,
    ...(e.client?.name ? { client: { name: e.client.name, ...(e.client.version ? { version: e.client.version } : {}) } } : {}),
    ...(currentSource() ? { source: currentSource()!.slice(0, 64) } : {}),
    tool: e.tool,
    ...(e.nodes ? { nodes: e.nodes } : {}),
    args: e.args,
    ...(e.toolClass ? { class: e.toolClass } : {}),
    decision: e.decision,
    outcome: e.outcome,
    ...(e.error ? { error: e.error } : {}),
    durationMs: Math.round(e.durationMs * 10) / 10,
    // The user a chaining hub called for (its claim; the role above is already lowered),
    // what the tool added for the record (a playbook run's commit and recap),
    // and the answer's shape (items and bytes, never its content: it may hold secrets).
    ...(e.caller.actingFor || e.caller.oauthClient !== undefined || e.detail || e.result
      ? { detail: { ...e.detail, ...(e.caller.actingFor ? { actingFor: e.caller.actingFor } : {}), ...(e.caller.oauthClient !== undefined ? { oauthClient: e.caller.oauthClient.slice(0, 100) } : {}), ...(e.result ? { result: { ...e.result } } : {}) } }
      : {}),
  });
  const observer: CallObserver = {
    async call(e) {
      sessionActivity.record(e);
      await record(createAuditEvent(callEventInput(e)));
    },
    // A call that runs: its start is synced while the upstream works, so the answer waits for
    // max(upstream, one synced write) rather than upstream + synced write. Its event (same id,
    // with the outcome) joins the next commit (lazy): a crash before that commit leaves the
    // start, which the journal's next open turns into the call with outcome "unknown".
    ...(opts.audit === false
      ? {}
      : {
          begin(s: CallStart) {
            // A call that arrives while the hub stops (a kept-alive connection) would run with
            // its start record refused by a closed journal: it does not run.
            if (closing) throw new Error('the hub is stopping: this call did not run (its audit record could not be written); call again once the hub is back');
            const started = createAuditEvent({
              kind: 'tool_call',
              user: s.caller.user,
              role: s.caller.role,
              session: s.session,
              ...(s.client?.name ? { client: { name: s.client.name, ...(s.client.version ? { version: s.client.version } : {}) } } : {}),
              ...(currentSource() ? { source: currentSource()!.slice(0, 64) } : {}),
              tool: s.tool,
              ...(s.nodes ? { nodes: s.nodes } : {}),
              args: s.args,
              ...(s.toolClass ? { class: s.toolClass } : {}),
              decision: s.decision,
            });
            const durable = journal.begin(started);
            // Awaited by finish(); a failure is not "unhandled" meanwhile.
            durable.catch(() => {});
            let finished = false;
            return {
              async finish(e: CallEvent) {
                if (!finished) {
                  finished = true;
                  sessionActivity.record(e);
                  // The arguments were redacted and hashed for the start: the same ones ran.
                  const { args: _args, ...rest } = callEventInput(e);
                  const ended = createAuditEvent({ ...rest, id: started.id });
                  const event = { ...ended, ...(started.args !== undefined ? { args: started.args } : {}), ...(started.argsSha256 ? { argsSha256: started.argsSha256 } : {}) };
                  // retry: the answer may be out already, so a failed write (a full disk) is
                  // tried again rather than leaving the call as a start record no reader shows.
                  journal.append(event, { lazy: true, retry: true }).catch((err: unknown) => log.error({ err, tool: e.tool, id: started.id }, 'audit journal: a call\'s outcome was not journaled (its start is: the next start records it as unknown)'));
                }
                await durable;
              },
            };
          },
        }),
  };
  type AuditQuery = Parameters<AuditLogSource['read']>[0];
  const auditSource = (): AuditLogSource => {
    if (!loki) return { name: 'the local journal', read: (q: AuditQuery) => journal.read(q) };
    const source: AuditLogSource = {
      name: 'Loki',
      read: async (q: AuditQuery) => {
        try {
          return await queryLoki({ url: loki.url, logql: auditLogQL({ ...(q.tool ? { tool: q.tool } : {}), ...(q.session ? { session: q.session } : {}), ...(q.user ? { user: q.user } : {}), ...(q.kind ? { kind: q.kind } : {}), labels: loki.labels }), limit: q.limit, ...(q.since ? { start: q.since } : { start: new Date(Date.now() - 7 * 86_400_000) }), ...(loki.tenant ? { tenant: loki.tenant } : {}), ...(loki.headers ? { headers: loki.headers } : {}) });
        } catch (err) {
          // Loki down is when the audit trail matters and the journal holds all of it (what
          // Loki has not got yet included): answer from there, and say so.
          source.name = `the local journal (Loki failed: ${err instanceof Error ? err.message : String(err)})`;
          return journal.read(q);
        }
      },
    };
    return source;
  };
  const edgeDist = createEdgeDist();
  const hubTools = [
    listNodesTool(() => nodes, () => natives, () => topology, { edgeBundleSha256: () => edgeDist.bundle()?.sha256, edgeBundleVersion: () => edgeDist.bundle()?.version, leftOut: (alias) => catalog.leftOut().filter((l) => l.source === alias) }),
    networkResourcesTool(() => nodes, () => natives, () => catalog),
    updateEdgesTool({
      nodes: () => nodes,
      bundle: () => edgeDist.bundle(),
      installer: () => edgeDist.plainInstaller(),
      callTimeoutMs: () => config.limits.callTimeoutMs,
    }),
    ...sessionTools({
      gate,
      callsIn: (caller, session) => sessionActivity.calls(caller.user, session),
      onApproval: (e) =>
        record(createAuditEvent({ kind: 'approval', user: e.caller.user, role: e.caller.role, session: e.session, detail: { change: e.change, mode: gate.mode(e.caller), ...(e.reason ? { reason: e.reason } : {}) } })),
    }),
    auditLogTool(auditSource),
    ...probeTools({ nodes: () => nodes, callTimeoutMs: () => config.limits.callTimeoutMs, onHttpRequest: (r) => recordHttpRequest({ upstream: 'probe_http', ...r }) }),
    ...topologyTools(() => topology),
    // Before the fleet tools: these replace the edge's reboot_node and wake_on_lan (see fleet-care.ts).
    ...fleetCareTools({ nodes: () => nodes, topology: () => topology, callTimeoutMs: () => config.limits.callTimeoutMs }),
    ...observabilityTools({
      nodes: () => nodes,
      upstreams: () => natives,
      topology: () => topology,
      prometheus: () => observability.prometheus,
      loki: () => observability.loki,
      auditJob: () => config.audit.loki?.labels.job,
      auditShipping: () => shipper?.stats(),
      services: () => [
        ...(ansible ? [{ title: 'Ansible playbook repo', health: (signal: AbortSignal) => ansible!.service.health(signal) }] : []),
        ...integrationSet
          .instances()
          .filter((i) => i.name !== 'prometheus' && i.name !== 'loki' && i.health)
          .map((i) => {
            const secrets = integrationSet.secretsOf(i.name);
            return {
              title: i.title ?? i.name,
              health: async (signal: AbortSignal) => scrubSecrets(await i.health!(signal), secrets),
              ...(i.diagnose ? { diagnose: async (svc: Parameters<NonNullable<typeof i.diagnose>>[0], signal: AbortSignal) => scrubSecrets(await i.diagnose!(svc, signal), secrets) } : {}),
            };
          }),
      ],
      probes: { checkPort, pingHost, probeHttp: auditedProbeHttp },
      callTimeoutMs: () => config.limits.callTimeoutMs,
    }),
  ];
  // Built-in integrations (Prometheus, Loki, ...): their tools join the hub's, and the hub's own
  // tools (service_health, run_diagnostic) read Prometheus and Loki through `observability`.
  const integrationSet = createIntegrationSet({ log, onHttpRequest: recordHttpRequest, ...(opts.localNode.configFile ? { baseDir: dirname(opts.localNode.configFile) } : {}) });
  const observability: Observability = integrationSet.observability;
  let listenPort: number | undefined;
  const internetDeps: InternetDeps = {
    config: () => config.internet,
    notify: () => config.notify,
    http: createHttpClient({ onRequest: (r) => recordHttpRequest({ upstream: 'internet', ...r }) }),
    onHttpRequest: (r) => recordHttpRequest(r),
    dataDir: opts.dataDir,
    hubListeners: () => {
      const host = config.listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      return listenPort === undefined ? [] : [{ address: host, port: listenPort }];
    },
    piholeResolvers: () => {
      const p = config.integrations.pihole;
      const list = p?.instances ?? (p?.url ? [{ name: 'pihole', url: p.url }] : []);
      return Object.fromEntries(list.map((i) => [i.name, `${new URL(i.url).hostname.replace(/^\[|\]$/g, '')}:53`]));
    },
    log,
    ...(opts.secretVars ? { secretVars: opts.secretVars } : {}),
  };
  const internet = internetTools(internetDeps);
  // The hub's own notices (notify:): a write waiting for a person, a node or native MCP server down.
  const notifier = createNotifier(internetDeps);
  /**
   * The caller's file policy on `node`, from the config of this moment (a reload applies to
   * open sessions). On `local` the hub's own files are refused to every role, admin included:
   * the token, journal, config and environment there would hand out every other secret.
   */
  const policyFor: PolicyFor = (caller, node): FilePolicy => {
    const access = config.access[caller.role];
    const base: FilePolicy = { denyPaths: access.denyPaths, maskEnv: access.maskEnv };
    if (!local || node !== local.node) return base;
    const childPid = local.node.pid();
    return withDenied(base, [
      ...config.local.denyPaths,
      ...hubOwnPaths({
        files: [localSetup.configFile, config.topology.file].filter((f): f is string => !!f),
        dirs: [opts.dataDir],
        // Parents and descendants, looked up now: a parent may hold the hub's secrets in its
        // environment; a child (Ansible, a stdio upstream) holds those the hub gave it.
        pids: [...new Set([process.pid, ...ancestorPids(process.pid), ...descendantPids(process.pid), ...(childPid ? [childPid] : [])])],
      }),
    ]);
  };
  // A tool an upstream names so that it cannot be emitted is left out; say so once per tool.
  const skippedNames = new Set<string>();
  const warnSkipped = (s: { source: string; name: string; kind: string; why: string }) => {
    const k = `${s.source}\u0000${s.kind}\u0000${s.name}\u0000${s.why}`;
    if (skippedNames.has(k)) return;
    if (skippedNames.size >= 10_000) skippedNames.clear();
    skippedNames.add(k);
    log.warn({ source: s.source, [s.kind]: s.name.slice(0, 200) }, `${s.source}: ${s.kind} ${JSON.stringify(s.name.slice(0, 200))} left out: ${s.why}`);
  };
  /** The catalog under config `c`: the running one, or one a reload proposes. */
  const build = (c: HubConfig = config, o: { nodes?: HubNode[]; upstreams?: NativeUpstream[]; onSkipped?: (s: LeftOut) => void } = {}) =>
    buildCatalog({
      nodes: o.nodes ?? nodes,
      upstreams: o.upstreams ?? natives,
      hubTools: [...hubTools, ...integrationSet.tools(), ...(ansible?.service.tools ?? []), ...(c.internet.enabled ? internet : [])],
      hubResources: topologyResources(topology),
      perDeviceTools: c.perDeviceTools,
      callTimeoutMs: c.limits.callTimeoutMs,
      maxToolName: c.limits.maxToolName,
      // Home Assistant's tools carry no annotations: its reads are preset after the user's classes.
      classOverrides: Object.fromEntries(Object.entries({ ...c.mcpServers, ...c.upstreams }).map(([alias, u]) => [alias, [...Object.entries(u.classes ?? {}), ...('type' in u && u.type === 'home-assistant' ? HA_CLASS_PRESET : [])]])),
      trustAnnotations: new Set(Object.entries({ ...c.mcpServers, ...c.upstreams }).filter(([, u]) => u.trustAnnotations).map(([alias]) => alias)),
      hubUpstreams: new Set(Object.entries({ ...c.mcpServers, ...c.upstreams }).filter(([, u]) => 'type' in u && u.type === 'hub').map(([alias]) => alias)),
      unprefixed: new Set(Object.entries({ ...c.mcpServers, ...c.upstreams }).filter(([, u]) => u.prefix === false).map(([alias]) => alias)),
      policyFor,
      onSkipped: o.onSkipped ?? warnSkipped,
    });
  // A tool's class is part of it: refresh_topology turns write when a reload adds topology.ansible.
  const sig = (c: Catalog) => JSON.stringify([c.tools('admin').map((t) => `${t.def.name}:${t.toolClass}`), c.resources().map((r) => r.def.uri), c.prompts().map((p) => p.def.name)]);
  let catalog: Catalog = build();
  let signature = sig(catalog);

  const metrics = createMetrics({ auditShipping: () => shipper?.stats() });
  let authenticate = createAuthenticator(opts.tokens);
  let rate = createRateLimiter(config.auth?.rateLimit ?? { perMinute: 600, burst: 60 });
  const health = (): UpstreamHealth[] => [
    ...nodes.map((n) => {
      const s = n.source.state();
      return { name: n.name, kind: 'node' as const, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}) };
    }),
    ...natives.map((u) => {
      const s = u.state();
      const left = catalog.leftOut().filter((l) => l.source === u.alias);
      return { name: u.alias, kind: 'upstream' as const, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}), ...(s.warning ? { warning: s.warning } : {}), ...(left.length ? { leftOut: left.map((l) => l.why) } : {}) };
    }),
  ];
  const startedAt = new Date();
  // One journal reader for every open Audit page's live stream.
  const auditFeed = createAuditFeed(journal, { log });
  const uiData: UiData = {
    version: HUB_VERSION,
    startedAt,
    nodesAndUpstreams: () => health(),
    integrations: integrationHealth(() => serviceChecks()),
    topology: { nodes: () => topology.nodes(), services: () => topology.services(), lastRefresh: () => topology.lastRefresh() },
    journalStats: () => journal.stats(),
    shipper: () => shipper?.stats(),
    shipperBacklog: async () => shipper?.backlog(),
    sessions: () => http.sessions(),
    activity: () => sessionActivity.list(),
    approval: (who, session) => gate.approval(who, session),
    modeOf: (who) => gate.mode(who),
    pending: () => gate.pending(),
    audit: auditFeed.audit,
    follow: auditFeed.follow,
    tools: (role) => catalog.tools(role).map((t) => ({ name: t.def.name, source: t.source, toolClass: t.toolClass, description: t.def.description ?? '' })),
    playbooks: async (signal) => (ansible ? ansible.service.drafts(signal) : undefined),
  };
  const subscriptions = createResourceSubscriptions({ catalog: () => catalog, log });
  const http = createHttpApp({
    subscriptions,
    oauthEnabled: () => config.oauth.enabled,
    oauth: (deps) =>
      createOAuth({
        dir: join(opts.dataDir, 'oauth'),
        issuer: () => config.oauth.issuer ?? (config.allowedHosts[0] ? `https://${config.allowedHosts[0].toLowerCase()}` : undefined),
        accessTokenMinutes: () => config.oauth.accessTokenMinutes,
        refreshTokenDays: () => config.oauth.refreshTokenDays,
        authenticate: (h) => authenticate(h),
        resolveCaller: (k) => authenticate.resolve(k),
        authFailures: deps.authFailures,
        sourceOf: deps.sourceOf,
        revoked: deps.revoked,
        audit: (e) =>
          record(
            createAuditEvent({
              kind: 'oauth',
              user: e.user ?? 'unknown',
              ...(e.role ? { role: e.role } : {}),
              source: e.source.slice(0, 64),
              detail: { action: e.action, ...(e.clientId ? { clientId: e.clientId.slice(0, 200) } : {}), ...(e.clientName ? { clientName: e.clientName.slice(0, 100) } : {}), ...(e.reason ? { reason: e.reason.slice(0, 200) } : {}) },
            }),
          ).catch((err: unknown) => log.warn({ err: String(err) }, 'audit: could not record an OAuth event')),
      }),
    ui: (h) => createUiApp({ data: uiData, http: h, pages: [healthPage, sessionsPage, pendingPage, auditPage, playbooksPage, networkPage, toolsPage], streams: { 'audit/stream': auditStreamResponse }, enabled: () => config.ui.enabled }),
    info,
    catalog: () => catalog,
    authenticate: (h) => authenticate(h),
    resolveCaller: (k) => authenticate.resolve(k),
    rateLimit: (k, n) => rate.take(k, n),
    maxJsonDepth: config.limits.maxJsonDepth,
    authFailuresPerMinute: config.limits.authFailuresPerMinute,
    trustedProxies: () => config.trustedProxies,
    clientIpHeader: () => config.clientIpHeader,
    nodeTools: (source) => nodes.find((n) => n.name === source)?.source.tools().map((t) => t.name),
    hostAllowed: (host) => config.allowedHosts.some((h) => h.toLowerCase() === host),
    maxBodyBytes: config.limits.maxBodyBytes,
    metrics,
    gate,
    observer,
    health,
    edgeDist,
    log,
  });

  const listChangedListeners = new Set<() => void>();
  const logListeners = new Set<(source: string, message: UpstreamLogMessage) => void>();
  // Rebuild at most every 100 ms however many upstreams change at once (a hub restart
  // brings 50 edges up within a second), and tell clients only when the lists differ.
  let rebuildTimer: NodeJS.Timeout | undefined;
  /** Set by close(): a first attempt that ends after it neither publishes nor logs. */
  let closing = false;
  // A node whose annotations disagree with the hub's table of edge tools is modified or
  // hostile: its claims are ignored anyway; say so once per node and claim, not per rebuild.
  const flagged = new Set<string>();
  const flagMismatches = () => {
    for (const n of nodes) {
      const m = annotationMismatches(n.source.tools());
      const key = `${n.name}\u0000${mismatchText(m)}`;
      if (m.length === 0 || flagged.has(key)) continue;
      flagged.add(key);
      log.warn({ node: n.name, mismatches: m }, `node ${n.name}: its tool annotations disagree with the hub's table (${mismatchText(m)}); the hub enforces its own classes. A modified or compromised edge?`);
    }
  };
  const publish = () => {
    flagMismatches();
    applyInstructions();
    // This runs in a timer: a throw here would end the process. A catalog that cannot be
    // built keeps the one clients have, and the log says why.
    try {
      catalog = build();
    } catch (err) {
      log.error({ err: String(err) }, `the tool catalog could not be rebuilt; keeping the previous one: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const next = sig(catalog);
    if (next !== signature) {
      signature = next;
      http.notifyListChanged();
      for (const l of listChangedListeners) l();
    }
  };
  const rebuild = () => {
    rebuildTimer ??= setTimeout(() => {
      rebuildTimer = undefined;
      publish();
    }, 100);
  };

  // Every outbound HTTP request (upstreams and integrations) is an audit event, written in the
  // background: it is not an answer to a client. The URL loses credentials and query; the
  // shipper's own pushes to Loki are not audited, or each push would make more to push.
  /** The hub's own HTTP checks (service_health, run_diagnostic) are outbound requests too. */
  async function auditedProbeHttp(o: Parameters<typeof probeHttp>[0]): ReturnType<typeof probeHttp> {
    const started = performance.now();
    const r = await probeHttp(o);
    recordHttpRequest({ upstream: 'hub-check', method: 'GET', url: r.url, ...(r.status !== undefined ? { status: r.status } : {}), ...(r.error ? { error: r.error } : {}), durationMs: performance.now() - started });
    return r;
  }

  /**
   * Every outbound HTTP request is an audit event, written in the background (it is not an
   * answer to a client) and lazily: it joins the next commit of the journal instead of paying
   * an fsync of its own. The URL loses credentials and query; the shipper's own pushes to Loki
   * are not audited, or each push would make more to push.
   */
  function recordHttpRequest(r: { upstream: string; method: string; url: string; status?: number; error?: string; durationMs: number; bytes?: number }): void {
    void recordLazily(
      createAuditEvent({
        kind: 'http_request',
        user: 'hub',
        detail: { upstream: r.upstream, method: r.method, url: safeUrl(r.url), ...(r.status !== undefined ? { status: r.status } : {}), ...(r.bytes !== undefined ? { bytes: r.bytes } : {}), ...(r.error ? { error: r.error } : {}) },
        durationMs: Math.round(r.durationMs * 10) / 10,
      }),
    ).catch((err: unknown) => log.warn({ err: String(err) }, 'audit: could not record an outbound request'));
  }

  /** The connection for `spec`, reused when a connection with the same settings exists. */
  function connection(spec: UpstreamSpec, keep: Map<string, Conn>): Upstream {
    const key = JSON.stringify([spec, config.limits.callTimeoutMs, config.limits.maxResultBytes]);
    const existing = conns.get(spec.name + '\u0000' + spec.kind);
    if (existing && existing.key === key) {
      keep.set(spec.name + '\u0000' + spec.kind, existing);
      return existing.upstream;
    }
    const upstream = createUpstream(spec, {
      callTimeoutMs: config.limits.callTimeoutMs,
      maxResultBytes: config.limits.maxResultBytes,
      clientInfo,
      log,
      onHttpRequest: recordHttpRequest,
    });
    const offChange = upstream.onChange((what: string) => {
      if (what === 'state') {
        const s = upstream.state();
        log.info({ upstream: spec.name, status: s.status, ...(s.lastError ? { error: s.lastError } : {}) }, 'upstream state');
        // A connection the hub closed itself (reload, stop) is not news for anyone's phone.
        if (s.status === 'down' && !s.lastError?.startsWith('closed by the hub')) notifier.down(spec.kind === 'edge' ? 'node_down' : 'service_down', spec.name, s.lastError);
      }
      rebuild();
    });
    const offLog = upstream.onLog((message) => {
      http.relayLog(spec.name, message);
      for (const l of logListeners) l(spec.name, message);
    });
    // The catalog keys an upstream's resources by `<alias>` NUL `<its URI>` (catalog.ts watchOf).
    const offUpdated = upstream.onResourceUpdated((uri) => subscriptions.updated(`${spec.name}\u0000${uri}`));
    // An HA that exposes nothing to act on is up and useless: say why where its state shows.
    const exposure = spec.kind === 'home-assistant' ? watchHaExposure(upstream, haHost(spec.url), (w) => log.warn({ upstream: spec.name }, `${spec.name}: ${w}`)) : undefined;
    const unsubscribe = () => {
      offChange();
      offLog();
      offUpdated();
      exposure?.off();
    };
    keep.set(spec.name + '\u0000' + spec.kind, { key, upstream, unsubscribe, ...(exposure ? { warning: exposure.warning } : {}) });
    return upstream;
  }

  /**
   * Brings nodes and upstreams in line with `config`. On a reload (`firstAttempt: 'before'`),
   * new connections get their first connect attempt before the switch, so list_nodes, the fleet
   * tools and the catalog all see the new set at once (a dead upstream costs one attempt, never
   * more). At start (`'after'`) there is nothing to keep serving meanwhile: the switch is at
   * once, so the hub can listen while an upstream that never answers takes its connect timeout;
   * each one joins the catalog (with list_changed) as it comes up. Resolves (to `connected`)
   * once the switch is made; `connected` resolves when every first attempt has ended and the
   * catalog shows their outcome.
   */
  async function apply(firstAttempt: 'before' | 'after'): Promise<{ connected: Promise<void> }> {
    const keep = new Map<string, Conn>();
    const next: HubNode[] = [];
    // The hub's own files, refused by identity on `local` (see localPrivatePaths); a change of
    // them (a new topology file) starts a new child that knows them.
    const privatePaths = localPrivatePaths({
      files: [localSetup.configFile, config.topology.file].filter((f): f is string => !!f),
      dirs: [opts.dataDir],
      denyPaths: config.local.denyPaths,
    });
    const localKey = JSON.stringify([config.local, localSetup, privatePaths]);
    const localBefore = local;
    let oldLocal: typeof local;
    if (config.local.enabled) {
      if (!local || local.key !== localKey) {
        const node = await createLocalNode({ name: config.local.name, roles: config.local.roles, edgeArgs: config.local.edgeArgs, command: localSetup.command, env: localSetup.env, privatePaths, log });
        oldLocal = local;
        local = { key: localKey, node, off: node.source.onChange?.(() => rebuild()) ?? (() => {}) };
      }
      next.push(local.node);
    } else {
      oldLocal = local;
      local = undefined;
    }
    for (const n of config.nodes) {
      const up = connection({ kind: 'edge', name: n.name, url: n.url, ...(n.token ? { token: n.token } : {}) }, keep);
      next.push({ name: n.name, roles: n.roles, url: displayUrl(n.url), source: up });
    }
    for (const [name] of unresolvedSince) if (!unresolved.some((u) => u.name === name)) unresolvedSince.delete(name);
    for (const u of unresolved) {
      if (next.some((n) => n.name === u.name)) continue;
      const since = unresolvedSince.get(u.name) ?? new Date();
      unresolvedSince.set(u.name, since);
      next.push({ name: u.name, roles: u.roles, source: unresolvedSource(u.why, since) });
    }
    const nextNatives: NativeUpstream[] = [];
    for (const [alias, u] of Object.entries({ ...config.mcpServers, ...config.upstreams })) {
      const spec = upstreamSpec(alias, u);
      const up = connection(spec, keep);
      nextNatives.push(asNative(alias, up, keep.get(spec.name + '\u0000' + spec.kind)?.warning));
    }
    // Connect in parallel; a dead upstream never delays the others more than one attempt.
    const attempts = Promise.all([...keep.entries()].filter(([k, c]) => conns.get(k) !== c).map(([, c]) => c.upstream.start()));
    if (firstAttempt === 'before') {
      await attempts;
      // Only now are the lists of a `prefix: false` upstream known: a reload whose catalog would
      // leave one of their names out (it meets another) is refused, and what runs stays as it was.
      // One the running catalog has already (announced since) does not block the reload: that
      // would also block the edit that revokes a token.
      const key = (l: LeftOut) => JSON.stringify([l.source, l.kind, l.name, l.collidesWith]);
      const known = new Set(catalog.leftOut().map(key));
      const collisions = build(config, { nodes: next, upstreams: nextNatives, onSkipped: () => {} })
        .leftOut()
        .filter((l) => l.collidesWith !== undefined && !known.has(key(l)));
      if (collisions.length) {
        for (const [k, c] of keep) {
          if (conns.get(k) === c) continue;
          c.unsubscribe();
          void c.upstream.close().catch(() => undefined);
        }
        if (local !== localBefore) {
          local?.off();
          void local?.node.close().catch(() => undefined);
          local = localBefore;
        }
        throw new HomelabError('CONFIG_INVALID', `${collisions.map((l) => l.why).join('; ')}. Keep the prefix of that upstream (remove prefix: false) or remove the other entry`);
      }
    }
    const gone = [...conns.entries()].filter(([k, c]) => keep.get(k) !== c).map(([, c]) => c);
    conns.clear();
    for (const [k, c] of keep) conns.set(k, c);
    nodes = next;
    natives = nextNatives;
    integrationSet.apply(config);
    applyAnsible();
    publish();
    for (const c of gone) {
      c.unsubscribe();
      void c.upstream.close().catch(() => undefined);
    }
    if (oldLocal) {
      oldLocal.off();
      void oldLocal.node.close().catch(() => undefined);
    }
    return {
      connected: attempts.then(() => {
        // Published now rather than at the next rebuild tick: whoever waits on this (a log line,
        // a stdio client's first tools/list) sees every upstream that came up.
        if (closing) return;
        clearTimeout(rebuildTimer);
        rebuildTimer = undefined;
        publish();
      }),
    };
  }

  /** Sets up (or drops) the Ansible review queue when `ansible:` changed. */
  function applyAnsible(): void {
    const key = JSON.stringify(config.ansible ?? null);
    if (ansible?.key === key) return;
    if (!config.ansible) {
      ansible = undefined;
      return;
    }
    const forgeHttp = createHttpClient({ onRequest: (r) => recordHttpRequest({ upstream: 'ansible-forge', ...r }) });
    ansible = { key, service: createAnsibleService({ config: config.ansible, dataDir: opts.dataDir, http: forgeHttp, log, ...(opts.secretVars ? { secretVars: opts.secretVars } : {}) }) };
  }

  /**
   * service_down for the built-in integrations (their health is otherwise only read on demand):
   * with `notify.on: [service_down]` and internet.ntfy set, each is checked every
   * `notify.checkSeconds`, and one that stops being healthy rings. Each check is a request to the
   * service (audited like any other), so the default is every 5 minutes.
   */
  const wasHealthy = new Map<string, boolean>();
  /**
   * The health checks of the playbook repo and the built-in integrations, for the service_down
   * watcher and the UI's Health page: each answer, and the message of one that throws, without
   * the integration's secrets.
   */
  function serviceChecks(): Array<{ title: string; health(signal: AbortSignal): Promise<{ ok: boolean; detail: string }> }> {
    return [
      ...(ansible ? [{ title: 'Ansible playbook repo', health: (signal: AbortSignal) => ansible!.service.health(signal) }] : []),
      ...integrationSet
        .instances()
        .filter((i) => i.health)
        .map((i) => ({ title: i.title ?? i.name, health: async (signal: AbortSignal) => scrubSecrets(await i.health!(signal).catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) })), integrationSet.secretsOf(i.name)) })),
    ];
  }
  let watchTimer: NodeJS.Timeout | undefined;
  let watching = false;
  const watchServices = async () => {
    const n = config.notify;
    if (watching || !n?.on.includes('service_down') || !config.internet.ntfy) return;
    watching = true;
    try {
      await Promise.all(
        serviceChecks().map(async (c) => {
          const h = await c.health(AbortSignal.timeout(Math.min(30_000, n.checkSeconds * 1000))).catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }));
          // Down after being up, or at the first look: a service down when the hub starts is news too.
          if (!h.ok && wasHealthy.get(c.title) !== false) notifier.down('service_down', c.title, h.detail);
          wasHealthy.set(c.title, h.ok);
        }),
      );
    } finally {
      watching = false;
    }
  };
  const scheduleWatch = () => {
    clearInterval(watchTimer);
    const n = config.notify;
    watchTimer = n?.on.includes('service_down') && config.internet.ntfy ? setInterval(() => void watchServices(), n.checkSeconds * 1000) : undefined;
    watchTimer?.unref();
  };

  const { connected } = await apply('after');
  // Said once, for people reading the log and for tests waiting until the start settles.
  void connected.then(() => {
    if (closing) return;
    const h = health();
    log.info({ up: h.filter((u) => u.status === 'up').map((u) => u.name), notUp: h.filter((u) => u.status !== 'up').map((u) => u.name) }, 'first connect attempts done');
  });
  scheduleWatch();
  topology.onChange(() => {
    applyInstructions();
    rebuild();
  });
  topology.start();

  return {
    app: http.app,
    /** The Node request listener to serve `app` with: a plain tools/call skips Hono (transports/http.ts). */
    nodeListener: http.nodeListener,
    // For the admin UI (ui/contract.ts): open 2025-era sessions, calls per session, held writes.
    sessions: () => http.sessions(),
    activity: (): SessionActivity[] => sessionActivity.list(),
    pending: () => gate.pending(),
    catalog: () => catalog,
    nodes: () => nodes,
    health,
    /**
     * Resolves once every node and upstream of the starting configuration has had its first
     * connect attempt (up or not) and the catalog shows the outcome. The hub serves before
     * that (createHub does not wait for it); a stdio client's first tools/list does.
     */
    connected,
    /** The edge bundle this hub serves (with its sha256), or undefined when it is not built. */
    edgeBundle: () => edgeDist.bundle(),
    /** The Prometheus and Loki clients of the configured integrations (for the hub's own tools). */
    observability,
    /** The integrations set up now, e.g. for their health(). */
    integrations: () => integrationSet.instances(),
    /** A server instance for one caller, for transports outside HTTP (stdio). */
    serverFor: (caller: Caller, sessionFallback: string) =>
      createHubServer({ info, catalog: () => catalog, caller, gate, sessionFallback, metrics: metrics.observeCall, observer, subscriptions }),
    /** Called with each log message an upstream sends (HTTP sessions get them already). */
    onLog(listener: (source: string, message: UpstreamLogMessage) => void): () => void {
      logListeners.add(listener);
      return () => logListeners.delete(listener);
    },
    /** Called whenever the catalog's lists change. */
    onListChanged(listener: () => void): () => void {
      listChangedListeners.add(listener);
      return () => listChangedListeners.delete(listener);
    },
    /**
     * Applies a new configuration without dropping clients. `listen`, `dataDir` and the body
     * limit need a restart; the rest takes effect now. `unresolvedNodes`, new nodes whose entry
     * could not be resolved, join the fleet as unreachable. Returns what was not applied.
     */
    async reconfigure(next: HubConfig, tokens: TokenEntry[], nextLocal: LocalNodeSetup = localSetup, unresolvedNodes: UnresolvedNode[] = []): Promise<string[]> {
      const needsRestart: string[] = (['listen', 'dataDir'] as const).filter((k) => next[k] !== config[k]);
      for (const k of ['maxBodyBytes', 'maxJsonDepth', 'authFailuresPerMinute'] as const) if (next.limits[k] !== config.limits[k]) needsRestart.push(`limits.${k}`);
      // Before anything is adopted: a catalog the new settings cannot build (a name limit the
      // current tools do not fit) throws here, and the running configuration stays whole.
      build(next);
      // Then a bad topology file: it throws here, and the running configuration stays whole.
      topology.reconfigure(topologySettings(next, unresolvedNodes));
      const before = { config, localSetup, unresolved, authenticate, rate };
      config = next;
      localSetup = nextLocal;
      unresolved = unresolvedNodes;
      authenticate = createAuthenticator(tokens);
      // Sessions look their caller up per call; a session whose token is gone is closed now.
      http.dropStaleSessions();
      rate = createRateLimiter(config.auth?.rateLimit ?? { perMinute: 600, burst: 60 });
      try {
        await apply('before');
      } catch (err) {
        // Refused after the new upstreams answered (names of a `prefix: false` upstream that
        // meet others): everything goes back to the running configuration.
        ({ config, localSetup, unresolved, authenticate, rate } = before);
        topology.reconfigure(topologySettings(config, unresolved));
        throw err;
      }
      scheduleWatch();
      return needsRestart;
    },
    journal,
    /** The network's topology (declared + discovered); see topology/topology.ts. */
    topology,
    /** The topology file in use (absolute), if any: main.ts watches it. */
    topologyFile: (): string | undefined => config.topology.file,
    /** The port the hub listens on, once known: the hub appears in the topology as a service on it. */
    setListenPort(port: number): void {
      listenPort = port;
      topology.setHubPort(port);
    },
    async close(): Promise<void> {
      closing = true;
      clearInterval(watchTimer);
      topology.close();
      clearTimeout(rebuildTimer);
      await http.close();
      await Promise.all([...conns.values()].map((c) => c.upstream.close().catch(() => undefined)));
      local?.off();
      await local?.node.close().catch(() => undefined);
      integrationSet.close();
      await shipper?.stop({ deadlineMs: 3000 }).catch(() => undefined);
      await journal.close();
    },
  };
}

export type Hub = Awaited<ReturnType<typeof createHub>>;
