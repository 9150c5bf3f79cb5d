// Bundles the edge into ONE file with no runtime node_modules: dist/homelab-edge.mjs.
// Target Node 18, so the bundle runs on Raspberry Pi OS bookworm's packaged Node.
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';

/**
 * Builtins the edge needs only when a tool runs, not to start: loaded on first use instead of by
 * the bundle's imports (node:child_process and node:dgram cost ~11 ms of CPU at every start, of
 * ~145 ms to the first answer). Each name the sources import from them gets a wrapper that
 * requires the module on its first call; importing any other name fails the build.
 */
const LAZY_BUILTINS = { 'node:child_process': ['spawn'], 'node:dgram': ['createSocket'] };
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:(child_process|dgram)$/ }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: [
        `import { createRequire } from 'node:module';`,
        `let m;`,
        `const mod = () => (m ??= createRequire(import.meta.url)(${JSON.stringify(args.path)}));`,
        ...LAZY_BUILTINS[args.path].map((name) => `export function ${name}(...a) { return mod().${name}(...a); }`),
      ].join('\n'),
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

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
  plugins: [lazyBuiltins],
});
console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
