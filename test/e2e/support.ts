// What the end-to-end tests share: the typed face of scripts/vscode-test/codeServer.mjs (a real
// code-server and a headless Chromium), the repository's root, and the few moves a person makes in
// the workbench (the command palette, the theme picker, Quick Open, a webview's frame).
// Not a *.test.ts file: run-e2e.mjs loads only those, and esbuild.mjs builds this next to them.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { until } from '../support/net';

/** A running code-server, as startCodeServer returns it. */
export interface CodeServer {
  url: string;
  port: number;
  /** `127.0.0.1:PORT`, the remote authority of the workbench's URIs. */
  host: string;
  baseDir: string;
  userDataDir: string;
  extensionsDir: string;
  /** The HOME of the server and its extension host. */
  home: string;
  folder?: string;
  /** The Routelens collector's port in that VS Code (a free one unless the settings named one; 0 is off). */
  collectorPort: number;
  grpcPort: number;
  extensionDevelopmentPath?: string;
  pid: number;
  /** The server's recent output (for error messages). */
  output(): string;
  /** Calls fn if the server dies; returns an unsubscribe function. */
  onExit(fn: (exit: ServerExit) => void): () => void;
  readonly exited: ServerExit | null;
  /** Stops the server's whole process group; `keepData` keeps its data folder for a restart on it. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface ServerExit {
  code: number | null;
  signal: string | null;
  error?: Error;
}

export interface StartCodeServerOptions {
  folder?: string;
  extensionDevelopmentPath?: string;
  extensionsDir?: string;
  /** Unpacked extension folders copied into the extensions folder (loaded as installed). */
  seedExtensions?: string[];
  /** Merged over DEFAULT_USER_SETTINGS; the collector gets free ports unless these name them. */
  userSettings?: Record<string, unknown>;
  env?: Record<string, string>;
  smokeTestDriver?: boolean;
  isolateHome?: boolean;
  args?: string[];
  startTimeoutMs?: number;
  /** An earlier server's data folder (stopped with `keepData`): a restart of the same VS Code. */
  baseDir?: string;
  port?: number;
}

export interface WorkbenchUrlOptions {
  folder?: string;
  extensionDevelopmentPath?: string;
  extensionTestsPath?: string;
  payload?: [string, string][];
}

export interface OpenWorkbenchOptions extends WorkbenchUrlOptions {
  viewport?: { width: number; height: number };
  timeoutMs?: number;
  /** Default true: wait until the workbench is laid out. */
  wait?: boolean;
}

/** Everything scripts/vscode-test/codeServer.mjs exports. */
export interface Helpers {
  REPO_ROOT: string;
  VSCODE_TEST_DIR: string;
  NODE24: string;
  CODE_SERVER_ENTRY: string;
  CHROMIUM: string;
  FIXTURE_WORKSPACE: string;
  /** Test-only extension contributing the `debugpy` debugger type. */
  FIXTURE_DEBUGPY_EXTENSION: string;
  DEFAULT_USER_SETTINGS: Readonly<Record<string, unknown>>;
  isInstalled(): boolean;
  ensureInstalled(): void;
  freePort(): Promise<number>;
  startCodeServer(opts?: StartCodeServerOptions): Promise<CodeServer>;
  workbenchUrl(server: CodeServer, opts?: WorkbenchUrlOptions): string;
  launchBrowser(opts?: { headless?: boolean; args?: string[]; timeoutMs?: number }): Promise<Browser>;
  waitForWorkbench(page: Page, opts?: { timeoutMs?: number }): Promise<void>;
  openWorkbench(browser: Browser, server: CodeServer, opts?: OpenWorkbenchOptions): Promise<{ context: BrowserContext; page: Page; consoleErrors: string[] }>;
  /** Installs a VSIX into an extensions folder; returns the command's output. */
  installVsix(vsixPath: string, extensionsDir: string, opts?: { timeoutMs?: number }): Promise<string>;
  extensionId(extensionPath: string): string;
}

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts', 'vscode-test', 'codeServer.mjs'))) return dir;
    if (dirname(dir) === dir) throw new Error(`scripts/vscode-test/codeServer.mjs not found above ${from}`);
  }
}

/** The repository's root (this file runs from out/test/e2e/). */
export const REPO_ROOT = findRepoRoot(__dirname);

let helpers: Promise<Helpers> | undefined;

/** scripts/vscode-test/codeServer.mjs, an ES module, loaded once. */
export function loadHelpers(): Promise<Helpers> {
  helpers ??= import(pathToFileURL(join(REPO_ROOT, 'scripts', 'vscode-test', 'codeServer.mjs')).href) as Promise<Helpers>;
  return helpers;
}

