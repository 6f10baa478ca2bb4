// The editor as a person sees it: a FastAPI file in a real VS Code, live requests sent to the
// collector, latency lenses above the handlers and a problem at the raising line.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { type CodeServer, handlerSpan, loadHelpers, openFile, screenshotsDir, sendSpans } from './support';

describe('e2e: latency lenses and problems in the editor', function () {
  this.timeout(180_000);
  let server: CodeServer | undefined;
  let browser: Browser | undefined;

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('shows lenses with figures above the handlers and the error in the Problems panel', async () => {
    const h = await loadHelpers();
    const shots = screenshotsDir();
    server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: { 'editor.minimap.enabled': false } });
    browser = await h.launchBrowser();
    const { page } = await h.openWorkbench(browser, server, { viewport: { width: 1400, height: 860 } });
    const appPy = join(h.FIXTURE_WORKSPACE, 'app.py');

    // Open app.py through Quick Open, as a person would.
    try {
      await openFile(page, 'app.py');
    } catch (e) {
      await page.screenshot({ path: join(shots, 'failed-editor-open.png') });
      throw e;
    }

    for (let i = 0; i < 120; i++) {
      try {
        const spans = [12, 18, 25, 31, 44, 60].map((ms) => handlerSpan(appPy, 'GET', '/items/{item_id}', 23, 'get_item', ms));
        spans.push(handlerSpan(appPy, 'GET', '/items', 18, 'list_items', 4), handlerSpan(appPy, 'GET', '/items', 18, 'list_items', 6));
        spans.push(handlerSpan(appPy, 'GET', '/boom', 37, 'boom', 3, 500, { type: 'ValueError', message: 'fixture error for the Problems panel', frames: [{ file: appPy, line: 38, function: 'boom' }] }));
        await sendSpans(server!.collectorPort, spans);
        break;
      } catch {
        await page.waitForTimeout(500);
      }
    }

    const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration');
    await lens.filter({ hasText: /^p50 / }).first().waitFor({ timeout: 30_000 });
    // The last handler's lens may sit below the fold: present in the DOM is enough.
    await lens.filter({ hasText: /100\.0% errors/ }).first().waitFor({ state: 'attached', timeout: 30_000 });
    const titles = (await lens.allTextContents()).map((t) => t.trim());
    assert.ok(titles.some((t) => /^p50 \d+ ms · p95 \d+ ms · [\d.]+ req\/s · 0\.0% errors$/.test(t)), titles.join(' | '));
    assert.ok(titles.some((t) => /100\.0% errors$/.test(t)), titles.join(' | '));
    assert.ok(titles.includes('no traffic yet'), titles.join(' | '));

    // Scroll to the handlers with traffic and the failing one, and look.
    await page.mouse.move(800, 400);
    await page.mouse.wheel(0, 260);
    await page.waitForTimeout(1200);
    await page.screenshot({ path: join(shots, 'editor-lenses.png') });

    await page.keyboard.press('Control+Shift+M');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'ValueError: fixture error for the Problems panel' }).first();
    await problem.waitFor({ timeout: 30_000 });
    assert.match(await problem.innerText(), /Routelens/);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(shots, 'editor-problems.png') });
  });
});
