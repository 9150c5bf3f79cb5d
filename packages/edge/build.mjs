// Bundles the edge into ONE file with no runtime node_modules: dist/homelab-edge.mjs.
// Target Node 18, so the bundle runs on Raspberry Pi OS bookworm's packaged Node.
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const outfile = new URL('./dist/homelab-edge.mjs', import.meta.url).pathname;
await build({
  entryPoints: [new URL('./src/main.ts', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  // The second line names the version: the hub reads it from the bundle it serves (list_nodes,
  // update_edges) without running it.
  banner: { js: `#!/usr/bin/env node\n// homelab-edge ${version}` },
  define: { __EDGE_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});
console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