/** Where screenshots go (ROUTELENS_SCREENSHOTS_DIR, else <repo>/screenshots), created if missing. */
export function screenshotsDir(): string {
  const dir = process.env.ROUTELENS_SCREENSHOTS_DIR || join(REPO_ROOT, 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * After a failed test, a picture of the whole window (it says more than a stack trace):
 * `<screenshots>/failed-<prefix><the test's title as a slug>.png`.
 */
export async function screenshotIfFailed(test: Mocha.Test | undefined, page: Page | undefined, prefix = ''): Promise<void> {
  if (test?.state !== 'failed' || !page) return;
  const name = test.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  await page.screenshot({ path: join(screenshotsDir(), `failed-${prefix}${name}.png`) }).catch(() => undefined);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `bytes` random bytes as hex (16 for a trace id, 8 for a span id). */
export const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The frame (of any webview) whose document has `selector`. */
export function frameWith(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  return until(
    async () => {
      for (const f of page.frames()) if (await f.locator(selector).count().catch(() => 0)) return f;
      return undefined;
    },
    `a webview frame with ${selector}`,
    timeoutMs,
    200,
  );
}

/** Runs a command by its title through the command palette. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

export interface PickThemeOptions {
  /**
   * What to click first so the keys reach the workbench's keybindings (a key pressed in a webview
   * does not always): an editor's text, or the empty editor area at a point. Default: nothing.
   */
  focus?: { selector: string; position?: { x: number; y: number }; force?: boolean };
  /**
   * How the theme is accepted. `keys` (default): arrows and Enter, since a theme only hovered or
   * highlighted is a preview, undone when the picker closes some other way. `click`: its row.
   */
  accept?: 'keys' | 'click';
  /** Fail when the picker is still open 10 s later (default: carry on). */
  mustClose?: boolean;
}

/** Picks a colour theme the way a user does: the theme picker (Ctrl+K Ctrl+T), then the theme's name. */
export async function pickTheme(page: Page, theme: string, opts: PickThemeOptions = {}): Promise<void> {
  const { focus, accept = 'keys', mustClose = false } = opts;
  if (focus) await page.locator(focus.selector).first().click({ position: focus.position, force: focus.force });
  await page.keyboard.press('Control+K');
  await page.keyboard.press('Control+T');
  const input = page.locator('.quick-input-widget input:visible').first();
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(theme);
  // The picker lists "Dark Modern" next to look-alikes ("Dark Modern High Contrast"...): pick the exact one.
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor({ timeout: 10_000 });
  const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
  const index = labels.findIndex((l) => l === theme || l.startsWith(`${theme},`));
  assert.ok(index >= 0, `theme ${theme} among ${labels.join(' | ')}`);
  if (accept === 'click') {
    await rows.nth(index).click();
  } else {
    for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
  }
  const closed = input.waitFor({ state: 'hidden', timeout: 10_000 });
  await (mustClose ? closed : closed.catch(() => undefined));
}

/** Opens a workspace file through Quick Open, as a person would, and waits for its editor. */
export async function openFile(page: Page, name: string): Promise<void> {
  // Quick Open answers only once the workbench has its files: try again until it shows.
  for (let i = 0; i < 60; i++) {
    await page.locator('.part.editor').first().click({ position: { x: 300, y: 300 } }).catch(() => undefined);
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    if (await input.isVisible().catch(() => false)) {
      await input.fill(name);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
      await row.waitFor({ timeout: 10_000 });
      await row.click();
      break;
    }
    await page.waitForTimeout(500);
  }
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 30_000 });
}

/** Marks that an injected handler or script would set; assertNothingRan checks nothing ever does. */
export const XSS_IMG = '<img src=x onerror="globalThis.__routelensXss=1">';
export const XSS_SCRIPT = '<script>globalThis.__routelensXss=2</script>';

// What the page-side callback below uses of the DOM (tests compile without the DOM library).
declare const document: { querySelectorAll(selector: string): { length: number } };

/** Neither the page nor any webview frame ran injected code, and no telemetry became an <img>. */
export async function assertNothingRan(page: Page, what: string): Promise<void> {
  for (const f of page.frames()) {
    const r = await f.evaluate(() => ({ flag: (globalThis as { __routelensXss?: number }).__routelensXss, imgs: document.querySelectorAll('img').length })).catch(() => undefined);
    if (!r) continue;
    assert.equal(r.flag, undefined, `${what}: injected code ran in ${f.url()}`);
    if (f.url().includes('webview')) assert.equal(r.imgs, 0, `${what}: an <img> element was created in ${f.url()}`);
  }
}

/** A server span of a handler in `file`, as the native protocol carries it, ending now. */
export function handlerSpan(file: string, method: string, route: string, line: number, fn: string, ms: number, status = 200, exception?: unknown): Record<string, unknown> {
  const start = Date.now() - ms;
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: start,
    endMs: start + ms,
    status: status >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status, 'code.file.path': file, 'code.line.number': line, 'code.function.name': fn },
    ...(exception ? { exception } : {}),
  };
}

/** Sends spans to the collector on `port` as the fixture shop, over a fresh WebSocket; resolves on the ack. */
export async function sendSpans(port: number, spans: unknown[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'fixture-shop' } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans }));
    });
    ws.on('message', (d) => JSON.parse(d.toString()).type === 'ack' && (ws.close(), resolve()));
    ws.on('error', reject);
  });
}
