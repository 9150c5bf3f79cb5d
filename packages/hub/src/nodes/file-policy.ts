/**
 * The file policy the hub sends with every edge tool call it makes for a client, and the check
 * that the edge enforced it.
 *
 * Contract (hub <-> edge): the hub puts `_meta["dev.homelab-mcp/policy"] = { denyPaths, maskEnv }`
 * in `tools/call`; the edge refuses any file whose real path (of what it opened) matches a
 * `denyPaths` glob, masks secret-looking values of get_env when `maskEnv`, and answers with
 * `_meta["dev.homelab-mcp/policy"] = { applied: true }`. An answer without that acknowledgement
 * comes from an edge too old to enforce the policy: it is withheld, never relayed.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import type { HubNode, SourceCallOptions } from '../catalog/nodes.ts';

export const POLICY_META = 'dev.homelab-mcp/policy';

/** What an edge must refuse or mask for one call. */
export interface FilePolicy {
  /** Absolute-path globs: `*` within a segment, `**` any whole segments, `?` one character. */
  denyPaths: string[];
  /** get_env shows secret-looking values as `[masked]`. */
  maskEnv: boolean;
}

/**
 * Secret locations no viewer reads on any node: the system's password hashes (and their backups
 * and old ones), SSH (any `.ssh` directory: service accounts live outside /home), GnuPG, cloud, Docker, Kubernetes, database, git, rclone, gh and npm credentials and shell
 * histories in home directories, root's home, apps' `.env` and `*.env` files anywhere, systemd credentials and Docker
 * secrets (`/run/credentials`, `/etc/credstore`, `/run/secrets`), cloud-init's user data and
 * the Raspberry Pi first-boot files (passwords and Wi-Fi keys: `/var/lib/cloud`,
 * `/boot/firmware/user-data`, `network-config`, `firstrun.sh`, `userconf.txt`), Kubernetes/k3s and
 * Tailscale state, Wi-Fi, VPN and PPP secrets (netplan, OpenVPN included), TLS private keys, Docker's data (volumes, container configs),
 * and of every process: its environment (the edge's own holds its token when given by variable),
 * its command line (passwords given as arguments), its open descriptors and its memory; and where
 * the edge installer and the hub's unit keep tokens and settings (deploy/install-edge.sh,
 * deploy/systemd/homelab-hub.service).
 */
export const VIEWER_DENY_PATHS: readonly string[] = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/var/backups/*shadow*',
  '/etc/sudoers',
  '/etc/sudoers.d/**',
  '/etc/ssh/ssh_host_*_key',
  '/home/*/.ssh/**',
  // Service accounts keep their keys outside /home (/var/lib/gitea/.ssh, /srv/backup/.ssh).
  '**/.ssh/**',
  '/root/**',
  '**/.ssh/authorized_keys',
  '**/.ssh/authorized_keys2',
  '/home/*/.docker/config.json',
  '/home/*/.aws/**',
  '/home/*/.gnupg/**',
  '/home/*/.netrc',
  '/home/*/.pgpass',
  '/home/*/.my.cnf',
  '/home/*/.git-credentials',
  '/home/*/.kube/**',
  '/home/*/.config/rclone/**',
  '/home/*/.config/gh/**',
  '/home/*/.npmrc',
  '/home/*/.*_history',
  '**/.env',
  '**/.env.*',
  '**/*.env',
  '/etc/security/opasswd',
  '/run/credentials/**',
  '/etc/credstore/**',
  '/etc/credstore.encrypted/**',
  '/run/secrets/**',
  '/var/lib/cloud/**',
  '/boot/user-data',
  '/boot/network-config',
  '/boot/firmware/user-data',
  '/boot/firmware/network-config',
  '/boot/firstrun.sh',
  '/boot/firmware/firstrun.sh',
  '/boot/userconf*',
  '/boot/firmware/userconf*',
  '/boot/wpa_supplicant.conf',
  '/boot/firmware/wpa_supplicant.conf',
  '/etc/rancher/k3s/**',
  '/etc/kubernetes/**',
  '/etc/mysql/debian.cnf',
  '/var/lib/tailscale/**',
  '/etc/wpa_supplicant/**',
  '/etc/NetworkManager/system-connections/**',
  '/etc/wireguard/**',
  '/etc/openvpn/**',
  '/etc/netplan/**',
  '/etc/ipsec.secrets',
  '/etc/ppp/*-secrets',
  '/etc/ssl/private/**',
  '/etc/letsencrypt/archive/**',
  '/etc/letsencrypt/keys/**',
  '/var/lib/docker/**',
  '/proc/*/environ',
  '/proc/*/task/*/environ',
  '/proc/*/cmdline',
  '/proc/*/task/*/cmdline',
  '/proc/*/fd/**',
  '/proc/*/task/*/fd/**',
  '/proc/*/mem',
  '/proc/*/task/*/mem',
  '/etc/homelab-edge/**',
  '/etc/default/homelab-edge',
  '/etc/default/homelab-hub',
  '/etc/homelab-hub/**',
  '/var/lib/homelab-hub/**',
  '/var/lib/private/homelab-hub/**',
];

