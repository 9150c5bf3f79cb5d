/**
 * Keeping edges current, through the bundled hub and real edge processes: an edge running an
 * older bundle is marked outdated by list_nodes; update_edges pushes the hub's bundle and
 * installer through the edge's own tools and runs `install-edge.sh --upgrade`, and reports
 * `before -> after` once the edge answers as the new version, or that it did not come back.
 *
 * No systemd runs here, so each edge runs as root in a private mount namespace (overlays over
 * /etc and /usr/local, a tmpfs /run with /run/systemd/system): it is installed by the real
 * installer on the real paths, and `systemctl` there is a script that tells this test what it
 * was asked. On `restart homelab-edge.service` the test does what systemd would: stops that edge
 * and starts it again on the same port from /usr/local/lib/homelab-edge/homelab-edge.mjs, the
 * bundle the installer wrote (for `gone`, it never starts it again).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, EDGE_BUNDLE, resultText, spawnListening, startHubProcess, type ListeningProcess } from '@homelab-mcp/testkit';

const ADMIN = 'upd-admin-token-0123456789abcdef';
const VIEWER = 'upd-viewer-token-0123456789abcde';
const SCRIPT = fileURLToPath(new URL('../../../deploy/install-edge.sh', import.meta.url));
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
});
const canRun = process.getuid?.() === 0 && UNSHARE !== undefined;

const real = readFileSync(EDGE_BUNDLE, 'utf8');
const served = /^\/\/ homelab-edge (\S+)$/m.exec(real)?.[1] ?? '';
/** The real bundle, claiming to be 0.0.9 everywhere it names its version. */
const older = real.replace(`// homelab-edge ${served}`, '// homelab-edge 0.0.9').replaceAll(`"${served}"`, '"0.0.9"');

let work: string;
let signals: Server;
let signalPort: number;
/** What each edge's systemctl was asked, by edge. */
const calls = new Map<string, string[]>();
const onRestart = new Map<string, () => Promise<void>>();
/** Requests the systemctl stand-in never makes: each fails the run. */
const unexpected: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'update-edges-'));
  signals = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      const m = /^\/systemctl\/([a-z]+)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        unexpected.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      const name = m[1]!;
      calls.set(name, [...(calls.get(name) ?? []), body.trim()]);
      res.writeHead(200).end();
      // As systemd: the job runs after systemctl returned (the edge's run_command may answer
      // first, or be cut off: both happen on a device).
      if (/^(--no-block )?restart homelab-edge\.service$/.test(body.trim())) setImmediate(() => void onRestart.get(name)?.());
    });
  });
  await new Promise<void>((r) => signals.listen(0, '127.0.0.1', r));
  signalPort = (signals.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((r) => signals?.close(() => r()));
  if (work) rmSync(work, { recursive: true, force: true });
  expect(unexpected).toEqual([]);
});

