/**
 * deploy/examples/hub.full.yaml as a user copies it: the real hub bundle starts with it (and the
 * topology.yaml, hosts.ini and docs/ it names beside it), and every integration it configures
 * shows up with its tools, even though none of the services it names can be reached.
 *
 * The test runs a copy in which every URL points at 127.0.0.1 on a port where nothing listens,
 * every Ansible host at that same port over SSH (refused at once), and stdio MCP servers at a
 * local command that exits: no *.lan name is resolved, nothing leaves loopback, npx downloads
 * nothing. A guard fails the test when the example gains a destination this rewriting misses.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document } from 'yaml';
import { createHttpClient } from '@homelab-mcp/core/http';
import { integrations } from '@homelab-mcp/integrations';
import { connectClient, freePort, HUB_BUNDLE, startHubProcess } from '@homelab-mcp/testkit';

const EXAMPLES = fileURLToPath(new URL('../../../deploy/examples/', import.meta.url));
const CONFIG = 'hub.full.yaml';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** scheme://[userinfo@]host[:port] at the start of a value. */
const URL_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*@)?(\[[^\]]*\]|[^/:?#]*)(:\d+)?/i;
/** Host names a test must never resolve (the example's private and documentation domains). */
const NON_LOOPBACK_NAME = /\b[a-z0-9-]+\.(lan|home|local|internal|example\.(com|org|net))\b/i;

let dir: string;
let configFile: string;
let deadPort: number;
let env: Record<string, string>;

/** Runs a command to its end; `missing` when it is not installed. */
function run(args: string[], runEnv: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((done) => {
    execFile(args[0]!, args.slice(1), { env: runEnv, cwd }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      done({ code: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr, missing: code === 'ENOENT' });
    });
  });
}

function files(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** Every `${VAR}` the files take from the environment. */
function referencedVars(paths: string[]): string[] {
  const names = new Set<string>();
  for (const p of paths) for (const m of readFileSync(p, 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1]!);
  return [...names].sort();
}

/** Points every URL scalar of a YAML document at 127.0.0.1:deadPort (path, query and userinfo kept). */
function rewriteUrls(doc: Document): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const m = URL_AUTHORITY.exec(node.value);
      if (!m || LOOPBACK.has(m[3]!.toLowerCase())) return;
      node.value = `${m[1]}${m[2] ?? ''}127.0.0.1:${deadPort}${node.value.slice(m[0].length)}`;
    },
  });
}

/**
 * Each host line of an INI inventory (outside `[...:vars]`) gets SSH to 127.0.0.1:deadPort,
 * replacing its own ansible_host/port/connection: `ansible -m setup` then fails per host
 * (unreachable) without a lookup or a packet beyond loopback, and runs nothing on this machine.
 */
function rewriteInventory(text: string): string {
  let section = '';
  return text
    .split('\n')
    .map((line) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#') || t.startsWith(';')) return line;
      const s = /^\[([^\]]+)\]$/.exec(t);
      if (s) {
        section = s[1]!;
        return line;
      }
      if (section.endsWith(':vars') || section.endsWith(':children')) return line;
      const [host, ...vars] = t.split(/\s+/);
      const kept = vars.filter((v) => !/^ansible_(host|port|connection|ssh_host|ssh_port)=/.test(v));
      return [host, ...kept, 'ansible_host=127.0.0.1', `ansible_port=${deadPort}`, 'ansible_connection=ssh'].join(' ');
    })
    .join('\n');
}

