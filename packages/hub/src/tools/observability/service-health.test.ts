import { describe, expect, it } from 'vitest';
import type { HubNode, SourceState } from '../../catalog/nodes.ts';
import type { ObservabilityDeps, Topology, TopologyService } from './deps.ts';
import { collectHealth, healthSummary, type HealthItem } from './service-health.ts';

describe('healthSummary', () => {
  it('counts, then names firing alerts and each unhealthy item', () => {
    const items: HealthItem[] = [
      { kind: 'node', name: 'local', healthy: true, detail: 'up' },
      { kind: 'node', name: 'pi-kitchen', healthy: false, detail: 'unreachable since 10:42:05Z (connection refused)' },
      { kind: 'service', name: 'grafana', healthy: false, detail: '127.0.0.1:3000 does not accept connections (connection refused)' },
      { kind: 'integration', name: 'Prometheus', healthy: true, detail: '2 alerts firing' },
    ];
    expect(healthSummary(items, [{ name: 'AlwaysFiring' }, { name: 'TargetDown' }])).toBe(
      '2 of 4 healthy; Prometheus: 2 alerts firing (AlwaysFiring, TargetDown); pi-kitchen unreachable since 10:42:05Z (connection refused); grafana unhealthy: 127.0.0.1:3000 does not accept connections (connection refused)',
    );
  });

  it('is short when all is well', () => {
    expect(healthSummary([{ kind: 'node', name: 'local', healthy: true, detail: 'up' }], [])).toBe('1 of 1 healthy');
  });
});

const NOW = new Date('2026-11-21T10:45:00Z');
const LOST = new Date('2026-11-21T10:42:05Z');

/** A node whose state() answers from `states` in turn (the last one repeats): an edge dying while it is looked at. */
function nodeWithStates(name: string, states: SourceState[]): HubNode & { reads(): number } {
  let reads = 0;
  return {
    name,
    roles: [],
    url: 'http://192.0.2.7:8765/mcp',
    reads: () => reads,
    source: {
      state: () => states[Math.min(reads++, states.length - 1)]!,
      tools: () => [],
      callTool: async () => ({ content: [{ type: 'text', text: 'unreachable' }], isError: true }),
    },
  };
}

function depsWith(nodes: HubNode[], services: TopologyService[]): ObservabilityDeps {
  const topology: Topology = {
    findService: (n) => services.find((s) => s.name === n),
    findNode: () => undefined,
    services: () => services,
    nodes: () => [],
    summary: () => '',
    refresh: async () => undefined,
    onChange: () => () => undefined,
    close: () => undefined,
  };
  return {
    nodes: () => nodes,
    upstreams: () => [],
    topology: () => topology,
    prometheus: () => undefined,
    loki: () => undefined,
    probes: {
      checkPort: async (o) => ({ host: o.host, port: o.port, open: false, error: 'connection refused' }),
      pingHost: async () => ({ reachable: false }) as never,
      probeHttp: async () => ({ ok: false }) as never,
    },
    callTimeoutMs: () => 1000,
    now: () => NOW,
  };
}

const signal = new AbortController().signal;
const item = (items: HealthItem[], kind: HealthItem['kind'], name: string) => items.find((i) => i.kind === kind && i.name === name)!;

describe('collectHealth', () => {
  it('words a node the same in its own line and in its services\' lines, even when its state changes during the call', async () => {
    // The edge broke (reconnecting, with the error), then the reconnect failed (down).
    const pi = nodeWithStates('pi-b', [
      { status: 'connecting', since: LOST, lastError: 'connection refused' },
      { status: 'down', since: new Date('2026-11-21T10:42:07Z'), lastError: 'connection refused' },
    ]);
    const { items } = await collectHealth(depsWith([pi], [{ name: 'mqtt', node: 'pi-b', ports: [], unit: 'mosquitto.service', dependsOn: [] }]), signal);
    expect(item(items, 'node', 'pi-b').detail).toBe('unreachable since 10:42:05Z (connection refused)');
    expect(item(items, 'service', 'mqtt')).toMatchObject({ healthy: false, detail: 'node pi-b is unreachable since 10:42:05Z (connection refused)' });
    expect(pi.reads()).toBe(1);
  });

  it('says "connecting" only for a first attempt that has not failed yet', async () => {
    const pi = nodeWithStates('pi-c', [{ status: 'connecting', since: LOST }]);
    const { items } = await collectHealth(depsWith([pi], []), signal);
    expect(item(items, 'node', 'pi-c').detail).toBe('connecting since 10:42:05Z');
  });

  it('says what a service with only UDP ports was checked by: its node being up, not "healthy"', async () => {
    const pi = nodeWithStates('pi-b', [{ status: 'up', since: LOST }]);
    const services: TopologyService[] = [
      { name: 'dns', node: 'pi-b', ports: [{ port: 53, protocol: 'udp' }], dependsOn: [] },
      { name: 'bare', node: 'pi-b', ports: [], dependsOn: [] },
      { name: 'orphan', node: 'nas', ports: [{ port: 123, protocol: 'udp' }], dependsOn: [] },
    ];
    const { items } = await collectHealth(depsWith([pi], services), signal);
    expect(item(items, 'service', 'dns')).toMatchObject({ healthy: true, detail: 'healthy only as far as its node pi-b is up; 53/udp is not probed from the hub (UDP has no handshake)' });
    expect(item(items, 'service', 'bare').detail).toBe('healthy only as far as its node pi-b is up; it declares no unit, container, TCP port or URL to check');
    expect(item(items, 'service', 'orphan').detail).toBe('not checked: node nas has no edge agent behind the hub; 123/udp is not probed from the hub (UDP has no handshake)');
    expect(healthSummary(items, [])).toBe('4 of 4 healthy');
  });
});