/**
 * What no operator reads on any node: processes' environments (where services keep their
 * secrets; get_env masks the same for operators), their command lines (passwords given as
 * arguments) and their memory.
 */
export const OPERATOR_DENY_PATHS: readonly string[] = ['/proc/*/environ', '/proc/*/task/*/environ', '/proc/*/cmdline', '/proc/*/task/*/cmdline', '/proc/*/mem', '/proc/*/task/*/mem'];

/** A policy that asks nothing of the edge: sent as no policy at all, so any edge serves it. */
export function isEmptyPolicy(p: FilePolicy | undefined): boolean {
  return !p || (p.denyPaths.length === 0 && !p.maskEnv);
}

/** Merges extra denied paths into a role's policy (the hub's own files on `local`). */
export function withDenied(p: FilePolicy | undefined, extra: readonly string[]): FilePolicy {
  return { denyPaths: [...new Set([...(p?.denyPaths ?? []), ...extra])], maskEnv: p?.maskEnv ?? false };
}

/**
 * The hub's own files as deny globs, for the `local` node (every role, admin included): its
 * config and topology files, its secrets file, its data dir (token, journal), and `/proc/<pid>/`
 * of the hub, of every process below it (the local node's process, Ansible, stdio upstreams:
 * {@link descendantPids}) and of every process above it ({@link ancestorPids}), and of each of their threads (Linux serves `/proc/<tid>/environ` for
 * any thread id, listed or not). Each path also by its real path: the edge matches what it
 * actually opened. These globs match paths; the same files are also refused by identity (dev +
 * inode, so through a hard link or a bind mount) by the local node's edge: {@link localPrivatePaths}.
 *
 * @example hubOwnPaths({ files: ['/etc/homelab-hub/hub.yaml'], dirs: ['/var/lib/homelab-hub'], pids: [process.pid] })
 */
export function hubOwnPaths(own: { files: string[]; dirs: string[]; pids: number[] }): string[] {
  const out = new Set<string>();
  const both = (p: string, glob: (x: string) => string) => {
    const abs = resolve(p);
    out.add(glob(abs));
    try {
      out.add(glob(realpathSync(abs)));
    } catch {
      // absent now: the path as given still covers it if it appears
    }
  };
  for (const f of own.files) both(f, (x) => x);
  for (const d of own.dirs) both(d, (x) => `${x}/**`);
  for (const pid of own.pids) {
    out.add(`/proc/${pid}/**`);
    for (const tid of threadsOf(pid)) out.add(`/proc/${tid}/**`);
  }
  return [...out];
}

/**
 * The processes above `pid`, nearest first, from each one's `/proc/<pid>/stat`: a parent started
 * the hub with its secrets in its own environment (`env TOKEN=... sh -c 'homelab-hub serve'`) and
 * its command line. pid 1 is included: in a container it is the hub's entrypoint (a shell, tini)
 * holding the container's whole environment; on a host it is init, whose files only root reads
 * anyway, so refusing them costs nothing. Read at each call: the parents can change (a parent
 * that exits hands the hub to a subreaper or to pid 1). Empty where there is no /proc.
 *
 * @example ancestorPids(process.pid) // [4711, 1]
 */
