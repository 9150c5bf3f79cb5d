import { describe, expect, it } from 'vitest';
import { isAlive } from './process.ts';
import { startPrometheus } from './prometheus.ts';

describe('startPrometheus', () => {
  it('runs the real Prometheus on loopback: ready, the rule fires, it scrapes itself; stop ends the process', { timeout: 60_000 }, async () => {
    const prom = await startPrometheus({ rules: [{ alert: 'AlwaysFiring', expr: 'vector(1)', labels: { severity: 'warning' } }] });
    try {
      expect(prom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      let alerts: Array<{ labels: Record<string, string>; state: string }> = [];
      for (let i = 0; i < 100 && !alerts.some((a) => a.state === 'firing'); i++) {
        alerts = ((await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as { data: { alerts: typeof alerts } }).data.alerts;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(alerts).toContainEqual(expect.objectContaining({ state: 'firing', labels: { alertname: 'AlwaysFiring', severity: 'warning' } }));
      // Service discovery hands targets over only every ~5 s.
      let scrapeUrls: string[] = [];
      for (let i = 0; i < 150 && scrapeUrls.length === 0; i++) {
        const body = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string }> } };
        scrapeUrls = body.data.activeTargets.map((t) => t.scrapeUrl);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(scrapeUrls).toEqual([`${prom.url}/metrics`]);
    } finally {
      await prom.stop();
    }
    expect(isAlive(prom.pid)).toBe(false);
    await expect(fetch(`${prom.url}/-/ready`)).rejects.toThrow();
  });
});