/** Scalars of the copy that would still send traffic beyond loopback (allowedHosts are names the hub accepts, not destinations). */
function destinationsLeft(doc: Document): string[] {
  const left: string[] = [];
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string') return;
      const inAllowedHosts = path.some((p) => isPair(p) && isScalar(p.key) && p.key.value === 'allowedHosts');
      const m = URL_AUTHORITY.exec(node.value);
      if (m && !LOOPBACK.has(m[3]!.toLowerCase())) left.push(node.value);
      else if (!m && !inAllowedHosts && NON_LOOPBACK_NAME.test(node.value)) left.push(node.value);
    },
  });
  return left;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hub-full-example-'));
  cpSync(EXAMPLES, dir, { recursive: true });
  configFile = join(dir, CONFIG);
  deadPort = await freePort();
  // Dummy secrets, long enough for the token rules and distinct per variable.
  env = Object.fromEntries(referencedVars(files(dir).filter((p) => /\.ya?ml$/.test(p))).map((v) => [v, `dummy-${v.toLowerCase()}-0123456789abcdef`]));

  const config = parseDocument(readFileSync(configFile, 'utf8'));
  rewriteUrls(config);
  config.set('listen', '127.0.0.1:0');
  config.set('dataDir', join(dir, 'data'));
  // A stdio MCP server (npx -y ... would download a package): a local command that exits.
  const stdio = config.get('mcpServers');
  if (isMap(stdio)) {
    for (const entry of stdio.items) {
      if (isMap(entry.value) && entry.value.has('command')) {
        entry.value.set('command', process.execPath);
        entry.value.set('args', config.createNode(['-e', 'process.exit(1)']));
      }
    }
  }
  writeFileSync(configFile, config.toString());
  // Secret files the example names (tokenFile): a dummy token each, readable only by this user.
  for (const n of (config.toJS() as { nodes?: Array<{ tokenFile?: string }> }).nodes ?? []) {
    if (!n.tokenFile) continue;
    mkdirSync(dirname(resolve(dir, n.tokenFile)), { recursive: true });
    writeFileSync(resolve(dir, n.tokenFile), 'dummy-token-file-0123456789abcdef\n', { mode: 0o600 });
  }

  // Key files the example names for Ansible: dummies, mode 0600 as the hub requires.
  const ansible = (config.toJS() as { ansible?: Record<string, unknown> }).ansible ?? {};
  for (const k of ['sshKey', 'gitSshKey', 'vaultPasswordFile']) {
    const f = ansible[k];
    if (typeof f !== 'string') continue;
    mkdirSync(dirname(resolve(dir, f)), { recursive: true });
    writeFileSync(resolve(dir, f), 'dummy key file\n', { mode: 0o600 });
  }

  const topology = (config.toJS() as { topology?: { file?: string; ansible?: { inventory?: string } } }).topology ?? {};
  if (topology.file) {
    const topoFile = resolve(dir, topology.file);
    const doc = parseDocument(readFileSync(topoFile, 'utf8'));
    rewriteUrls(doc);
    writeFileSync(topoFile, doc.toString());
  }
  if (topology.ansible?.inventory) {
    const inv = resolve(dir, topology.ansible.inventory);
    writeFileSync(inv, rewriteInventory(readFileSync(inv, 'utf8')));
  }
  // HOME: ssh and Ansible read no user config and write nothing outside the temp dir.
  mkdirSync(join(dir, 'home'));
  env.HOME = join(dir, 'home');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('deploy/examples/hub.full.yaml', () => {
  it('the test copy sends nothing beyond loopback: no URL, host name or Ansible host left pointing elsewhere', async (ctx) => {
    for (const p of files(dir).filter((f) => /\.ya?ml$/.test(f))) {
      expect(destinationsLeft(parseDocument(readFileSync(p, 'utf8'))), p).toEqual([]);
    }
    const stdio = (parseDocument(readFileSync(configFile, 'utf8')).toJS() as { mcpServers?: Record<string, { command?: string }> }).mcpServers ?? {};
    for (const [name, s] of Object.entries(stdio)) if (s.command !== undefined) expect(s.command, `mcpServers.${name}`).toBe(process.execPath);

    // The inventory as Ansible itself reads it (host vars, group vars and all), not as we think it does.
    const inventory = (parseDocument(readFileSync(configFile, 'utf8')).toJS() as { topology?: { ansible?: { inventory?: string } } }).topology?.ansible?.inventory;
    ctx.skip(!inventory, 'no topology.ansible in the example');
    const listed = await run(['ansible-inventory', '-i', resolve(dir, inventory!), '--list'], { ...process.env, ...env, ANSIBLE_HOME: join(dir, 'ansible'), ANSIBLE_LOCAL_TEMP: join(dir, 'ansible/tmp') }, dir);
    ctx.skip(listed.missing, 'ansible-inventory not found (install ansible-core): the inventory copy was not checked by Ansible');
    expect(listed.code, listed.stderr).toBe(0);
    const hostvars = (JSON.parse(listed.stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } })._meta.hostvars;
    expect(Object.keys(hostvars).length).toBeGreaterThan(0);
    for (const [host, vars] of Object.entries(hostvars)) {
      expect({ host, target: `${String(vars.ansible_connection)}://${String(vars.ansible_host)}:${String(vars.ansible_port)}` }).toEqual({ host, target: `ssh://127.0.0.1:${deadPort}` });
    }
  });

  it('passes check-config, with every ${VAR} it references set', async () => {
    const r = await run([process.execPath, HUB_BUNDLE, 'check-config', configFile], { ...process.env, ...env }, dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${configFile}: ok\n`);
    expect(r.code).toBe(0);
  });

  it('starts the hub, which lists every configured integration\'s tools, the topology and the docs, with every service unreachable', async () => {
    await using hub = await startHubProcess({ cwd: dir, args: ['--config', configFile], env, timeoutMs: 30_000 });
    expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);
    // oauth is on in the example: its resource metadata names the configured issuer's /oauth/mcp
    // (the issuer as rewritten here, like every host of the file).
    const issuer = (parseDocument(readFileSync(configFile, 'utf8')).toJS() as { oauth: { enabled: boolean; issuer: string } }).oauth;
    expect(issuer.enabled).toBe(true);
    const prm = await fetch(`${hub.base}/.well-known/oauth-protected-resource/oauth/mcp`);
    expect(prm.status).toBe(200);
    expect(((await prm.json()) as { resource: string }).resource).toBe(`${issuer.issuer}/oauth/mcp`);

    const parsed = parseDocument(readFileSync(configFile, 'utf8')).toJS() as {
      auth: { tokens: Array<{ role: string; token: string }> };
      integrations?: Record<string, unknown>;
    };
    const adminRef = parsed.auth.tokens.find((t) => t.role === 'admin')!.token;
    const admin = adminRef.replace(/^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/, (_m, v: string) => env[v]!);
    await using client = await connectClient(hub.url, admin, 'modern');
    const listed = new Set((await client.listTools()).tools.map((t) => t.name));

    // What each integration of the file contributes, from its own definition (setup makes no request).
    const configured = Object.entries(parsed.integrations ?? {});
    expect(configured.length).toBeGreaterThan(0);
    const http = createHttpClient({ userAgent: 'homelab-hub-test' });
    const log = { info() {}, warn() {}, error() {} };
    for (const [name, cfg] of configured) {
      const integration = integrations.find((i) => i.name === name);
      expect(integration, `integrations.${name} is not a built-in integration`).toBeDefined();
      const instance = integration!.setup(integration!.configSchema.parse(cfg) as never, { http, log });
      const names = instance.tools.map((t) => t.def.name);
      expect(names.length, `integrations.${name} has no tools`).toBeGreaterThan(0);
      expect(names.filter((n) => !listed.has(n)), `tools of integrations.${name} missing from tools/list`).toEqual([]);
      await instance.close?.();
    }
    expect(listed).toContain('prom_query');
    expect(listed).toContain('query_logs');
    expect(listed).toContain('http_fetch'); // internet:
    // upstreams.ha (type home-assistant, unreachable): its REST tools are listed anyway.
    for (const t of ['ha_states', 'ha_history', 'ha_logbook', 'ha_error_log']) expect(listed, t).toContain(t);
    // internet: (its services unreachable too): the tools are listed anyway.
    for (const t of ['check_package_version', 'cve_lookup', 'dns_lookup', 'git_pull', 'send_notification', 'cloudflare_dns', 'cloudflare_tunnels']) expect(listed, t).toContain(t);
    // The Ansible review queue (ansible:), its repo unreachable: every tool is listed anyway.
    if ((parsed as { ansible?: unknown }).ansible) {
      for (const t of ['list_playbooks', 'get_playbook', 'list_inventory', 'refresh_inventory', 'dry_run_playbook', 'run_playbook', 'draft_playbook', 'list_pending_playbooks', 'promote_playbook']) expect(listed, t).toContain(t);
      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as { structuredContent?: { items: Array<{ name: string; healthy: boolean }> } };
      expect(health.structuredContent!.items.find((i) => i.name === 'Ansible playbook repo')).toMatchObject({ healthy: false });
    }

    // topology.yaml and docs/ were loaded: the declared nodes and the page are there.
    const summary = await client.callTool({ name: 'get_topology_summary', arguments: {} });
    expect(summary.isError).toBeFalsy();
    const declared = parseDocument(readFileSync(join(dir, 'topology.yaml'), 'utf8')).toJS() as { nodes: Array<{ name: string }>; services: Array<{ name: string }> };
    const full = (await client.callTool({ name: 'get_topology_full', arguments: {} })).structuredContent as {
      counts: { declaredNodes: number };
      nodes: Array<{ name: string }>;
      services: Array<{ name: string }>;
      docs: Array<{ uri: string }>;
    };
    expect(full.counts.declaredNodes).toBe(declared.nodes.length);
    expect(full.nodes.map((n) => n.name)).toEqual(expect.arrayContaining(declared.nodes.map((n) => n.name)));
    expect(full.services.map((n) => n.name)).toEqual(expect.arrayContaining(declared.services.map((n) => n.name)));
    expect(full.docs.map((d) => d.uri)).toEqual(['docs://pitfalls.md']);
    const docs = (await client.listResources()).resources.map((r) => r.uri);
    expect(docs).toContain('docs://pitfalls.md');
  });
});

// Keep the helpers honest: a guard that cannot fail is a defect.
describe('the rewriting guard', () => {
  it('flags a URL or a host name it did not rewrite, and ignores allowedHosts', () => {
    const doc = parseDocument('allowedHosts: [hub.example.com]\na: { url: "http://nas.lan:1/x" }\nb: { host: grafana.home }\nc: "http://127.0.0.1:9/"\n');
    expect(destinationsLeft(doc)).toEqual(['http://nas.lan:1/x', 'grafana.home']);
    rewriteUrls(doc);
    expect(destinationsLeft(doc)).toEqual(['grafana.home']);
    expect(isSeq(doc.get('allowedHosts'))).toBe(true);
  });

  it('points every inventory host at loopback SSH and leaves group vars alone', () => {
    const out = rewriteInventory('[a]\nnas ansible_host=10.0.0.1 ansible_user=x\nme ansible_connection=local\n\n[a:vars]\nansible_port=22\n');
    expect(out).toBe(`[a]\nnas ansible_user=x ansible_host=127.0.0.1 ansible_port=${deadPort} ansible_connection=ssh\nme ansible_host=127.0.0.1 ansible_port=${deadPort} ansible_connection=ssh\n\n[a:vars]\nansible_port=22\n`);
  });
});
