/**
 * The admin UI's access rules through the bundled hub, over plain HTTP (the browser test,
 * ui.e2e, drives Chromium): the Secure flag only when a trusted proxy says TLS, a cross-site
 * login refused by the Origin check, the failed-login budget shared with bearer tokens, and a
 * token removed by a config reload logging its browser sessions out.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'ui-admin-token-0123456789abcdef';
const OTHER = 'ui-other-token-0123456789abcdef';

const form = (token: string) => ({ method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' as const });

describe('admin UI over HTTP', () => {
  it('Secure only behind a trusted TLS proxy; cross-site logins refused; a removed token is logged out by a reload', { timeout: 60_000 }, async () => {
    const config = (tokens: Array<{ user: string; role: string; token: string }>) => ({ auth: { tokens }, local: { enabled: false }, trustedProxies: ['127.0.0.1'], limits: { authFailuresPerMinute: 3 } });
    await using hub = await startHubProcess({ config: config([{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'otto', role: 'operator', token: OTHER }]) });
    const ui = `${hub.base}/ui`;

    // The proxy (a trusted peer) says https: the cookie is Secure. Without the header it is not.
    const viaProxy = await fetch(`${ui}/login`, { ...form(ADMIN), headers: { ...form(ADMIN).headers, 'x-forwarded-proto': 'https' } });
    expect(viaProxy.status).toBe(303);
    expect(viaProxy.headers.get('set-cookie')).toMatch(/; Secure; SameSite=Strict$/);
    const plain = await fetch(`${ui}/login`, form(ADMIN));
    expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
    const cookie = plain.headers.get('set-cookie')!.split(';')[0]!;
    const health = await fetch(`${ui}/health`, { headers: { cookie } });
    expect(health.status).toBe(200);
    expect(health.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await health.text()).toContain('<main id="page-health"');

    // Another site's form posting to the hub: the Origin check refuses it before the login runs.
    const crossSite = await fetch(`${ui}/login`, { ...form(ADMIN), headers: { ...form(ADMIN).headers, origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('set-cookie')).toBeNull();

    // The operator logs in too; then the config drops their token: their next page is the login.
    const otto = (await fetch(`${ui}/login`, form(OTHER))).headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${ui}/tools`, { headers: { cookie: otto }, redirect: 'manual' })).status).toBe(200);
    const file = join(hub.dir, 'hub.yaml');
    writeFileSync(`${file}.tmp`, JSON.stringify({ dataDir: './data', ...config([{ user: 'ann', role: 'admin', token: ADMIN }]) }));
    renameSync(`${file}.tmp`, file);
    await expect.poll(() => hub.output(), { timeout: 15_000 }).toContain('"msg":"config reloaded"');
    const after = await fetch(`${ui}/tools`, { headers: { cookie: otto }, redirect: 'manual' });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/ui/login');
    expect((await fetch(`${ui}/tools`, { headers: { cookie }, redirect: 'manual' })).status).toBe(200);

    // Failed logins share the per-address budget of failed bearer tokens (3 a minute here).
    for (let i = 0; i < 3; i++) expect((await fetch(`${ui}/login`, form(`wrong-${i}`))).status).toBe(401);
    const throttled = await fetch(`${ui}/login`, form(ADMIN));
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('set-cookie')).toBeNull();
    expect((await fetch(hub.url, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{}' })).status).toBe(429);
    // Nothing of it logged a token.
    expect(hub.output()).not.toContain(ADMIN);
    expect(hub.output()).not.toContain('wrong-0');
  });
});
