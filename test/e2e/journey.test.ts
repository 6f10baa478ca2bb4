// End to end: the five-service demo (examples/journey, every service run with the Python agent
// through the environment only, PostgreSQL and Redis of its own) sending to the extension's
// collector in a real VS Code in a LIGHT theme. From the sidebar, POST /checkout opens in the
// trace panel: the route's requests list the queries and calls each made, and the chosen
// request's waterfall crosses at least three services, with its queries.
// Screenshot: screenshots/journey-light-trace.png.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Frame, Page } from 'playwright-core';

interface CodeServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

interface Helpers {
  REPO_ROOT: string;
  startCodeServer(opts: { folder?: string; extensionDevelopmentPath?: string; userSettings?: Record<string, unknown> }): Promise<CodeServer>;
  launchBrowser(): Promise<Browser>;
  openWorkbench(browser: Browser, server: CodeServer, opts?: { viewport?: { width: number; height: number } }): Promise<{ page: Page; consoleErrors: string[] }>;
}

interface Journey {
  gateway: string;
  withPostgres: boolean;
  withRedis: boolean;
  startLoad(workers?: number): unknown;
  stop(): Promise<void>;
}

declare const document: { body: { classList: { contains(c: string): boolean } }; querySelector(s: string): { classList: { contains(c: string): boolean } } | null };

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts', 'journey.mjs'))) return dir;
    if (dirname(dir) === dir) throw new Error(`scripts/journey.mjs not found above ${from}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function frameWith(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of page.frames()) {
      if (await f.locator(selector).count().catch(() => 0)) return f;
    }
    await sleep(200);
  }
  throw new Error(`no webview frame with ${selector}`);
}

/** Picks a colour theme the way a user does: the theme picker (Ctrl+K Ctrl+T), then the theme's name. */
async function pickTheme(page: Page, theme: string): Promise<void> {
  // Focus the workbench itself (the empty editor area): a key pressed in a webview does not reach its keybindings.
  await page.locator('.part.editor').first().click({ force: true, position: { x: 200, y: 300 } });
  await page.keyboard.press('Control+K');
  await page.keyboard.press('Control+T');
  const input = page.locator('.quick-input-widget input:visible').first();
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(theme);
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor({ timeout: 10_000 });
  const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
  const index = labels.findIndex((l) => l === theme || l.startsWith(`${theme},`));
  assert.ok(index >= 0, `theme ${theme} among ${labels.join(' | ')}`);
  // Accepted with the keyboard: a theme only hovered or highlighted is a preview, undone when the
  // picker closes some other way.
  for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

describe('e2e: a journey across services in a light theme', function () {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let journey: Journey | undefined;
  let page: Page;
  let shots: string;

  before(async function () {
    const root = findRepoRoot(__dirname);
    const helpers = (await import(pathToFileURL(join(root, 'scripts', 'vscode-test', 'codeServer.mjs')).href)) as Helpers;
    const { startJourney } = (await import(pathToFileURL(join(root, 'scripts', 'journey.mjs')).href)) as { startJourney(o: { collector: string; log: (m: string) => void }): Promise<Journey> };
    shots = process.env.ROUTELENS_SCREENSHOTS_DIR || join(root, 'screenshots');
    mkdirSync(shots, { recursive: true });
    const port = await freePort();
    server = await helpers.startCodeServer({
      folder: join(root, 'examples', 'journey'),
      extensionDevelopmentPath: process.env.ROUTELENS_E2E_EXTENSION_PATH || root,
      userSettings: { 'workbench.colorTheme': 'Default Dark Modern', 'routelens.collector.port': port, 'routelens.collector.grpcPort': 0, 'editor.minimap.enabled': false },
    });
    browser = await helpers.launchBrowser();
    ({ page } = await helpers.openWorkbench(browser, server, { viewport: { width: 1600, height: 1000 } }));
    const entry = page.locator('.activitybar [aria-label^="Routelens"]').first();
    await entry.waitFor({ state: 'visible', timeout: 60_000 });
    await entry.click();
    const sidebar = await frameWith(page, '[data-testid=collector-state]');
    await sidebar.locator('[data-testid=collector-state]', { hasText: 'Listening' }).waitFor({ timeout: 30_000 });
    await pickTheme(page, 'Light Modern');
    // The workbench itself in the light theme (its root element carries `vs`, a dark theme `vs-dark`).
    await page.waitForFunction(() => {
      const wb = document.querySelector('.monaco-workbench');
      return !!wb && wb.classList.contains('vs') && !wb.classList.contains('vs-dark');
    }, undefined, { timeout: 20_000 });
    journey = await startJourney({ collector: `http://127.0.0.1:${port}`, log: () => undefined });
    journey.startLoad(2);
  });

  after(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: join(shots, 'failed-journey.png') }).catch(() => undefined);
    await journey?.stop();
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('opens POST /checkout: requests with their queries and calls, a waterfall across services', async function () {
    const sidebar = await frameWith(page, '[data-testid=routes-table]', 60_000);
    await sidebar.waitForFunction(() => document.body.classList.contains('vscode-light'), undefined, { timeout: 20_000 });
    const checkout = sidebar.locator('tbody[data-route="/checkout"]');
    await checkout.waitFor({ timeout: 60_000 });
    // A few checkouts, so the list has several and each has all its services' spans.
    await sleep(8_000);
    await checkout.click();
    const trace = await frameWith(page, '[data-testid=waterfall]');
    await trace.locator('[data-testid=route-title]', { hasText: 'POST /checkout' }).waitFor({ timeout: 20_000 });
    await trace.locator('[data-testid=trace-list] li').nth(2).waitFor({ timeout: 20_000 });

    // The list: each checkout called auth, inventory, payment and shipping (HTTP calls).
    const made = await trace.locator('[data-testid=trace-list] li [data-testid=trace-calls]').allInnerTexts();
    assert.ok(made.some((t) => /\b[4-9] calls\b/.test(t)), `calls listed per request: ${made.slice(0, 5).join(' | ')}`);

    // Choose a successful checkout that went through every step (the bank is flaky on purpose).
    const ok = trace.locator('[data-testid=trace-list] li').filter({ has: trace.locator('.status', { hasText: /^200$/ }) }).first();
    await ok.click();
    await trace.locator('.wf-row:not([hidden])').nth(8).waitFor({ timeout: 20_000 });
    const legend = await trace.locator('[data-testid=trace-head]').innerText();
    const services = ['gateway', 'auth', 'inventory', 'payment', 'shipping'].filter((s) => legend.includes(s));
    assert.ok(services.length >= 3, `at least three services in the trace: ${legend}`);
    const names = await trace.locator('.wf-row:not([hidden]) .wf-span-name').allInnerTexts();
    assert.ok(names.some((n) => /^SELECT/.test(n)), `its queries in the waterfall: ${names.join(', ')}`);
    await page.mouse.move(1300, 12);
    await sleep(500);
    assert.ok(await page.evaluate(() => !!document.querySelector('.monaco-workbench')?.classList.contains('vs')), 'still the light theme');
    await page.screenshot({ path: join(shots, 'journey-light-trace.png') });
  });
});
