/**
 * The merged catalog: hub tools, fleet tools over the nodes, optional per-device copies, and
 * every native upstream's tools, resources and prompts under its alias. Rebuilt when a node
 * or upstream changes; lists are kept sorted by name so `tools/list` is deterministic (the
 * 2026-07-28 spec asks for it, and clients cache on it).
 */
import type { CallToolResult, CompleteRequest, CompleteResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/server';
import { createToolNameRegistry, plainToolName, resourceUri, sanitizePrefix, splitResourceUri, splitToolName } from '@homelab-mcp/core/tool-names';
import { claimedClass, classify, EDGE_TOOLS, markClass } from '../policy/classes.ts';
import type { ToolClass } from './types.ts';
import { classOf, edgeToolDef, fanOut, fleetTools, type PolicyFor } from './fleet.ts';
import { actingForMeta } from '../policy/acting-for.ts';
import { viewerNodeAnswer } from '../tools/observability/probes.ts';
import type { HubNode, SourceCallOptions, SourceState } from './nodes.ts';
import type { CallContext, CatalogPrompt, CatalogResource, CatalogResourceTemplate, CatalogTool, ResourceWatch, Role } from './types.ts';

/** A native MCP server behind the hub (Home Assistant, another hub, a stdio server...). */
export interface NativeUpstream {
  alias: string;
  state(): SourceState;
  tools(): Tool[];
  resources(): Resource[];
  resourceTemplates(): ResourceTemplate[];
  prompts(): Prompt[];
  callTool(name: string, args: Record<string, unknown>, opts: SourceCallOptions): Promise<CallToolResult>;
  readResource(uri: string, opts: SourceCallOptions): Promise<ReadResourceResult>;
  getPrompt(name: string, args: Record<string, string> | undefined, opts: SourceCallOptions): Promise<GetPromptResult>;
  /** `completion/complete` with the upstream's own prompt name or template. */
  complete?(params: CompleteRequest['params'], opts: SourceCallOptions): Promise<CompleteResult>;
  /** What it offers now (completions, resource subscriptions). */
  features?(): UpstreamFeatures;
  subscribeResource?(uri: string, opts: SourceCallOptions): Promise<void>;
  unsubscribeResource?(uri: string): Promise<void>;
  /** Checks reachability now rather than at the next health check. */
  checkNow?(): Promise<void>;
  /**
   * The gate's preview of a write, for an upstream that can look up what it would act on (Home
   * Assistant); `tool` is the upstream's own name, `shown` the client's.
   */
  preview?(tool: string, shown: string, args: Record<string, unknown>): Promise<import('../policy/gate.ts').Preview>;
}

/** What the upstreams offer beyond lists: the hub advertises a capability when one of them has it. */
export interface UpstreamFeatures {
  completions: boolean;
  resourceSubscribe: boolean;
}

export interface CatalogInput {
  nodes: HubNode[];
  upstreams: NativeUpstream[];
  hubTools: CatalogTool[];
  /** Resources the hub itself serves (topology, docs), listed before the upstreams'. */
  hubResources?: CatalogResource[];
  /** Also serve `<node>__<tool>` copies for every node. */
  perDeviceTools: boolean;
  callTimeoutMs: number;
  /** Longest tool name emitted; clients show `mcp__<alias>__<name>` and cap the whole at 64. */
  maxToolName: number;
  /** Per upstream alias, `[glob, class]` overrides of its tools' classes, in config order. */
  classOverrides?: Record<string, Array<[string, ToolClass]>>;
  /**
   * Upstream aliases whose annotations decide the class of tools no override matches
   * (`trustAnnotations: true`); every other upstream's unmatched tools are writes.
   */
  trustAnnotations?: ReadonlySet<string>;
  /**
   * Upstream aliases configured with `prefix: false`: their tools, prompts, resources and
   * templates keep their own names and URIs. Added after everything else, so one of their
   * names that meets another is the one left out (see {@link Catalog.leftOut}).
   */
  unprefixed?: ReadonlySet<string>;
  /** Upstream aliases of `type: hub`: their tool calls carry the caller (policy/acting-for.ts). */
  hubUpstreams?: ReadonlySet<string>;
  /** The file policy sent with each edge tool call a client makes (nodes/file-policy.ts). */
  policyFor?: PolicyFor;
  /**
   * Told about each tool or prompt of a node or upstream left out because it cannot be named
   * (an empty name, a prefix too long for `maxToolName`): one bad name never costs the others.
   */
  onSkipped?: (skipped: LeftOut) => void;
}

/** An entry of a node or upstream the catalog could not serve, and why. */
export interface LeftOut {
  source: string;
  kind: 'tool' | 'prompt' | 'resource' | 'resource template';
  /** As the source names it (a URI or URI template for resources). */
  name: string;
  why: string;
  /** Set when the name meets another one: who else has it (`hub`, `fleet`, an alias, a node). */
  collidesWith?: string;
}

export interface Catalog {
  /** Tools a caller of this role may see, sorted by name. */
  tools(role: Role): CatalogTool[];
  /**
   * Their definitions as `tools/list` shows them; with `confirmArg` (approval mode `confirm`)
   * every write tool also takes `confirm` (the token its preview returned).
   */
  defs(role: Role, confirmArg: boolean): Tool[];
  /**
   * The same list as a 2026-07-28 `tools/list` answer serialises it (`execution` dropped, as
   * that era's encoder does), built once per catalog: `tools/list` of 2,000 tools is 1.6 MB,
   * and serialising it again for every call was most of that call's cost.
   */
  modernDefsJson(role: Role, confirmArg: boolean): Buffer;
  /**
   * The same for a 2025-era `tools/list`, or undefined when a tool has an `outputSchema` whose
   * root is not an object: that era's encoder rewrites those, so the SDK serialises the list.
   */
  legacyDefsJson(role: Role, confirmArg: boolean): Buffer | undefined;
  tool(name: string): CatalogTool | undefined;
  resources(): CatalogResource[];
  resource(uri: string): CatalogResource | undefined;
  resourceTemplates(): CatalogResourceTemplate[];
  prompts(): CatalogPrompt[];
  prompt(name: string): CatalogPrompt | undefined;
  /**
   * What this build left out: names the codec refuses, and names of an unprefixed upstream
   * that meet another entry of the catalog (the other one keeps the name). For list_nodes,
   * /readyz and a reload, which refuses a configuration with collisions.
   */
  leftOut(): LeftOut[];
  /** Whether any upstream now offers completions, resource subscriptions. */
  upstreamFeatures(): UpstreamFeatures;
}

const byName = <T extends { def: { name: string } }>(a: T, b: T) => (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0);

/** A viewer neither sees nor calls write tools. */
export function visibleTo(role: Role, t: CatalogTool): boolean {
  return role !== 'viewer' || t.toolClass === 'read';
}

export function buildCatalog(input: CatalogInput): Catalog {
  const registry = createToolNameRegistry({ maxLength: input.maxToolName });
  const leftOut: LeftOut[] = [];
  const skip = (l: LeftOut) => {
    leftOut.push(l);
    input.onSkipped?.(l);
  };
  // A node or upstream chooses its own names; a name the codec refuses leaves out that one entry.
  const nameOf = (source: string, name: string, kind: 'tool' | 'prompt'): string | undefined => {
    try {
      return registry.register(source, name);
    } catch (err) {
      skip({ source, name, kind, why: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };
  const tools = new Map<string, CatalogTool>();
  // The class shows in every tool's annotations and description. A copy is stored: the hub's
  // own tool objects live across rebuilds and must not collect a tag per rebuild. `asListed`:
  // an unprefixed upstream's tool whose class is the one its annotations claim is passed on as
  // the upstream lists it (the gate still goes by the class).
  const add = (t: CatalogTool, asListed = false) => {
    if (!tools.has(t.def.name)) tools.set(t.def.name, { ...t, def: asListed ? t.def : markClass(t.def, t.toolClass) });
  };
  for (const t of input.hubTools) add(t);
  // Every configured node, whatever its state: a node that is down is still part of `all` and
  // of its roles, and is named as unreachable rather than unknown.
  const fleet = fleetTools(input.nodes, input.callTimeoutMs, input.policyFor);
  for (const t of fleet) add(t);
  if (input.perDeviceTools) {
    for (const node of input.nodes) {
      // Like the fleet tools: a node that has not listed its tools (down, never reached) keeps
      // the hub's table, so its copies do not come and go with its connection.
      const offered = node.source.tools();
      for (const listed of offered.length ? offered : EDGE_TOOLS.values()) {
        // Classed and described like the fleet tools: by the hub's table, not by the node.
        const t = edgeToolDef(listed);
        const name = nameOf(node.name, t.name, 'tool');
        if (name === undefined) continue;
        // The fleet tool's preview, for this node: a copy must not say less than the fleet tool
        // (package_upgrade's packages and versions, run_command's command, a reboot of the hub's host).
        const fleetPreview = fleet.find((f) => f.def.name === t.name)?.preview;
        // The edge's wake_on_lan sends to any address it is given: its copy goes through the hub's
        // wake_on_lan from this node, which sends only to broadcast addresses the topology declares.
        const hubWake = t.name === 'wake_on_lan' ? input.hubTools.find((h) => h.def.name === 'wake_on_lan' && h.source === 'hub') : undefined;
        if (hubWake?.preview) {
          const viaHere = (args: Record<string, unknown>) => ({ ...args, via: node.name });
          add({
            def: { ...t, name, description: `On node ${node.name}: ${t.description ?? t.name}` },
            toolClass: classOf(t),
            source: node.name,
            preview: async (args) => ({ ...(await hubWake.preview!(viaHere(args))), tool: name, arguments: args }),
            call: (args, ctx) => hubWake.call(viaHere(args), ctx),
          });
          continue;
        }
        add({
          ...(fleetPreview ? { preview: async (args: Record<string, unknown>) => ({ ...(await fleetPreview({ ...args, node: node.name })), tool: name }) } : {}),
          def: { ...t, name, description: `On node ${node.name}: ${t.description ?? t.name}` },
          toolClass: classOf(t),
          source: node.name,
          call: async (args, ctx) => {
            // One node named directly, with the fleet's words for an unreachable node and a failed command.
            const r = await fanOut(t.name, { nodes: [node], single: true }, args, ctx, input.callTimeoutMs, input.policyFor);
            // The copy must not show a viewer the page the hub's probe_http keeps from them.
            return t.name === 'probe_http' && ctx.caller.role === 'viewer' ? viewerNodeAnswer(r, node.name) : r;
          },
        });
      }
    }
  }
  const resources = new Map<string, CatalogResource>();
  for (const r of input.hubResources ?? []) resources.set(r.def.uri, r);
  const templates: CatalogResourceTemplate[] = [];
  const prompts = new Map<string, CatalogPrompt>();
  const unprefixed = input.upstreams.filter((u) => input.unprefixed?.has(u.alias));
  for (const up of input.upstreams) {
    if (input.unprefixed?.has(up.alias)) continue;
    for (const t of up.tools()) {
      const name = nameOf(up.alias, t.name, 'tool');
      if (name === undefined) continue;
      const toolClass = classify(t, input.classOverrides?.[up.alias], { trustAnnotations: input.trustAnnotations?.has(up.alias) ?? false });
      add({
        def: { ...t, name },
        toolClass,
        source: up.alias,
        mayAskClient: true,
        // Another hub is told for whom it is called, and serves the call with no more than that role.
        // The caller's client is for what this upstream asks mid-call (sampling, elicitation, roots).
        call: (args, ctx) =>
          up.callTool(t.name, args, {
            ...callOpts(ctx, input.callTimeoutMs),
            ...(ctx.client ? { client: ctx.client } : {}),
            ...(ctx.resume ? { resume: ctx.resume } : {}),
            ...(input.hubUpstreams?.has(up.alias) ? { meta: actingForMeta(ctx.caller) } : {}),
          }),
        // An upstream that can look up what a write acts on (Home Assistant) previews it.
        ...(up.preview && toolClass === 'write' ? { preview: (args: Record<string, unknown>) => up.preview!(t.name, name, args) } : {}),
      });
    }
    for (const r of up.resources()) {
      const uri = resourceUri(up.alias, r.uri);
      resources.set(uri, { def: { ...r, uri }, source: up.alias, read: async (ctx) => relabel(await up.readResource(r.uri, callOpts(ctx, input.callTimeoutMs)), r.uri, uri), ...watchOf(up, r.uri, input.callTimeoutMs) });
    }
    // Templates cannot be percent-encoded (the client fills in their {variables}), so they
    // are namespaced as `<alias>+<template>` and routed back by that prefix.
    for (const t of up.resourceTemplates()) {
      templates.push({
        def: { ...t, uriTemplate: `${up.alias}+${t.uriTemplate}` },
        source: up.alias,
        ...(up.complete ? { complete: (ask, ctx) => up.complete!({ ref: { type: 'ref/resource', uri: t.uriTemplate }, ...ask }, callOpts(ctx, input.callTimeoutMs)) } : {}),
      });
    }
    for (const p of up.prompts()) {
      const name = nameOf(up.alias, p.name, 'prompt');
      if (name === undefined) continue;
      prompts.set(name, {
        def: { ...p, name },
        source: up.alias,
        mayAskClient: true,
        get: (args, ctx) => up.getPrompt(p.name, args, { ...callOpts(ctx, input.callTimeoutMs), ...clientOpts(ctx) }),
        ...(up.complete ? { complete: (ask, ctx) => up.complete!({ ref: { type: 'ref/prompt', name: p.name }, ...ask }, callOpts(ctx, input.callTimeoutMs)) } : {}),
      });
    }
  }
  addUnprefixed({ input, upstreams: unprefixed, tools, resources, templates, prompts, add, skip });
  const sorted = [...tools.values()].sort(byName);
  const withConfirm = (t: CatalogTool): Tool =>
    t.toolClass === 'write'
      ? {
          ...t.def,
          inputSchema: {
            ...t.def.inputSchema,
            properties: {
              ...t.def.inputSchema.properties,
              confirm: {
                type: 'string',
                description:
                  'The confirmation token this tool returned with its preview. Call first without confirm: the answer is the preview and a token for exactly these arguments (valid 5 minutes). Show the preview to the user; if they agree, call again with the same arguments and confirm set to that token.',
              },
            },
          },
        }
      : t.def;
  const defsCache = new Map<string, Tool[]>();
  const perRole: Record<Role, CatalogTool[]> = {
    admin: sorted,
    operator: sorted,
    viewer: sorted.filter((t) => visibleTo('viewer', t)),
  };
  const jsonCache = new Map<string, Buffer | undefined>();
  const upstreamByAlias = new Map(input.upstreams.map((u) => [u.alias, u]));
  // A URI filled in from an unprefixed upstream's template has no prefix to route it by: the
  // template it matches names its upstream.
  const plainTemplates = templates.filter((t) => input.unprefixed?.has(t.source)).map((t) => ({ matches: templateMatcher(t.def.uriTemplate), up: upstreamByAlias.get(t.source)! }));
  const ownerByTemplate = (uri: string): CatalogResource | undefined => {
    const up = plainTemplates.find((t) => t.matches(uri))?.up;
    return up && { def: { uri, name: uri }, source: up.alias, read: (ctx) => up.readResource(uri, callOpts(ctx, input.callTimeoutMs)), ...watchOf(up, uri, input.callTimeoutMs) };
  };
  const features = { completions: false, resourceSubscribe: false };
  for (const u of input.upstreams) {
    const f = u.features?.();
    features.completions ||= f?.completions ?? false;
    features.resourceSubscribe ||= f?.resourceSubscribe ?? false;
  }
  const defs = (role: Role, confirmArg: boolean): Tool[] => {
    const k = `${role}:${confirmArg}`;
    let d = defsCache.get(k);
    if (!d) defsCache.set(k, (d = perRole[role].map((t) => (confirmArg ? withConfirm(t) : t.def))));
    return d;
  };
  return {
    tools: (role) => perRole[role],
    defs,
    modernDefsJson(role, confirmArg) {
      const k = `${role}:${confirmArg}`;
      let j = jsonCache.get(k);
      if (!j) jsonCache.set(k, (j = Buffer.from(JSON.stringify(defs(role, confirmArg).map(withoutExecution)))));
      return j;
    },
    legacyDefsJson(role, confirmArg) {
      const k = `legacy:${role}:${confirmArg}`;
      if (jsonCache.has(k)) return jsonCache.get(k);
      const d = defs(role, confirmArg);
      const j = d.some(needsLegacyWrap) ? undefined : Buffer.from(JSON.stringify(d));
      jsonCache.set(k, j);
      return j;
    },
    tool: (name) => tools.get(name),
    resources: () => [...resources.values()],
    resource(uri) {
      const known = resources.get(uri);
      if (known) return known;
      // A URI filled in from a template (`<alias>+<uri>`), or one of an upstream's resources
      // that was not listed: route it to its upstream by the namespace prefix.
      const plus = /^([A-Za-z0-9_-]+)\+(.+)$/.exec(uri);
      const split = plus ? { prefix: plus[1]!, uri: plus[2]! } : splitResourceUri(uri);
      const up = split && upstreamByAlias.get(split.prefix);
      if (!split || !up || input.unprefixed?.has(up.alias)) return ownerByTemplate(uri);
      return { def: { uri, name: uri }, source: up.alias, read: async (ctx) => relabel(await up.readResource(split.uri, callOpts(ctx, input.callTimeoutMs)), split.uri, uri), ...watchOf(up, split.uri, input.callTimeoutMs) };
    },
    resourceTemplates: () => templates,
    prompts: () => [...prompts.values()].sort(byName),
    prompt: (name) => prompts.get(name),
    leftOut: () => leftOut,
    upstreamFeatures: () => features,
  };
}

/** The subscription to `uri` at `up`, when `up` can subscribe at all. */
function watchOf(up: NativeUpstream, uri: string, timeoutMs: number): { watch?: ResourceWatch } {
  if (!up.subscribeResource || !up.unsubscribeResource || !up.features?.().resourceSubscribe) return {};
  return {
    watch: {
      key: `${up.alias}\u0000${uri}`,
      subscribe: (ctx) => up.subscribeResource!(uri, { signal: ctx.signal, timeoutMs }),
      unsubscribe: () => up.unsubscribeResource!(uri),
    },
  };
}

/**
 * The entries of `prefix: false` upstreams, under their own names, added last: whatever is
 * already in the catalog (hub, fleet, per-device and integration tools, prefixed upstreams)
 * keeps its name, and a name two unprefixed upstreams both announce is left out of both, so
 * which server a name reaches never depends on which one connected first.
 */
function addUnprefixed(o: {
  input: CatalogInput;
  upstreams: NativeUpstream[];
  tools: Map<string, CatalogTool>;
  resources: Map<string, CatalogResource>;
  templates: CatalogResourceTemplate[];
  prompts: Map<string, CatalogPrompt>;
  add: (t: CatalogTool, asListed?: boolean) => void;
  skip: (l: LeftOut) => void;
}): void {
  const { input, tools, resources, templates, prompts } = o;
  const timeout = input.callTimeoutMs;
  /** Per shown name, the unprefixed upstreams that announce it. */
  const claims = (names: (u: NativeUpstream) => Array<string | undefined>) => {
    const m = new Map<string, string[]>();
    for (const u of o.upstreams) for (const n of new Set(names(u))) if (n !== undefined) m.set(n, [...(m.get(n) ?? []), u.alias]);
    return m;
  };
  const toolName = (n: string) => plainToolName(n, input.maxToolName);
  // `homelab://<alias>/...` and `<alias>+...` reach a prefixed upstream even when it did not
  // list that URI (Catalog.resource): an unprefixed one must not take them.
  const prefixedAliases = new Set(input.upstreams.filter((u) => !input.unprefixed?.has(u.alias)).map((u) => u.alias));
  const routedToPrefixed = (uri: string) => {
    const alias = /^([A-Za-z0-9_-]+)\+/.exec(uri)?.[1] ?? splitResourceUri(uri)?.prefix;
    return alias !== undefined && prefixedAliases.has(alias) ? { source: alias } : undefined;
  };
  // Likewise `<alias>__...` is a prefixed upstream's name, listed or not: while that upstream is
  // down (its list empty) an unprefixed one must not take its names and receive its calls.
  const aliasOfPrefix = new Map([...prefixedAliases].map((a) => [sanitizePrefix(a), a]));
  const namedForPrefixed = (name: string) => {
    const alias = aliasOfPrefix.get(splitToolName(name)?.prefix ?? '');
    return alias !== undefined ? { source: alias } : undefined;
  };
  const toolClaims = claims((u) => u.tools().map((t) => toolName(t.name)));
  const promptClaims = claims((u) => u.prompts().map((p) => toolName(p.name)));
  const resourceClaims = claims((u) => u.resources().map((r) => r.uri));
  const templateClaims = claims((u) => u.resourceTemplates().map((t) => t.uriTemplate));
  /** Who else has `shown`, if anyone: the entry already there, or another unprefixed upstream. */
  const taken = (up: NativeUpstream, shown: string, existing: { source: string } | undefined, claimed: Map<string, string[]>) =>
    existing?.source ?? claimed.get(shown)?.find((a) => a !== up.alias);
  const collision = (up: NativeUpstream, kind: LeftOut['kind'], name: string, shown: string, other: string) =>
    o.skip({ source: up.alias, kind, name, collidesWith: other, why: `${kind} "${shown}" of upstream "${up.alias}" (prefix: false) has the name of ${describeSource(other, kind, input)}; that one keeps it` });
  for (const up of o.upstreams) {
    const overrides = input.classOverrides?.[up.alias];
    for (const t of up.tools()) {
      const name = toolName(t.name);
      if (name === undefined) {
        o.skip({ source: up.alias, kind: 'tool', name: t.name, why: 'the name has no usable character ([A-Za-z0-9_-])' });
        continue;
      }
      const other = taken(up, name, tools.get(name) ?? namedForPrefixed(name), toolClaims);
      if (other !== undefined) {
        collision(up, 'tool', t.name, name, other);
        continue;
      }
      const toolClass = classify(t, overrides, { trustAnnotations: input.trustAnnotations?.has(up.alias) ?? false });
      o.add(
        {
          def: { ...t, name },
          toolClass,
          source: up.alias,
          mayAskClient: true,
          call: (args, ctx) => up.callTool(t.name, args, { ...callOpts(ctx, timeout), ...(ctx.client ? { client: ctx.client } : {}), ...(ctx.resume ? { resume: ctx.resume } : {}) }),
          ...(up.preview && toolClass === 'write' ? { preview: (args: Record<string, unknown>) => up.preview!(t.name, name, args) } : {}),
        },
        // Its own description and annotations, unless the hub classes it otherwise than they claim.
        toolClass === claimedClass(t.annotations),
      );
    }
    for (const p of up.prompts()) {
      const name = toolName(p.name);
      if (name === undefined) continue;
      const other = taken(up, name, prompts.get(name) ?? namedForPrefixed(name), promptClaims);
      if (other !== undefined) collision(up, 'prompt', p.name, name, other);
      else
        prompts.set(name, {
          def: { ...p, name },
          source: up.alias,
          mayAskClient: true,
          get: (args, ctx) => up.getPrompt(p.name, args, { ...callOpts(ctx, timeout), ...clientOpts(ctx) }),
          ...(up.complete ? { complete: (ask, ctx) => up.complete!({ ref: { type: 'ref/prompt', name: p.name }, ...ask }, callOpts(ctx, timeout)) } : {}),
        });
    }
    for (const r of up.resources()) {
      const other = taken(up, r.uri, resources.get(r.uri) ?? routedToPrefixed(r.uri), resourceClaims);
      if (other !== undefined) collision(up, 'resource', r.uri, r.uri, other);
      else resources.set(r.uri, { def: r, source: up.alias, read: (ctx) => up.readResource(r.uri, callOpts(ctx, timeout)), ...watchOf(up, r.uri, timeout) });
    }
    for (const t of up.resourceTemplates()) {
      const other = taken(up, t.uriTemplate, templates.find((x) => x.def.uriTemplate === t.uriTemplate), templateClaims);
      if (other !== undefined) collision(up, 'resource template', t.uriTemplate, t.uriTemplate, other);
      else
        templates.push({
          def: t,
          source: up.alias,
          ...(up.complete ? { complete: (ask, ctx) => up.complete!({ ref: { type: 'ref/resource', uri: t.uriTemplate }, ...ask }, callOpts(ctx, timeout)) } : {}),
        });
    }
  }
}

/** A source as a person reads it in a log line: `the hub's own tool`, `an entry of upstream "ha"`, ... */
function describeSource(source: string, kind: LeftOut['kind'], input: CatalogInput): string {
  if (source === 'hub') return `the hub's own ${kind}`;
  if (source === 'fleet') return 'a fleet tool';
  if (input.upstreams.some((u) => u.alias === source)) return `an entry of upstream "${source}"`;
  if (input.nodes.some((n) => n.name === source)) return `a tool of node "${source}" (perDeviceTools)`;
  return `a tool of the hub's ${source}`;
}

/**
 * Whether a URI is one filled in from a URI template (RFC 6570): each `{...}` expression matches
 * anything (but a line break), the rest literally. Enough to tell which upstream a filled-in URI
 * came from. Matched in linear time, each literal part at its leftmost place: a regular
 * expression with one `.*` per expression backtracks through every split of the URI, and a
 * client's long URI against a template with three expressions stalled the hub for minutes.
 *
 * @example templateMatcher('gh://{owner}/{repo}')('gh://a/b') // true
 */
export function templateMatcher(template: string): (uri: string) => boolean {
  const [first, ...rest] = template.split(/\{[^}]*\}/) as [string, ...string[]];
  return (uri) => {
    if (/[\n\r\u2028\u2029]/.test(uri) || !uri.startsWith(first)) return false;
    if (rest.length === 0) return uri.length === first.length;
    const last = rest[rest.length - 1]!;
    const end = uri.length - last.length;
    if (end < first.length || !uri.endsWith(last)) return false;
    let at = first.length;
    for (let i = 0; i < rest.length - 1; i++) {
      const found = uri.indexOf(rest[i]!, at);
      if (found < 0 || found + rest[i]!.length > end) return false;
      at = found + rest[i]!.length;
    }
    return true;
  };
}

/** Whether the 2025-era encoder rewrites this tool: an `outputSchema` whose root is not an object. */
function needsLegacyWrap(t: Tool): boolean {
  const o = t.outputSchema as unknown;
  return o !== null && typeof o === 'object' && !Array.isArray(o) && (o as { type?: unknown }).type !== 'object';
}

/** A tool as the 2026-07-28 encoder sends it: that era removed `execution`. */
function withoutExecution(t: Tool): Tool {
  if (!('execution' in t)) return t;
  const { execution: _dropped, ...rest } = t as Tool & { execution?: unknown };
  return rest as Tool;
}

function callOpts(ctx: CallContext, timeoutMs: number): SourceCallOptions {
  return { signal: ctx.signal, timeoutMs, onprogress: ctx.onprogress, ...(ctx.logLevel ? { logLevel: ctx.logLevel } : {}), ...(ctx.onlog ? { onlog: ctx.onlog } : {}) };
}

/** The caller's client, for what an upstream asks mid-request (sampling, elicitation, roots). */
function clientOpts(ctx: CallContext): Pick<SourceCallOptions, 'client' | 'resume'> {
  return { ...(ctx.client ? { client: ctx.client } : {}), ...(ctx.resume ? { resume: ctx.resume } : {}) };
}

/** Resource contents carry their URI: show the client the namespaced one it asked for. */
function relabel(r: ReadResourceResult, original: string, shown: string): ReadResourceResult {
  return { ...r, contents: r.contents.map((c) => (c.uri === original ? { ...c, uri: shown } : c)) };
}
