/**
 * Who is subscribed to which resource, across the hub's clients: 2025 sessions
 * (`resources/subscribe`) and 2026-07-28 `subscriptions/listen` streams. The hub holds one
 * subscription per resource at its upstream, taken for the first subscriber and given back
 * when the last one leaves (unsubscribes, or its session or stream ends), and passes each
 * `notifications/resources/updated` of the upstream to exactly the subscribers of that
 * resource, under the URI each of them used (the hub's name for it, not the upstream's).
 *
 * @example
 * const subs = createResourceSubscriptions({ catalog: () => catalog });
 * await subs.subscribe(session, 'ha+memo://notes', (uri) => server.sendResourceUpdated({ uri }), signal);
 * upstream.onResourceUpdated((uri) => subs.updated(`ha\u0000${uri}`));
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Catalog } from '../catalog/catalog.ts';
import type { ResourceWatch } from '../catalog/types.ts';

/** Resources one session (or one listen stream) may be subscribed to at once. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 100;
/**
 * Subscriptions one user may hold at once across all its sessions and listen streams. Each
 * distinct resource is a subscription the hub holds at its upstream (a 2026-07-28 upstream: one
 * open listen stream), and a URI under an upstream's prefix or template need not be listed, so
 * without this one token could make the hub hold thousands of upstream connections by opening
 * more sessions or streams.
 */
export const MAX_SUBSCRIPTIONS_PER_USER = 256;

/** Tells one subscriber that the resource it knows as `uri` changed. */
export type Deliver = (uri: string) => void;

export interface ResourceSubscriptions {
  /**
   * Subscribes `subscriber` (any object standing for a session or stream) to `uri`, as the
   * client named it. Rejects with a JSON-RPC error for an unknown resource, one whose upstream
   * cannot announce changes, a session or user over its limit, or the upstream's own refusal.
   * `owner` (the caller's user) counts against {@link MAX_SUBSCRIPTIONS_PER_USER}.
   */
  subscribe(subscriber: object, uri: string, deliver: Deliver, signal: AbortSignal, owner?: string): Promise<void>;
  /** Ends one subscription; resolves when the upstream was told (if it was the last). */
  unsubscribe(subscriber: object, uri: string): Promise<void>;
  /** Ends every subscription of `subscriber` (its session closed, its stream ended). */
  drop(subscriber: object): void;
  /** The upstream announced a change of the resource it knows by `key` (see ResourceWatch). */
  updated(key: string): void;
  /** Subscriptions held at upstreams (for tests and the UI). */
  held(): string[];
}

interface Held {
  watch: ResourceWatch;
  /** subscriber -> the URIs by which it subscribed to this resource, each with its deliver. */
  by: Map<object, Map<string, Deliver>>;
  /** The upstream subscribe in flight or done: later subscribers wait on it. */
  ready: Promise<void>;
}

export interface ResourceSubscriptionsOptions {
  catalog: () => Catalog;
  maxPerSubscriber?: number;
  maxPerOwner?: number;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

export function createResourceSubscriptions(opts: ResourceSubscriptionsOptions): ResourceSubscriptions {
  const max = opts.maxPerSubscriber ?? MAX_SUBSCRIPTIONS_PER_SESSION;
  const maxPerOwner = opts.maxPerOwner ?? MAX_SUBSCRIPTIONS_PER_USER;
  /** subscriber -> its owner (the user), set at its first subscription. */
  const ownerOf = new WeakMap<object, string>();
  /** owner -> subscriptions it holds (subscriber and URI pairs). */
  const perOwner = new Map<string, number>();
  const count = (subscriber: object, delta: number) => {
    const owner = ownerOf.get(subscriber);
    if (owner === undefined) return;
    const n = (perOwner.get(owner) ?? 0) + delta;
    if (n > 0) perOwner.set(owner, n);
    else perOwner.delete(owner);
  };
  const held = new Map<string, Held>();
  /** subscriber -> client URI -> key of the resource at its upstream. */
  const bySubscriber = new Map<object, Map<string, string>>();

  function release(subscriber: object, uri: string): Promise<void> {
    const mine = bySubscriber.get(subscriber);
    const key = mine?.get(uri);
    if (!mine || key === undefined) return Promise.resolve();
    mine.delete(uri);
    count(subscriber, -1);
    if (mine.size === 0) bySubscriber.delete(subscriber);
    const h = held.get(key);
    if (!h) return Promise.resolve();
    const uris = h.by.get(subscriber);
    uris?.delete(uri);
    if (uris?.size === 0) h.by.delete(subscriber);
    if (h.by.size > 0) return Promise.resolve();
    // The last subscriber left: the upstream can stop announcing.
    held.delete(key);
    return h.ready.then(
      () => h.watch.unsubscribe(),
      () => undefined,
    );
  }

  return {
    async subscribe(subscriber, uri, deliver, signal, owner) {
      const mine = bySubscriber.get(subscriber);
      if (mine?.has(uri)) return;
      const resource = opts.catalog().resource(uri);
      if (!resource) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource ${uri} not found`, { uri });
      const watch = resource.watch;
      if (!watch) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource ${uri} cannot be subscribed to: its server is down or does not announce changes`);
      if ((mine?.size ?? 0) >= max) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Too many subscriptions: at most ${max} resources per session (unsubscribe from some first)`);
      if (owner !== undefined && !ownerOf.has(subscriber)) ownerOf.set(subscriber, owner);
      const who = ownerOf.get(subscriber);
      if (who !== undefined && (perOwner.get(who) ?? 0) >= maxPerOwner) {
        throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Too many subscriptions: at most ${maxPerOwner} resources per user across all sessions and streams (unsubscribe from some, or close other sessions, first)`);
      }
      const map = mine ?? new Map<string, string>();
      bySubscriber.set(subscriber, map);
      map.set(uri, watch.key);
      count(subscriber, 1);
      let h = held.get(watch.key);
      if (!h) {
        h = { watch, by: new Map(), ready: watch.subscribe({ signal }) };
        held.set(watch.key, h);
      }
      const uris = h.by.get(subscriber) ?? new Map<string, Deliver>();
      h.by.set(subscriber, uris);
      uris.set(uri, deliver);
      try {
        await h.ready;
      } catch (err) {
        // Refused upstream: nobody holds it (a later subscriber asks again).
        if (held.get(watch.key) === h) held.delete(watch.key);
        if (map.delete(uri)) count(subscriber, -1);
        if (map.size === 0) bySubscriber.delete(subscriber);
        throw err;
      }
    },
    unsubscribe: release,
    drop(subscriber) {
      const mine = bySubscriber.get(subscriber);
      if (!mine) return;
      for (const uri of [...mine.keys()]) {
        void release(subscriber, uri).catch((err: unknown) => opts.log?.warn({ uri, err: err instanceof Error ? err.message : String(err) }, 'unsubscribing upstream failed'));
      }
    },
    updated(key) {
      const h = held.get(key);
      if (!h) return;
      // One notification per subscriber and URI, even when several subscribers share one
      // delivery (2026-07-28 streams all publish on the same bus).
      const sent = new Map<Deliver, Set<string>>();
      for (const uris of h.by.values()) {
        for (const [uri, deliver] of uris) {
          const done = sent.get(deliver) ?? new Set<string>();
          sent.set(deliver, done);
          if (done.has(uri)) continue;
          done.add(uri);
          try {
            deliver(uri);
          } catch {
            // a closed session: its close drops it
          }
        }
      }
    },
    held: () => [...held.keys()],
  };
}
