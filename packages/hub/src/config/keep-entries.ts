/**
 * A reload of hub.yaml whose entry cannot be resolved (a `${VAR}` the hub's environment does
 * not have, a `tokenFile` or `${file:...}` it cannot read) keeps the running settings of that
 * entry only, so the rest of the edit applies: adding a device is one step, and a mistake in
 * it never takes the other devices down. An entry is a node (by name), an upstream, an
 * integration or a token (by user); a reference anywhere else fails the whole reload.
 */
import type { UnresolvedRef } from '@homelab-mcp/core/config';
import { formatKeyPath } from '@homelab-mcp/core/config';

type Obj = Record<string, unknown>;

/**
 * A new node a reload could not resolve. It stays part of the fleet (`all`, its roles,
 * `node: NAME`) as a node that cannot be reached, saying why, rather than vanishing: a typo
 * in a token file must not turn "all the speakers" into fewer speakers without a word.
 */
export interface UnresolvedNode {
  name: string;
  roles: string[];
  /** `environment variable PI_TOKEN is not set`, `cannot read secret file ...`. */
  why: string;
}
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Where an entry lives: a list whose items are matched by a field, or a mapping by key. */
const LISTS: Array<{ path: string[]; id: string }> = [
  { path: ['nodes'], id: 'name' },
  { path: ['auth', 'tokens'], id: 'user' },
];
const MAPS: string[][] = [['upstreams'], ['mcpServers'], ['integrations']];

const at = (data: unknown, path: readonly PropertyKey[]): unknown => path.reduce<unknown>((v, k) => (isObj(v) || Array.isArray(v) ? (v as Obj)[k as string] : undefined), data);
const startsWith = (p: readonly PropertyKey[], prefix: readonly string[]) => prefix.every((s, i) => String(p[i]) === s);

/**
 * Puts back, in `data` (the new file, substituted), the running entry for each entry holding an
 * unresolved reference, or leaves a new entry out. Returns the references it could not place
 * and one line per entry it kept or left out (for the log). A new node left out is also
 * returned in `nodes`, for the fleet to show as unreachable.
 *
 * @example
 * const { unsettled, notes, nodes } = keepRunningEntries(data, refs, previousData, 'hub.yaml');
 * // notes: ['hub.yaml: nodes[2] "pi-new": environment variable PI_TOKEN is not set; not connected until it is resolved']
 * // nodes: [{ name: 'pi-new', roles: ['speaker'], why: 'environment variable PI_TOKEN is not set' }]
 */
export function keepRunningEntries(data: unknown, refs: readonly UnresolvedRef[], previous: unknown, file: string): { unsettled: UnresolvedRef[]; notes: string[]; nodes: UnresolvedNode[] } {
  const unsettled: UnresolvedRef[] = [];
  const notes: string[] = [];
  const nodes: UnresolvedNode[] = [];
  const drop = new Map<unknown[], Set<number>>();
  const done = new Set<string>();
  for (const ref of refs) {
    const list = LISTS.find((l) => startsWith(ref.keyPath, l.path) && typeof ref.keyPath[l.path.length] === 'number');
    const map = MAPS.find((m) => startsWith(ref.keyPath, m) && ref.keyPath.length > m.length);
    const why = ref.message.replace(/^.*?key "[^"]*": /, '');
    if (list) {
      const items = at(data, list.path);
      const i = ref.keyPath[list.path.length] as number;
      if (!Array.isArray(items) || !isObj(items[i])) {
        unsettled.push(ref);
        continue;
      }
      const id = items[i][list.id];
      const label = `${formatKeyPath([...list.path, i])}${typeof id === 'string' ? ` "${id}"` : ''}`;
      if (done.has(label)) continue;
      done.add(label);
      const old = at(previous, list.path);
      const running = typeof id === 'string' && Array.isArray(old) ? old.find((o) => isObj(o) && o[list.id] === id) : undefined;
      if (running !== undefined) {
        items[i] = running;
        notes.push(`${file}: ${label}: ${why}; keeping its running settings`);
      } else {
        let set = drop.get(items);
        if (!set) drop.set(items, (set = new Set()));
        set.add(i);
        if (list.path[0] === 'nodes' && typeof id === 'string') {
          const roles = items[i].roles;
          nodes.push({ name: id, roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [], why });
          notes.push(`${file}: ${label}: ${why}; not connected until it is resolved (calls to it say why)`);
        } else {
          notes.push(`${file}: ${label}: ${why}; left out until it is resolved`);
        }
      }
    } else if (map) {
      const parent = at(data, map);
      const key = String(ref.keyPath[map.length]);
      if (!isObj(parent)) {
        unsettled.push(ref);
        continue;
      }
      const label = formatKeyPath([...map, key]);
      if (done.has(label)) continue;
      done.add(label);
      const old = at(previous, [...map, key]);
      if (old !== undefined) {
        parent[key] = old;
        notes.push(`${file}: ${label}: ${why}; keeping its running settings`);
      } else {
        delete parent[key];
        notes.push(`${file}: ${label}: ${why}; left out until it is resolved`);
      }
    } else {
      unsettled.push(ref);
    }
  }
  for (const [items, set] of drop) {
    const kept = items.filter((_, i) => !set.has(i));
    items.length = 0;
    items.push(...kept);
  }
  return { unsettled, notes, nodes };
}
