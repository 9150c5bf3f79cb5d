import { describe, expect, it } from 'vitest';
import { parseConfigText } from '@homelab-mcp/core/config';
import { freePort } from '@homelab-mcp/testkit';
import { HubConfigSchema, type HubConfig } from '../config/schema.ts';
import { configSecrets, createIntegrationSet, effectiveIntegrationsConfig, homeAssistantRestConfig, integrationCatalogTools, scrubSecrets } from './integration-set.ts';

const parse = (yaml: string, env: Record<string, string> = {}): HubConfig => parseConfigText(yaml, 'hub.yaml', HubConfigSchema, { env });
const log = { info() {}, warn() {}, error() {} };

describe('integrations config', () => {
  it('validates each integration with its own strict schema; secrets come from ${ENV}', () => {
    const c = parse('integrations:\n  prometheus:\n    url: http://prom:9090\n    headers: { Authorization: "Bearer ${PROM_TOKEN}" }\n', { PROM_TOKEN: 'tok123' });
    expect(c.integrations.prometheus).toEqual({ url: 'http://prom:9090', headers: { Authorization: 'Bearer tok123' }, timeoutMs: 15_000 });
    expect(() => parse('integrations:\n  prometheus:\n    url: http://prom:9090\n    urll: x\n')).toThrow(/integrations\.prometheus.*unknown key "urll"|unknown key "urll"/);
    expect(() => parse('integrations:\n  loki:\n    url: ftp://loki\n')).toThrow(/integrations\.loki\.url/);
    expect(() => parse('integrations:\n  grafana: {}\n')).toThrow(/grafana/);
    expect(parse('{}').integrations).toEqual({});
  });

  it('query_logs uses the audit Loki when integrations.loki is absent, and integrations.loki when present', () => {
    const auditOnly = parse('audit:\n  loki: { url: "http://audit-loki:3100", tenant: t1, headers: { X-Key: k } }\n');
    expect(effectiveIntegrationsConfig(auditOnly).loki).toEqual({ url: 'http://audit-loki:3100', tenant: 't1', headers: { 'X-Key': 'k' }, timeoutMs: 15_000 });
    const both = parse('audit:\n  loki: { url: "http://audit-loki:3100" }\nintegrations:\n  loki: { url: "http://logs:3100" }\n');
    expect(effectiveIntegrationsConfig(both).loki?.url).toBe('http://logs:3100');
    expect(effectiveIntegrationsConfig(parse('{}'))).toEqual({});
  });
});

describe('Home Assistant REST views', () => {
  it('one instance per home-assistant upstream or mcpServers entry, none without; the tools follow, the token is a secret', () => {
    const c = parse('upstreams:\n  ha: { type: home-assistant, url: "http://ha.lan:8123", token: "${HA}" }\n  other: { url: "http://x.lan/mcp" }\nmcpServers:\n  cabin: { type: home-assistant, url: "https://cabin.lan", token: tok-cabin-123 }\n', { HA: 'tok-ha-123456' });
    expect(homeAssistantRestConfig(c)).toEqual({
      instances: [
        { alias: 'ha', url: 'http://ha.lan:8123', token: 'tok-ha-123456', key: 'upstreams.ha' },
        { alias: 'cabin', url: 'https://cabin.lan', token: 'tok-cabin-123', key: 'mcpServers.cabin' },
      ],
      timeoutMs: 10_000,
    });
    expect(homeAssistantRestConfig(parse('upstreams:\n  other: { url: "http://x.lan/mcp" }\n'))).toBeUndefined();
    expect(configSecrets(homeAssistantRestConfig(c))).toEqual(expect.arrayContaining(['tok-ha-123456', 'tok-cabin-123']));
    const set = createIntegrationSet({ log, onHttpRequest() {} });
    set.apply(c);
    expect(set.tools().map((t) => [t.def.name, t.source, t.toolClass])).toEqual([
      ['ha_states', 'home-assistant', 'read'],
      ['ha_history', 'home-assistant', 'read'],
      ['ha_logbook', 'home-assistant', 'read'],
      ['ha_error_log', 'home-assistant', 'read'],
    ]);
    set.apply(parse('{}'));
    expect(set.tools()).toEqual([]);
    set.close();
  });
});

