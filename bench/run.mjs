// Runs every benchmark in bench/ one after another (after `npm run build`), each printing its
// figures and ratios against a baseline measured in the same process.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, '..', 'out', 'src'))) {
  console.error('bench: run `npm run build` first');
  process.exit(2);
}
const only = process.argv.slice(2);
// Long-running ones are opt-in by name: `npm run bench -- soak`, `npm run bench -- exthost-load`
// (that one starts a real VS Code: `npm run setup:vscode` first).
const optIn = new Set(['soak.mjs', 'fuzz.mjs', 'exthost-load.mjs']);
let failed = 0;
for (const file of readdirSync(here).sort()) {
  if (file === 'run.mjs' || !/\.(mjs|py)$/.test(file)) continue;
  const name = file.replace(/\.(mjs|py)$/, '');
  if (only.length ? !only.includes(name) : optIn.has(file)) continue;
  console.log(`\n=== ${file} ===`);
  const cmd = file.endsWith('.py') ? ['/usr/bin/python3', [join(here, file)]] : [process.execPath, [join(here, file)]];
  const r = spawnSync(cmd[0], cmd[1], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
