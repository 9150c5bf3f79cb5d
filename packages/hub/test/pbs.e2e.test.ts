/**
 * The Proxmox Backup Server integration through the bundled hub, with an SDK client, against
 * the fake PBS of the testkit (HTTPS, self-signed, pinned; the token from the environment): a
 * viewer reads datastores, backups and tasks; service_health names the stale guest, the failed
 * verify and the failed GC; every request is audited without the token.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startFakePbs, startHubProcess } from '@homelab-mcp/testkit';

const VIEWER = 'pbs-viewer-token-0123456789abcdef';
const ID = 'homelab@pbs!mcp';
const SECRET = 'pbs-hub-secret-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Proxmox Backup Server through the hub', () => {
  it('reads for a viewer, a service_health line with every problem, audited without the token', { timeout: 120_000 }, async () => {
    await using pbs = await startFakePbs({ tokenId: ID, secret: SECRET });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, integrations: { pbs: { url: pbs.url, tokenId: ID, token: '${PBS_TOKEN}', fingerprint: pbs.fingerprint } } },
      env: { PBS_TOKEN: SECRET },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const tools = (await client.listTools()).tools.filter((t) => t.name.startsWith('pbs_'));
    expect(tools.map((t) => t.name).sort()).toEqual(['pbs_backups', 'pbs_datastores', 'pbs_tasks']);
    expect(resultText((await client.callTool({ name: 'pbs_backups', arguments: {} })) as Result).split('\n')[0]).toMatch(/^- vm\/102 \(nextcloud\) on store1: last 9\.0 days ago \[none in 2 days\]/);
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    const line = health.structuredContent!.items.find((i: { name: string }) => i.name === 'Proxmox Backup Server');
    expect(line).toMatchObject({ healthy: false });
    expect(line.detail).toContain('PBS: no backup of vm/102 (nextcloud) in 2 days; PBS: no backup of ct/30004 (zigbee2mqtt) in 2 days; PBS: the last backup of ct/101 (n8n) failed verification');
    const events = readJournal(join(hub.dir, 'data'));
    expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'pbs').map((e) => e.detail.url)).toContain(`${pbs.url}/api2/json/status/datastore-usage`);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(hub.output()).not.toContain(SECRET);
    expect(pbs.unknown()).toEqual([]);
  });
});
