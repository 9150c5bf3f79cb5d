/**
 * The hub serves the edge agent: the one-line installer fetched from the hub installs the
 * bundle the hub serves, checked against the sha256 the hub wrote into it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EDGE_BUNDLE, startHubProcess } from '@homelab-mcp/testkit';

describe('edge distribution', () => {
  it('serves the bundle and an installer that installs it with one line', async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'a', role: 'admin', token: 'dist-token-0123456789abcdef' }] }, local: { enabled: false } } });
    const bundle = await fetch(`${hub.base}/edge/homelab-edge.mjs`);
    expect(bundle.status).toBe(200);
    const bytes = Buffer.from(await bundle.arrayBuffer());
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(bytes.equals(readFileSync(EDGE_BUNDLE))).toBe(true);
    expect(bundle.headers.get('x-sha256')).toBe(sha);

    const script = await (await fetch(`${hub.base}/edge/install.sh`)).text();
    expect(script).toContain(`DEFAULT_HUB='${hub.base}'`);
    expect(script).toContain(`DEFAULT_SHA256='${sha}'`);

    // As a user runs it, minus root: `curl ... | sh -s -- --token T`, into a scratch root.
    const root = mkdtempSync(join(tmpdir(), 'edge-install-'));
    try {
      const scriptFile = join(root, 'install.sh');
      writeFileSync(scriptFile, script);
      const { stdout } = await promisify(execFile)('sh', ['-c', `cat "${scriptFile}" | sh -s -- --token edge-token-0123456789abcdef --root "${root}"`]);
      expect(stdout).not.toContain('edge-token-0123456789abcdef');
      const installed = join(root, 'usr/local/lib/homelab-edge/homelab-edge.mjs');
      expect(readFileSync(installed).equals(bytes)).toBe(true);
      expect(statSync(join(root, 'etc/homelab-edge/token')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
