/**
 * Attacks on the integrations of issue #17 through the bundled hub: what a person approves in a
 * preview is what runs, whatever changed on the service between the preview and the call; a
 * credential a service echoes is not given away piecemeal by the integration cutting it short.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, startFakeHaRest, startFakeOpnsense, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'attack17-hub-confirm-token-0123456789';
const auth = { tokens: [{ user: 'cory', role: 'operator', token: TOKEN }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };
const NAS = '0d1f5a3e-7c41-4b8e-9a55-2f6c1e0b7a01';

describe('issue 17 integrations under attack', () => {
  it('opnsense_toggle_rule: a confirmed call never does the opposite of its preview when the rule changed in between (no implicit flip)', { timeout: 60_000 }, async () => {
    await using opn = await startFakeOpnsense();
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, approval: { mode: 'confirm' }, integrations: { opnsense: { url: opn.url, key: '${OPNSENSE_KEY}', secret: '${OPNSENSE_SECRET}' } } },
      env: { OPNSENSE_KEY: opn.key, OPNSENSE_SECRET: opn.secret },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as Result;
    const rule = opn.rules.find((r) => r.uuid === NAS)!;
    expect(rule.enabled).toBe('1');

    // The model asks for the rule without saying which state: the person is shown a preview.
    const held = await call('opnsense_toggle_rule', { uuid: NAS });
    expect(held.structuredContent?.status).toBe('confirmation_required');
    const action = String(held.structuredContent?.preview?.action);
    // Meanwhile someone disables the rule in the GUI (or a second call of the model did).
    rule.enabled = '0';
    // The person approved what the preview said; the confirmed call must not turn the rule back on.
    const ran = await call('opnsense_toggle_rule', { uuid: NAS, confirm: held.structuredContent?.confirm });
    expect(rule.enabled).toBe('0');
    // A call without `enabled` is refused, preview included: nothing to flip either way.
    expect(action).toMatch(/argument "enabled" is required/);
    expect(opn.requests().filter((r) => r.path.includes('/toggle_rule/'))).toEqual([]);
    expect(ran.isError).toBe(true);
    expect(opn.unknown()).toEqual([]);
  });

  it('Home Assistant: a token echoed where the integration cuts a text short is not given away in part (the cut leaves a prefix the whole-token scrub misses)', { timeout: 60_000 }, async () => {
    const HA_TOKEN = 'ha-attack-token-eyJhbGciOiJIUzI1NiJ9.c2lnbmF0dXJlLXNlY3JldA';
    await using ha = await startFakeHaRest({
      token: HA_TOKEN,
      respond: (_m, url) => {
        // A proxy that quotes the request's headers in its error page; an entity named with the token.
        if (url.pathname === '/api/error_log') return { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `${'upstream failed; '.repeat(14)}request headers: Authorization: Bearer ${HA_TOKEN}` }) };
        if (url.pathname === '/api/states') return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ entity_id: 'input_text.note', state: `${'n'.repeat(220)}${HA_TOKEN}`, attributes: { friendly_name: `${'f'.repeat(170)}${HA_TOKEN}` } }]) };
        return undefined;
      },
    });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'vic', role: 'viewer', token: 'attack17-viewer-token-0123456789ab' }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: HA_TOKEN } } },
      noWaitForUpstreams: true,
    });
    await using client = await connectClient(hub.url, 'attack17-viewer-token-0123456789ab', 'modern');
    const log = (await client.callTool({ name: 'ha_error_log', arguments: {} })) as Result;
    const states = (await client.callTool({ name: 'ha_states', arguments: {} })) as Result;
    expect(log.isError).toBe(true);
    expect(log.content[0]!.text).toMatch(/request headers: Authorization: Bearer \[redacted\]$/);
    const said = JSON.stringify([log, states]);
    // Any 12 characters of the token in a row: the start (cut at the end of a text) and the end.
    for (const part of [HA_TOKEN.slice(0, 12), HA_TOKEN.slice(20, 32)]) expect(said).not.toContain(part);
    expect(JSON.stringify(readJournal(join(hub.dir, 'data')))).not.toContain(HA_TOKEN.slice(0, 12));
  });
});
