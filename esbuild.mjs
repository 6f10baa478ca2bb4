// Builds everything: the extension and CLI bundles (node/cjs, `vscode` external), the webview
// bundles (browser/iife), and a file-per-file transpile of src/ and test/ into out/ for mocha.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const webviews = readdirSync('src/webview', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('src/webview', d.name, 'main.ts')))
  .map((d) => d.name);

const problemMatcher = {
  name: 'problem-matcher',
  setup(build) {
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
    });
  },
};

const common = { sourcemap: !production, minify: production, logLevel: 'warning', plugins: [problemMatcher] };

const configs = [
  {
    ...common,
    entryPoints: { extension: 'src/extension.ts', cli: 'src/cli.ts' },
    bundle: true,
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: Object.fromEntries(webviews.map((w) => [`webview/${w}`, `src/webview/${w}/main.ts`])),
    bundle: true,
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    loader: { '.css': 'css' },
  },
];
if (!production) {
  configs.push({
    entryPoints: [...walk('src'), ...walk('test')].filter((p) => !p.startsWith(join('src', 'webview'))),
    outdir: 'out',
    outbase: '.',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

// SQLite's WebAssembly binary (the runs database) ships next to the bundle that loads it.
mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/sql.js/dist/sql-wasm.wasm', 'dist/sql-wasm.wasm');

if (watch) {
  for (const c of configs) await (await esbuild.context(c)).watch();
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
}
