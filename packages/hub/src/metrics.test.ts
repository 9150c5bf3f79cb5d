import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('metrics', () => {
  it('shows the audit backlog and the age of its oldest event only when audit.loki is set', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    let stats: { backlogBytes: number; oldestUnshippedAt?: string } | undefined = { backlogBytes: 5000, oldestUnshippedAt: '2026-12-07T09:58:30Z' };
    const m = createMetrics({ auditShipping: () => stats, now: () => now });
    expect(m.render([])).toContain('homelab_hub_audit_backlog_bytes 5000\n');
    expect(m.render([])).toContain('homelab_hub_audit_oldest_unshipped_age_seconds 90\n');
    stats = { backlogBytes: 0 };
    expect(m.render([])).toContain('homelab_hub_audit_oldest_unshipped_age_seconds 0\n');
    stats = undefined;
    expect(m.render([])).not.toContain('homelab_hub_audit');
    expect(createMetrics().render([])).not.toContain('homelab_hub_audit');
  });
});
