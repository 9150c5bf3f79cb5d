/**
 * `tokenFile:` of a node: its token read from a file (relative to hub.yaml), at start and at
 * each reload, so a device is added by writing its token file and its entry, without a new
 * environment variable and a restart.
 */
import { resolve } from 'node:path';
import { readSecretFile } from '@homelab-mcp/core';
import { ConfigError } from '@homelab-mcp/core/config';
import type { UnresolvedNode } from './keep-entries.ts';
import type { HubConfig } from './schema.ts';

/**
 * Sets `token` of each node that has `tokenFile`. A file that cannot be used fails the load
 * (at start, or in check-config), or, on a reload (`running` given), keeps that node's running
 * settings (a new node is not connected, and returned in `unresolved` for the fleet to show as
 * unreachable) with a note. Returns the notes and warnings to log.
 *
 * @example
 * const { notes, warnings, unresolved } = resolveTokenFiles(config, 'hub.yaml', dirname('hub.yaml'));
 */
export function resolveTokenFiles(config: HubConfig, file: string, baseDir: string, running?: HubConfig): { notes: string[]; warnings: string[]; unresolved: UnresolvedNode[] } {
  const notes: string[] = [];
  const unresolved: UnresolvedNode[] = [];
  const warnings: string[] = [];
  const problems: string[] = [];
  const nodes: HubConfig['nodes'] = [];
  config.nodes.forEach((n, i) => {
    if (n.tokenFile === undefined) return void nodes.push(n);
    const key = `nodes[${i}].tokenFile`;
    try {
      const path = resolve(baseDir, n.tokenFile);
      const secret = readSecretFile(path);
      // The rule `token:` has (schema.ts), which a file read after validation would bypass:
      // a short one is most likely the wrong file or a cut paste. Its length only, never its text.
      if (secret.value.length < 16) throw new Error(`secret file ${path} holds ${secret.value.length} characters; a node's token has at least 16`);
      if (secret.warning) warnings.push(`${file}: key "${key}": ${secret.warning}`);
      nodes.push({ ...n, token: secret.value });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (!running) return void problems.push(`${file}: key "${key}": ${why}`);
      const old = running.nodes.find((o) => o.name === n.name);
      if (old) nodes.push(old);
      else unresolved.push({ name: n.name, roles: n.roles, why });
      notes.push(`${file}: nodes[${i}] "${n.name}": ${why}; ${old ? 'keeping its running settings' : 'not connected until it is resolved (calls to it say why)'}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(file, 'env', problems);
  config.nodes = nodes;
  return { notes, warnings, unresolved };
}
