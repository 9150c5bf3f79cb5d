/**
 * The hub serves the edge agent: the one-line installer fetched from the hub installs the
 * bundle the hub serves, checked against the sha256 the hub wrote into it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EDGE_BUNDLE, HUB_BUNDLE, startHubProcess } from '@homelab-mcp/testkit';

/** The line the installer's closing hint says to paste under `nodes:` in hub.yaml. */
function pastedNodeLine(installerOutput: string): string {
  const at = installerOutput.indexOf('under nodes: in the hub');
  expect(at, installerOutput).toBeGreaterThan(0);
  const line = installerOutput.slice(at).split('\n').find((l) => l.startsWith('  - '));
  expect(line, installerOutput).toBeDefined();
  return line!;
}

/** `homelab-hub check-config` on a hub.yaml with `nodes:` holding `line`, as the person pastes it. */
async function checkPasted(dir: string, line: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const file = join(dir, 'hub.yaml');
  writeFileSync(file, `listen: 127.0.0.1:8765\nauth:\n  tokens:\n    - { user: alice, role: admin, token: "alice-token-0123456789abcdef" }\nnodes:\n${line}\n`);
  return new Promise((resolve) => {
    execFile(process.execPath, [HUB_BUNDLE, 'check-config', file], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

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
      // The closing hint is the exact hub.yaml entry: pasted under nodes:, with the token file
      // that step 1 of the hint writes beside hub.yaml, check-config passes.
      const line = pastedNodeLine(stdout);
      expect(stdout).not.toContain('topology.yaml');
      const tokenFile = /tokenFile: (secrets\/[A-Za-z0-9_-]+\.token) \}$/.exec(line)?.[1];
      expect(tokenFile, line).toBeDefined();
      expect(stdout).toContain(`sudo install -o homelab-hub -g homelab-hub -m 0600 /dev/stdin /etc/homelab-hub/${tokenFile}`);
      mkdirSync(join(root, 'secrets'));
      writeFileSync(join(root, tokenFile!), 'edge-token-0123456789abcdef\n', { mode: 0o600 });
      const checked = await checkPasted(root, line, {});
      expect(checked.code, checked.out).toBe(0);
      const installed = join(root, 'usr/local/lib/homelab-edge/homelab-edge.mjs');
      expect(readFileSync(installed).equals(bytes)).toBe(true);
      expect(statSync(join(root, 'etc/homelab-edge/token')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
