/**
 * cve_lookup's NVD rate limit, in process against the fake NVD with a clock the test moves: the
 * sixth request within 30 s (no API key) waits when a slot frees soon, and is refused with when
 * to retry otherwise, before NVD sees it (NVD itself would answer 403 and ban).
 */
import { describe, expect, it } from 'vitest';
import { createHttpClient } from '@homelab-mcp/core/http';
import { startFakeRegistries } from '@homelab-mcp/testkit';
import type { CallContext } from '../catalog/types.ts';
import { InternetConfigSchema } from './config.ts';
import { cveTools } from './cve.ts';
import type { InternetDeps } from './deps.ts';

const ctx = { caller: { user: 't', role: 'viewer' }, session: 's', signal: new AbortController().signal } as CallContext;
type Text = { content: Array<{ text: string }>; isError?: boolean };

function deps(endpoints: Record<string, string>, tokens: Record<string, string> = {}): InternetDeps {
  const config = InternetConfigSchema.parse({ endpoints, tokens });
  return { config: () => config, notify: () => undefined, http: createHttpClient(), onHttpRequest() {}, dataDir: '/nonexistent', hubListeners: () => [], piholeResolvers: () => ({}), log: { info() {}, warn() {} } };
}

describe('cve_lookup and NVD rate limit', () => {
  it('without a key: 5 requests per 30 s; the next waits for a slot that frees soon, or is refused with when to retry', async () => {
    let t = 0;
    await using reg = await startFakeRegistries({ now: () => t });
    const slept: number[] = [];
    const [tool] = cveTools(deps(reg.endpoints), { env: {}, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) });
    const call = async () => (await tool!.call({ cve_id: 'CVE-2021-44228' }, ctx)) as Text;
    for (let i = 0; i < 5; i++) {
      expect((await call()).content[0]!.text).toContain('CVSS 3.1 10 CRITICAL');
      t += 1000;
    }
    // 5 s after the first: its slot frees in 25 s, beyond the 10 s a call waits. NVD is not asked; OSV still answers.
    const refused = await call();
    expect(refused.isError).toBe(true);
    expect(refused.content[0]!.text).toBe(
      'cve_lookup: NVD: NVD not asked: its rate limit is 5 requests per 30 s without an API key (internet.tokens.nvd or NVD_API_KEY raises it to 50); retry in 25 s\nOSV has no record of CVE-2021-44228.',
    );
    expect(reg.requests('nvd')).toHaveLength(5);
    expect(slept).toEqual([]);
    // 22 s after the first: a slot frees in 8 s, so the call waits for it and NVD answers.
    t += 17_000;
    expect((await call()).content[0]!.text).toContain('CVSS 3.1 10 CRITICAL');
    expect(slept).toEqual([8000]);
    expect(reg.requests('nvd')).toHaveLength(6);
    expect(reg.requests('nvd').every((r) => r.status === 200)).toBe(true);
    expect(reg.unknown()).toEqual([]);
  });

  it('with a key (internet.tokens.nvd): 50 per 30 s, and the key is sent as the apiKey header', async () => {
    await using reg = await startFakeRegistries({ tokens: { nvd: 'nvd-key-0123456789' } });
    const t = 0;
    const [tool] = cveTools(deps(reg.endpoints, { nvd: 'nvd-key-0123456789' }), { env: {}, now: () => t, sleep: async () => {} });
    for (let i = 0; i < 6; i++) expect(((await tool!.call({ cve_id: 'CVE-2021-44228' }, ctx)) as Text).isError).toBeFalsy();
    expect(reg.requests('nvd').map((r) => r.auth)).toEqual(Array(6).fill('ok'));
  });
});
