#!/usr/bin/env node
// Runs the extension's integration tests inside VS Code's real extension host: starts code-server
// with the smoke-test driver, opens a page whose payload names the extension and the test entry,
// forwards the extension host's console here, and exits with the tests' result.
//
// Usage: node scripts/vscode-test/run-integration.mjs [--extensionDevelopmentPath=DIR]
//          [--extensionTestsPath=FILE] [--timeout=MS] [WORKSPACE_FOLDER]
// Defaults: the repo root, out/test/integration/index.js, test/fixtures/workspace, 5 minutes.
// Environment: ROUTELENS_INTEGRATION_TIMEOUT_MS; every variable reaches the tests (ROUTELENS_* ...).
// Exit codes: 0 passed, 1 a test failed, 2 the harness failed (server, browser, time limit).
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  FIXTURE_DEBUGPY_EXTENSION,
  FIXTURE_WORKSPACE,
  REPO_ROOT,
  VSCODE_TEST_DIR,
  ensureInstalled,
  launchBrowser,
  startCodeServer,
  workbenchUrl,
} from './codeServer.mjs';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (msg) => console.log(`[integration] ${msg}`);

function parseArgs(argv) {
  const o = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) o.positional.push(a);
    else o[m[1]] = m[2] ?? argv[++i];
  }
  return o;
}

const args = parseArgs(process.argv.slice(2));
const extensionDevelopmentPath = resolve(args.extensionDevelopmentPath ?? REPO_ROOT);
const extensionTestsPath = resolve(
  args.extensionTestsPath ?? join(extensionDevelopmentPath, 'out', 'test', 'integration', 'index.js'),
);
const workspace = resolve(args.positional[0] ?? FIXTURE_WORKSPACE);
const timeoutMs = Number(args.timeout ?? process.env.ROUTELENS_INTEGRATION_TIMEOUT_MS) || 5 * 60_000;

// Must match test/integration/index.ts.
const RESULT_MARKER = '[routelens-integration-result]';
// index.ts prefixes the extension host's console output with this, to tell it from the workbench's.
const CONSOLE_TAG = '[rl-ext-host]';

let server;
let browser;
let cleaning;
async function cleanup() {
  cleaning ??= (async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  })();
  return cleaning;
}

// The first outcome wins: stopping the server on the way out must not report its exit as a crash.
let finishing = false;
async function finish(code, message) {
  if (finishing) return;
  finishing = true;
  if (message) (code === 0 ? console.log : console.error)(`[integration] ${message}`);
  await cleanup();
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => finish(2, `interrupted by ${sig}`));
}
process.on('unhandledRejection', (err) => finish(2, `harness error: ${err?.stack ?? err}`));

async function main() {
  if (!existsSync(extensionTestsPath)) {
    return finish(2, `no test entry at ${extensionTestsPath}: run \`npm run build\` first`);
  }
  if (!existsSync(join(extensionDevelopmentPath, 'package.json'))) {
    return finish(2, `no package.json in ${extensionDevelopmentPath}`);
  }
  if (!existsSync(workspace)) return finish(2, `no workspace folder at ${workspace}`);
  ensureInstalled();

  const hardTimer = setTimeout(
    () => finish(2, `time limit of ${timeoutMs / 1000} s reached; last server output:\n${server?.output() ?? ''}`),
    timeoutMs,
  );
  hardTimer.unref();

  server = await startCodeServer({
    folder: workspace,
    extensionDevelopmentPath,
    smokeTestDriver: true,
    // The debugpy debugger type for the tests that press F5 (test/integration/debugSession.test.ts).
    seedExtensions: [FIXTURE_DEBUGPY_EXTENSION],
    env: {
      ROUTELENS_TEST_CONSOLE_TAG: CONSOLE_TAG,
      // A silent agent is cut after two pings: 3 s pings let a test hold a breakpoint past that quickly.
      ROUTELENS_COLLECTOR_HEARTBEAT_MS: process.env.ROUTELENS_COLLECTOR_HEARTBEAT_MS ?? '3000',
    },
  });
  say(`code-server ${server.url} ready after ${elapsed()} (data in ${server.baseDir})`);
  server.onExit(({ code, signal }) =>
    finish(2, `code-server died during the run (code ${code}, signal ${signal}). Its output:\n${server.output()}`),
  );

  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();

  let result;
  const workbenchErrors = [];
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  // The workbench calls this when the extension host running the tests exits.
  await page.exposeFunction('codeAutomationExit', async (code, logs) => {
    if (code !== 0 && Array.isArray(logs) && logs.length) {
      const dir = join(VSCODE_TEST_DIR, 'logs', 'integration');
      rmSync(dir, { recursive: true, force: true });
      for (const { relativePath, contents } of logs) {
        const file = join(dir, relativePath);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, contents);
      }
      say(`VS Code's logs of the failed run are in ${dir}`);
    }
    resolveDone(code);
  });
  // Every workbench log line comes through here, the extension host's console among them.
  await page.exposeFunction('codeAutomationLog', (level, message) => {
    const text = String(message ?? '');
    if (text.startsWith(CONSOLE_TAG)) {
      const body = text.slice(CONSOLE_TAG.length);
      const colon = body.indexOf(':');
      const consoleLevel = body.slice(0, colon);
      const line = body.slice(colon + 1);
      if (line.startsWith(RESULT_MARKER)) {
        try {
          result = JSON.parse(line.slice(RESULT_MARKER.length));
        } catch {
          /* the exit code still decides */
        }
        return;
      }
      (consoleLevel === 'error' || consoleLevel === 'warn' ? process.stderr : process.stdout).write(`${line}\n`);
    } else if (process.env.ROUTELENS_VSCODE_VERBOSE === '1') {
      process.stderr.write(`[vscode ${level}] ${text}\n`);
    } else if (level === 'error' && !/^Canceled\b/.test(text)) {
      // Workbench errors (an extension that failed to activate, a test file that failed to load)
      // matter only when the run fails; a passing run would drown in shutdown noise.
      workbenchErrors.push(`[vscode ${level}] ${text}`);
    }
  });
  page.on('crash', () => finish(2, 'the browser page crashed'));
  page.on('pageerror', (err) => {
    if (process.env.ROUTELENS_VSCODE_VERBOSE === '1') console.error(`[page] ${err}`);
  });

  const url = workbenchUrl(server, { folder: workspace, extensionDevelopmentPath, extensionTestsPath });
  say(`extension ${extensionDevelopmentPath}`);
  say(`tests ${extensionTestsPath}`);
  say(`workspace ${workspace}`);
  await page.goto(url, { timeout: 60_000 });

  const code = await done;
  if (code !== 0 && workbenchErrors.length) {
    const shown = [...new Set(workbenchErrors)].slice(-20);
    process.stderr.write(`[integration] errors VS Code logged during the run:\n${shown.join('\n')}\n`);
  }
  const summary = result
    ? `integration: ${result.passed} passed, ${result.failed} failed${result.pending ? `, ${result.pending} skipped` : ''}`
    : undefined;
  if (summary) console.log(summary);
  say(`finished in ${elapsed()} with exit code ${code}`);
  await finish(code === 0 ? 0 : 1);
}

main().catch((err) => finish(2, `harness error: ${err?.stack ?? err}`));
