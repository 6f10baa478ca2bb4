// Production figures as a person sees them: a real Prometheus scraping a prometheus_client
// exporter, the workspace's FastAPI file in a real VS Code with routelens.remotePrometheus.url
// set, local requests sent to the collector: the lens shows `prod p95 …` after the local figures,
// and the status bar item's tooltip says where the figures come from.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { startPrometheus, type PrometheusServer } from '../support/prometheusServer';
import { WebSocket } from 'ws';

interface CodeServer {
  /** The Routelens collector's port in that VS Code (a free one the helper picked). */
  collectorPort: number;
  stop(): Promise<void>;
}
interface Helpers {
  REPO_ROOT: string;
  FIXTURE_WORKSPACE: string;
  startCodeServer(opts: { folder?: string; extensionDevelopmentPath?: string; userSettings?: Record<string, unknown> }): Promise<CodeServer>;
  launchBrowser(): Promise<Browser>;
  openWorkbench(browser: Browser, server: CodeServer, opts?: { viewport?: { width: number; height: number } }): Promise<{ page: Page }>;
}

function repoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) if (existsSync(join(dir, 'scripts', 'vscode-test', 'codeServer.mjs'))) return dir;
}

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('').replace(/^0/, '1');

function span(file: string, method: string, route: string, line: number, fn: string, ms: number, status = 200, exception?: unknown): Record<string, unknown> {
  const start = Date.now() - ms;
  return {
    traceId: hex(32),
    spanId: hex(16),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: start,
    endMs: start + ms,
    status: status >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status, 'code.file.path': file, 'code.line.number': line, 'code.function.name': fn },
    ...(exception ? { exception } : {}),
  };
}

async function send(port: number, spans: unknown[]): Promise<void> {
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
    const h = (await import(pathToFileURL(join(repoRoot(__dirname), 'scripts', 'vscode-test', 'codeServer.mjs')).href)) as Helpers;
    const shots = process.env.ROUTELENS_SCREENSHOTS_DIR || join(h.REPO_ROOT, 'screenshots');
    mkdirSync(shots, { recursive: true });
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
    for (let i = 0; i < 60; i++) {
      await page.locator('.part.editor').first().click({ position: { x: 300, y: 300 } }).catch(() => undefined);
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      if (await input.isVisible().catch(() => false)) {
        await input.fill('app.py');
        const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'app.py' }).first();
        await row.waitFor({ timeout: 10_000 });
        await row.click();
        break;
      }
      await page.waitForTimeout(500);
    }
    await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 30_000 });
    for (let i = 0; i < 120; i++) {
      try {
        await send(server!.collectorPort, [12, 18, 25, 31, 44, 60].map((ms) => span(appPy, 'GET', '/items/{item_id}', 23, 'get_item', ms)));
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