describe('createIntegrationSet', () => {
  it('sets up what is configured, keeps unchanged instances across applies, replaces changed ones and drops removed ones', () => {
    const set = createIntegrationSet({ log, onHttpRequest() {} });
    set.apply(parse('integrations:\n  prometheus: { url: "http://127.0.0.1:9" }\n'));
    expect(set.tools().map((t) => [t.def.name, t.source, t.toolClass])).toEqual([
      ['prom_query', 'prometheus', 'read'],
      ['prom_query_range', 'prometheus', 'read'],
      ['prom_alerts', 'prometheus', 'read'],
      ['prom_targets', 'prometheus', 'read'],
    ]);
    const prom = set.observability.prometheus;
    expect(prom?.host).toBe('127.0.0.1:9');
    expect(set.observability.loki).toBeUndefined();

    set.apply(parse('integrations:\n  prometheus: { url: "http://127.0.0.1:9" }\naudit:\n  loki: { url: "http://127.0.0.1:10" }\n'));
    expect(set.observability.prometheus).toBe(prom); // unchanged: the same instance
    expect(set.observability.loki?.host).toBe('127.0.0.1:10');
    expect(set.tools().map((t) => t.def.name)).toContain('query_logs');

    set.apply(parse('integrations:\n  prometheus: { url: "http://127.0.0.1:11" }\n'));
    expect(set.observability.prometheus?.host).toBe('127.0.0.1:11');
    expect(set.observability.loki).toBeUndefined();
    expect(set.instances().map((i) => i.name)).toEqual(['prometheus']);

    set.apply(parse('{}'));
    expect(set.tools()).toEqual([]);
    expect(set.observability).toEqual({});
  });

  it('names the integration in each reported request', async () => {
    const reports: Array<{ upstream: string; url: string; error?: string }> = [];
    const set = createIntegrationSet({ log, onHttpRequest: (r) => reports.push(r) });
    const port = await freePort(); // nothing listens: the request fails, and is still reported
    set.apply(parse(`integrations:\n  loki: { url: "http://127.0.0.1:${port}/loki-prefix" }\n`));
    const r = await set.tools()[0]!.call({ logql: '{job="x"}' }, { caller: { user: 'u', role: 'admin' }, session: 's', signal: AbortSignal.timeout(5000) });
    expect(r.isError).toBe(true);
    expect(reports).toEqual([expect.objectContaining({ upstream: 'loki', url: `http://127.0.0.1:${port}/loki-prefix/loki/api/v1/query_range`, error: 'connection refused' })]);
  });
});

