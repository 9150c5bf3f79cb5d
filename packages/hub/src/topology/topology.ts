/**
 * The hub's live model of the network: the declared `topology.yaml` merged with what the
 * hub discovers (each edge's `get_status`, and Ansible's `setup` facts where an inventory is
 * configured), refreshed on an interval and on demand, with provenance on every fact and
 * drift flagged. Its compact `summary()` goes into every session's MCP `instructions`.
 *
 * @example
 * const topology = createTopology({ file: '/etc/homelab/topology.yaml', hubNodes: () => nodes, refreshMinutes: 60 });
 * topology.start();
 * topology.findNode('192.168.1.10')?.drift;
 */
import { statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { HomelabError } from '@homelab-mcp/core';
import { loadTopologyFile, type TopologyFile } from '@homelab-mcp/core/topology';
import type { HubNode } from '../catalog/nodes.ts';
import { runAnsibleSetup, type AnsibleSetupRun } from './ansible.ts';
import { readDoc, scanDocs, type DocEntry } from './docs.ts';
import { factsFromStatus } from './facts.ts';
import { formatSummary } from './summary.ts';
import { buildView, type AnsibleObservation, type DriftSettings, type EdgeObservation, type HubNodeInfo, type NodeRecord, type TopologyViewData } from './view.ts';

// ---- the contract other parts of the hub code against (keep names and shapes) -------------

export interface TopologyService {
  name: string;
  /** The topology node it runs on. */
  node: string;
  ports: Array<{ port: number; protocol: 'tcp' | 'udp' }>;
  url?: string;
  unit?: string;
  container?: string;
  dependsOn: string[];
  description?: string;
}

export interface TopologyNodeView {
  name: string;
  addresses: string[];
  roles: string[];
  subnet?: string;
  vlan?: number;
  /** Declared MAC address (for wake_on_lan). */
  mac?: string;
  os?: string;
  hardware?: string;
  /** Name of the hub node (edge) that serves this node, if any. */
  edge?: string;
  /** Declared in topology.yaml, or only discovered (its addresses are then what it reported). */
  origin?: 'declared' | 'discovered';
  /** Every fact with its provenance; a discovered value that differs from the declared one is `key@edge` / `key@ansible`. */
  facts: Record<string, { value: unknown; source: 'declared' | 'edge' | 'ansible'; at?: string }>;
  /** Listening TCP sockets, from the edge. */
  listeningPorts?: Array<{ port: number; protocol: 'tcp' | 'udp'; address?: string }>;
  /** Human sentences, e.g. 'service grafana declares port 3000/tcp but nothing listens on it'. */
  drift: string[];
}

export interface Topology {
  /** Exact name, then case-insensitive. */
  findService(name: string): TopologyService | undefined;
  findNode(nameOrIp: string): TopologyNodeView | undefined;
  services(): TopologyService[];
  nodes(): TopologyNodeView[];
  /** The compact text that goes into `instructions`. */
  summary(): string;
  refresh(opts: { ansible: boolean; signal?: AbortSignal }): Promise<unknown>;
  onChange(listener: () => void): () => void;
  close(): void;
}

// ---- the hub's implementation ---------------------------------------------------------------

export interface TopologyLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface TopologySettings {
  /** Absolute path of topology.yaml; none: only what is discovered. */
  file?: string;
  /** An already parsed topology (tests); used when `file` is not set. */
  declared?: TopologyFile;
  refreshMinutes?: number;
  ansible?: { inventory: string; pattern: string; timeoutSeconds: number; command?: string };
  /** Absolute path of a folder of Markdown served as `docs://` resources. */
  docs?: string;
  /** The hub itself as a service on the node its host serves (e.g. `local`). */
  hubService?: { name: string; hubNode: string; port?: number };
  /** The hub's node names, to check an explicit `edge:` in the file against. */
  edgeNames?: string[];
  /** hub.yaml `topology.drift`: open ports that are not drift. */
  drift?: DriftSettings;
}

export interface TopologyOptions extends TopologySettings {
  hubNodes: () => HubNode[];
  log?: TopologyLogger;
  /** Deadline of one edge's get_status; default 20 s. */
  edgeTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Never passed to Ansible: the variables hub.yaml takes as `${VAR}` (ansible.ts). */
  secretVars?: readonly string[];
}

export interface RefreshReport {
  at: string;
  edges: { asked: number; ok: number; failed: Array<{ node: string; error: string }> };
  ansible: { ran: false; why: string } | { ran: true; ok: number; failed: Array<{ host: string; error: string }>; durationMs: number; warnings: string[] } | { ran: true; error: string };
  driftCount: number;
  /** Set when topology.yaml changed on disk but is invalid: the previous version stays in use. */
  fileError?: string;
}

/** What get_topology_full and topology://full return. */
export interface TopologyFull {
  generatedAt: string;
  source: { file?: string; ansible?: { inventory: string; pattern: string }; docs?: string };
  lastRefresh: { edges?: string; ansible?: string };
  counts: { nodes: number; declaredNodes: number; services: number; subnets: number; drift: number };
  subnets: TopologyViewData['subnets'];
  nodes: NodeRecord[];
  services: TopologyService[];
  docs: DocEntry[];
  skippedDocs: string[];
}

export interface HubTopology extends Topology {
  refresh(opts: { ansible: boolean; signal?: AbortSignal }): Promise<RefreshReport>;
  /** Starts the interval and a first refresh in the background. */
  start(): void;
  full(): TopologyFull;
  docs(): DocEntry[];
  /** The text of a `docs://` resource. */
  readDoc(uri: string): string;
  /** The hub's actual listen port, known once it listens (port 0 in tests). */
  setHubPort(port: number): void;
  /** Re-reads the file and applies new settings; throws a ConfigError (and changes nothing) on a bad file. */
  reconfigure(settings: TopologySettings): void;
  ansibleConfigured(): boolean;
  /** What refresh would do, for the approval preview. */
  describeRefresh(ansible: boolean): string;
  lastRefresh(): { edges?: string; ansible?: string };
}

const EMPTY: TopologyFile = { subnets: [], nodes: [], services: [] };
const EDGE_CONCURRENCY = 8;

function edgePortOf(url: string | undefined): number | undefined {
  if (!url || !/^https?:/.test(url)) return undefined;
  try {
    const u = new URL(url);
    return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  } catch {
    return undefined;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function textOf(r: { content?: Array<{ type: string; text?: string }> }): string {
  return (r.content ?? []).map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join(' ').slice(0, 300);
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Size and mtime of a file, to notice an edit; undefined when there is no file. */
function stampOf(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

const normalizeIp = (s: string) => (s.toLowerCase().startsWith('::ffff:') && s.includes('.') ? s.slice(7) : s).toLowerCase();

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling, v4-mapped too) and the names that mean this host. */
export function isLoopbackQuery(q: string): boolean {
  const s = q.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const family = isIP(s);
  if (family) return LOOPBACK.check(s, family === 6 ? 'ipv6' : 'ipv4');
  return s === 'localhost' || s === 'localhost.localdomain' || s === 'ip6-localhost' || s.endsWith('.localhost');
}

export function createTopology(opts: TopologyOptions): HubTopology {
  let settings: TopologySettings = opts;
  let fileStamp = stampOf(settings.file);
  let declared: TopologyFile = load(settings);
  const scan = (folder: string | undefined) => {
    const result = folder ? scanDocs(folder) : { docs: [], skipped: [] };
    if (result.skipped.length) opts.log?.warn({ docs: folder, skipped: result.skipped.slice(0, 20) }, 'topology: some documents are not served');
    return result;
  };
  let docsScan = scan(settings.docs);
  let hubPort = settings.hubService?.port;
  const edges = new Map<string, EdgeObservation>();
  const ansible = new Map<string, AnsibleObservation>();
  const last: { edges?: string; ansible?: string } = {};
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let closed = false;
  // One refresh runs at a time. A request during a run waits for the next one (the running
  // one may have asked the edges before the request); requests that wait share that next run.
  interface Run {
    ansible: boolean;
    promise: Promise<RefreshReport>;
  }
  let running: Run | undefined;
  let queued: Run | undefined;
  const aborter = new AbortController();

  function load(s: TopologySettings): TopologyFile {
    if (s.file) return loadTopologyFile(s.file, { env: opts.env ?? process.env, ...(s.edgeNames ? { edgeNames: s.edgeNames } : {}) });
    return s.declared ?? EMPTY;
  }

  /**
   * topology.yaml edited since it was read: read it again (a refresh is when a user expects
   * their edit to show). An invalid edit keeps the previous version and is reported.
   */
  function reloadIfEdited(): string | undefined {
    const stamp = stampOf(settings.file);
    if (!settings.file || stamp === fileStamp) return undefined;
    try {
      declared = load(settings);
      fileStamp = stamp;
      return undefined;
    } catch (err) {
      const message = messageOf(err);
      opts.log?.warn({ file: settings.file }, `topology: ${settings.file} changed but is invalid; keeping the previous version: ${message}`);
      return message;
    }
  }

  let cache: { key: string; view: TopologyViewData } | undefined;
  let version = 0;
  const hubInfo = (): HubNodeInfo[] => opts.hubNodes().map((n) => ({ name: n.name, roles: n.roles, ...(edgePortOf(n.url) ? { edgePort: edgePortOf(n.url)! } : {}) }));
  function view(): TopologyViewData {
    const hubs = hubInfo();
    const key = `${version}\u0000${JSON.stringify(hubs)}`;
    if (cache?.key === key) return cache.view;
    const hs = settings.hubService;
    const v = buildView({ declared, hubNodes: hubs, edges, ansible, ...(settings.drift ? { drift: settings.drift } : {}), ...(hs ? { hubService: { ...hs, ...(hubPort ? { port: hubPort } : {}) } } : {}) });
    cache = { key, view: v };
    return v;
  }
  const changed = () => {
    version++;
    for (const l of listeners) {
      try {
        l();
      } catch (err) {
        opts.log?.warn({ err: messageOf(err) }, 'topology: a change listener failed');
      }
    }
  };

  /**
   * The get_status arguments that bring the addresses and listening ports, read now (drift needs
   * the present): edges since #19 answer them only when asked (`include`) and may answer disks and
   * ports from a reading up to 5 s old (`fresh`). An older edge takes no arguments (it refuses
   * unknown ones) and answers everything, always read now.
   */
  const CURRENT_ARGS = { include: ['network', 'listening'], fresh: true };
  const statusArgs = (n: HubNode): Record<string, unknown> => {
    const listed = n.source.tools().find((t) => t.name === 'get_status');
    // Not listed yet (the node is still connecting): asked as a current edge (see askStatus).
    if (!listed) return CURRENT_ARGS;
    const props = (listed.inputSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
    return { ...('include' in props ? { include: CURRENT_ARGS.include } : {}), ...('fresh' in props ? { fresh: true } : {}) };
  };
  /** get_status with `statusArgs`; an edge that refuses them as unknown is asked again without. */
  const askStatus = async (n: HubNode, signal: AbortSignal | undefined) => {
    const call = (args: Record<string, unknown>) => n.source.callTool('get_status', args, { timeoutMs: opts.edgeTimeoutMs ?? 20_000, ...(signal ? { signal } : {}) });
    const args = statusArgs(n);
    const r = await call(args);
    if (r.isError && Object.keys(args).length > 0 && /Invalid arguments for get_status/.test(textOf(r))) return call({});
    return r;
  };

  async function refreshEdges(signal: AbortSignal | undefined): Promise<RefreshReport['edges']> {
    const nodes = opts.hubNodes().filter((n) => !(n.source.state().status === 'up' && !n.source.tools().some((t) => t.name === 'get_status')));
    const failed: Array<{ node: string; error: string }> = [];
    let ok = 0;
    await pool(nodes, EDGE_CONCURRENCY, async (n) => {
      const at = new Date().toISOString();
      try {
        const r = await askStatus(n, signal);
        if (r.isError) throw new Error(textOf(r) || 'get_status failed');
        const { facts, listening } = factsFromStatus(r.structuredContent);
        edges.set(n.name, { at, ok: true, facts, ...(listening ? { listening } : {}) });
        ok++;
      } catch (err) {
        const error = messageOf(err).slice(0, 300);
        // Facts from the last answer stay (with their time); ports do not: drift needs the present.
        const prev = edges.get(n.name);
        edges.set(n.name, prev?.ok ? { at: prev.at, ok: true, facts: prev.facts, error } : { at, ok: false, error });
        failed.push({ node: n.name, error });
      }
    });
    // Nodes no longer served by the hub are forgotten.
    const names = new Set(opts.hubNodes().map((n) => n.name));
    for (const k of edges.keys()) if (!names.has(k)) edges.delete(k);
    last.edges = new Date().toISOString();
    return { asked: nodes.length, ok, failed };
  }

  async function refreshAnsible(signal: AbortSignal | undefined): Promise<RefreshReport['ansible']> {
    const a = settings.ansible;
    if (!a) return { ran: false, why: 'no Ansible inventory configured (topology.ansible)' };
    let run: AnsibleSetupRun;
    try {
      run = await runAnsibleSetup({ inventory: a.inventory, pattern: a.pattern, timeoutMs: a.timeoutSeconds * 1000, ...(signal ? { signal } : {}), ...(a.command ? { command: a.command } : {}), ...(opts.secretVars ? { secretVars: opts.secretVars } : {}) });
    } catch (err) {
      opts.log?.warn({ err: messageOf(err) }, 'topology: ansible setup failed');
      return { ran: true, error: messageOf(err) };
    }
    const at = new Date().toISOString();
    const failed: Array<{ host: string; error: string }> = [];
    let ok = 0;
    ansible.clear();
    for (const [host, r] of Object.entries(run.hosts)) {
      if (r.ok && r.facts) {
        ansible.set(host, { at, ok: true, facts: r.facts });
        ok++;
      } else {
        ansible.set(host, { at, ok: false, error: r.error ?? 'failed' });
        failed.push({ host, error: r.error ?? 'failed' });
      }
    }
    last.ansible = at;
    return { ran: true, ok, failed, durationMs: run.durationMs, warnings: run.warnings };
  }

  async function doRefresh(withAnsible: boolean, signal: AbortSignal | undefined): Promise<RefreshReport> {
    const s = signal ? AbortSignal.any([signal, aborter.signal]) : aborter.signal;
    const skipped = { ran: false as const, why: settings.ansible ? 'not asked' : 'no Ansible inventory configured (topology.ansible)' };
    const [edgeReport, ansibleReport] = await Promise.all([refreshEdges(s), withAnsible ? refreshAnsible(s) : Promise.resolve(skipped)]);
    if (settings.docs) docsScan = scanDocs(settings.docs);
    const fileError = reloadIfEdited();
    if (!closed) changed();
    const driftCount = view().nodes.reduce((a, n) => a + n.drift.length, 0);
    return { at: new Date().toISOString(), edges: edgeReport, ansible: ansibleReport, driftCount, ...(fileError ? { fileError } : {}) };
  }

  function refresh(o: { ansible: boolean; signal?: AbortSignal }): Promise<RefreshReport> {
    if (closed) return Promise.reject(new HomelabError('UNAVAILABLE', 'the topology is closed'));
    const withAnsible = o.ansible && settings.ansible !== undefined;
    if (queued) {
      queued.ansible ||= withAnsible;
      return queued.promise;
    }
    const run = { ansible: withAnsible } as Run;
    const go = () => {
      if (queued === run) queued = undefined;
      running = run;
      return doRefresh(run.ansible, o.signal).finally(() => {
        if (running === run) running = undefined;
      });
    };
    if (running) {
      queued = run;
      run.promise = running.promise.catch(() => undefined).then(go);
    } else run.promise = go();
    return run.promise;
  }

  function schedule(): void {
    clearInterval(timer);
    if (!started || closed) return;
    const ms = Math.max(1, settings.refreshMinutes ?? 60) * 60_000;
    timer = setInterval(() => {
      refresh({ ansible: true }).catch((err: unknown) => opts.log?.warn({ err: messageOf(err) }, 'topology: scheduled refresh failed'));
    }, ms);
    timer.unref();
  }

  const findNode = (q: string): NodeRecord | undefined => {
    const nodes = view().nodes;
    const hubHost = settings.hubService?.hubNode;
    const query = q.trim();
    const lower = query.toLowerCase();
    const ip = normalizeIp(query);
    return (
      nodes.find((n) => n.name === query) ??
      nodes.find((n) => n.name.toLowerCase() === lower) ??
      nodes.find((n) => n.addresses.some((a) => normalizeIp(a) === ip)) ??
      nodes.find((n) => Object.entries(n.facts).some(([k, f]) => (k === 'hostname' || k.startsWith('hostname@')) && typeof f.value === 'string' && (f.value.toLowerCase() === lower || f.value.toLowerCase().split('.')[0] === lower))) ??
      // Loopback is the hub's own host: the node its in-process edge serves (`local` in the
      // embedded default). Edges report no loopback addresses (they say nothing about where a
      // device is), so no other node can match it, unless declared with it.
      (hubHost !== undefined && isLoopbackQuery(query) ? nodes.find((n) => n.edge === hubHost) : undefined)
    );
  };

  return {
    start() {
      if (started || closed) return;
      started = true;
      schedule();
      refresh({ ansible: true }).catch((err: unknown) => opts.log?.warn({ err: messageOf(err) }, 'topology: first refresh failed'));
    },
    findService(name) {
      const services = view().services;
      return services.find((s) => s.name === name) ?? services.find((s) => s.name.toLowerCase() === name.toLowerCase());
    },
    findNode,
    services: () => view().services,
    nodes: () => view().nodes,
    summary: () => formatSummary({ view: view(), docs: docsScan.docs, lastRefresh: last, ansibleConfigured: settings.ansible !== undefined }),
    full(): TopologyFull {
      const v = view();
      return {
        generatedAt: new Date().toISOString(),
        source: {
          ...(settings.file ? { file: settings.file } : {}),
          ...(settings.ansible ? { ansible: { inventory: settings.ansible.inventory, pattern: settings.ansible.pattern } } : {}),
          ...(settings.docs ? { docs: settings.docs } : {}),
        },
        lastRefresh: { ...last },
        counts: {
          nodes: v.nodes.length,
          declaredNodes: v.nodes.filter((n) => n.origin === 'declared').length,
          services: v.services.length,
          subnets: v.subnets.length,
          drift: v.nodes.reduce((a, n) => a + n.drift.length, 0),
        },
        subnets: v.subnets,
        nodes: v.nodes,
        services: v.services,
        docs: docsScan.docs,
        skippedDocs: docsScan.skipped,
      };
    },
    refresh,
    docs: () => docsScan.docs,
    readDoc(uri) {
      const doc = docsScan.docs.find((d) => d.uri === uri);
      if (!doc || !settings.docs) throw new HomelabError('NOT_FOUND', `${uri} is not a known document`);
      return readDoc(settings.docs, doc);
    },
    setHubPort(port) {
      if (port === hubPort) return;
      hubPort = port;
      changed();
      // The listeners seen so far may predate the hub's own socket: look again (after any
      // refresh already under way).
      if (started && !closed) {
        refresh({ ansible: false }).catch((err: unknown) => opts.log?.warn({ err: messageOf(err) }, 'topology: refresh after listen failed'));
      }
    },
    reconfigure(next) {
      const stamp = stampOf(next.file);
      const nextDeclared = load(next);
      fileStamp = stamp;
      settings = next;
      declared = nextDeclared;
      if (next.hubService?.port) hubPort = next.hubService.port;
      docsScan = scan(next.docs);
      if (!next.ansible) {
        ansible.clear();
        delete last.ansible;
      }
      schedule();
      changed();
    },
    ansibleConfigured: () => settings.ansible !== undefined,
    describeRefresh(withAnsible) {
      const n = opts.hubNodes().length;
      const a = settings.ansible;
      return `ask ${n} edge${n === 1 ? '' : 's'} for get_status` + (withAnsible && a ? ` and run \`ansible ${a.pattern} -i ${a.inventory} -m setup\` (gathers facts on every matching host)` : '');
    },
    lastRefresh: () => ({ ...last }),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      clearInterval(timer);
      aborter.abort();
      listeners.clear();
    },
  };
}
