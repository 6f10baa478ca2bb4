// End to end: the five-service demo (examples/journey, every service run with the Python agent
// through the environment only, PostgreSQL and Redis of its own) sending to the extension's
// collector in a real VS Code in a LIGHT theme. From the sidebar, POST /checkout opens in the
// trace panel: the route's requests list the queries and calls each made, and the chosen
// request's waterfall crosses at least three services, with its queries.
// Screenshot: screenshots/journey-light-trace.png.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../support/net';
import { type CodeServer, frameWith, loadHelpers, pickTheme, REPO_ROOT, screenshotsDir, sleep } from './support';

interface Journey {
  gateway: string;
  withPostgres: boolean;
  withRedis: boolean;
  startLoad(workers?: number): unknown;
  stop(): Promise<void>;
}

declare const document: { body: { classList: { contains(c: string): boolean } }; querySelector(s: string): { classList: { contains(c: string): boolean } } | null };

describe('e2e: a journey across services in a light theme', function () {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let journey: Journey | undefined;
  let page: Page;
  let shots: string;

  before(async function () {
    const helpers = await loadHelpers();
    const { startJourney } = (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'journey.mjs')).href)) as { startJourney(o: { collector: string; log: (m: string) => void }): Promise<Journey> };
    shots = screenshotsDir();
    const port = await freePort();
    server = await helpers.startCodeServer({
      folder: join(REPO_ROOT, 'examples', 'journey'),
      extensionDevelopmentPath: process.env.ROUTELENS_E2E_EXTENSION_PATH || REPO_ROOT,
      userSettings: { 'workbench.colorTheme': 'Default Dark Modern', 'routelens.collector.port': port, 'routelens.collector.grpcPort': 0, 'editor.minimap.enabled': false },
    });
    browser = await helpers.launchBrowser();
    ({ page } = await helpers.openWorkbench(browser, server, { viewport: { width: 1600, height: 1000 } }));
    const entry = page.locator('.activitybar [aria-label^="Routelens"]').first();
    await entry.waitFor({ state: 'visible', timeout: 60_000 });
    await entry.click();
    const sidebar = await frameWith(page, '[data-testid=collector-state]');
    await sidebar.locator('[data-testid=collector-state]', { hasText: 'Listening' }).waitFor({ timeout: 30_000 });
    // Focus the workbench itself (the empty editor area): a key pressed in a webview does not reach its keybindings.
    await pickTheme(page, 'Light Modern', { focus: { selector: '.part.editor', position: { x: 200, y: 300 }, force: true }, mustClose: true });
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