export function ancestorPids(pid: number): number[] {
  const out: number[] = [];
  let cur = pid;
  // A chain longer than this is not a process tree; stop rather than loop.
  for (let i = 0; i < 64; i++) {
    const ppid = parentOf(cur);
    if (ppid === undefined || ppid <= 0 || ppid === cur || out.includes(ppid)) break;
    out.push(ppid);
    cur = ppid;
  }
  return out;
}

/**
 * Every process below `pid` (children, grandchildren, ...), from the ppid of each
 * `/proc/<pid>/stat`, read at each call: the hub's other children (Ansible and its modules, stdio
 * upstreams) hold secrets the hub gave them in their environment and on their command line.
 * Bounded: at most `max` processes are read, so a machine with a huge process table costs a
 * bounded scan. Empty where there is no /proc.
 *
 * @example descendantPids(process.pid) // [4712, 4790]
 */
export function descendantPids(pid: number, max = 65_536): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  let read = 0;
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e)) continue;
    if (++read > max) break;
    const child = Number(e);
    const ppid = parentOf(child);
    if (ppid === undefined) continue;
    const list = children.get(ppid);
    if (list) list.push(child);
    else children.set(ppid, [child]);
  }
  const out: number[] = [];
  const seen = new Set([pid]);
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => Number.isInteger(t) && t !== pid);
  } catch {
    return []; // not Linux, or the process is gone
  }
}

/**
 * The hub's own files and directories the local node's edge never serves to anyone, checked by
 * identity (device + inode) on the descriptor it opened, and for a directory on every directory
 * above what it opened: a bind mount or a hard link shows them under another path, which no
 * path glob catches. The literal entries of `local.denyPaths` (the secrets file) join them;
 * globs there stay globs.
 *
 * @example localPrivatePaths({ files: ['/etc/homelab-hub/hub.yaml'], dirs: ['/var/lib/homelab-hub'], denyPaths: ['/etc/default/homelab-hub'] })
 */
export function localPrivatePaths(own: { files: string[]; dirs: string[]; denyPaths: readonly string[] }): string[] {
  const literal = own.denyPaths.filter((p) => !/[*?]/.test(p));
  return [...new Set([...own.files, ...own.dirs, ...literal].map((p) => resolve(p)))];
}

/**
 * Calls `tool` on `node` for a client under `policy`: the policy travels in `_meta`, and the
 * answer is relayed only with the edge's acknowledgement (which is removed first: it is between
 * hub and edge). Without a policy (nothing to enforce) the call goes as it always did.
 *
 * @throws HomelabError `EDGE_POLICY_UNSUPPORTED` when the edge answered without acknowledging.
 */
export async function callNode(node: HubNode, tool: string, args: Record<string, unknown>, opts: SourceCallOptions, policy: FilePolicy | undefined): Promise<CallToolResult> {
  if (isEmptyPolicy(policy)) return node.source.callTool(tool, args, opts);
  const result = await node.source.callTool(tool, args, { ...opts, meta: { ...opts.meta, [POLICY_META]: policy } });
  const meta = result._meta as Record<string, unknown> | undefined;
  const ack = meta?.[POLICY_META] as { applied?: unknown } | undefined;
  if (ack?.applied !== true) {
    throw new HomelabError(
      'EDGE_POLICY_UNSUPPORTED',
      `node ${node.name}: its edge did not confirm that it enforces the hub's file policy for this role, so its answer to ${tool} was withheld; upgrade the edge on ${node.name} to this hub's version (GET /edge/install.sh)`,
    );
  }
  const { [POLICY_META]: _ack, ...rest } = meta!;
  const { _meta: _m, ...out } = result;
  return Object.keys(rest).length ? { _meta: rest, ...out } : out;
}
