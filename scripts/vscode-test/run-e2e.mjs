#!/usr/bin/env node
// Runs the end-to-end tests (out/test/e2e/**/*.test.js) with mocha in plain Node. Those tests
// start code-server with the extension through codeServer.mjs and drive the workbench with
// playwright; this runner makes sure code-server is installed and bounds the whole run in time.
//
// Usage: node scripts/vscode-test/run-e2e.mjs [--grep=PATTERN] [--timeout=MS]
// Environment: ROUTELENS_E2E_TIMEOUT_MS (whole run, default 10 min), ROUTELENS_TEST_TIMEOUT_MS
// (one test or hook, default 120 s), ROUTELENS_E2E_EXTENSION_PATH (extension under test, default
// the repo root), ROUTELENS_SCREENSHOTS_DIR (default <repo>/screenshots).
// Exit codes: 0 passed, 1 a test failed, 2 the harness failed (no tests, time limit).
import Mocha from 'mocha';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, ensureInstalled } from './codeServer.mjs';

// Stack traces then point at the TypeScript sources rather than out/.
process.setSourceMapsEnabled(true);

const say = (msg) => console.log(`[e2e] ${msg}`);
const started = Date.now();

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([^=]+)=(.*)$/.exec(a))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);

function findTests(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const testDir = join(REPO_ROOT, 'out', 'test', 'e2e');
if (!existsSync(testDir)) {
  console.error(`[e2e] no ${testDir}: run \`npm run build\` first`);
  process.exit(2);
}
const files = findTests(testDir);
if (files.length === 0) {
  console.error(`[e2e] no *.test.js files under ${testDir}`);
  process.exit(2);
}

try {
  ensureInstalled();
} catch (err) {
  console.error(`[e2e] ${err.message}`);
  process.exit(2);
}

// A hung browser or server must not hold CI: codeServer.mjs kills its servers when this exits.
const runLimitMs = Number(process.env.ROUTELENS_E2E_TIMEOUT_MS) || 10 * 60_000;
setTimeout(() => {
  console.error(`[e2e] time limit of ${runLimitMs / 1000} s reached`);
  process.exit(2);
}, runLimitMs).unref();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`[e2e] interrupted by ${sig}`);
    process.exit(2);
  });
}

const mocha = new Mocha({
  ui: 'bdd',
  reporter: 'spec',
  timeout: Number(args.timeout ?? process.env.ROUTELENS_TEST_TIMEOUT_MS) || 120_000,
  slow: 15_000,
  grep: args.grep || undefined,
});
for (const f of files) mocha.addFile(f);
say(`${files.length} file(s) from ${testDir}`);

let runner;
try {
  runner = mocha.run(onDone);
} catch (err) {
  // A test file that throws while loading lands here, before any test runs.
  console.error(`[e2e] loading the tests failed: ${err?.stack ?? err}`);
  process.exit(2);
}

function onDone(failures) {
  const s = runner.stats ?? {};
  const ran = s.tests ?? 0;
  console.log(`e2e: ${s.passes ?? 0} passed, ${failures} failed${s.pending ? `, ${s.pending} skipped` : ''}`);
  say(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // Exit explicitly: a test that left a handle open must not keep the process alive.
  process.exit(failures > 0 ? 1 : ran === 0 ? 2 : 0);
}