describe('credentials in what an integration says', () => {
  it('are cut out of tool answers, previews and errors, in every form a service could echo them', async () => {
    const cfg = { url: 'https://pve:8006', tokenId: 'homelab@pve!mcp', token: 'uuid-secret-0123', headers: { Authorization: 'Bearer hdr-secret-4567' } };
    const secrets = configSecrets(cfg);
    expect(secrets).toEqual(expect.arrayContaining(['uuid-secret-0123', 'Bearer hdr-secret-4567', 'hdr-secret-4567', Buffer.from('uuid-secret-0123:token').toString('base64')]));
    expect(secrets).not.toContain('homelab@pve!mcp');
    // A user and password sent as Basic, at any depth (CUPS, Lyrion; a list of instances).
    const basic = configSecrets({ instances: [{ url: 'http://printer:631', user: 'printer-admin', password: 'cups-pass-999' }], username: 'lms', password: 'lms-pass-888' });
    expect(basic).toEqual(expect.arrayContaining([Buffer.from('printer-admin:cups-pass-999').toString('base64'), Buffer.from('lms:lms-pass-888').toString('base64')]));
    expect(configSecrets({ key: 'opn-key-0123', secret: 'opn-secret-4567' })).toContain(Buffer.from('opn-key-0123:opn-secret-4567').toString('base64'));
    // A service whose error page echoes the request's headers, quoted by the tool.
    const echo = 'proxy error; request had authorization: PVEAPIToken=homelab@pve!mcp=uuid-secret-0123 and Bearer hdr-secret-4567';
    const instance = {
      name: 'proxmox',
      tools: [{ def: { name: 'x', title: 'x', description: 'x', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } }, toolClass: 'read' as const, call: async () => ({ content: [{ type: 'text' as const, text: echo }], structuredContent: { error: echo }, isError: true }) }],
    };
    const [tool] = integrationCatalogTools(instance, secrets);
    const r = await tool!.call({}, { caller: { user: 'a', role: 'viewer' }, session: 's', signal: new AbortController().signal });
    expect(JSON.stringify(r)).not.toMatch(/uuid-secret-0123|hdr-secret-4567/);
    expect((r.content[0] as { text: string }).text).toBe('proxy error; request had authorization: PVEAPIToken=homelab@pve!mcp=[redacted] and [redacted]');
    expect(scrubSecrets({ a: ['x uuid-secret-0123 y'] }, secrets)).toEqual({ a: ['x [redacted] y'] });
  });

  it("a `key` is OPNsense's API key only beside a secret: Home Assistant's config location (upstreams.ha) is not cut from its messages", () => {
    const c = parse('upstreams:\n  cabin: { type: home-assistant, url: "http://ha.lan:8123", token: tok-cabin-123 }\n');
    const secrets = configSecrets(homeAssistantRestConfig(c));
    expect(secrets).toContain('tok-cabin-123');
    expect(secrets).not.toContain('upstreams.cabin');
    expect(scrubSecrets('Home Assistant cabin at ha.lan:8123 rejected the token (upstreams.cabin.token)', secrets)).toBe('Home Assistant cabin at ha.lan:8123 rejected the token (upstreams.cabin.token)');
    expect(configSecrets({ url: 'https://fw.lan', key: 'opn-key-0123456789', secret: 'opn-secret-9876543210' })).toContain('opn-key-0123456789');
  });

  it("are cut out of an answer's keys too: a service's value used as a key (ha_states counts states by name, OPNsense's validation fields)", async () => {
    const secrets = configSecrets({ instances: [{ alias: 'ha', url: 'http://ha.lan:8123', token: 'tok-ha-0123456789', key: 'upstreams.ha' }] });
    expect(scrubSecrets({ counts: { on: 3, 'pasted tok-ha-0123456789': 1 }, list: [{ ['tok-ha-0123456789']: 'x' }] }, secrets)).toEqual({ counts: { on: 3, 'pasted [redacted]': 1 }, list: [{ '[redacted]': 'x' }] });
    const instance = {
      name: 'home-assistant',
      tools: [{ def: { name: 'x', title: 'x', description: 'x', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } }, toolClass: 'read' as const, call: async () => ({ content: [{ type: 'text' as const, text: 'ok' }], structuredContent: { counts: { 'tok-ha-0123456789': 1 } } }) }],
    };
    const [tool] = integrationCatalogTools(instance, secrets);
    const r = await tool!.call({}, { caller: { user: 'a', role: 'viewer' }, session: 's', signal: new AbortController().signal });
    expect(JSON.stringify(r)).not.toContain('tok-ha-0123456789');
  });

  it('a long credential is cut out in part too: where a text cut short ends (or starts) inside it; words and short passwords are left alone', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.payload-0123456789.signature-abcdefghij';
    const secrets = configSecrets({ instances: [{ alias: 'ha', url: 'http://ha.lan', token, key: 'upstreams.ha' }], password: 'password12' });
    const ends = `proxy said: Bearer ${token.slice(0, 37)}`;
    expect(scrubSecrets(ends, secrets)).toBe('proxy said: Bearer [redacted]');
    expect(scrubSecrets(`${token.slice(25)} was the rest; and ${token} whole`, secrets)).toBe('[redacted] was the rest; and [redacted] whole');
    expect(scrubSecrets({ [`k ${token.slice(0, 12)}`]: [`${token.slice(0, 9)} is not enough`] }, secrets)).toEqual({ 'k [redacted]': [`${token.slice(0, 9)} is not enough`] });
    expect(scrubSecrets('the password is password12, my password', secrets)).toBe('the password is [redacted], my password');
  });

  it("a write's preview is scrubbed in its targets too (where names what the service said: a rule's interface)", async () => {
    const secrets = configSecrets({ url: 'https://fw.lan', key: 'opn-key-0123456789', secret: 'opn-secret-9876543210' });
    const instance = {
      name: 'opnsense',
      tools: [
        {
          def: { name: 'w', title: 'w', description: 'w', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false } },
          toolClass: 'write' as const,
          call: async () => ({ content: [{ type: 'text' as const, text: 'ok' }] }),
          preview: async () => ({ action: 'Disable rule on opn-secret-9876543210', where: ['opnsense/opn-secret-9876543210'] }),
        },
      ],
    };
    const [tool] = integrationCatalogTools(instance, secrets);
    const p = await tool!.preview!({});
    expect(p).toEqual({ tool: 'w', where: ['opnsense/[redacted]'], action: 'Disable rule on [redacted]', arguments: {} });
  });

  it('an API key and secret (OPNsense): both, and their Basic form, cut from answers and from what a write records for the audit', async () => {
    const secrets = configSecrets({ url: 'https://fw.lan', key: 'opn-key-0123456789', secret: 'opn-secret-9876543210' });
    const basic = Buffer.from('opn-key-0123456789:opn-secret-9876543210').toString('base64');
    expect(secrets).toEqual(expect.arrayContaining(['opn-key-0123456789', 'opn-secret-9876543210', basic]));
    const said = `echoed Basic ${basic} for opn-key-0123456789`;
    const instance = {
      name: 'opnsense',
      tools: [
        {
          def: { name: 'w', title: 'w', description: 'w', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false } },
          toolClass: 'write' as const,
          call: async (_a: Record<string, unknown>, ctx: { auditDetail?(d: Record<string, unknown>): void }) => {
            ctx.auditDetail?.({ uuid: 'u1', note: said });
            return { content: [{ type: 'text' as const, text: said }] };
          },
        },
      ],
    };
    const [tool] = integrationCatalogTools(instance, secrets);
    const details: Array<Record<string, unknown>> = [];
    const r = await tool!.call({}, { caller: { user: 'a', role: 'admin' }, session: 's', signal: new AbortController().signal, auditDetail: (d) => void details.push(d) });
    expect((r.content[0] as { text: string }).text).toBe('echoed Basic [redacted] for [redacted]');
    expect(details).toEqual([{ uuid: 'u1', note: 'echoed Basic [redacted] for [redacted]' }]);
  });
});
