// Entry point that VS Code's extension host loads for extensionTestsPath: runs every
// out/test/integration/**/*.test.js with mocha inside the real extension host.
//
// Environment: ROUTELENS_TEST_GREP (only tests whose title matches), ROUTELENS_TEST_TIMEOUT_MS,
// ROUTELENS_TEST_CONSOLE_TAG (set by scripts/vscode-test/run-integration.mjs, see below).
import Mocha from 'mocha';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** A line the runner parses to print its own "N passed, N failed" summary. */
export const RESULT_MARKER = '[routelens-integration-result]';

/**
 * The web workbench relays the extension host's console to the runner as one string per call, with
 * printf-style arguments joined by commas, mixed with its own logging (and VS Code makes `console`
 * methods read-only there). So mocha's report is formatted here, one string per call, with a tag
 * that lets the runner tell it from the workbench's output. Tests can use it too: plain
 * console.log output of the extension host shows only with ROUTELENS_VSCODE_VERBOSE=1.
 */
export function print(...args: unknown[]): void {
  const tag = process.env.ROUTELENS_TEST_CONSOLE_TAG;
  console.log(tag ? `${tag}log:${format(...args)}` : format(...args));
}

export function run(): Promise<void> {
  Mocha.reporters.Base.consoleLog = print;
  // Mocha colours these two symbols on its own whenever CI is set, whatever `color` says.
  Mocha.reporters.Base.symbols.ok = '✔';
  Mocha.reporters.Base.symbols.err = '✖';
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false, // the report is relayed as log text and read in CI logs
    timeout: Number(process.env.ROUTELENS_TEST_TIMEOUT_MS) || 20_000,
    slow: 2_000,
    grep: process.env.ROUTELENS_TEST_GREP || undefined,
  });
  const files = findTests(__dirname);
  if (files.length === 0) return Promise.reject(new Error(`no *.test.js files under ${__dirname}`));
  for (const f of files) mocha.addFile(f);

  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const s = runner.stats;
        print(`${RESULT_MARKER} ${JSON.stringify({ passed: s?.passes ?? 0, failed: failures, pending: s?.pending ?? 0 })}`);
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else if ((s?.tests ?? 0) === 0) reject(new Error('no integration test ran (check ROUTELENS_TEST_GREP)'));
        else resolve();
      });
    } catch (err) {
      // A test file that throws while loading lands here, before any test runs.
      print('Loading the integration tests failed:', err);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
