import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakePbs, type FakePbs } from '@homelab-mcp/testkit';
import { PbsConfigSchema, pbsIntegration, type PbsInstance } from './index.ts';

const ID = 'homelab@pbs!mcp';
const SECRET = 'pbs-secret-0123-4567-89ab';
let pbs: FakePbs;
let inst: PbsInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const setup = (over: Record<string, unknown> = {}) => pbsIntegration.setup(PbsConfigSchema.parse({ url: pbs.url, tokenId: ID, token: SECRET, fingerprint: pbs.fingerprint, ...over }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });

beforeAll(async () => {
  pbs = await startFakePbs({ tokenId: ID, secret: SECRET });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await pbs?.stop();
});
afterEach(() => expect(pbs.unknown()).toEqual([]));

const call = (name: string, args: Record<string, unknown> = {}, i = inst) => i.tools.find((t) => t.def.name === name)!.call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('pbs (fake Proxmox Backup Server over HTTPS, pinned)', () => {
  it('pbs_datastores: usage, when full, last GC (failed here) and verify (running)', async () => {
    const t = text(await call('pbs_datastores'));
    expect(t).toMatch(/^- store1: 90% used \(3600 GB of 4000 GB\), full around \d{4}-\d\d-\d\d; GC failed: unable to acquire lock on chunk store - EAGAIN 10 min ago|^- store1: 90% used \(3600 GB of 4000 GB\), full around \d{4}-\d\d-\d\d; GC failed: unable to acquire lock on chunk store - EAGAIN 0 h ago/);
    expect(t).toContain('verify running since 0 h ago');
    expect(t).toContain('- store2: 10% used (100 GB of 1000 GB); GC none seen; verify none seen');
  });

  it('pbs_backups: stale and failed-verify guests first, one line per guest', async () => {
    const r = await call('pbs_backups');
    const lines = text(r).split('\n');
    expect(lines[0]).toMatch(/^- vm\/102 \(nextcloud\) on store1: last 9\.0 days ago \[none in 2 days\], verify not verified, 1 snapshot$/);
    // A guest backed up into a namespace is seen too (here: stale).
    expect(lines[1]).toMatch(/^- ct\/30004 \(zigbee2mqtt\) on store1\/pve2: last 3\.0 days ago \[none in 2 days\], verify not verified, 1 snapshot$/);
    expect(lines[2]).toMatch(/^- ct\/101 \(n8n\) on store1: last 2 h ago, verify failed \[!\], 1 snapshot$/);
    expect(text(r)).toMatch(/- vm\/100 \(homeassistant\) on store1: last 1 h ago, verify ok, 2 snapshots$/m);
    expect(text(await call('pbs_backups', { guest: 'n8n' }))).toBe('- ct/101 (n8n) on store1: last 2 h ago, verify failed [!], 1 snapshot');
    expect(text(await call('pbs_backups', { guest: '999' }))).toBe('no backup of 999 on store1, store2');
  });

  it('pbs_tasks: failed first with the end of its log', async () => {
    const t = text(await call('pbs_tasks', { state: 'failed' }));
    expect(t).toMatch(/^- garbage_collection store1 (10 min|0 h) ago: unable to acquire lock on chunk store - EAGAIN\n {4}starting garbage_collection on store1\n {4}TASK ERROR: unable to acquire lock on chunk store - EAGAIN$/);
  });

  it('diagnose: the backups of the guest a service runs in, a stale or failed one as a warning with what to do', async () => {
    const sig = { signal: new AbortController().signal }.signal;
    expect(await inst.diagnose!({ name: 'cloud', node: 'nextcloud' }, sig)).toMatchObject([{ check: 'pbs backups', status: 'warning', detail: expect.stringMatching(/^the last backup of vm\/102 \(nextcloud\) on store1 is from \d{4}-.*, verify not verified: none in 2 days$/), suggestion: expect.stringContaining('No recent backup of nextcloud') }]);
    expect(await inst.diagnose!({ name: 'homeassistant', node: 'x' }, sig)).toMatchObject([{ status: 'ok' }]);
    expect(await inst.diagnose!({ name: 'unrelated', node: 'y' }, sig)).toEqual([]);
  });

  it('health names every problem; the PVE token form (=) is refused by its key', async () => {
    const h = await inst.health!(new AbortController().signal);
    expect(h.ok).toBe(false);
    expect(h.detail).toBe('2 datastores (store1 90%, store2 10%), 5 backup groups');
    expect(h.problems).toEqual(['PBS: no backup of vm/102 (nextcloud) in 2 days', 'PBS: no backup of ct/30004 (zigbee2mqtt) in 2 days', 'PBS: the last backup of ct/101 (n8n) failed verification', 'PBS: garbage_collection store1 failed: unable to acquire lock on chunk store - EAGAIN', 'PBS: datastore store1 is 90% full']);
    const wrong = setup({ token: 'wrong-pbs-secret' });
    try {
      expect(text(await call('pbs_datastores', {}, wrong))).toBe(`Proxmox Backup Server at ${pbs.host} rejected the API token (integrations.pbs.token)`);
      expect(JSON.stringify([logs, reports])).not.toContain('wrong-pbs-secret');
    } finally {
      await wrong.close?.();
    }
  });
});
