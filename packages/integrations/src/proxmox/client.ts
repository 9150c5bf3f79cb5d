/**
 * A small client for the Proxmox VE API (`/api2/json`, shared/reference/service-apis.md §1):
 * an API token (`PVEAPIToken=USER@REALM!TOKENID=SECRET`, no ticket, no CSRF), the `{"data":...}`
 * envelope, and Proxmox's errors in words a person acts on: a rejected token names its config
 * key, a 403 the privilege it lacks, a 500 "Configuration file ... does not exist" the guest
 * that is not there, a 595 the node that cannot be reached.
 *
 * @example
 * const pve = createProxmoxClient({ url: 'https://pve.lan:8006', tokenId: 'homelab@pve!mcp', token, http, timeoutMs: 15_000 });
 * const guests = await pve.resources('vm');
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';

/** Largest answer read (the cluster resources of a few hundred guests are ~200 KB). */
export const MAX_PVE_BYTES = 8 * 1024 * 1024;

export interface PveResource {
  id: string;
  type: 'node' | 'qemu' | 'lxc' | 'storage' | string;
  node?: string;
  status?: string;
  vmid?: number;
  name?: string;
  storage?: string;
  tags?: string;
  template?: number;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  uptime?: number;
  lock?: string;
  hastate?: string;
  plugintype?: string;
  shared?: number;
}

export interface PveTaskStatus {
  upid: string;
  node: string;
  type: string;
  id?: string;
  user?: string;
  tokenid?: string;
  starttime?: number;
  status: 'running' | 'stopped' | string;
  /** "OK" when it succeeded; any other text is the failure. Absent while running. */
  exitstatus?: string;
}

/** A Proxmox API error with the status and Proxmox's own message. */
export class ProxmoxError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'ProxmoxError';
    this.status = status;
  }
}

export interface ProxmoxClient {
  host: string;
  get<T = unknown>(path: string, query?: Record<string, string | number>, signal?: AbortSignal): Promise<T>;
  post<T = unknown>(path: string, body?: Record<string, string | number>, signal?: AbortSignal): Promise<T>;
  resources(type?: 'vm' | 'storage' | 'node', signal?: AbortSignal): Promise<PveResource[]>;
  taskStatus(node: string, upid: string, signal?: AbortSignal): Promise<PveTaskStatus>;
  /** The last `lines` lines of a task's log. */
  taskLog(node: string, upid: string, lines: number, signal?: AbortSignal): Promise<{ lines: string[]; total: number }>;
}

export interface ProxmoxClientOptions {
  url: string;
  tokenId: string;
  token: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the token, named when Proxmox rejects it. */
  tokenKey?: string;
}

/** The node a UPID belongs to: `UPID:pve1:...` → `pve1`. */
export function upidNode(upid: string): string | undefined {
  return /^UPID:([A-Za-z0-9][A-Za-z0-9.-]*):[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8,}:[^:]*:[^:]*:[^:]+:$/i.exec(upid)?.[1];
}

export function createProxmoxClient(opts: ProxmoxClientOptions): ProxmoxClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api2\/json$/, '')}/api2/json`;
  const auth = `PVEAPIToken=${opts.tokenId}=${opts.token}`;
  const tokenKey = opts.tokenKey ?? 'integrations.proxmox.token';

  function fail(res: HttpResponse, path: string): never {
    let message = '';
    try {
      const body = res.json<{ message?: unknown; errors?: Record<string, unknown> }>();
      if (typeof body?.message === 'string') message = body.message.trim();
      if (body?.errors && typeof body.errors === 'object') message += ` ${Object.entries(body.errors).map(([k, v]) => `${k}: ${String(v).trim()}`).join('; ')}`;
    } catch {
      // 401 answers plain text; older Proxmox sends only {"data":null}
      if (res.status !== 401) message = res.text().slice(0, 200).trim();
    }
    message = message.slice(0, 500);
    if (res.status === 401) throw new ProxmoxError(401, `Proxmox at ${host} rejected the API token (${tokenKey})`);
    if (res.status === 403) throw new ProxmoxError(403, `Proxmox at ${host} refused: ${message || 'permission denied'} (the API token lacks that privilege)`);
    const conf = /Configuration file 'nodes\/([^/]+)\/(qemu-server|lxc)\/(\d+)\.conf' does not exist/.exec(message);
    if (conf) throw new ProxmoxError(404, `guest ${conf[3]} does not exist on node ${conf[1]} (Proxmox at ${host})`);
    if (res.status === 595) throw new ProxmoxError(595, `Proxmox at ${host} cannot reach the node of ${path.split('/')[2] ?? path}: ${message || 'no route to host'}`);
    throw new ProxmoxError(res.status, `Proxmox at ${host}: HTTP ${res.status}${message ? `: ${message}` : ''}`);
  }

  async function call<T>(method: 'GET' | 'POST', path: string, params: Record<string, string | number> | undefined, signal?: AbortSignal): Promise<T> {
    const url = new URL(`${root}${path}`);
    let body: URLSearchParams | undefined;
    if (method === 'GET') for (const [k, v] of Object.entries(params ?? {})) url.searchParams.set(k, String(v));
    else if (params && Object.keys(params).length) body = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await opts.http.request({ method, url, headers: { authorization: auth, accept: 'application/json' }, ...(body ? { body } : {}), timeoutMs: opts.timeoutMs, maxBytes: MAX_PVE_BYTES, ...(signal ? { signal } : {}) });
    if (res.status !== 200) fail(res, path);
    return res.json<{ data: T }>().data;
  }

  return {
    host,
    get: (path, query, signal) => call('GET', path, query, signal),
    post: (path, body, signal) => call('POST', path, body, signal),
    resources: (type, signal) => call('GET', '/cluster/resources', type ? { type } : undefined, signal),
    taskStatus: (node, upid, signal) => call('GET', `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`, undefined, signal),
    async taskLog(node, upid, lines, signal) {
      const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log`;
      // Proxmox pages the log from the start: ask for the count first, then the tail.
      const url = new URL(`${root}${path}`);
      url.searchParams.set('start', '0');
      url.searchParams.set('limit', '1');
      const head = await opts.http.request({ url, headers: { authorization: auth }, timeoutMs: opts.timeoutMs, maxBytes: MAX_PVE_BYTES, ...(signal ? { signal } : {}) });
      if (head.status !== 200) fail(head, path);
      const total = Number(head.json<{ total?: unknown }>().total ?? 0);
      const start = Math.max(0, total - lines);
      const tail = await call<Array<{ n: number; t: string }>>('GET', path, { start, limit: lines }, signal);
      return { lines: (tail ?? []).map((l) => String(l.t)), total };
    },
  };
}
