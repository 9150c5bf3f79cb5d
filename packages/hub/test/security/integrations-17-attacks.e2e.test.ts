/**
 * Attacks on the integrations of issue #17 through the bundled hub: what a person approves in a
 * preview is what runs, whatever changed on the service between the preview and the call.
 */
import { describe, expect, it } from 'vitest';
import { connectClient, startFakeOpnsense, startHubProcess } from '@homelab-mcp/testkit';

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
});
