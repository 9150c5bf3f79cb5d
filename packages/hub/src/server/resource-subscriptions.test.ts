import { describe, expect, it } from 'vitest';
import type { Catalog } from '../catalog/catalog.ts';
import type { CatalogResource } from '../catalog/types.ts';
import { createResourceSubscriptions } from './resource-subscriptions.ts';

/** A catalog whose resources `a` and `b` are two names of one upstream resource, `plain` cannot be watched. */
function fakeCatalog(log: string[], refuse = false) {
  const watch = {
    key: 'up\u0000memo://x',
    subscribe: async () => {
      log.push('subscribe');
      if (refuse) throw new Error('refused upstream');
    },
    unsubscribe: async () => void log.push('unsubscribe'),
  };
  const resources: Record<string, CatalogResource> = {
    a: { def: { uri: 'a', name: 'a' }, source: 'up', read: async () => ({ contents: [] }), watch },
    b: { def: { uri: 'b', name: 'b' }, source: 'up', read: async () => ({ contents: [] }), watch },
    plain: { def: { uri: 'plain', name: 'plain' }, source: 'hub', read: async () => ({ contents: [] }) },
  };
  return { resource: (uri: string) => resources[uri] } as unknown as Catalog;
}

const signal = new AbortController().signal;

describe('createResourceSubscriptions', () => {
  it('holds one upstream subscription for every subscriber, and gives it back when the last leaves', async () => {
    const log: string[] = [];
    const subs = createResourceSubscriptions({ catalog: () => fakeCatalog(log) });
    const got: string[] = [];
    const s1 = {};
    const s2 = {};
    await subs.subscribe(s1, 'a', (u) => got.push(`s1:${u}`), signal);
    await subs.subscribe(s2, 'b', (u) => got.push(`s2:${u}`), signal);
    expect(log).toEqual(['subscribe']);
    subs.updated('up\u0000memo://x');
    subs.updated('up\u0000memo://other');
    // Each under the name it used.
    expect(got).toEqual(['s1:a', 's2:b']);
    await subs.unsubscribe(s1, 'a');
    expect(log).toEqual(['subscribe']);
    subs.drop(s2);
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['subscribe', 'unsubscribe']);
    expect(subs.held()).toEqual([]);
  });

  it('sends one notification per URI to a delivery shared by several subscribers (2026 streams share the bus)', async () => {
    const subs = createResourceSubscriptions({ catalog: () => fakeCatalog([]) });
    const got: string[] = [];
    const publish = (u: string) => void got.push(u);
    await subs.subscribe({}, 'a', publish, signal);
    await subs.subscribe({}, 'a', publish, signal);
    subs.updated('up\u0000memo://x');
    expect(got).toEqual(['a']);
  });

  it('refuses unknown and unwatchable resources, a subscriber over its bound, and relays an upstream refusal', async () => {
    const subs = createResourceSubscriptions({ catalog: () => fakeCatalog([]), maxPerSubscriber: 1 });
    const s = {};
    await expect(subs.subscribe(s, 'nope', () => {}, signal)).rejects.toMatchObject({ code: -32602, data: { uri: 'nope' } });
    await expect(subs.subscribe(s, 'plain', () => {}, signal)).rejects.toThrow(/cannot be subscribed to/);
    await subs.subscribe(s, 'a', () => {}, signal);
    await expect(subs.subscribe(s, 'b', () => {}, signal)).rejects.toMatchObject({ code: -32600, message: expect.stringMatching(/at most 1 resources per session/) });
    const failing = createResourceSubscriptions({ catalog: () => fakeCatalog([], true) });
    await expect(failing.subscribe({}, 'a', () => {}, signal)).rejects.toThrow('refused upstream');
    expect(failing.held()).toEqual([]);
  });

  it("bounds one user's subscriptions across its sessions and streams, and frees its quota as they leave", async () => {
    const subs = createResourceSubscriptions({ catalog: () => fakeCatalog([]), maxPerOwner: 2 });
    const [s1, s2, s3] = [{}, {}, {}];
    await subs.subscribe(s1, 'a', () => {}, signal, 'vic');
    await subs.subscribe(s2, 'b', () => {}, signal, 'vic');
    await expect(subs.subscribe(s3, 'a', () => {}, signal, 'vic')).rejects.toMatchObject({ code: -32600, message: expect.stringMatching(/at most 2 resources per user/) });
    // Another user is not held back by vic's.
    await subs.subscribe({}, 'a', () => {}, signal, 'alice');
    subs.drop(s1);
    await subs.subscribe(s3, 'a', () => {}, signal, 'vic');
    await subs.unsubscribe(s2, 'b');
    await subs.subscribe(s3, 'b', () => {}, signal, 'vic');
  });
});
