// Production figures as a person sees them: a real Prometheus scraping a prometheus_client
// exporter, the workspace's FastAPI file in a real VS Code with routelens.remotePrometheus.url
// set, local requests sent to the collector: the lens shows `prod p95 …` after the local figures,
// and the status bar item's tooltip says where the figures come from.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import type { Browser } from 'playwright-core';
import { startPrometheus, type PrometheusServer } from '../support/prometheusServer';
import { type CodeServer, handlerSpan, loadHelpers, openFile, screenshotsDir, sendSpans } from './support';

describe('e2e: production figures beside the local ones', function () {
  this.timeout(180_000);
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let exporter: ChildProcess | undefined;
  let prom: PrometheusServer | undefined;
  let stop = false;

  after(async () => {
    stop = true;
    await browser?.close().catch(() => undefined);
    await server?.stop();
    await prom?.stop();
    if (exporter && exporter.exitCode === null) exporter.kill('SIGTERM');
  });

  it('shows prod p95 on the lens and the remote source in the status bar tooltip', async () => {
    const h = await loadHelpers();
    const shots = screenshotsDir();
    exporter = spawn('/usr/bin/python3', [join(h.REPO_ROOT, 'test', 'fixtures', 'prometheus', 'py_exporter.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve) => exporter!.stdout!.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0]))));
    prom = await startPrometheus({ targets: [`127.0.0.1:${port}`], scrapeIntervalS: 1 });
    void (async () => {
      for (let i = 0; !stop; i++) {
        const seconds = i % 10 === 0 ? 0.4 : 0.08;
        await new Promise<void>((r) => http.get({ host: '127.0.0.1', port, path: `/observe?route=${encodeURIComponent('/items/{item_id}')}&method=GET&status=200&seconds=${seconds}&n=5`, agent: false }, (res) => (res.resume(), res.on('end', () => r()))).on('error', () => r()));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    server = await h.startCodeServer({
      folder: h.FIXTURE_WORKSPACE,
      extensionDevelopmentPath: h.REPO_ROOT,
      userSettings: { 'editor.minimap.enabled': false, 'routelens.remotePrometheus.url': prom.url, 'routelens.remotePrometheus.range': '1m', 'routelens.remotePrometheus.refreshSeconds': 5, 'routelens.remotePrometheus.preset': 'fastapi-instrumentator' },
    });
    browser = await h.launchBrowser();
    const { page } = await h.openWorkbench(browser, server, { viewport: { width: 1400, height: 860 } });
    const appPy = join(h.FIXTURE_WORKSPACE, 'app.py');
    await openFile(page, 'app.py');
    for (let i = 0; i < 120; i++) {
      try {
        await sendSpans(server!.collectorPort, [12, 18, 25, 31, 44, 60].map((ms) => handlerSpan(appPy, 'GET', '/items/{item_id}', 23, 'get_item', ms)));
        break;
      } catch {
        await page.waitForTimeout(500);
      }
    }
    const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration');
    const withProd = lens.filter({ hasText: /^p50 .* · prod p95/ }).first();
    await withProd.waitFor({ timeout: 60_000 });
    const title = (await withProd.textContent())!.trim();
    assert.match(title, /^p50 \d+ ms · p95 \d+ ms · [\d.]+ req\/s · 0\.0% errors · prod p95 \d+(\.\d+)? ms$/);
    await page.mouse.move(800, 400);
    await page.mouse.wheel(0, 200);
    await page.waitForTimeout(1200);
    await page.screenshot({ path: join(shots, 'upstream-lens-prod.png') });

    const item = page.locator('.statusbar-item', { hasText: 'prod' }).first();
    await item.waitFor({ timeout: 20_000 });
    await item.hover();
    const tip = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'figures from' }).first();
    await tip.waitFor({ timeout: 10_000 });
    assert.match((await tip.innerText()).replace(/\u00a0/g, ' '), /prod figures from http:\/\/127\.0\.0\.1:\d+ \(fastapi-instrumentator, last 1 min\): 1 route\b/);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, 'upstream-statusbar-tooltip.png') });
  });
});
