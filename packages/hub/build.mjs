// Bundles the hub into one file, dist/homelab-hub.mjs, beside the edge bundle.
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const outfile = new URL('./dist/homelab-hub.mjs', import.meta.url).pathname;
await build({
  entryPoints: [new URL('./src/main.ts', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  // CommonJS dependencies (pino) call require() for Node built-ins; give the ESM bundle one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __hubCreateRequire } from 'node:module';\nconst require = __hubCreateRequire(import.meta.url);" },
  define: { __HUB_VERSION__: JSON.stringify(version) },
  // The edge installer is served by the hub: embed it as text.
  loader: { '.sh': 'text' },
  // The admin UI's stylesheet and script, embedded as text (`./app.css?raw`, as Vite reads it in tests).
  plugins: [
    {
      name: 'raw-text',
      setup(b) {
        b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw-text' }));
        b.onLoad({ filter: /.*/, namespace: 'raw-text' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text', watchFiles: [a.path] }));
      },
    },
  ],
  logLevel: 'warning',
});
console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