interface NsEdge {
  url: string;
  token: string;
  port: number;
  current(): ListeningProcess | undefined;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * An edge installed by install-edge.sh (the older bundle) into its own overlays, run as root
 * in a private mount namespace. `comesBack: false` leaves it down after a restart.
 */
async function nsEdge(name: string, comesBack: boolean): Promise<NsEdge> {
  const w = join(work, name);
  for (const d of ['etc-u', 'etc-w', 'loc-u', 'loc-w']) mkdirSync(join(w, d), { recursive: true });
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(w, 'token'), token, { mode: 0o600 });
  writeFileSync(join(w, 'old.mjs'), older);
  writeFileSync(
    join(w, 'start.sh'),
    `set -eu
W='${w}'
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-u,workdir=$W/etc-w" /etc
mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$W/loc-u,workdir=$W/loc-w" /usr/local
mount -t tmpfs tmpfs /run
grep -q ' /usr/local overlay ' /proc/self/mounts
mkdir -p /run/systemd/system /usr/local/sbin
printf '#!/bin/sh\\nexec curl -fsS -X POST --data "$*" http://127.0.0.1:${signalPort}/systemctl/${name} >/dev/null\\n' > /usr/local/sbin/systemctl
chmod 755 /usr/local/sbin/systemctl
if [ ! -f /usr/local/lib/homelab-edge/homelab-edge.mjs ]; then
  sh '${SCRIPT}' --token-file "$W/token" --bundle-file "$W/old.mjs" --no-start >&2
fi
exec node /usr/local/lib/homelab-edge/homelab-edge.mjs --token-file /etc/homelab-edge/token --listen "127.0.0.1:$1"
`,
  );
  const start = (port: number) => spawnListening(`edge ${name}`, UNSHARE!, ['--mount', '--propagation', 'private', 'sh', join(w, 'start.sh'), String(port)], { env: { PATH: process.env.PATH }, timeoutMs: 20_000 });
  let proc: ListeningProcess | undefined = await start(0);
  const port = proc.port;
  onRestart.set(name, async () => {
    const p = proc;
    proc = undefined;
    await p?.stop();
    if (comesBack) proc = await start(port);
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    token,
    port,
    current: () => proc,
    async [Symbol.asyncDispose]() {
      onRestart.delete(name);
      await proc?.stop();
    },
  };
}

interface NodeLine {
  name: string;
  version?: string;
  outdated?: boolean;
}

describe('update_edges', () => {
  it.skipIf(!canRun)('marks the older edge outdated, upgrades it (before -> after), says already current, and reports an edge that never comes back', { timeout: 120_000 }, async () => {
    await using pi = await nsEdge('pi', true);
    await using gone = await nsEdge('gone', false);
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vee', role: 'viewer', token: VIEWER }] },
        local: { enabled: false },
        nodes: [
          { name: 'pi', url: pi.url, token: pi.token },
          { name: 'gone', url: gone.url, token: gone.token },
        ],
      },
    });
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const nodes = async () => ((await client.callTool({ name: 'list_nodes', arguments: {} })) as { structuredContent: { nodes: NodeLine[]; edgeBundle: { version: string } } }).structuredContent;

    // The installer put the older bundle on the real path inside the namespace, and it runs.
    expect(calls.get('pi')).toEqual(['daemon-reload']);
    const before = await nodes();
    expect(before.edgeBundle.version).toBe(served);
    expect(before.nodes.find((n) => n.name === 'pi')).toMatchObject({ version: '0.0.9', outdated: true });
    const listed = resultText(await client.callTool({ name: 'list_nodes', arguments: {} }));
    expect(listed).toContain(`edge 0.0.9 (OUTDATED: the hub serves ${served})`);

    // A viewer may not; a writer first sees what would run.
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    await expect(viewer.callTool({ name: 'update_edges', arguments: { node: 'pi' } })).rejects.toThrow(/update_edges not found/);
    const pending = resultText(await client.callTool({ name: 'update_edges', arguments: { node: 'pi' } }));
    expect(pending).toContain(`pi 0.0.9 -> ${served}`);
    expect(pending).toContain('install-edge.sh --upgrade --bundle-file');
    expect(calls.get('pi')).toEqual(['daemon-reload']);
    await client.callTool({ name: 'approve_writes', arguments: {} });

    const r = (await client.callTool({ name: 'update_edges', arguments: { node: 'pi' } })) as { isError?: boolean; structuredContent: { summary: string; nodes: Array<Record<string, unknown>> } };
    expect(r.isError, resultText(r)).toBeFalsy();
    expect(r.structuredContent.nodes).toEqual([expect.objectContaining({ node: 'pi', status: 'upgraded', before: '0.0.9', after: served })]);
    expect(resultText(r)).toContain(`- pi: 0.0.9 -> ${served}`);
    // The installer kept the mode and restarted the service; the edge now runs the hub's bundle.
    expect(calls.get('pi')).toEqual(['daemon-reload', 'daemon-reload', 'restart homelab-edge.service']);
    expect(readFileSync(join(work, 'pi', 'loc-u/lib/homelab-edge/homelab-edge.mjs'), 'utf8')).toBe(real);
    expect((await nodes()).nodes.find((n) => n.name === 'pi')).toMatchObject({ version: served, outdated: false });
    const pi1 = resultText(await client.callTool({ name: 'list_nodes', arguments: {} })).split('\n').find((l) => l.startsWith('- pi '));
    expect(pi1).toContain(`edge ${served}`);
    expect(pi1).not.toContain('OUTDATED');

    // Again: the same bundle is installed; nothing restarts.
    const again = (await client.callTool({ name: 'update_edges', arguments: { node: 'pi' } })) as { structuredContent: { nodes: Array<Record<string, unknown>> } };
    expect(again.structuredContent.nodes).toEqual([expect.objectContaining({ node: 'pi', status: 'current' })]);
    expect(resultText(again)).toContain('already current');
    expect(calls.get('pi')).toHaveLength(3);

    // An edge whose restart never brings it back is reported, with what the installer did.
    const lost = (await client.callTool({ name: 'update_edges', arguments: { node: 'gone', wait_s: 3 } })) as { isError?: boolean; structuredContent: { nodes: Array<Record<string, unknown>> } };
    expect(lost.isError).toBe(true);
    expect(lost.structuredContent.nodes).toEqual([expect.objectContaining({ node: 'gone', status: 'not_back', before: '0.0.9' })]);
    expect(resultText(lost)).toMatch(new RegExp(`- gone: did not come back within 3 s as ${served.replace(/\./g, '\\.')}: it is unreachable since`));
    expect(gone.current()).toBeUndefined();
    expect(calls.get('gone')).toEqual(['daemon-reload', 'daemon-reload', 'restart homelab-edge.service']);
  });
});
