/**
 * run_diagnostic with the n8n, NetBox and Graylog integrations, through the bundled hub against
 * the testkit's fakes: the service that is n8n gets its failed executions, the one that is
 * Graylog its indexing failures and urgent notification, and a service on a node NetBox
 * documents as offline says so; a service none of them knows gets none of their findings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, startFakeGraylog, startFakeN8n, startFakeNetbox, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'apps-admin-token-0123456789abcdef';
const N8N_KEY = 'n8n_api_views_0123456789abcdef';
const NB = '0123456789abcdef0123456789abcdef01234567';
const GL = 'views-graylog-token-0123456789abcdef';
type Diagnosis = { findings: Array<{ check: string; status: string; detail: string }>; suggestions: string[] };

describe('run_diagnostic asks n8n, NetBox and Graylog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-views-apps-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('n8n failures, Graylog problems and a node NetBox documents as offline, each for its own service', { timeout: 120_000 }, async () => {
    await using n8n = await startFakeN8n({ apiKey: N8N_KEY });
    await using nb = await startFakeNetbox({ tokens: [NB] });
    await using gl = await startFakeGraylog({ token: GL });
    const topology = join(dir, 'topology.yaml');
    writeFileSync(
      topology,
      [
        'nodes:',
        '  - { name: docker1, addresses: [127.0.0.1] }',
        '  - { name: pve4, addresses: [127.0.0.1] }',
        'services:',
        `  - { name: automation, node: docker1, url: "${n8n.url}/home/workflows" }`,
        `  - { name: graylog, node: docker1, url: "${gl.url}/" }`,
        '  - { name: backup, node: pve4 }',
        '',
      ].join('\n'),
    );
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
        local: { enabled: false },
        topology: { file: topology },
        integrations: { n8n: { url: n8n.url, apiKey: N8N_KEY }, netbox: { url: nb.url, token: NB }, graylog: { url: gl.url, token: GL } },
      },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const diagnose = async (service: string) => ((await client.callTool({ name: 'run_diagnostic', arguments: { service } })) as { structuredContent: Diagnosis }).structuredContent;
    const ours = (d: Diagnosis) => d.findings.filter((f) => ['n8n', 'netbox', 'graylog'].includes(f.check));

    const automation = await diagnose('automation');
    expect(ours(automation)).toEqual([{ check: 'n8n', status: 'problem', detail: "n8n API answers; 2 failed executions in 24 h ('Backup notify', 'Nightly DB dump')" }]);
    expect(automation.suggestions).toContain('n8n_executions shows each failure with the node and message it failed on.');

    const logs = await diagnose('graylog');
    expect(ours(logs)).toEqual([{ check: 'graylog', status: 'problem', detail: 'Graylog API answers; 42 msg/s, indexer green, 2 indexing failures in 24 h: 2 Graylog indexing failures in the last 24 h; Graylog notification: no input running' }]);
    expect(logs.suggestions).toContain('graylog_overview shows the cluster; a yellow or red indexer means OpenSearch lost shards or disk space.');

    const backup = await diagnose('backup');
    expect(ours(backup)).toEqual([{ check: 'netbox', status: 'warning', detail: 'NetBox documents pve4 as a device at site Garage, status offline, primary IP 10.0.20.13/24, not active: being retired or replaced, or NetBox is out of date' }]);
    // The services NetBox knows no node of, and n8n and Graylog not named nor at their URL, get nothing from them.
    expect(ours(automation).map((f) => f.check)).toEqual(['n8n']);
    expect(ours(logs).map((f) => f.check)).toEqual(['graylog']);

    // run_diagnostic's own HTTP check fetches the services' web pages, which the fakes do not serve; their APIs knew every request.
    const api = (q: { path: string }) => q.path.startsWith('/api/');
    expect(n8n.unknown().filter(api)).toEqual([]);
    expect(nb.unknown()).toEqual([]);
    expect(gl.unknown().filter(api)).toEqual([]);
  });
});
