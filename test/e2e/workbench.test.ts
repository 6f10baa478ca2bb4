// End to end: a real VS Code (code-server) with the extension loaded, driven by Chromium.
// Run with `npm run test:e2e` (after `npm run build`).
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { type CodeServer, frameWith, type Helpers, loadHelpers, runCommand, screenshotIfFailed, screenshotsDir } from './support';

/** The sidebar's webview: VS Code nests the extension's document in an inner frame. */
function sidebarWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').first().frameLocator('#active-frame');
}

describe('e2e: the Routelens sidebar in a real workbench', function () {
  let helpers: Helpers;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let screenshots: string;

  before(async function () {
    helpers = await loadHelpers();
    const extensionPath = process.env.ROUTELENS_E2E_EXTENSION_PATH || helpers.REPO_ROOT;
    screenshots = screenshotsDir();
    server = await helpers.startCodeServer({
      folder: helpers.FIXTURE_WORKSPACE,
      extensionDevelopmentPath: extensionPath,
    });
    browser = await helpers.launchBrowser();
    ({ page } = await helpers.openWorkbench(browser, server));
  });

  after(async function () {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page);
  });

  it('opens the sidebar from the activity bar and renders its webview', async function () {
    // The entry appears once the extension host has read the extension's contributions.
    const entry = page.locator('.activitybar [aria-label^="Routelens"]').first();
    await entry.waitFor({ state: 'visible', timeout: 60_000 });
    await entry.click();

    const body = sidebarWebview(page).locator('body');
    await body.waitFor({ state: 'attached', timeout: 60_000 });
    let text = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      text = (await body.innerText().catch(() => '')).trim();
      if (text) break;
      await page.waitForTimeout(250);
    }
    assert.ok(text.length > 0, 'the sidebar webview body stayed empty');

    // The click leaves a hover tooltip over the sidebar: move away and let it fade.
    await page.mouse.move(900, 600);
    await page.locator('.monaco-hover, .custom-hover').first().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    await page.waitForTimeout(300);
    await page.locator('.part.sidebar').first().screenshot({ path: join(screenshots, 'sidebar.png') });
    await page.screenshot({ path: join(screenshots, 'workbench.png') });
  });

  it("opens the Get Started walkthrough, and its first step's link shows the dashboard", async function () {
    await runCommand(page, 'Welcome: Open Walkthrough');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with Routelens' }).first().click({ timeout: 15_000 });

    const welcome = page.locator('.gettingStartedContainer');
    await welcome.locator('.getting-started-category', { hasText: 'Get started with Routelens' }).first().waitFor({ timeout: 15_000 }).catch(() => undefined);
    const steps = welcome.locator('.getting-started-step .step-title');
    await steps.first().waitFor({ timeout: 15_000 });
    const titles = (await steps.allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(titles, ['The local collector', 'Press F5 on your API', 'Watch the dashboard', 'Latency above your handlers', 'Errors and findings in Problems']);
    // The step's page (its markdown) is shown beside the steps.
    const media = page.frameLocator('.getting-started-media iframe').first().frameLocator('#active-frame');
    await media.locator('h1', { hasText: 'The collector is already running' }).waitFor({ timeout: 20_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(screenshots, 'walkthrough.png') });

    await welcome.locator('a, .monaco-button', { hasText: 'Show the Dashboard' }).first().click();
    await page.locator('.part.sidebar .title-label', { hasText: 'Routelens' }).first().waitFor({ timeout: 30_000 });
    // The dashboard's webview renders (a frame of its own, beside the walkthrough's page).
    await frameWith(page, '[data-testid=collector-state]');
    await page.screenshot({ path: join(screenshots, 'walkthrough-dashboard.png') });
  });
});
