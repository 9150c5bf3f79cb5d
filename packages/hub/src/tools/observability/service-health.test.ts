import { describe, expect, it } from 'vitest';
import { healthSummary, type HealthItem } from './service-health.ts';

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
